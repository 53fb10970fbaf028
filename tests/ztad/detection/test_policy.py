"""Retrain policy: when the registered model is replaced, and why."""

from datetime import date

import numpy as np
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
