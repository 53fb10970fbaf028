"""The day pulled by a forked copy while the baseline is built: the same files as the two
steps one after the other, and the days it is not done for."""

from __future__ import annotations

import os
from datetime import date

import pandas as pd
import pytest

from ztad.behaviour.features import user_parts as parts_module
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.ingest import MissingPartitionError
from ztad.pipeline import pull_beside_baseline
from ztad.pipeline.pull_beside_baseline import pull_and_update_baselines, pulls_beside_baseline
from ztad.pipeline.steps.pull import pull
from ztad.pipeline.steps.update_baselines import update_baselines
from ztad.pipeline.workfiles import day_dir

DAY = date(2026, 3, 18)  # the small data set's spray day
FILES = ("events.parquet", "features.parquet", "quarantine.parquet")


@pytest.fixture(autouse=True)
def pulled_beside():
    """Every day with a partition pulled beside the baseline, however small. Earlier tests in
    this process may leave threads behind (a job's process has none at this point), which
    would keep a copy from being forked: the copy here runs the pull alone, so it forks anyway."""
    from ztad.pipeline import forked_step

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pull_beside_baseline, "PULL_BESIDE_MIN_BYTES", 0)
        patch.setattr(pull_beside_baseline, "can_fork", lambda: True)
        patch.setattr(forked_step, "can_fork", lambda: True)
        yield


def _config(root, home) -> JobConfig:
    return JobConfig(source=SourceConfig(root=str(root)), home=home, detection=DetectionConfig())


def _run(config: JobConfig) -> tuple[dict, dict]:
    timings: dict = {}

    def timed(name, step):
        out = step()
        timings.setdefault(name, 0.0)
        return out

    return pull_and_update_baselines(DAY, config, timed, timings), timings


def _pulling_pids(monkeypatch, record) -> None:
    """Record which process runs each pull (the real pull runs)."""

    def recorded_pull(day, config):
        record.parent.mkdir(parents=True, exist_ok=True)
        with record.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return pull(day, config)

    monkeypatch.setattr(pull_beside_baseline, "pull", recorded_pull)


def test_the_day_pulled_beside_the_baseline_gives_the_files_of_the_steps_in_turn(small_logs, tmp_path, monkeypatch):
    monkeypatch.setattr(parts_module, "PART_EVENTS", 150)  # a large day: put in part order
    in_turn = _config(small_logs, tmp_path / "in_turn")
    pulled_in_turn = pull(DAY, in_turn)
    update_baselines(DAY, in_turn)
    beside = _config(small_logs, tmp_path / "beside")
    record = tmp_path / "pids.txt"
    _pulling_pids(monkeypatch, record)

    pulled, timings = _run(beside)

    [puller] = record.read_text().split()
    assert int(puller) != os.getpid()  # pulled by the copy alone
    assert pulled == pulled_in_turn
    assert timings["pull"] > 0 and "update_baselines" in timings
    for name in FILES:
        pd.testing.assert_frame_equal(pd.read_parquet(day_dir(beside, DAY) / name),
                                      pd.read_parquet(day_dir(in_turn, DAY) / name))


def test_a_failed_copy_leaves_the_pull_to_this_process(small_logs, tmp_path, monkeypatch):
    parent = os.getpid()

    def pull_failing_in_the_copy(day, config):
        if os.getpid() != parent:
            raise OSError("the copy could not read the partition")
        return pull(day, config)

    monkeypatch.setattr(pull_beside_baseline, "pull", pull_failing_in_the_copy)
    config = _config(small_logs, tmp_path)
    pulled, _ = _run(config)
    assert pulled["rows_read"] > 0
    assert len(pd.read_parquet(day_dir(config, DAY) / "features.parquet")) == pulled["rows_valid"]


def test_a_small_day_is_pulled_before_the_baseline(small_logs, tmp_path, monkeypatch):
    monkeypatch.setattr(pull_beside_baseline, "PULL_BESIDE_MIN_BYTES", 16 * 1024 * 1024)
    config = _config(small_logs, tmp_path)
    assert not pulls_beside_baseline(DAY, config)
    record = tmp_path / "pids.txt"
    _pulling_pids(monkeypatch, record)
    _run(config)
    assert record.read_text().split() == [str(os.getpid())]


def test_a_flat_file_is_pulled_before_the_baseline(small_flat_logs, tmp_path, monkeypatch):
    config = _config(small_flat_logs, tmp_path)
    assert not pulls_beside_baseline(DAY, config)
    record = tmp_path / "pids.txt"
    _pulling_pids(monkeypatch, record)
    pulled, timings = _run(config)
    assert record.read_text().split() == [str(os.getpid())]
    assert pulled["rows_read"] > 0 and set(timings) == {"pull", "update_baselines"}


def test_a_day_without_a_partition_fails_before_any_baseline_is_built(small_logs, tmp_path, monkeypatch):
    config = _config(small_logs, tmp_path)
    missing = date(2026, 5, 1)
    assert pulls_beside_baseline(DAY, config)
    assert not pulls_beside_baseline(missing, config)

    def no_baseline(*args, **kwargs):
        raise AssertionError("a baseline was built for a day without logs")

    monkeypatch.setattr("ztad.pipeline.steps.update_baselines.baseline_before", no_baseline)
    monkeypatch.setattr(pull_beside_baseline, "baseline_before", no_baseline)
    with pytest.raises(MissingPartitionError):
        pull_and_update_baselines(missing, config, lambda name, step: step(), {})


def test_a_failed_baseline_stops_the_pull_and_is_raised(small_logs, tmp_path, monkeypatch):
    def failing_baseline(config, day):
        raise ValueError("the window's aggregates are unreadable")

    monkeypatch.setattr(pull_beside_baseline, "baseline_before", failing_baseline)
    with pytest.raises(ValueError, match="unreadable"):
        _run(_config(small_logs, tmp_path))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
