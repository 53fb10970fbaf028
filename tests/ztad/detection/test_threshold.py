"""Thresholds come from the alert budget on normal history, never from the scored day."""

import numpy as np
import pytest

from ztad.detection.threshold import (
    ThresholdError,
    alerts_per_day,
    budget_report,
    calibrate,
    calibrate_daily,
    fpr_for_daily_budget,
)


@pytest.fixture(scope="module")
def history():
    return np.random.default_rng(0).standard_normal(100_000)


def test_one_percent_budget_on_a_known_distribution(history):
    # The 99th percentile of a standard normal is 2.326.
    assert calibrate(history, 0.01) == pytest.approx(2.326, abs=0.03)


@pytest.mark.parametrize("n", [10, 99, 1000, 12345])
@pytest.mark.parametrize("target_fpr", [0.001, 0.01, 0.2])
def test_at_most_the_budget_of_history_lies_above(n, target_fpr):
    scores = np.random.default_rng(n).exponential(size=n)
    threshold = calibrate(scores, target_fpr)
    assert (scores > threshold).mean() <= target_fpr
    assert threshold in scores  # an observed score, not an interpolation


def test_the_budget_holds_on_new_normal_scores(history):
    threshold = calibrate(history, 0.005)
    new_day = np.random.default_rng(1).standard_normal(50_000)
    assert (new_day > threshold).mean() == pytest.approx(0.005, rel=0.25)


def test_a_larger_budget_gives_a_lower_threshold(history):
    assert calibrate(history, 0.05) < calibrate(history, 0.01) < calibrate(history, 0.001)


@pytest.mark.parametrize("target_fpr", [0.0, 1.0, -0.1, 1.5])
def test_budget_outside_zero_one_is_refused(history, target_fpr):
    with pytest.raises(ThresholdError, match="target_fpr must be in \\(0, 1\\)"):
        calibrate(history, target_fpr)


def test_empty_history_is_refused():
    with pytest.raises(ThresholdError, match="no history scores"):
        calibrate([], 0.01)


def test_non_finite_history_is_refused_naming_the_position():
    with pytest.raises(ThresholdError, match="position 2 is nan"):
        calibrate([0.1, 0.2, np.nan, 0.3], 0.01)


# --------------------------------------------------------------------------- daily budget


@pytest.fixture(scope="module")
def ten_days():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal(10 * 2000)
    days = np.repeat([f"2026-03-{d:02d}" for d in range(1, 11)], 2000)
    return scores, days


def test_daily_budget_is_met_on_history(ten_days):
    scores, days = ten_days
    threshold = calibrate_daily(scores, days, max_alerts_per_day=5)
    assert (scores > threshold).sum() == 50
    assert budget_report(scores, days, threshold)["expected_alerts_per_day"] == 5.0


def test_daily_budget_matches_the_equivalent_rate(ten_days):
    scores, days = ten_days
    rate = fpr_for_daily_budget(5, events_per_day=2000)
    assert rate == 0.0025
    assert calibrate(scores, rate) == calibrate_daily(scores, days, 5)


def test_budget_above_the_volume_flags_everything():
    scores = np.arange(10.0)
    threshold = calibrate_daily(scores, ["d1"] * 10, max_alerts_per_day=50)
    assert (scores > threshold).all()


def test_daily_budget_needs_a_day_per_score(ten_days):
    scores, days = ten_days
    with pytest.raises(ThresholdError, match="day label"):
        calibrate_daily(scores, days[:-1], 5)


def test_non_positive_daily_budget_is_refused(ten_days):
    with pytest.raises(ThresholdError, match="max_alerts_per_day must be > 0"):
        calibrate_daily(*ten_days, 0)


def test_rate_of_a_budget_not_below_the_volume_is_refused():
    with pytest.raises(ThresholdError, match="lower the budget"):
        fpr_for_daily_budget(100, events_per_day=100)


def test_alerts_per_day_counts_quiet_days_as_zero():
    counts = alerts_per_day([0.1, 5.0, 6.0, 0.2], ["a", "a", "b", "c"], threshold=1.0)
    assert counts.to_dict() == {"a": 1, "b": 1, "c": 0}


def test_budget_report_gives_expected_rate(ten_days):
    scores, days = ten_days
    threshold = calibrate(scores, 0.01)
    report = budget_report(scores, days, threshold)
    assert report["history_days"] == 10 and report["history_events"] == 20_000
    assert report["expected_fpr"] <= 0.01
    assert report["expected_alerts_per_day"] == pytest.approx(report["expected_fpr"] * 2000)
