"""A day's work folder: the files its steps hand to each other, written atomically.

Each step reads and writes files in ``<home>/work/day=YYYY-MM-DD`` (a shard's in a folder
of its own inside it), so that every step can run in its own process. A write goes to a
temporary file of a unique name first and is then renamed over the final name: a killed
step never leaves a half file behind, and two processes writing the same file never share
a temporary one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

from ztad.config import JobConfig
from ztad.pipeline.shards import Shard


def day_dir(config: JobConfig, day: date, shard: Shard | None = None) -> Path:
    """The folder holding one day's intermediate files (a shard's own inside it)."""
    folder = Path(config.work_dir) / f"day={day.isoformat()}"
    return folder if shard is None else folder / shard.folder_name


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a uniquely named file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _missing(path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"{path} is missing: run the earlier pipeline steps for this day first")


def write_json(path: Path, payload: dict) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))


def read_json(path: Path) -> dict:
    """A JSON file an earlier step wrote; a clear error when that step has not run."""
    if not path.exists():
        raise _missing(path)
    return json.loads(path.read_text())


def optional_json(path: Path) -> dict:
    """A JSON file that may not exist (empty then)."""
    return json.loads(path.read_text()) if path.exists() else {}


def started_at(folder: Path) -> datetime:
    """When the day's run started (now, for a step run on its own)."""
    started = optional_json(folder / "started.json").get("started_at")
    return datetime.fromisoformat(started) if started else datetime.now(timezone.utc)


def release_unused_memory() -> None:
    """Hand the memory a finished step freed back to the system: Arrow's pool keeps freed
    blocks for Arrow alone and glibc keeps freed heap pages for the process, so a step run
    after another in the same process would otherwise start on top of what the other held."""
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; other C libraries lack it
    if trim is not None:
        trim(0)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet, atomically."""
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file an earlier step wrote (only ``columns``, when given)."""
    if not path.exists():
        raise _missing(path)
    return pd.read_parquet(path, columns=columns)


def read_parquet_by_column(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """:func:`read_parquet`, each column handed from Arrow to pandas and freed in turn, the
    frame left unconsolidated: a large file's whole table is never held twice (Arrow's and
    the frame's). For frames read column by column; one turned whole into a matrix would
    copy it."""
    if not path.exists():
        raise _missing(path)
    return pd.read_parquet(path, columns=columns, to_pandas_kwargs={"self_destruct": True, "split_blocks": True})
