"""Retrain policy: when the registered model is replaced, and why."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.detection.detectors import ARTIFACT_FORMAT
from ztad.detection.policy import should_retrain


@pytest.fixture
def meta():
    return {
        "version": "m-20260315-0123456789ab",
        "trained_on": {"start": "2026-03-01", "end": "2026-03-15"},
        "artifact_format": ARTIFACT_FORMAT,
        "feature_names": ["a", "b"],
        "libraries": {"numpy": np.__version__},
    }


def test_no_model_means_train(meta):
    expected = (True, "no model was trained before 2026-03-15")
    assert should_retrain(None, date(2026, 3, 15), 7) == expected


def test_a_fresh_model_is_loaded(meta):
    retrain, reason = should_retrain(meta, date(2026, 3, 21), 7, {"a": 0.02, "b": 0.05})
    assert not retrain
    assert reason == "loaded m-20260315-0123456789ab: 6 day(s) old, largest feature PSI 0.050 (b)"


def test_an_old_model_is_retrained(meta):
    retrain, reason = should_retrain(meta, date(2026, 3, 22), 7)
    assert retrain and "7 day(s) old" in reason and "every 7 day(s)" in reason


def test_drift_above_the_threshold_retrains(meta):
    retrain, reason = should_retrain(meta, date(2026, 3, 16), 7, {"a": 0.4, "b": 0.01}, 0.25)
    assert retrain and reason == "feature drift: PSI of a is 0.400 > 0.25"


def test_changed_features_retrain(meta):
    retrain, reason = should_retrain(meta, date(2026, 3, 16), 7, feature_names=["a", "c"])
    assert retrain and "features changed" in reason


def test_changed_libraries_retrain(meta):
    meta["libraries"]["numpy"] = "1.0.0"
    retrain, reason = should_retrain(meta, date(2026, 3, 16), 7)
    assert retrain and "numpy trained 1.0.0" in reason


def test_a_model_saved_in_an_older_artifact_format_is_retrained(meta):
    retrain, reason = should_retrain({**meta, "artifact_format": None}, date(2026, 3, 16), 7)
    assert retrain and "older artifact format (with pickles)" in reason


# --------------------------------------------------------------------------- train_or_load


def _history(days: int, rows_per_day: int, first: date = date(2026, 3, 1)):
    """A training matrix of ``days`` days of normal rows over the real feature names."""
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.detection.training import TRAINING_DAY, TRAINING_DAY_ROWS, TRAINING_FLAGGED

    rng = np.random.default_rng(3)
    values = rng.normal(size=(days * rows_per_day, len(FEATURE_NAMES)))
    frame = pd.DataFrame(values, columns=list(FEATURE_NAMES))
    tags = np.repeat([date.fromordinal(first.toordinal() + d) for d in range(days)], rows_per_day)
    return frame.assign(**{TRAINING_DAY: tags, TRAINING_FLAGGED: False, TRAINING_DAY_ROWS: rows_per_day})


@pytest.fixture
def job(tmp_path):
    from dataclasses import replace

    from ztad.config import DetectionConfig, JobConfig, SourceConfig

    detection = replace(DetectionConfig(), detectors=("isolation_forest", "ecod"), min_training_days=4,
                        min_training_rows=60, drift_min_rows=50)
    return JobConfig(source=SourceConfig(root=str(tmp_path)), home=tmp_path / "home", detection=detection)


def _decide(job, day: date, matrix, features=None, **options):
    from ztad.detection.policy import train_or_load

    features = matrix.iloc[:0] if features is None else features
    return train_or_load(day, job, training_matrix=lambda: matrix, day_features=lambda: features, **options)


def test_without_enough_history_the_day_is_a_learning_day_that_says_what_it_lacks(job):
    decision = _decide(job, date(2026, 3, 4), _history(3, 10))
    assert decision["model_version"] is None and decision["action"] == "learning"
    assert decision["lacking"] == "3 of 4 history days; 30 of 60 training rows"
    assert decision["reason"].startswith("learning: 3 of 4 history days")


def test_a_model_starts_by_itself_on_a_short_history_with_a_smaller_hold_out(job):
    decision = _decide(job, date(2026, 3, 6), _history(5, 20))
    assert decision["action"] == "trained" and decision["model_version"]
    assert "5 day(s) of history: calibrated on the last 2 of them (not 7)" in decision["reason"]


def test_a_retrain_without_enough_history_keeps_the_latest_model(job):
    first = _decide(job, date(2026, 3, 6), _history(5, 20))["model_version"]
    kept = _decide(job, date(2026, 3, 20), _history(2, 5, first=date(2026, 3, 17)))
    assert kept["action"] == "loaded" and kept["model_version"] == first
    assert "day(s) old" in kept["reason"] and f"but kept {first}: 2 of 4 history days" in kept["reason"]


def test_a_sparse_day_never_retrains_for_drift(job):
    matrix = _history(5, 20)
    version = _decide(job, date(2026, 3, 6), matrix)["model_version"]
    shifted = matrix.iloc[:12].drop(columns=["training_day", "flagged", "training_day_rows"]) + 50.0
    decision = _decide(job, date(2026, 3, 7), matrix, features=shifted)  # 12 rows, far off
    assert decision["action"] == "loaded" and decision["model_version"] == version
    assert "drift not measured on 12 events (< drift_min_rows 50)" in decision["reason"]
    many = pd.concat([shifted] * 5, ignore_index=True)  # 60 rows: enough to measure, and drifted
    retrained = _decide(job, date(2026, 3, 7), matrix, features=many)
    assert retrained["action"] == "trained" and "feature drift: PSI of the" in retrained["reason"]
    assert "varying features (median)" in retrained["reason"]


def test_drift_read_a_column_at_a_time_from_a_work_file_is_the_frames(job, tmp_path):
    from ztad.behaviour.features import FEATURE_NAMES
    from ztad.detection.policy import _day_drift
    from ztad.detection.scoring_model import registry_of
    from ztad.pipeline.parquet_columns import ParquetColumns

    matrix = _history(5, 20)
    version = _decide(job, date(2026, 3, 6), matrix)["model_version"]
    meta = registry_of(job).metadata(version)
    day = matrix.drop(columns=["training_day", "flagged", "training_day_rows"]).iloc[:60] * 1.5
    day["day_off"] = 0.0  # constant within the day: not counted
    day.to_parquet(tmp_path / "features.parquet", index=False, row_group_size=16)
    from_file = _day_drift(meta, ParquetColumns(tmp_path / "features.parquet"), 50)
    assert from_file.to_dict() == _day_drift(meta, day, 50).to_dict()
    assert list(from_file.index) == [f"the {len(FEATURE_NAMES) - 1} varying features (median)"]
