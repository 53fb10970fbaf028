"""An index of a flat log file: each UTC day's validated rows, kept from one pass over the file.

A flat file holding many days is asked for one day at a time (the nightly pull, every history
day of the baselines, every day of a backfill). Reading the whole file for each would parse it
once per day; the index parses it once and keeps, per day, the parts that day's load is
made of (events, quarantine and skipped records of each chunk read), so that a later load of
any day reads only that day's parts, and a day the file holds no row of is known without
reading the file.

Layout under the index folder: ``<file key>-<content key>/`` holds ``manifest.json`` (the days,
their parts and skipped counts, and the rows no timestamp could place) and one Parquet file per
part. The file key names the resolved path, format, column mapping and options; the content
key its size and modification time. A changed file has another content key, so its old index
is never read again and is removed when the new one is published. An index is written in a
folder of a unique temporary name and renamed into place whole, so a reader never sees half of
one and two processes building the same index do not disturb each other.

Only local files are indexed: their size and ``mtime_ns`` tell reliably that they changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Bumped whenever what an index holds, or how its parts are made, changes.
INDEX_VERSION = 1

MANIFEST = "manifest.json"

#: An unfinished index folder this old was left by a killed pass (a pass takes minutes).
ABANDONED_AFTER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class IndexKey:
    """Where a flat file's index lives: ``<folder>/<file>-<content>``."""

    folder: Path
    file: str
    content: str

    @property
    def path(self) -> Path:
        return self.folder / f"{self.file}-{self.content}"


def index_key(folder: Path | str, path: str, fmt: str | None, mapping: dict, options: dict) -> IndexKey | None:
    """The key of a local file's index as it is now, ``None`` when the file is not local."""
    try:
        stat = os.stat(path)
        resolved = str(Path(path).resolve())
    except OSError:
        return None
    reading = {"path": resolved, "format": fmt, "mapping": dict(mapping), "options": dict(options)}
    content = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "index": INDEX_VERSION, "ztad": _ztad_version()}
    return IndexKey(Path(folder), _digest(reading), _digest(content))


def _ztad_version() -> str:
    """The installed ztad release: a new release may read files differently."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ztad")
    except PackageNotFoundError:
        return "unknown"


def _digest(facts: dict) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class DayPart:
    """One chunk's share of a day: validated events, quarantined rows, skipped records."""

    events: pd.DataFrame | None
    quarantine: pd.DataFrame | None
    skipped: int


class IndexWriter:
    """Writes a day's parts as the pass goes, then publishes the whole index at once."""

    def __init__(self, key: IndexKey) -> None:
        self.key = key
        self.tmp = key.folder / f".{key.file}-{key.content}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self.tmp.mkdir(parents=True)
        self.days: dict[str, list[list]] = {}
        self.count = 0

    def add(self, day: int, events: pd.DataFrame, quarantine: pd.DataFrame, skipped: int) -> None:
        """Keep one part of ``day`` (days since 1970-01-01); empty frames are not written."""
        name = f"part-{self.count:06d}"
        self.count += 1
        if len(events):
            events.to_parquet(self.tmp / f"{name}.events.parquet", index=False)
        if len(quarantine):
            quarantine.to_parquet(self.tmp / f"{name}.quarantine.parquet", index=False)
        self.days.setdefault(str(day), []).append([name, bool(len(events)), bool(len(quarantine)), int(skipped)])

    def publish(self, unattributed: int) -> Path:
        """Rename the finished index into place (another process's identical one may win)
        and remove the indexes of earlier contents of the same file."""
        manifest = {"unattributed": int(unattributed), "days": self.days}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest))
        try:
            self.tmp.rename(self.key.path)
        except OSError:
            if not (self.key.path / MANIFEST).exists():
                raise
        finally:
            self.discard()
        for old in self.key.folder.glob(f"{self.key.file}-*"):
            if old != self.key.path:
                shutil.rmtree(old, ignore_errors=True)
        for left in self.key.folder.glob(f".{self.key.file}-*.tmp"):
            if _age_seconds(left) > ABANDONED_AFTER_SECONDS:  # a killed pass's folder
                shutil.rmtree(left, ignore_errors=True)
        return self.key.path

    def discard(self) -> None:
        """Remove the unfinished index (a failed pass leaves nothing behind)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def _age_seconds(path: Path) -> float:
    import time

    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass(frozen=True)
class FlatIndex:
    """A published index: which days have parts, and the rows no timestamp could place."""

    path: Path
    days: dict[str, list[list]]
    unattributed: int

    @classmethod
    def open(cls, key: IndexKey) -> FlatIndex | None:
        """The published index of ``key``, ``None`` when there is none yet."""
        try:
            manifest = json.loads((key.path / MANIFEST).read_text())
        except FileNotFoundError:
            return None
        return cls(key.path, manifest["days"], int(manifest["unattributed"]))

    def day_numbers(self) -> list[int]:
        """The days that have rows, ascending (days since 1970-01-01)."""
        return sorted(int(day) for day in self.days)

    def parts(self, day: int) -> list[DayPart]:
        """The parts of ``day`` in file order (none for a day the file holds no row of)."""
        found = []
        for name, has_events, has_quarantine, skipped in self.days.get(str(day), []):
            events = pd.read_parquet(self.path / f"{name}.events.parquet") if has_events else None
            quarantine = pd.read_parquet(self.path / f"{name}.quarantine.parquet") if has_quarantine else None
            found.append(DayPart(events, quarantine, int(skipped)))
        return found
