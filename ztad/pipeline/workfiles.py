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
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import Self

import numpy as np
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
    tmp = temporary_name(path)
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def temporary_name(path: Path) -> Path:
    """A unique name beside ``path`` to write it under before it is renamed into place."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")


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


#: Largest dictionary page of a column chunk in the work files :func:`write_parquet_parts`
#: writes (Parquet's default is 1 MiB): a column of more distinct values, most of the
#: features' and scores' real numbers, is soon written plain instead of hashing a row group's
#: worth of values into a dictionary it then gives up (a fifth of the features file's writing
#: time, a half of the scores'); columns of few values keep their dictionary.
DICTIONARY_PAGE_BYTES = 64 * 1024


def write_parquet_parts(path: Path, parts: Iterable, *, overlap: bool = False) -> int:
    """Write the frames (or Arrow tables) ``parts`` one after another as one Parquet file,
    atomically, each as row groups of its own; returns the rows written.

    Only one part is held at a time, so a day's file is written without its whole table. The
    first part sets the schema; a categorical column is written as a dictionary with 32-bit
    codes, so that parts holding other categories (each part its own places and labels) share
    it, and it reads back as one categorical of every part's values. ``parts`` must hold at
    least one frame (an empty one writes an empty file). Dictionaries are kept small
    (:data:`DICTIONARY_PAGE_BYTES`); the values read back are the same either way.

    With ``overlap``, each part is written on a thread of its own while the next one is made
    (Arrow lets go of the interpreter while it encodes and compresses): the file is the same,
    and two parts are held at a time instead of one.
    """
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        with _PartWriter(tmp, overlap) as writer:
            for part in parts:
                written += writer.write(part)
                del part  # held by the writer alone while the next part is made
        if not writer.started:
            raise ValueError(f"no part to write to {path}")

    write_atomically(path, write)
    return written


class _PartWriter:
    """The Parquet file :func:`write_parquet_parts` writes, its parts written in turn, each
    on a thread of its own when ``overlap`` (at most one part being written at a time)."""

    def __init__(self, path: Path, overlap: bool):
        from concurrent.futures import ThreadPoolExecutor

        self.path = path
        self.writer = None
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="parquet-part") if overlap else None
        self.pending = None

    @property
    def started(self) -> bool:
        return self.writer is not None

    def write(self, part) -> int:
        """Write ``part`` (a frame or an Arrow table) after the part before it; its rows."""
        self.wait()
        if self.pool is None:
            self._write(part)
        else:
            self.pending = self.pool.submit(self._write, part)
        return len(part)

    def wait(self) -> None:
        """Wait for the part being written, raising what writing it raised."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def _write(self, part) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = part if isinstance(part, pa.Table) else pa.Table.from_pandas(part, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(
                self.path, shared_schema(table.schema), dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES
            )
        self.writer.write_table(table.cast(self.writer.schema))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            self.wait()
        except Exception:
            if error is None:
                raise  # else the part's own failure is the one raised
        finally:
            if self.pool is not None:
                self.pool.shutdown()
            if self.writer is not None:
                self.writer.close()


def shared_schema(schema):
    """``schema`` with every dictionary column's codes widened to 32 bits.

    A dictionary of no values (a categorical column with no category: a part of the day
    where a text feature, such as the address of a failure burst, is missing on every row)
    is given text values, so that a later part's text can be written under it."""
    import pyarrow as pa

    def shared(value_type):
        return pa.large_string() if pa.types.is_null(value_type) else value_type

    fields = [
        field.with_type(pa.dictionary(pa.int32(), shared(field.type.value_type)))
        if pa.types.is_dictionary(field.type) else field
        for field in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def read_parquet_batches(path: Path, columns: list[str] | None, batch_rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """The rows of a Parquet file ``batch_rows`` at a time, whatever its row groups, as
    ``(first row, frame indexed from 0)`` (``columns`` in that order, when given); one empty
    frame for a file without rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise _missing(path)
    file = pq.ParquetFile(path)

    def frame(table) -> pd.DataFrame:
        out = table.to_pandas()
        return out if columns is None else out[list(columns)]

    pending: list = []
    held = first = 0
    for batch in file.iter_batches(batch_size=batch_rows, columns=columns):
        pending.append(pa.Table.from_batches([batch]))
        held += batch.num_rows
        while held >= batch_rows:
            table = pa.concat_tables(pending)
            pending, held = [table.slice(batch_rows)], held - batch_rows
            yield first, frame(table.slice(0, batch_rows))
            first += batch_rows
    if held or first == 0:
        yield first, frame(pa.concat_tables(pending) if pending else file.schema_arrow.empty_table())


def put_in_part_order(path: Path, order: np.ndarray, bounds: np.ndarray) -> None:
    """Rewrite the Parquet file ``path`` with its rows in ``order``, atomically, each run
    ``bounds[k]:bounds[k + 1]`` of the new order a row group of its own: the day's events put
    in the order its features are computed in parts (:mod:`ztad.behaviour.features.user_parts`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Read a column at a time, each made one contiguous array: a whole-file read decodes every
    # row group at once, beside the table it builds (about half as much again at ten million
    # events), and taking rows from a column of many chunks joins its chunks again for every
    # part (most of the rewrite's time at ten million events).
    file = pq.ParquetFile(path)
    schema = file.schema_arrow
    columns = [file.read(columns=[name]).column(0).combine_chunks() for name in schema.names]
    table = pa.Table.from_arrays(columns, schema=schema)
    del columns
    del file

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema) as writer:
            for begin, end in pairwise(bounds):
                writer.write_table(table.take(pa.array(order[begin:end])))

    write_atomically(path, write)
