"""Step 1: load the day's events and quarantine bad rows."""

from __future__ import annotations

import logging
from datetime import date

from ztad.config import JobConfig, SourceConfig
from ztad.pipeline.workfiles import day_dir, write_json, write_parquet

log = logging.getLogger(__name__)


def pull(day: date, config: JobConfig) -> dict:
    """Load the day's events, quarantine bad rows, and keep both in the work folder.

    The day is read and written batch by batch (:func:`ztad.ingest.write_day_files`), so the
    step's memory does not grow with the day's rows, only with its distinct event ids' keys.

    The counts (``pull.json``) account for every record read:
    ``rows_read == rows_valid + rows_quarantined + rows_duplicate + rows_skipped``;
    ``files_skipped`` lists the partition's files that were not read, each with
    ``path``, ``size_bytes`` and ``reason``.

    A day that a single flat log file holds no row of is an empty day (zero events): the
    file is there, nothing happened. An empty or header-only partition is one too.

    Raises
    ------
    ztad.ingest.MissingPartitionError
        When a partitioned source has no data at all for the day (never a silent "0 findings").
    """
    import pandas as pd

    from ztad.ingest import QUARANTINE_COLUMNS, MissingPartitionError, write_day_files
    from ztad.schema import empty_events

    folder = day_dir(config, day)
    try:
        counts = write_day_files(config.source, day, config.flat_index_dir, folder / "events.parquet",
                                 folder / "quarantine.parquet")
    except MissingPartitionError:
        if not is_flat_file(config.source):
            raise
        write_parquet(empty_events(), folder / "events.parquet")
        write_parquet(pd.DataFrame(columns=QUARANTINE_COLUMNS).astype({"raw": "string"}),
                      folder / "quarantine.parquet")
        counts = {"rows_read": 0, "rows_valid": 0, "rows_quarantined": 0, "rows_duplicate": 0, "rows_skipped": 0,
                  "files_skipped": []}
    counts = {
        "day": day.isoformat(),
        "rows_read": counts["rows_read"],
        "rows_quarantined": counts["rows_quarantined"],
        "rows_duplicate": counts["rows_duplicate"],
        "rows_valid": counts["rows_valid"],
        "rows_skipped": counts["rows_skipped"],
        "files_skipped": counts["files_skipped"],
    }
    write_json(folder / "pull.json", counts)
    for skipped in counts["files_skipped"]:
        log.warning("%s: file %s (%d bytes) not read: %s", day, skipped["path"], skipped["size_bytes"],
                    skipped["reason"])
    if counts["rows_quarantined"]:
        log.info(
            "%s: %d of %d rows quarantined (see the quarantine table for row, field, reason)",
            day, counts["rows_quarantined"], counts["rows_read"],
        )
    return counts


def is_flat_file(source: SourceConfig) -> bool:
    """Whether the log root is one file holding many days (not a folder of daily partitions)."""
    from fsspec.core import url_to_fs

    filesystem, path = url_to_fs(str(source.root))
    return bool(filesystem.isfile(path))
