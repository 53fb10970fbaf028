"""Daily aggregates saved under ``<state_dir>/baselines/day=YYYY-MM-DD/`` and read back."""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from ztad.behaviour.baselines.daily import DailyAggregate

log = logging.getLogger(__name__)


#: Bumped when the layout of saved aggregates changes; older ones are rebuilt.
AGGREGATE_VERSION = 4


def aggregate_dir(state_dir: Path | str, day: date) -> Path:
    """Folder of one day's saved aggregate."""
    return Path(state_dir) / "baselines" / f"day={day.isoformat()}"


def save_daily_aggregate(agg: DailyAggregate, state_dir: Path | str, day: date) -> Path:
    """Save (or replace) one day's aggregate; a crash never leaves a half-written day."""
    final = aggregate_dir(state_dir, day)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Names of this process's own, so that two processes saving the day never share them.
    unique = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = final.with_name(f"{final.name}.{unique}.tmp")
    staging.mkdir()
    for name, table in agg.tables.items():
        table.to_parquet(staging / f"{name}.parquet", index=False)
    # ``saved`` tells this save from any other of the day (:func:`saved_token`).
    meta = {"version": AGGREGATE_VERSION, "day": day.isoformat(), "events": agg.events,
            "tables": sorted(agg.tables), "saved": uuid.uuid4().hex}
    (staging / "meta.json").write_text(json.dumps(meta, indent=2))
    retired = final.with_name(f"{final.name}.{unique}.old")
    if final.exists():
        final.rename(retired)
    try:
        staging.rename(final)
    except OSError:  # another process saved the day in between: its copy stands
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(retired, ignore_errors=True)
    return final


def _current_meta(folder: Path) -> dict | None:
    """A saved aggregate's metadata; ``None`` when absent or saved by an older layout."""
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("version") != AGGREGATE_VERSION:
        log.warning("%s was saved by layout %s, not %s: rebuilding it",
                    folder, meta.get("version"), AGGREGATE_VERSION)
        return None
    return meta


def saved_token(state_dir: Path | str, day: date) -> str | None:
    """What tells this save of a day's aggregate from any other (``None`` when there is none in
    the current layout): the id written when it was saved, or for an aggregate saved without
    one, its metadata file's modification time (a save writes a new file). Copies that keep
    modification times (``cp -a``) keep the token."""
    path = aggregate_dir(state_dir, day) / "meta.json"
    try:
        meta = _current_meta(path.parent)
        if meta is None:
            return None
        return meta.get("saved") or f"mtime:{path.stat().st_mtime_ns}"
    except (OSError, ValueError):
        return None


def has_daily_aggregate(state_dir: Path | str, day: date) -> bool:
    """Whether one day's aggregate is saved in the current layout (its tables are not read)."""
    return _current_meta(aggregate_dir(state_dir, day)) is not None


def load_daily_aggregate(state_dir: Path | str, day: date) -> DailyAggregate | None:
    """Load one day's saved aggregate; ``None`` when absent or saved by an older layout."""
    folder = aggregate_dir(state_dir, day)
    meta = _current_meta(folder)
    if meta is None:
        return None
    return DailyAggregate({name: pd.read_parquet(folder / f"{name}.parquet") for name in meta["tables"]})


class _SavedTables(Mapping):
    """A saved aggregate's tables, each read from its file when asked for and not kept."""

    def __init__(self, folder: Path, names: list[str]):
        self._folder, self._names = folder, list(names)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.path_of(name))

    def path_of(self, name: str) -> Path:
        """The file of the table ``name``, for a reader of its own
        (:func:`~ztad.behaviour.baselines.window.arrow_table`)."""
        if name not in self._names:
            raise KeyError(name)
        return self._folder / f"{name}.parquet"

    def __contains__(self, name) -> bool:
        # Mapping's own test would read the table to find out whether it is there.
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def saved_daily_aggregate(state_dir: Path | str, day: date) -> DailyAggregate | None:
    """One day's saved aggregate whose tables are read when asked for, each time; ``None``
    when absent or saved by an older layout.

    Combining a window (:func:`~ztad.behaviour.baselines.state.combine_aggregates`) asks for
    one kind of table of every day at a time, so only that kind is in memory, not every
    table of every day of the window.
    """
    folder = aggregate_dir(state_dir, day)
    meta = _current_meta(folder)
    if meta is None:
        return None
    return DailyAggregate(_SavedTables(folder, meta["tables"]))
