"""The training matrix: only the model features, sampled day by day without reading a day whole."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.features import FEATURE_NAMES
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.detection.training import TRAINING_DAY, TRAINING_DAY_ROWS, TRAINING_FLAGGED
from ztad.pipeline.training_data import (
    read_rows,
    sample_sizes,
    training_features_path,
    training_matrix,
    write_training_file,
)

DAY = date(2026, 3, 16)


def _config(tmp_path, **detection) -> JobConfig:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return JobConfig(source=SourceConfig(root=str(logs)), home=tmp_path / "home",
                     detection=DetectionConfig(training_days=3, **detection))


def _training_file(config: JobConfig, day: date, rows: int, seed: int) -> pd.DataFrame:
    """A day's training file as the write step leaves it, plus a context column it no longer keeps."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    frame = frame.assign(event_id=[f"{day}-{i}" for i in range(rows)], ctx_extra=1.0,
                         **{TRAINING_FLAGGED: np.arange(rows) % 10 == 0})
    path = training_features_path(config, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False, row_group_size=97)
    return frame


def test_sample_sizes_keep_every_row_up_to_the_cap():
    rng = np.random.default_rng(0)
    assert sample_sizes(np.array([5, 0, 7]), 12, rng).tolist() == [5, 0, 7]


def test_sample_sizes_spread_the_cap_over_the_days_like_a_uniform_sample():
    days = np.array([1000, 10, 5000, 0])
    draws = np.array([sample_sizes(days, 600, np.random.default_rng(seed)) for seed in range(200)])
    assert (draws.sum(axis=1) == 600).all()
    assert (draws <= days).all() and (draws[:, 3] == 0).all()
    # On average each day holds its share of the window.
    assert draws.mean(axis=0) == pytest.approx(600 * days / days.sum(), rel=0.05, abs=0.5)


def test_a_training_file_keeps_the_chosen_rows_model_features_and_extra_columns(tmp_path):
    rng = np.random.default_rng(3)
    features = pd.DataFrame(rng.normal(size=(40, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    features = features.assign(ctx_place="Lyon")  # a context column: findings quote it, training does not
    chosen = np.arange(40) % 3 != 0
    ids = pd.Series([f"e{i}" for i in range(40)], dtype="string")
    path = tmp_path / "day.parquet"
    write_training_file(features, chosen, {"event_id": ids, TRAINING_FLAGGED: np.arange(40) % 4 == 0}, path)
    written = pd.read_parquet(path)
    assert list(written.columns) == [*FEATURE_NAMES, "event_id", TRAINING_FLAGGED]
    expected = features[list(FEATURE_NAMES)].to_numpy()[chosen]
    np.testing.assert_array_equal(written[list(FEATURE_NAMES)].to_numpy(), expected)
    assert written["event_id"].tolist() == ids[chosen].tolist()
    assert written[TRAINING_FLAGGED].tolist() == (np.arange(40) % 4 == 0)[chosen].tolist()


def test_read_rows_picks_the_rows_across_batches_and_skips_absent_columns(tmp_path):
    frame = pd.DataFrame({"a": np.arange(500.0), "b": np.arange(500) % 3 == 0, "c": "x"})
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    rows = np.array([0, 49, 50, 51, 333, 499])
    picked = read_rows(tmp_path / "f.parquet", ["a", "b", "missing"], rows, batch_rows=50)
    pd.testing.assert_frame_equal(picked, frame.loc[rows, ["a", "b"]].reset_index(drop=True))
    pd.testing.assert_frame_equal(read_rows(tmp_path / "f.parquet", ["a"], None), frame[["a"]])


def test_the_matrix_holds_every_row_of_a_small_window_with_its_tags(tmp_path):
    config = _config(tmp_path)
    days = [DAY - timedelta(days=n) for n in (3, 2, 1)]
    files = [_training_file(config, d, rows, seed) for seed, (d, rows) in enumerate(zip(days, (40, 0, 25)))]
    matrix = training_matrix(config, DAY)
    assert list(matrix.columns) == [*FEATURE_NAMES, TRAINING_DAY, TRAINING_FLAGGED, TRAINING_DAY_ROWS]
    assert len(matrix) == 65
    first = matrix[matrix[TRAINING_DAY] == days[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(first[list(FEATURE_NAMES)], files[0][list(FEATURE_NAMES)])
    assert first[TRAINING_FLAGGED].tolist() == files[0][TRAINING_FLAGGED].tolist()
    assert matrix.groupby(TRAINING_DAY)[TRAINING_DAY_ROWS].first().to_dict() == {days[0]: 40, days[2]: 25}


def test_a_large_window_is_sampled_to_the_cap_from_every_day(tmp_path):
    config = _config(tmp_path, max_training_rows=300)
    days = [DAY - timedelta(days=n) for n in (3, 2, 1)]
    files = {d: _training_file(config, d, rows, seed) for seed, (d, rows) in enumerate(zip(days, (400, 200, 600)))}
    matrix = training_matrix(config, DAY)
    again = training_matrix(config, DAY)
    pd.testing.assert_frame_equal(matrix, again)  # seeded
    assert len(matrix) == 300
    assert set(matrix[TRAINING_DAY]) == set(days)
    assert matrix.groupby(TRAINING_DAY)[TRAINING_DAY_ROWS].first().to_dict() == {d: len(f) for d, f in files.items()}
    for day, part in matrix.groupby(TRAINING_DAY):
        # Every sampled row is a row of its day, without repeats, in file order.
        source = files[day][list(FEATURE_NAMES)]
        positions = source.reset_index().merge(part[list(FEATURE_NAMES)], on=list(FEATURE_NAMES))["index"]
        assert len(positions) == len(part) and positions.is_monotonic_increasing and positions.is_unique


def test_a_window_without_events_is_an_empty_matrix_with_its_columns(tmp_path):
    matrix = training_matrix(_config(tmp_path), DAY)
    assert matrix.empty
    assert list(matrix.columns) == [*FEATURE_NAMES, TRAINING_DAY, TRAINING_FLAGGED, TRAINING_DAY_ROWS]


def test_a_large_history_day_is_learnt_in_parts_with_the_rows_of_one_go(small_logs, tmp_path, monkeypatch):
    from ztad.behaviour.baselines import aggregate_dir, has_daily_aggregate
    from ztad.behaviour.features import user_parts as parts_module
    from ztad.pipeline.training_data import training_file_of

    day = date(2026, 3, 10)
    one_go, in_parts = (JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path / name)
                        for name in ("one_go", "in_parts"))
    whole = pd.read_parquet(training_file_of(one_go, day))
    monkeypatch.setattr(parts_module, "PART_EVENTS", 50)
    parts = pd.read_parquet(training_file_of(in_parts, day))
    assert len(whole) > 3 * 50
    assert list(parts.columns) == list(whole.columns) == [*FEATURE_NAMES, "event_id"]
    assert not parts["event_id"].equals(whole["event_id"])  # the rows come part after part
    pd.testing.assert_frame_equal(parts.set_index("event_id").sort_index(), whole.set_index("event_id").sort_index(),
                                  check_exact=True)
    # The day's baseline aggregate is saved from the same read, as in one go.
    assert has_daily_aggregate(in_parts.state_dir, day)
    tables = sorted(p.name for p in aggregate_dir(one_go.state_dir, day).glob("*.parquet"))
    assert tables and tables == sorted(p.name for p in aggregate_dir(in_parts.state_dir, day).glob("*.parquet"))
    for name in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(aggregate_dir(in_parts.state_dir, day) / name),
                                      pd.read_parquet(aggregate_dir(one_go.state_dir, day) / name))
