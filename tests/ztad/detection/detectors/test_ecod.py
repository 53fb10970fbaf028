"""Tail-probability detector specifics: per-feature contributions and tail sides."""

import numpy as np
import pandas as pd
import pytest

from tests.ztad.detection.detectors.synthetic import normal_features
from ztad.detection.detectors import ECODDetector


@pytest.fixture(scope="module")
def model():
    return ECODDetector().fit(normal_features(2000, seed=1))


def test_contributions_name_the_rare_feature(model):
    row = normal_features(1, seed=5)
    row.loc[0, "count"] = 50.0
    contributions = model.feature_contributions(row)
    assert list(contributions.columns) == model.feature_names_in_
    assert contributions.iloc[0].idxmax() == "count"
    # Beyond every reference value: the smallest tail probability, 1 / (n + 1).
    assert contributions.loc[0, "count"] == pytest.approx(np.log(len(model.reference_) + 1))


def test_a_rare_flag_contributes_minus_log_of_its_rate(model):
    row = normal_features(1, seed=5)
    row.loc[0, "flag"] = 1.0
    rate = (model.reference_[:, model.feature_names_in_.index("flag")] == 1).mean()
    contribution = model.feature_contributions(row).loc[0, "flag"]
    assert contribution == pytest.approx(-np.log(rate), rel=0.01)


def test_an_unset_rare_flag_contributes_almost_nothing(model):
    row = normal_features(1, seed=5)
    row.loc[0, "flag"] = 0.0
    assert model.feature_contributions(row).loc[0, "flag"] < 0.01


def test_left_skewed_feature_uses_its_left_tail():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"hour_probability": 1 - rng.beta(1, 8, 2000), "noise": rng.normal(size=2000)}
    )
    model = ECODDetector().fit(frame)
    assert not model.right_tailed_[0]
    low = pd.DataFrame({"hour_probability": [0.01], "noise": [0.0]})
    high = pd.DataFrame({"hour_probability": [0.999], "noise": [0.0]})
    assert model.score_samples(low)[0] > model.score_samples(high)[0]


def test_reference_rows_are_capped():
    model = ECODDetector(max_reference_rows=500, calibration_fraction=0.0)
    model.fit(normal_features(2000, 1))
    assert model.reference_.shape == (500, 6)


def test_tail_tables_count_the_reference_as_two_searches_do():
    from ztad.detection.detectors.ecod import TailTables

    rng = np.random.default_rng(3)
    column = np.sort(np.concatenate([rng.integers(0, 5, 300).astype(float), rng.normal(size=200)]))
    x = np.concatenate([rng.integers(-1, 7, 500).astype(float), rng.normal(size=500), [-np.inf, np.inf, -0.0]])
    left, right = np.empty_like(x), np.empty_like(x)
    TailTables.of(column).surprises(x, left, right)
    n = len(column)
    at_most = np.searchsorted(column, x, side="right").astype(float)
    at_least = (n - np.searchsorted(column, x, side="left")).astype(float)
    np.testing.assert_array_equal(left, np.log(n + 1.0) - np.log1p(at_most))
    np.testing.assert_array_equal(right, np.log(n + 1.0) - np.log1p(at_least))
