"""Step 1: load the day's events and quarantine bad rows."""

from __future__ import annotations

import logging
from datetime import date

from ztad.config import JobConfig
from ztad.pipeline.workfiles import day_dir, write_json, write_parquet

log = logging.getLogger(__name__)


def pull(day: date, config: JobConfig) -> dict:
    """Load the day's events, quarantine bad rows, and keep both in the work folder.

    The counts (``pull.json``) account for every record read:
    ``rows_read == rows_valid + rows_quarantined + rows_duplicate + rows_skipped``;
    ``files_skipped`` lists the partition's files that were not read, each with
    ``path``, ``size_bytes`` and ``reason``.

    Raises
    ------
    ztad.ingest.MissingPartitionError
        When the source has no data at all for the day (never a silent "0 findings").
    """
    from ztad.ingest import load_day

    result = load_day(config.source, day)
    folder = day_dir(config, day)
    write_parquet(result.events, folder / "events.parquet")
    write_parquet(result.quarantine.astype({"raw": "string"}), folder / "quarantine.parquet")
    counts = {
        "day": day.isoformat(),
        "rows_read": int(result.rows_read),
        "rows_quarantined": int(len(result.quarantine)),
        "rows_duplicate": int(result.duplicates),
        "rows_skipped": int(result.rows_skipped),
        "rows_valid": int(len(result.events)),
        "files_skipped": list(result.skipped_files),
    }
    write_json(folder / "pull.json", counts)
    for skipped in result.skipped_files:
        log.warning("%s: file %s (%d bytes) not read: %s", day, skipped["path"], skipped["size_bytes"], skipped["reason"])
    if counts["rows_quarantined"]:
        log.warning(
            "%s: %d of %d rows quarantined (see the quarantine table for row, field, reason)",
            day, counts["rows_quarantined"], counts["rows_read"],
        )
    return counts
