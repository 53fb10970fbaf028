"""Population stability index per feature, and drift as a retrain trigger."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.ztad.detection.detectors.synthetic import normal_features
from ztad.detection.detectors import ARTIFACT_FORMAT, FeatureMismatchError
from ztad.detection.drift import DEFAULT_PSI_THRESHOLD, DriftReference, population_stability_index
from ztad.detection.policy import should_retrain


@pytest.fixture(scope="module")
def training():
    return normal_features(20_000, seed=1)


def test_same_distribution_is_stable(training):
    psi = population_stability_index(training, normal_features(5000, seed=2))
    assert list(psi.index) == list(training.columns)
    assert psi.max() < 0.02


def test_a_shifted_feature_drifts_and_the_others_do_not(training):
    day = normal_features(5000, seed=2).assign(shifted=lambda f: f["shifted"] + 3.0)
    psi = population_stability_index(training, day)
    assert psi["shifted"] > DEFAULT_PSI_THRESHOLD
    assert psi.drop("shifted").max() < 0.02


def test_a_flag_gets_two_bins_and_its_rate_change_is_measured(training):
    reference = DriftReference.fit(training)
    flag = training.columns.get_loc("flag")
    assert reference.edges[flag].tolist() == [0.0]
    day = normal_features(5000, seed=2).assign(flag=lambda f: (np.arange(len(f)) % 2).astype(float))
    # 5 % -> 50 %: (0.5 - 0.05) ln(10) + (0.5 - 0.95) ln(0.5 / 0.95)
    assert reference.psi(day)["flag"] == pytest.approx(1.325, abs=0.1)


def test_a_value_never_seen_in_training_gives_a_finite_large_psi():
    reference = DriftReference.fit(pd.DataFrame({"x": np.zeros(1000)}))
    psi = reference.psi(pd.DataFrame({"x": np.ones(100)}))["x"]
    assert np.isfinite(psi) and psi > 5


def test_reference_survives_a_round_trip_through_a_dict(training):
    reference = DriftReference.fit(training)
    again = DriftReference.from_dict(reference.to_dict())
    day = normal_features(1000, seed=3)
    pd.testing.assert_series_equal(again.psi(day), reference.psi(day))


def test_other_features_are_refused(training):
    reference = DriftReference.fit(training)
    with pytest.raises(FeatureMismatchError, match="missing \\['flag'\\]"):
        reference.psi(training.drop(columns="flag"))


def test_too_few_bins_are_refused(training):
    with pytest.raises(ValueError, match="bins must be at least 2"):
        DriftReference.fit(training, bins=1)


def test_drift_triggers_a_retrain(training):
    meta = {
        "version": "m-20260315-0123456789ab",
        "trained_on": {"start": "2026-03-01", "end": "2026-03-15"},
        "artifact_format": ARTIFACT_FORMAT,
        "feature_names": list(training.columns),
        "libraries": {},
    }
    reference = DriftReference.fit(training)
    stable = reference.psi(normal_features(5000, seed=2))
    drifted = reference.psi(normal_features(5000, seed=2).assign(count=lambda f: f["count"] * 4))
    assert should_retrain(meta, date(2026, 3, 17), 7, stable)[0] is False
    retrain, reason = should_retrain(meta, date(2026, 3, 17), 7, drifted)
    assert retrain and "PSI of count" in reason


def test_one_features_psi_is_what_the_whole_frames_psi_gives_for_it(training):
    reference = DriftReference.fit(training)
    day = normal_features(3000, seed=3).assign(flag=lambda f: (f["flag"] + 1) % 2)
    whole = reference.psi(day)
    assert {name: reference.column_psi(name, day[name]) for name in day.columns} == whole.to_dict()


def test_a_missing_value_in_one_feature_is_refused(training):
    from ztad.detection.detectors import InvalidFeaturesError

    reference = DriftReference.fit(training)
    day = normal_features(10, seed=4)
    day.loc[3, "flag"] = np.nan
    with pytest.raises(InvalidFeaturesError, match="flag"):
        reference.column_psi("flag", day["flag"])
