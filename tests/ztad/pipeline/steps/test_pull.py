"""The pull step: the day's events and quarantine in the work folder, every row counted."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from ztad.config import JobConfig, SourceConfig
from ztad.ingest import MissingPartitionError, load_day
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.workfiles import day_dir

DAY = date(2024, 3, 1)
HEADER = "timestamp,user_id,ip_address,login_success,bytes_transferred"


def event(minute: int, user: str = "alice", ok: str = "1") -> str:
    return f"2024-03-01T08:{minute:02d}:00Z,{user},10.0.0.1,{ok},5"


def test_pull_writes_the_days_events_and_quarantine_as_loaded(tmp_path):
    folder = tmp_path / "logs" / f"date={DAY}"
    folder.mkdir(parents=True)
    lines = [event(m, user=f"u{m % 3}") for m in range(50)]
    (folder / "a.csv").write_text("\n".join([HEADER, *lines, event(1, ok="maybe"), *lines[:20]]) + "\n")
    source = SourceConfig(root=str(tmp_path / "logs"), options={"chunk_bytes": "1"})
    config = JobConfig(source=source, home=tmp_path / "home")
    counts = pull(DAY, config)
    whole = load_day(source, DAY)
    folder = day_dir(config, DAY)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "events.parquet"), whole.events)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "quarantine.parquet"), whole.quarantine)
    assert counts == json.loads((folder / "pull.json").read_text())
    assert counts == {"day": "2024-03-01", "rows_read": 71, "rows_quarantined": 1, "rows_duplicate": 20,
                      "rows_valid": 50, "rows_skipped": 0, "files_skipped": []}


def test_a_flat_file_without_the_day_is_an_empty_day_and_a_partition_missing_is_an_error(tmp_path):
    (tmp_path / "all.csv").write_text("\n".join([HEADER, event(1)]) + "\n")
    config = JobConfig(source=SourceConfig(root=str(tmp_path / "all.csv")), home=tmp_path / "home")
    counts = pull(date(2024, 3, 2), config)
    assert (counts["rows_read"], counts["rows_valid"]) == (0, 0)
    assert pd.read_parquet(day_dir(config, date(2024, 3, 2)) / "events.parquet").empty
    (tmp_path / "logs").mkdir()
    with pytest.raises(MissingPartitionError):
        pull(DAY, JobConfig(source=SourceConfig(root=str(tmp_path / "logs")), home=tmp_path / "home"))
