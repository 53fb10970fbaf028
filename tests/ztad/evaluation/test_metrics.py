"""Metrics against values computed by hand on tiny score vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.evaluation import EvaluationError
from ztad.evaluation.metrics import (
    ORDINARY_SCENARIO,
    GroundTruth,
    alerts_per_day,
    as_scores,
    decision_metrics,
    detector_metrics,
    false_positives_by_scenario,
    fpr_threshold,
    labelled_only,
    pr_auc,
    recall_per_category,
    roc_auc,
    top_fraction_threshold,
)
from ztad.schema import label_categories

Y = np.array([False, False, False, False, True, True])
SCORES = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 2.5])


def truth_of(labels, scenarios=None, days=None) -> GroundTruth:
    frame = pd.DataFrame({"event_label": pd.array(labels, dtype="string")})
    if scenarios is not None:
        frame["scenario"] = pd.array(scenarios, dtype="string")
    if days is not None:
        frame["timestamp"] = pd.to_datetime(days, utc=True)
    return GroundTruth.from_events(frame)


# --------------------------------------------------------------------------- ranking


def test_roc_auc_counts_pairs_ranked_correctly():
    # anomaly 5.0 beats all 4 normal events, 2.5 beats two of them: 6 of 8 pairs.
    assert roc_auc(Y, SCORES) == pytest.approx(0.75)


def test_roc_auc_counts_a_tie_as_half():
    assert roc_auc(np.array([False, True]), np.array([1.0, 1.0])) == pytest.approx(0.5)


def test_pr_auc_is_average_precision():
    # ranking: 5.0 (anomaly, precision 1/1), 4, 3, 2.5 (anomaly, precision 2/4) -> (1 + .5) / 2.
    assert pr_auc(Y, SCORES) == pytest.approx(0.75)


def test_perfect_ranking_scores_one():
    assert roc_auc(Y, Y.astype(float)) == 1.0
    assert pr_auc(Y, Y.astype(float)) == 1.0


def test_ranking_refuses_a_single_class():
    with pytest.raises(EvaluationError, match="only one class"):
        roc_auc(np.zeros(4, dtype=bool), np.arange(4.0))
    with pytest.raises(EvaluationError, match="only one class"):
        pr_auc(np.ones(4, dtype=bool), np.arange(4.0))


def test_nan_score_is_an_error_naming_the_row():
    with pytest.raises(EvaluationError, match="row 2"):
        as_scores([0.1, 0.2, np.nan], "score_isolation_forest")


# --------------------------------------------------------------------------- budgets


def test_fpr_threshold_allows_exactly_the_budget_without_ties():
    normal = np.arange(1.0, 1001.0)
    threshold = fpr_threshold(normal, 0.01)
    assert threshold == 990.0
    assert int((normal > threshold).sum()) == 10
    assert fpr_threshold(normal, 0.001) == 999.0


def test_fpr_threshold_of_zero_is_the_highest_normal_score():
    assert fpr_threshold(np.array([3.0, 7.0, 5.0]), 0.0) == 7.0


def test_fpr_threshold_never_flags_ties_at_the_cut():
    # 100 normal events, 20 tied at the top: a 1 % budget allows one, so none is flagged.
    normal = np.array([5.0] * 20 + [1.0] * 80)
    threshold = fpr_threshold(normal, 0.01)
    assert threshold == 5.0
    assert not (normal > threshold).any()
    # an anomaly tied with them is not flagged either; one above them is.
    assert list(np.array([5.0, 5.1]) > threshold) == [False, True]


def test_fpr_threshold_rejects_bad_budgets():
    with pytest.raises(ValueError):
        fpr_threshold(np.arange(10.0), 1.0)
    with pytest.raises(EvaluationError):
        fpr_threshold(np.array([]), 0.01)


def test_top_fraction_flags_at_most_the_budget():
    scores = np.arange(200.0)
    threshold = top_fraction_threshold(scores, 0.005)  # ceil(0.005 * 200) = 1 event
    assert threshold == 198.0
    assert int((scores > threshold).sum()) == 1
    assert int((np.arange(1000.0) > top_fraction_threshold(np.arange(1000.0), 0.005)).sum()) == 5


def test_top_fraction_of_a_constant_score_flags_nothing():
    scores = np.ones(300)
    assert not (scores > top_fraction_threshold(scores, 0.005)).any()


# --------------------------------------------------------------------------- decisions


def test_decision_metrics_by_hand():
    y = np.array([True, True, True, False, False, False, False])
    flagged = np.array([True, True, False, True, False, False, False])
    out = decision_metrics(y, flagged)
    assert out["confusion"] == {"tp": 2, "fp": 1, "tn": 3, "fn": 1}
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(2 / 3)
    assert out["fpr"] == pytest.approx(1 / 4)
    assert out["alerts"] == 3


def test_decision_metrics_without_alerts_is_zero_not_nan():
    out = decision_metrics(np.array([True, False]), np.array([False, False]))
    assert (out["precision"], out["recall"], out["f1"]) == (0.0, 0.0, 0.0)


def test_recall_per_category_counts_combined_labels_for_each_part():
    labels = pd.Series(
        ["impossible_travel+large_data_transfer", "impossible_travel", "large_data_transfer",
         "off_hours_login", "normal", "normal"], dtype="string")
    y = (labels != "normal").to_numpy()
    flagged = np.array([True, False, True, False, True, False])
    out = recall_per_category(labels, y, flagged)
    assert out == {
        "impossible_travel": {"events": 2, "detected": 1, "recall": 0.5},
        "large_data_transfer": {"events": 2, "detected": 2, "recall": 1.0},
        "off_hours_login": {"events": 1, "detected": 0, "recall": 0.0},
    }


def test_recall_per_category_splits_like_the_schema():
    labels = pd.Series([" new_device + password_spray ", "new_device+new_device", "normal"],
                       dtype="string")
    out = recall_per_category(labels, np.array([True, True, False]), np.array([True, False, True]))
    assert set(out) == set(label_categories(labels[0])) == {"new_device", "password_spray"}
    # "new_device+new_device" is one event of new_device, not two.
    assert out["new_device"] == {"events": 2, "detected": 1, "recall": 0.5}


def test_false_positives_by_scenario_ignore_anomalies():
    scenarios = pd.Series(["vpn", "vpn", "business_travel", None, None, "vpn"], dtype="string")
    y = np.array([False, False, False, False, False, True])
    flagged = np.array([True, False, True, False, False, True])
    out = false_positives_by_scenario(scenarios, y, flagged)
    assert out == {
        ORDINARY_SCENARIO: {"events": 2, "false_positives": 0, "rate": 0.0},
        "business_travel": {"events": 1, "false_positives": 1, "rate": 1.0},
        "vpn": {"events": 2, "false_positives": 1, "rate": 0.5},
    }


def test_alerts_per_day_keeps_days_without_alerts():
    days = pd.Series(pd.to_datetime(
        ["2026-03-02 10:00", "2026-03-02 11:00", "2026-03-03 09:00", "2026-03-04 08:00"],
        utc=True)).dt.date
    out = alerts_per_day(days, np.array([True, True, False, True]))
    assert out["by_day"] == {"2026-03-02": 2, "2026-03-03": 0, "2026-03-04": 1}
    assert out["mean"] == pytest.approx(1.0)
    assert out["max"] == 2


# --------------------------------------------------------------------------- one detector


def test_detector_metrics_by_hand():
    truth = truth_of(["normal"] * 4 + ["impossible_travel", "off_hours_login"],
                     scenarios=[None, "vpn", None, None, None, None],
                     days=["2026-03-02"] * 3 + ["2026-03-03"] * 3)
    out = detector_metrics(truth, SCORES, flagged=SCORES > 3.5)
    assert out["roc_auc"] == pytest.approx(0.75)
    assert out["pr_auc"] == pytest.approx(0.75)
    # 4 normal events: a 1 % budget allows none, so the threshold is the top normal score 4.0.
    budget = out["at_budget"]["fpr_0.01"]
    assert budget["threshold"] == 4.0
    assert budget["recall"] == 0.5
    assert budget["per_category"]["impossible_travel"]["recall"] == 1.0
    assert budget["per_category"]["off_hours_login"]["recall"] == 0.0
    assert out["at_budget"]["top_0.005"]["alerts"] == 1
    operating = out["operating"]
    assert operating["confusion"] == {"tp": 1, "fp": 1, "tn": 3, "fn": 1}
    assert operating["alerts_per_day"]["by_day"] == {"2026-03-02": 0, "2026-03-03": 2}
    assert operating["false_positives_by_scenario"]["vpn"]["false_positives"] == 0


def test_detector_metrics_without_decisions_has_no_operating_point():
    truth = truth_of(["normal"] * 4 + ["a", "b"])
    assert detector_metrics(truth, SCORES)["operating"] is None


def test_detector_metrics_refuses_misaligned_scores():
    truth = truth_of(["normal"] * 4 + ["a", "b"])
    with pytest.raises(EvaluationError, match="align"):
        detector_metrics(truth, SCORES[:5])


# --------------------------------------------------------------------------- labels


def test_ground_truth_treats_every_label_but_normal_as_anomaly():
    truth = truth_of(["normal", "Normal ", "suspicious", "impossible_travel+new_device"])
    assert list(truth.is_anomaly) == [False, False, True, True]


def test_ground_truth_without_event_label_column_is_a_clear_error():
    with pytest.raises(EvaluationError, match="no event_label column"):
        GroundTruth.from_events(pd.DataFrame({"user_id": ["a", "b"]}))


@pytest.mark.parametrize("label", ["normal", "impossible_travel"])
def test_ground_truth_with_one_class_is_a_clear_error(label):
    with pytest.raises(EvaluationError, match="only one class"):
        truth_of([label] * 5)


def test_ground_truth_refuses_an_empty_label_and_names_the_row():
    with pytest.raises(EvaluationError, match="row 1: field event_label"):
        truth_of(["normal", None, "impossible_travel"])


def test_labelled_only_drops_and_counts_empty_labels():
    frame = pd.DataFrame({"event_label": pd.array(["normal", None, " ", "x"], dtype="string")})
    kept, dropped = labelled_only(frame)
    assert dropped == 2
    assert list(kept["event_label"]) == ["normal", "x"]
