"""Alert thresholds from an alert budget, calibrated on trailing normal history.

The threshold that turns scores into alerts comes from the budget set in configuration, never
from the day being scored (a percentile of today's scores would flag the same share of events on
a quiet day as during an attack) and never from labels. Two budgets are offered:

- a target false-positive rate: the ``1 - target_fpr`` quantile of the scores of normal
  history (:func:`calibrate`);
- at most N alerts per day on average over the history days (:func:`calibrate_daily`).

An event is flagged when its score is *strictly* above the threshold.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


class ThresholdError(ValueError):
    """A threshold cannot be calibrated from the scores or budget given."""


def _history_scores(normal_scores) -> np.ndarray:
    scores = np.asarray(normal_scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ThresholdError(
            "no history scores to calibrate on: score the trailing normal history first"
        )
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise ThresholdError(
            f"history score at position {bad[0]} is {scores[bad[0]]}; {bad.size} score(s) are "
            "not finite, so the history cannot set a threshold. Check the features scored"
        )
    return scores


def calibrate(normal_scores, target_fpr: float) -> float:
    """Threshold at which about ``target_fpr`` of normal history scores strictly higher.

    Parameters
    ----------
    normal_scores
        Scores of trailing normal history (never the day being scored).
    target_fpr
        Alert budget as the share of normal events allowed to alert, in (0, 1).

    Returns
    -------
    float
        The ``1 - target_fpr`` quantile of the history scores as an observed score: the
        ``(k + 1)``-th largest with ``k = floor(target_fpr * n)``, so that at most
        ``target_fpr`` of the history lies strictly above it (:func:`score_cut`).
    """
    if not 0.0 < target_fpr < 1.0:
        raise ThresholdError(f"target_fpr must be in (0, 1), got {target_fpr}")
    return score_cut(_history_scores(normal_scores), target_fpr)


def score_cut(scores: np.ndarray, fpr: float) -> float:
    """The cut that flags at most ``fpr`` of ``scores`` (those strictly above it).

    The ``(k + 1)``-th largest score with ``k = floor(fpr * n)``, or ``-inf`` when that
    allows every score. The one definition of a false-positive-rate cut, shared by the
    calibration here and by the evaluation's metrics.
    """
    return kth_largest_cut(scores, math.floor(fpr * scores.size + 1e-9))


def kth_largest_cut(scores: np.ndarray, k: int) -> float:
    """The ``(k + 1)``-th largest score: flagging scores strictly above it flags at most ``k``
    (``-inf`` when ``k`` allows them all)."""
    if k >= scores.size:
        return -math.inf
    # np.partition puts the (k+1)-th largest at position n-k-1 without a full sort.
    position = scores.size - 1 - k
    return float(np.partition(scores, position)[position])


def _day_labels(days, n_scores: int) -> pd.Series:
    labels = pd.Series(np.asarray(days)).reset_index(drop=True)
    if len(labels) != n_scores:
        raise ThresholdError(
            f"{len(labels)} day label(s) for {n_scores} history score(s): give the day of "
            "every scored history event"
        )
    if labels.isna().any():
        position = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise ThresholdError(f"history event at position {position} has no day")
    return labels


def calibrate_daily(normal_scores, days, max_alerts_per_day: float) -> float:
    """Threshold at which history would have raised at most ``max_alerts_per_day`` on average.

    Parameters
    ----------
    normal_scores
        Scores of *every* event of the trailing history days (not a sample: the count per day
        depends on the volume).
    days
        The day of each history event, aligned with ``normal_scores``.
    max_alerts_per_day
        Alert budget, as a mean count of alerts per day (> 0).

    Returns
    -------
    float
        The ``(k + 1)``-th largest history score, with ``k = floor(budget * number of days)``,
        so that at most ``k`` history events score strictly higher.
    """
    if not max_alerts_per_day > 0:
        raise ThresholdError(f"max_alerts_per_day must be > 0, got {max_alerts_per_day}")
    scores = _history_scores(normal_scores)
    n_days = _day_labels(days, scores.size).nunique()
    allowed = math.floor(max_alerts_per_day * n_days)
    if allowed >= scores.size:
        # The budget exceeds the history's whole volume: every event may alert.
        return float(np.nextafter(scores.min(), -np.inf))
    return kth_largest_cut(scores, allowed)


def fpr_for_daily_budget(max_alerts_per_day: float, events_per_day: float) -> float:
    """The false-positive-rate budget equivalent to a daily alert count at a given volume.

    Useful when the model only sees a sample of history: the rate is estimated on the sample
    and the daily volume comes from the full history.
    """
    if not max_alerts_per_day > 0 or not events_per_day > 0:
        raise ThresholdError(
            f"need max_alerts_per_day > 0 and events_per_day > 0, got {max_alerts_per_day} "
            f"and {events_per_day}"
        )
    rate = max_alerts_per_day / events_per_day
    if rate >= 1.0:
        raise ThresholdError(
            f"a budget of {max_alerts_per_day} alerts per day is not below the daily volume of "
            f"{events_per_day} events: lower the budget"
        )
    return rate


def alerts_per_day(scores, days, threshold: float) -> pd.Series:
    """Number of events strictly above ``threshold`` on each day (days with none count 0)."""
    values = _history_scores(scores)
    labels = _day_labels(days, values.size)
    return (pd.Series(values > threshold).groupby(labels.to_numpy()).sum()).astype("int64")


def budget_report(history_scores, history_days, threshold: float) -> dict:
    """What a threshold would have done on history: expected alerts per day and rate.

    Returns
    -------
    dict
        ``threshold``, ``history_days``, ``history_events``, ``expected_alerts_per_day``
        (mean over the history days) and ``expected_fpr`` (share of history above it).
    """
    per_day = alerts_per_day(history_scores, history_days, threshold)
    events = int(np.asarray(history_scores).size)
    return {
        "threshold": float(threshold),
        "history_days": int(per_day.size),
        "history_events": events,
        "expected_alerts_per_day": float(per_day.mean()),
        "expected_fpr": float(per_day.sum() / events),
    }
