"""A day's events and quarantine written to Parquet files batch by batch, in bounded memory.

:func:`write_day_files` gives the files :func:`ztad.ingest.load_day` would give, the same rows
in the same order, with the same counts, without ever holding the day: a daily partition is
read batch by batch (the readers' ``chunk_bytes`` / ``chunk_rows``), and each batch is
validated, cleared of duplicates against everything before it (:mod:`ztad.ingest.seen`, which
keeps keys, not rows), given its places (GeoIP, looked up per batch) and written out, batches
gathered into row groups (:data:`ROW_GROUP_ROWS`).

Memory grows with the day only by the keys: some 28 bytes an event whose id ztad derives, 44
for ids the source gives. The rest is set by the batch size: the CSV reader reads up to 32
blocks of ``chunk_bytes`` ahead of the batch in hand (some 512 MiB at the default 16 MiB), so
a smaller ``chunk_bytes`` lowers the peak further, at some CPU cost (smaller batches hash
their repeated values more often).

A single flat file holding many days goes through :func:`load_day` and is written as one
part: its index (:mod:`ztad.ingest.flat_index`) already holds each day's share apart, and
without an index the file is read whole anyway. Daily partitions of every format stream.
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path
from typing import Self

import pandas as pd

from ztad.config import SourceConfig
from ztad.ingest.files import (
    _batches,
    _located,
    _mapped,
    _missing_partition,
    _quarantine_shape,
    _Root,
    load_day,
)
from ztad.ingest.seen import SeenEvents, content_keys, id_keys, repeat_quarantine
from ztad.ingest.validation import empty_quarantine, validate
from ztad.schema import empty_events

__all__ = ["write_day_files"]

#: Rows gathered before a row group is written: small batches still make row groups of a
#: useful size, and little more than this is held before it is written.
ROW_GROUP_ROWS = 65_536


def write_day_files(source: SourceConfig, day: date, index_dir: Path | str | None, events_path: Path | str,
                    quarantine_path: Path | str) -> dict:
    """Write the day's canonical events to ``events_path`` and its quarantined rows to
    ``quarantine_path`` (both Parquet, each replaced only once complete); return the counts.

    The counts are ``rows_read``, ``rows_valid``, ``rows_quarantined``, ``rows_duplicate``,
    ``rows_skipped`` and ``files_skipped`` (as :class:`~ztad.ingest.LoadResult` has them), with
    ``rows_read == rows_valid + rows_quarantined + rows_duplicate + rows_skipped``.

    ``index_dir`` is where a flat file's index is kept (see :func:`load_day`).

    Raises
    ------
    MissingPartitionError
        When there is no data for ``day`` (nothing is written then), as :func:`load_day` does.
    """
    root = _Root.open(source.root)
    if root.flat:
        return _write_loaded(source, day, index_dir, Path(events_path), Path(quarantine_path))
    files, skipped = root.data_files(root.partition(day), source.format)
    if not files:
        raise _missing_partition(root, day, skipped)
    counts = _Counts(files_skipped=[dict(item) for item in skipped])
    with _PartsFile(Path(events_path), empty_events()) as events_out, \
            _PartsFile(Path(quarantine_path), empty_quarantine()) as quarantine_out:
        _write_partition(root, source, day, files, counts, events_out, quarantine_out)
        events_out.publish()
        quarantine_out.publish()
    if not counts.quarantine_in_order:
        _sort_quarantine(Path(quarantine_path))
    return counts.as_dict()


class _Counts:
    """What a day's pull counted, and whether its quarantine came in (source, row) order."""

    def __init__(self, files_skipped: list[dict]) -> None:
        self.rows_read = self.rows_valid = self.rows_quarantined = self.rows_duplicate = self.rows_skipped = 0
        self.files_skipped = files_skipped
        self.last_quarantined: tuple[str, int] | None = None
        self.quarantine_in_order = True

    def quarantined(self, quarantine: pd.DataFrame) -> None:
        """Count a batch's quarantine, sorted by (source, row), and note if it goes back."""
        self.rows_quarantined += len(quarantine)
        if not len(quarantine):
            return
        first = (str(quarantine["source"].iloc[0]), int(quarantine["source_row"].iloc[0]))
        if self.last_quarantined is not None and first < self.last_quarantined:
            self.quarantine_in_order = False
        self.last_quarantined = (str(quarantine["source"].iloc[-1]), int(quarantine["source_row"].iloc[-1]))

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "rows_quarantined": self.rows_quarantined,
            "rows_duplicate": self.rows_duplicate,
            "rows_skipped": self.rows_skipped,
            "files_skipped": self.files_skipped,
        }


def _write_partition(root: _Root, source: SourceConfig, day: date, files: list[str], counts: _Counts,
                     events_out: _PartsFile, quarantine_out: _PartsFile) -> None:
    """Read the partition's files batch by batch, in name and row order, and write each
    batch's kept events and quarantine (sorted by row, as :func:`load_day` sorts the day's)."""
    seen = SeenEvents()
    sources: list[str] = []
    for path in files:
        where = root.url(path)
        sources.append(where)
        for batch in _batches(path, root, source):
            frame = _mapped(batch.frame, source, where)
            derived = "event_id" not in frame.columns  # every id is then hashed from the content
            events, bad = validate(frame, where, day=day)
            counts.rows_read += len(events) + len(batch.quarantine) + len(bad) + len(batch.skipped)
            counts.rows_skipped += len(batch.skipped)
            keys = id_keys(events["event_id"], all_derived=derived)
            verdict = seen.sort_out(keys, content_keys(events, keys, all_derived=derived), len(sources) - 1,
                                    events["source_row"].to_numpy())
            counts.rows_duplicate += int(verdict.duplicate.sum())
            repeats = repeat_quarantine(
                events[verdict.repeated], [where] * int(verdict.repeated.sum()),
                [sources[i] for i in verdict.first_source], verdict.first_row,
            )
            kept = events[verdict.kept].reset_index(drop=True)
            counts.rows_valid += len(kept)
            events_out.write(_located(kept, source))
            quarantine = _sorted_quarantine([batch.quarantine, bad, repeats])
            counts.quarantined(quarantine)
            quarantine_out.write(quarantine)


def _sorted_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """A batch's quarantine records in quarantine shape, by source and row (stable)."""
    shaped = [_quarantine_shape(part) for part in parts if len(part)]
    if not shaped:
        return empty_quarantine()
    return pd.concat(shaped, ignore_index=True).sort_values(["source", "source_row"], kind="stable",
                                                            ignore_index=True)


def _sort_quarantine(path: Path) -> None:
    """Put a quarantine file written batch by batch in (source, row) order.

    Only when a reader handed records back out of order (none of the builtin ones does): the
    whole quarantine is read then, as :func:`load_day` holds it.
    """
    quarantine = pd.read_parquet(path).sort_values(["source", "source_row"], kind="stable", ignore_index=True)
    with _PartsFile(path, empty_quarantine()) as out:
        out.write(quarantine)
        out.publish()


def _write_loaded(source: SourceConfig, day: date, index_dir: Path | str | None, events_path: Path,
                  quarantine_path: Path) -> dict:
    """A flat file's day, through :func:`load_day`, written as one part."""
    result = load_day(source, day, index_dir)
    quarantine = result.quarantine.astype({"raw": "string"})
    for path, frame, empty in ((events_path, result.events, empty_events()),
                               (quarantine_path, quarantine, empty_quarantine())):
        with _PartsFile(path, empty) as out:
            out.write(frame)
            out.publish()
    return {
        "rows_read": int(result.rows_read),
        "rows_valid": len(result.events),
        "rows_quarantined": len(result.quarantine),
        "rows_duplicate": int(result.duplicates),
        "rows_skipped": int(result.rows_skipped),
        "files_skipped": [dict(item) for item in result.skipped_files],
    }


class _PartsFile:
    """A Parquet file written part by part (each part its own row groups) under a temporary
    name beside ``path``, renamed over it by :meth:`publish`; left unpublished (an error),
    the temporary file is removed and ``path`` is untouched.

    The first part with rows sets the schema, later ones are cast to it; a file without rows
    is written with the schema of ``empty``. Parts are gathered into row groups of at least
    :data:`ROW_GROUP_ROWS` rows (a larger part is a row group of its own).
    """

    def __init__(self, path: Path, empty: pd.DataFrame) -> None:
        self.path, self.empty = path, empty
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        self.writer = None
        self.pending: list = []  # Arrow tables not written yet
        self.pending_rows = 0

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (nothing for an empty frame)."""
        if len(frame):
            self._write(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema)
        self.pending.append(table.cast(self.writer.schema))
        self.pending_rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.pending:
            table = pa.concat_tables(self.pending)
            table = table.combine_chunks() if len(self.pending) > 1 else table
            self.pending, self.pending_rows = [], 0
            self.writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def publish(self) -> None:
        """Close the file and put it in place."""
        if self.writer is None:
            self._write_empty()
        self._flush()
        self.writer.close()
        self.writer = None
        self.tmp.replace(self.path)

    def _write_empty(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.empty, preserve_index=False)
        self.writer = pq.ParquetWriter(self.tmp, table.schema)
        self.writer.write_table(table)

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)

