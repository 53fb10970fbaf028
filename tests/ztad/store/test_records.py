"""RunRecord: values normalised on creation, so any caller's types store the same."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from ztad.store import RunRecord


def test_defaults_to_the_utc_day_as_interval():
    run = RunRecord(run_id="r", day=date(2024, 3, 5))
    assert run.interval_start == datetime(2024, 3, 5, tzinfo=timezone.utc)
    assert run.interval_end == datetime(2024, 3, 6, tzinfo=timezone.utc)
    assert run.status == "running" and run.timings == {}


def test_normalises_strings_timestamps_and_numpy_values():
    run = RunRecord(
        run_id="r",
        day="2024-03-05",
        started_at="2024-03-06T02:00:00+01:00",
        finished_at=pd.Timestamp("2024-03-06 01:05"),
        rows_read=np.int64(7),
        threshold=np.float32(0.5),
    )
    assert run.day == date(2024, 3, 5)
    assert run.started_at == datetime(2024, 3, 6, 1, 0, tzinfo=timezone.utc)
    assert run.finished_at == datetime(2024, 3, 6, 1, 5, tzinfo=timezone.utc)
    assert type(run.rows_read) is int and type(run.threshold) is float


def test_fields_are_the_runs_columns():
    from ztad.store.tables import runs

    assert RunRecord.columns() == tuple(column.name for column in runs.columns)


@pytest.mark.parametrize("bad", [{"run_id": ""}, {"day": 20240305}])
def test_refuses_a_record_without_id_or_day(bad):
    values = {"run_id": "r", "day": date(2024, 3, 5), **bad}
    with pytest.raises((ValueError, TypeError), match="run"):
        RunRecord(**values)
