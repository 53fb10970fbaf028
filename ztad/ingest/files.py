"""Find a day's log files under a root, read them chunk by chunk, and account for every row.

Two layouts are understood (the root is a local path or any fsspec URL, e.g.
``s3://bucket/logs``, ``file:///data/logs``, ``memory://logs``):

Daily partitions
    ``<root>/date=YYYY-MM-DD/<any name>.csv|.csv.gz|.parquet|.jsonl|.jsonl.gz``. A partition
    holds the events of one UTC day; all its files are read, in name order. Files whose name
    starts with ``.`` or ``_`` (``_SUCCESS``, ``.crc``) are ignored. When
    ``SourceConfig.format`` is set, every other file is read in that format whatever its name;
    otherwise a file without a known ending is skipped and listed in ``skipped_files``.
    A row whose timestamp is on another UTC day than its partition is quarantined
    (``timestamp outside partition day``), not moved to another day.
A single flat file holding many days
    Each day's events are selected by the UTC day of ``timestamp``. Rows whose timestamp is
    missing or unreadable (and records the reader could not split into fields or skipped)
    belong to the day of the nearest earlier row with a readable timestamp (rows before the first one
    belong to that first row's day), so that they are quarantined exactly once across days.
    Given an index folder, a local file is read once and each day's rows are kept there
    (:mod:`ztad.ingest.flat_index`); a later load of any day reads only that day's part, and
    a changed file is read again. Without one, the file is read again for each call.

Accounting: every record read is scored, quarantined, counted as a duplicate or counted as
skipped (it carries no authentication attempt), so for every load
``rows_read == len(events) + len(quarantine) + duplicates + rows_skipped``. A file of a
partition that cannot be read for its name (an unknown ending such as ``.bz2``) is listed in
``skipped_files`` with its size; a file that breaks off while read (a truncated ``.gz``) stops
the load with :class:`~ztad.ingest.readers.UnreadableFileError`, which names it.

Places and networks: when the source options name MaxMind databases (``geoip_city_db``,
``geoip_asn_db``; see :mod:`ztad.ingest.geoip`), every load fills the events' missing places and
networks from their IP addresses, whatever the format, once per distinct address of the load.
Baselines and the scored day therefore see the same places for the same addresses.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import posixpath
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ztad.config import SourceConfig
from ztad.ingest import flat_index, geoip, ids
from ztad.ingest.readers import (
    FORMAT_SUFFIXES,
    QUARANTINE_COLUMNS,
    RawBatch,
    UnreadableFileError,
    empty_quarantine,
    format_from_name,
    get_reader,
)
from ztad.ingest.seen import repeat_quarantine
from ztad.ingest.validation import check_columns, event_times, validate
from ztad.schema import conform, empty_events

PARTITION_PREFIX = "date="
#: Day numbers of flat files and their indexes count from here.
_EPOCH = date(1970, 1, 1)

log = logging.getLogger(__name__)


class SourceNotFoundError(FileNotFoundError):
    """The configured log root does not exist."""


class MissingPartitionError(FileNotFoundError):
    """The source holds no data at all for a day (distinct from a day with zero valid events).

    Attributes
    ----------
    day
        The day asked for (the first day of a range).
    path
        Where the data was looked for: the partition folder, or the flat file.
    """

    def __init__(self, day: date, path: str, detail: str) -> None:
        self.day, self.path = day, path
        super().__init__(f"no log data for {day.isoformat()}: {detail} (looked at {path})")


class ColumnMappingError(ValueError):
    """``SourceConfig.column_mapping`` cannot be applied to a file's columns."""


@dataclass
class LoadResult:
    """A loaded day (or range of days), with every input row accounted for.

    Attributes
    ----------
    events
        Canonical, validated events (``schema.conform``), exact duplicates dropped, in file
        and row order.
    quarantine
        Rejected rows (:data:`QUARANTINE_COLUMNS`), ordered by source and row.
    rows_read
        Every input record seen (blank lines aside; an sshd ``message repeated N times`` line
        counts N times, as the N lines it stands for).
    duplicates
        Exact duplicate events dropped (each copy after the first).
    rows_skipped
        Records read that carry no authentication attempt (sshd session and cron lines, a
        notice of an attempt sshd also logged, Windows event ids that are not sign-ins, Okta
        steps of a sign-in not yet decided...): counted, neither scored nor quarantined.
    skipped_files
        Files of a partition that were not read, each ``{"path", "size_bytes", "reason"}``.

    ``rows_read == len(events) + len(quarantine) + duplicates + rows_skipped``
    (:meth:`accounted` checks it).
    """

    events: pd.DataFrame
    quarantine: pd.DataFrame
    rows_read: int
    duplicates: int
    rows_skipped: int = 0
    skipped_files: list[dict] = field(default_factory=list)

    def accounted(self) -> bool:
        """Whether every record read is scored, quarantined, a duplicate or skipped."""
        return self.rows_read == len(self.events) + len(self.quarantine) + self.duplicates + self.rows_skipped


# --------------------------------------------------------------------------- public API


def load_day(source: SourceConfig, day: date, index_dir: Path | str | None = None) -> LoadResult:
    """Load one UTC day of events.

    ``index_dir`` is where a flat file's index is kept (see :mod:`ztad.ingest.flat_index`);
    without it a flat file is read whole for every day.

    Raises
    ------
    MissingPartitionError
        When there is no data for ``day``, with the path looked at.
    SourceNotFoundError
        When the root itself does not exist.
    ztad.ingest.validation.MissingColumnError
        When a file lacks a required column.
    """
    return load_range(source, day, day + timedelta(days=1), index_dir)


def load_range(source: SourceConfig, start: date, end: date, index_dir: Path | str | None = None) -> LoadResult:
    """Load the days ``[start, end)`` in one pass over the files.

    Days without a partition are skipped; :class:`MissingPartitionError` is raised only when
    none of the days has data. A single day of a flat file is served from its index in
    ``index_dir`` (built on first use) when one is given.
    """
    if end <= start:
        raise ValueError(f"empty day range [{start}, {end}): end must be after start")
    root = _Root.open(source.root)
    if root.flat and index_dir is not None and end - start == timedelta(days=1):
        result = _load_indexed_day(root, source, start, Path(index_dir))
    elif root.flat:
        result = _load_flat(root, source, start, end)
    else:
        result = _load_partitions(root, source, start, end)
    result.events = _located(result.events, source)
    return result


def _located(events: pd.DataFrame, source: SourceConfig) -> pd.DataFrame:
    """The events with places and networks looked up in the configured GeoIP databases.

    Done on the validated, de-duplicated events: the lookups write only well-formed values
    and run once per distinct address. Rows that carry their own place (Okta, Entra ID) keep
    it; private and reserved addresses and rows without an address get nothing.
    """
    if not geoip.configured(source.options) or events.empty:
        return events
    return conform(geoip.enrich_from_options(events, source.options))


def available_days(source: SourceConfig, index_dir: Path | str | None = None) -> list[date]:
    """The days that have data, ascending (for a flat file: days with a readable timestamp).

    A flat file whose index in ``index_dir`` is built and matches the file as it is now
    (:mod:`ztad.ingest.flat_index`) is not read: the index's day list is the same set, since
    every row it holds takes the day of a row with a readable timestamp. Without a valid
    index the file is read whole; no index is built here.
    """
    root = _Root.open(source.root)
    if not root.flat:
        return [day for day, folder in root.partitions() if root.data_files(folder, source.format)[0]]
    index = _published_index(root, source, index_dir)
    if index is not None:
        return [_EPOCH + timedelta(days=n) for n in index.day_numbers()]
    seen: set[int] = set()
    for batch in _batches(root.path, root, source):
        frame = _mapped(batch.frame, source, root.url(root.path))
        days = _day_numbers(event_times(frame))
        seen.update(np.unique(days[~np.isnan(days)]).astype(np.int64).tolist())
    return [_EPOCH + timedelta(days=int(n)) for n in sorted(seen)]


def partition_size(source: SourceConfig, day: date) -> int:
    """Bytes of the files the pull of ``day`` reads from the day's own partition: ``0`` for a
    day without one, and for a flat file, which every day shares."""
    root = _Root.open(source.root)
    if root.flat:
        return 0
    files, _ = root.data_files(root.partition(day), source.format)
    return sum(int(root.fs.size(path) or 0) for path in files)


def _published_index(root: _Root, source: SourceConfig, index_dir: Path | str | None) -> flat_index.FlatIndex | None:
    """The flat file's index in ``index_dir`` when one is published for its current content."""
    if index_dir is None or not root.local:
        return None
    key = flat_index.index_key(index_dir, root.path, source.format, source.column_mapping, source.options)
    return None if key is None else flat_index.FlatIndex.open(key)


# --------------------------------------------------------------------------- the root


@dataclass(frozen=True)
class _Root:
    """A log root resolved to a filesystem and a path on it."""

    fs: object
    path: str
    flat: bool

    @classmethod
    def open(cls, root: str) -> "_Root":
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(str(root))
        fs.invalidate_cache()  # new partitions appear between runs of a long-lived process
        if fs.isfile(path):
            return cls(fs, path, True)
        if fs.isdir(path):
            return cls(fs, path.rstrip("/"), False)
        raise SourceNotFoundError(
            f"log root {root!s} does not exist: give a folder of date=YYYY-MM-DD partitions, "
            "a single log file, or a URL that fsspec can open (set ZTAD_LOG_ROOT or --logs)"
        )

    @property
    def local(self) -> bool:
        """Whether the root is on the local filesystem."""
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return protocol in ("file", "local")

    def url(self, path: str) -> str:
        """How a file is named in messages and quarantine, and opened by readers."""
        return path if self.local else self.fs.unstrip_protocol(path)

    def partition(self, day: date) -> str:
        return f"{self.path}/{PARTITION_PREFIX}{day.isoformat()}"

    def partitions(self) -> list[tuple[date, str]]:
        """(day, folder) of every ``date=YYYY-MM-DD`` folder, by day."""
        found = []
        for entry in self.fs.ls(self.path, detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            if entry["type"] != "directory" or not name.startswith(PARTITION_PREFIX):
                continue
            try:
                found.append((date.fromisoformat(name[len(PARTITION_PREFIX):]), entry["name"].rstrip("/")))
            except ValueError:
                continue  # not a partition folder
        return sorted(found)

    def data_files(self, folder: str, fmt: str | None) -> tuple[list[str], list[dict]]:
        """(files to read, files skipped for an unknown format) in ``folder``, by name.

        A skipped file is ``{"path", "size_bytes", "reason"}``.
        """
        if not self.fs.isdir(folder):
            return [], []
        read, skipped = [], []
        for entry in sorted(self.fs.ls(folder, detail=True), key=lambda e: e["name"]):
            name = posixpath.basename(entry["name"])
            if entry["type"] != "file" or name.startswith((".", "_")):
                continue
            if fmt or format_from_name(name):
                read.append(entry["name"])
            else:
                skipped.append(
                    {
                        "path": self.url(entry["name"]),
                        "size_bytes": int(entry.get("size") or 0),
                        "reason": f"unknown file ending (known: {', '.join(FORMAT_SUFFIXES)}); "
                        "set SourceConfig.format (ZTAD_LOG_FORMAT) to read it",
                    }
                )
        return read, skipped


# --------------------------------------------------------------------------- reading


def _batches(path: str, root: _Root, source: SourceConfig) -> Iterator[RawBatch]:
    fmt = source.format or format_from_name(path)
    if fmt is None:
        raise ValueError(
            f"cannot tell the format of {root.url(path)} from its name (known endings: "
            f"{', '.join(FORMAT_SUFFIXES)}); set SourceConfig.format (ZTAD_LOG_FORMAT)"
        )
    where = root.url(path)
    try:
        yield from get_reader(fmt)(where, dict(source.options))
    except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as error:
        raise UnreadableFileError(
            where, f"the compressed file is truncated or corrupt ({error}); copy it again or remove it"
        ) from error


def _mapped(frame: pd.DataFrame, source: SourceConfig, where: str) -> pd.DataFrame:
    """Rename source columns to ztad input names (``column_mapping``: source -> ztad)."""
    if not source.column_mapping:
        return frame
    renamed = frame.rename(columns=dict(source.column_mapping))
    repeated = sorted({str(c) for c in renamed.columns[renamed.columns.duplicated()]})
    if repeated:
        raise ColumnMappingError(
            f"{where}: after column_mapping {dict(source.column_mapping)} there are several "
            f"columns named {repeated}; map exactly one source column to each name"
        )
    return renamed


class _Accounts:
    """Collects validated parts and counts every row read."""

    def __init__(self) -> None:
        self.events: list[pd.DataFrame] = []
        self.sources: list[str] = []
        self.quarantine: list[pd.DataFrame] = []
        self.rows_read = 0
        self.rows_skipped = 0
        self.skipped_files: list[dict] = []

    def add(self, events: pd.DataFrame, quarantine: pd.DataFrame, skipped: int, where: str) -> None:
        """One validated part of ``where``: its events, quarantine and skipped records."""
        self.events.append(events)
        self.sources.append(where)
        self.quarantine.append(quarantine)
        self.rows_skipped += int(skipped)
        self.rows_read += len(events) + len(quarantine) + int(skipped)

    def result(self) -> LoadResult:
        kept = [(e, where) for e, where in zip(self.events, self.sources) if len(e)]
        events = _concat([e for e, _ in kept], empty_events())
        sources = np.repeat(np.array([where for _, where in kept], dtype=object), [len(e) for e, _ in kept])
        if _all_distinct(events["event_id"]):  # the usual case, told at the cost of one hash table
            duplicate = np.zeros(len(events), dtype=bool)
            repeated = _Repeated(duplicate, empty_quarantine())
        else:
            duplicate = ids.duplicate_mask(events)
            events, sources = events[~duplicate].reset_index(drop=True), sources[~duplicate]
            repeated = _repeated_ids(events, sources)
        quarantine = _concat([_quarantine_shape(q) for q in [*self.quarantine, repeated.quarantine] if len(q)],
                             empty_quarantine())
        quarantine = quarantine.sort_values(["source", "source_row"], kind="stable", ignore_index=True)
        return LoadResult(
            events=events[~repeated.mask].reset_index(drop=True),
            quarantine=quarantine,
            rows_read=self.rows_read,
            duplicates=int(duplicate.sum()),
            rows_skipped=self.rows_skipped,
            skipped_files=list(self.skipped_files),
        )


def _all_distinct(values: pd.Series) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.count_distinct(pa.array(values.array), mode="all").as_py() == len(values)


@dataclass
class _Repeated:
    mask: np.ndarray
    quarantine: pd.DataFrame


def _repeated_ids(events: pd.DataFrame, sources: np.ndarray) -> _Repeated:
    """Events whose source ``event_id`` an earlier, different event already has.

    Exact copies are duplicates (dropped before this); two different events under one id
    cannot both be stored, so each later one is quarantined, naming where the first is
    (:func:`~ztad.ingest.seen.repeat_quarantine`).
    """
    later = events["event_id"].duplicated(keep="first").to_numpy()
    if not later.any():
        return _Repeated(later, empty_quarantine())
    ids_ = events["event_id"]
    first = pd.Series(np.arange(len(events)), index=ids_.to_numpy()).groupby(level=0).min()
    origin = first.reindex(ids_[later].to_numpy()).to_numpy()
    rows = events["source_row"].to_numpy()
    quarantine = repeat_quarantine(events.loc[later], list(sources[later]), list(sources[origin]), rows[origin])
    return _Repeated(later, quarantine)


def _concat(parts: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else empty


def _quarantine_shape(frame: pd.DataFrame) -> pd.DataFrame:
    """Quarantine columns and dtypes, whatever a plug-in reader produced."""
    return frame[QUARANTINE_COLUMNS].astype(
        {"source": "string", "source_row": "int64", "field": "string", "reason": "string", "raw": "string"}
    )


# --------------------------------------------------------------------------- partitions


def _load_partitions(root: _Root, source: SourceConfig, start: date, end: date) -> LoadResult:
    accounts = _Accounts()
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    missing = []
    for day in days:
        files, skipped = root.data_files(root.partition(day), source.format)
        if not files:
            missing.append(_missing_partition(root, day, skipped))
            continue
        accounts.skipped_files += skipped
        for path in files:
            where = root.url(path)
            for batch in _batches(path, root, source):
                frame = _mapped(batch.frame, source, where)
                events, quarantine = validate(frame, where, day=day)
                accounts.add(events, pd.concat([batch.quarantine, quarantine]), len(batch.skipped), where)
    if len(missing) == len(days):
        if len(days) == 1:
            raise missing[0]
        raise MissingPartitionError(start, root.url(root.path), f"no partition for {_days_text(start, end)}")
    return accounts.result()


def _days_text(start: date, end: date) -> str:
    if end - start == timedelta(days=1):
        return start.isoformat()
    return f"any day from {start} to {end - timedelta(days=1)}"


def _missing_partition(root: _Root, day: date, skipped: list[dict]) -> MissingPartitionError:
    folder = root.url(root.partition(day))
    if skipped:
        names = [posixpath.basename(entry["path"]) for entry in skipped]
        detail = f"its files {names} have no known format ending; set SourceConfig.format"
    elif root.fs.isdir(root.partition(day)):
        detail = "the partition folder holds no log files"
    else:
        detail = "there is no partition folder for the day"
    return MissingPartitionError(day, folder, detail)


# --------------------------------------------------------------------------- flat file


def _day_numbers(times: pd.Series) -> np.ndarray:
    """UTC days since 1970-01-01 as floats (NaN where there is no timestamp)."""
    micros = times.astype("datetime64[us, UTC]").dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    numbers = micros.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    numbers[np.isnat(micros)] = np.nan
    return numbers


def _load_flat(root: _Root, source: SourceConfig, start: date, end: date) -> LoadResult:
    where = root.url(root.path)
    epoch = date(1970, 1, 1)
    first, stop = (start - epoch).days, (end - epoch).days
    accounts = _Accounts()
    days = _FlatDays()
    for part, quarantine, frame_days, quarantine_days, skipped_days in _dated_chunks(root, source, where, days):
        keep = (frame_days >= first) & (frame_days < stop)
        keep_quarantine = (quarantine_days >= first) & (quarantine_days < stop)
        keep_skipped = (skipped_days >= first) & (skipped_days < stop)
        events, bad = validate(part[keep], where)
        accounts.add(events, pd.concat([quarantine[keep_quarantine], bad]), int(keep_skipped.sum()), where)
    if not accounts.rows_read:
        raise _no_rows(where, start, end, days.unattributed)
    return accounts.result()


def _no_rows(where: str, start: date, end: date, unattributed: int) -> MissingPartitionError:
    detail = f"no row of the file falls on {_days_text(start, end)}"
    if unattributed:
        detail += f"; {unattributed} rows have no readable timestamp at all"
    return MissingPartitionError(start, where, detail)


def _load_indexed_day(root: _Root, source: SourceConfig, day: date, index_dir: Path) -> LoadResult:
    """One day of a flat file from its index, built by one pass over the file when missing.

    The parts are those :func:`_load_flat` collects for the day, in the same order, so the
    result is the same. A file that is not local, or that changes while indexed, is read
    directly.
    """
    key = None
    if root.local:
        key = flat_index.index_key(index_dir, root.path, source.format, source.column_mapping, source.options)
    if key is None:
        return _load_flat(root, source, day, day + timedelta(days=1))
    index = flat_index.FlatIndex.open(key) or _build_index(root, source, key)
    if index is None:
        return _load_flat(root, source, day, day + timedelta(days=1))
    where = root.url(root.path)
    accounts = _Accounts()
    try:
        parts = index.parts((day - date(1970, 1, 1)).days)
    except FileNotFoundError:  # replaced by the index of a newer content of the file meanwhile
        return _load_flat(root, source, day, day + timedelta(days=1))
    for part in parts:
        events = empty_events() if part.events is None else part.events
        quarantine = empty_quarantine() if part.quarantine is None else part.quarantine
        accounts.add(events, quarantine, part.skipped, where)
    if not accounts.rows_read:
        raise _no_rows(where, day, day + timedelta(days=1), index.unattributed)
    return accounts.result()


def _build_index(root: _Root, source: SourceConfig, key: flat_index.IndexKey) -> flat_index.FlatIndex | None:
    """Read the flat file once and keep each day's parts; ``None`` when it changed meanwhile."""
    import time

    started = time.monotonic()
    where = root.url(root.path)
    writer = flat_index.IndexWriter(key)
    try:
        unattributed = _index_parts(root, source, where, writer)
        now = flat_index.index_key(key.folder, root.path, source.format, source.column_mapping, source.options)
        if now != key:
            writer.discard()
            return None
        writer.publish(unattributed)
    except BaseException:
        writer.discard()
        raise
    index = flat_index.FlatIndex.open(key)
    log.info("indexed %s: %d days in %.1fs", where, len(index.days) if index else 0, time.monotonic() - started)
    return index


def _index_parts(root: _Root, source: SourceConfig, where: str, writer: flat_index.IndexWriter) -> int:
    """Hand every day's share of every chunk to ``writer`` (validated as :func:`_load_flat`
    does for that day alone); the rows no timestamp could place are returned."""
    days = _FlatDays()
    for part, quarantine, frame_days, quarantine_days, skipped_days in _dated_chunks(root, source, where, days):
        present = np.unique(np.concatenate([frame_days, quarantine_days, skipped_days]))
        for day in present[~np.isnan(present)]:
            events, bad = validate(part[frame_days == day], where)
            rejected = pd.concat([quarantine[quarantine_days == day], bad])
            shaped = _quarantine_shape(rejected) if len(rejected) else empty_quarantine()
            writer.add(int(day), events, shaped, int((skipped_days == day).sum()))
    return days.unattributed


def _dated_chunks(root: _Root, source: SourceConfig, where: str, days: _FlatDays):
    """The flat file's chunks, mapped and checked, each with the day number of every row, of
    every quarantined record and of every skipped record (from ``days``, which carries the last
    dated row's day across chunks): ``(rows, quarantine, row_days, quarantine_days, skipped_days)``."""
    for batch in _batches(root.path, root, source):
        frame = _mapped(batch.frame, source, where)
        check_columns(frame, where)
        for part, quarantine, _skipped, frame_days, quarantine_days, skipped_days in days.attribute(
            frame, batch.quarantine, batch.skipped
        ):
            yield part, quarantine, frame_days, quarantine_days, skipped_days


class _FlatDays:
    """Days of a flat file's rows; rows without a timestamp (quarantined or skipped records
    too) take the nearest earlier row's day.

    Until the first readable timestamp, whole batches wait; they then take that first day.
    """

    def __init__(self) -> None:
        self.last_day = np.nan
        self.waiting: list[tuple[pd.DataFrame, pd.DataFrame, np.ndarray]] = []

    @property
    def unattributed(self) -> int:
        return sum(len(frame) + len(quarantine) + len(skipped) for frame, quarantine, skipped in self.waiting)

    def attribute(self, frame: pd.DataFrame, quarantine: pd.DataFrame, skipped: np.ndarray):
        """Yield ``(frame, quarantine, skipped, frame_days, quarantine_days, skipped_days)``
        once days are known."""
        frame = frame.reset_index(drop=True)
        quarantine = quarantine.reset_index(drop=True)
        skipped = np.asarray(skipped, dtype=np.int64)
        dated = _day_numbers(event_times(frame))
        rows = np.concatenate([frame["source_row"].to_numpy(), quarantine["source_row"].to_numpy(), skipped])
        order = np.argsort(rows, kind="stable")
        undated = np.full(len(quarantine) + len(skipped), np.nan)
        days = pd.Series(np.concatenate([dated, undated])[order])
        days = days.ffill().fillna(self.last_day)
        if np.isnan(self.last_day):
            days = days.bfill()
        if not len(days):
            yield frame, quarantine, skipped, np.zeros(0), np.zeros(0), np.zeros(0)
            return
        if days.isna().all():
            self.waiting.append((frame, quarantine, skipped))
            return
        self.last_day = float(days.iloc[-1])
        first_day = float(days.iloc[0])
        for waiting in self.waiting:
            yield (*waiting, *(np.full(len(part), first_day) for part in waiting))
        self.waiting = []
        in_order = np.empty(len(order))
        in_order[order] = days.to_numpy()
        split = (len(frame), len(frame) + len(quarantine))
        yield (frame, quarantine, skipped, *np.split(in_order, split))
