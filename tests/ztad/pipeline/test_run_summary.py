"""What a day's run reports: its counts and the time its steps took."""

from __future__ import annotations

from datetime import date

import pytest

from ztad.cli import progress_line
from ztad.pipeline.run_summary import RunSummary

SHARDED_TIMINGS = {
    "pull": 5.0, "cross_user": 10.0, "update_baselines": 40.0, "update_baselines_slowest_shard": 12.0,
    "prepare_detectors": 2.0, "score": 20.0, "score_slowest_shard": 6.0, "gather_scores": 3.0,
    "write_findings": 10.0,
}


def _summary(timings: dict[str, float]) -> RunSummary:
    return RunSummary(day=date(2026, 3, 16), run_id="r", status="success", rows_read=10, rows_scored=10,
                      rows_flagged=1, model_version="m-1", model_action="loaded", timings=timings)


def test_a_run_takes_the_time_of_its_steps():
    assert _summary({"pull": 1.5, "score": 2.0}).seconds == pytest.approx(3.5)


def test_a_sharded_run_does_not_count_its_slowest_shards_twice():
    assert _summary(SHARDED_TIMINGS).seconds == pytest.approx(90.0)


def test_the_progress_line_gives_the_run_s_time():
    assert progress_line(_summary(SHARDED_TIMINGS), 1, 1).endswith("(model m-1, loaded) in 90.0s")
