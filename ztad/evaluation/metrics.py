"""Detection metrics from continuous scores and from hard decisions.

Everything here is a pure function of arrays: no files, no models. A score is "higher = more
anomalous" for every detector. Labels follow :mod:`ztad.schema`: ``normal`` is trusted and any
other label is an anomaly; a combined label ``a+b`` counts for category ``a`` and for ``b``.

Alert budgets and ties
----------------------
An event is flagged at a threshold ``t`` when its score is strictly greater than ``t``.

- At a false-positive-rate budget ``f`` the threshold is the ``(k + 1)``-th largest score of
  the normal events, with ``k = floor(f * n_normal)``. At most ``k`` normal events score above
  it, so the achieved false-positive rate never exceeds the budget; normal events tied at the
  threshold are not flagged, and anomalies tied with them are not flagged either. A detector
  cannot buy recall with ties.
- At a top-fraction budget ``q`` the threshold is the ``(k + 1)``-th largest score of all
  events, with ``k = ceil(q * n)``: at most ``k`` events are flagged, and a block of tied
  scores straddling the cut is left out entirely (a constant score flags nothing).

The budget thresholds are taken from the evaluated events' own normal scores, so they measure
what a detector could reach at that alert rate; the operating threshold is whatever the
detector decided without labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ztad.detection.threshold import kth_largest_cut, score_cut
from ztad.evaluation import EvaluationError
from ztad.evaluation.attacks import attack_keys, attack_recall, false_incidents, user_day_incidents
from ztad.schema import NORMAL_LABEL, is_anomaly_label

#: False-positive-rate budgets reported for every detector (1 % and 0.1 %).
FPR_BUDGETS: tuple[float, ...] = (0.01, 0.001)
#: Share of all events a top-k alert budget may flag (0.5 %).
TOP_FRACTION: float = 0.005
#: Scenario name given to normal events that carry no hard-negative marker.
ORDINARY_SCENARIO = "(ordinary)"


@dataclass(frozen=True)
class GroundTruth:
    """The labels of the evaluated events, in row order.

    Attributes
    ----------
    is_anomaly
        True for every event whose label is not ``normal``.
    labels
        The raw labels (positional index ``0..n-1``).
    scenarios
        Hard-negative markers of normal events (``business_travel``, ``vpn`` ...), or nulls.
    days
        The UTC calendar day of each event, or ``None`` when timestamps are unknown.
    attacks
        The attack each anomalous event belongs to (its ``attack_id``, else the event alone;
        :func:`ztad.evaluation.attacks.attack_keys`), missing on normal events.
    incidents
        The incident a flagged event would join when the job's own incident ids are not
        given: its user's day (:func:`ztad.evaluation.attacks.user_day_incidents`); ``None``
        without days.
    """

    is_anomaly: np.ndarray
    labels: pd.Series
    scenarios: pd.Series
    days: pd.Series | None
    attacks: pd.Series | None = None
    incidents: pd.Series | None = None

    @classmethod
    def from_events(cls, events: pd.DataFrame) -> "GroundTruth":
        """Read the truth from labelled events; raise :class:`EvaluationError` if unusable.

        Every row must carry a label (drop unlabelled rows first, see :func:`labelled_only`),
        and both classes must be present: ROC-AUC and recall mean nothing otherwise.
        """
        require_labels(events)
        labels = events["event_label"].astype("string").reset_index(drop=True)
        flags = is_anomaly_label(labels)
        if flags.isna().any():
            first = int(np.flatnonzero(flags.isna().to_numpy())[0])
            raise EvaluationError(
                f"row {first}: field event_label is empty; drop unlabelled events before "
                "computing metrics (labelled_only does that)"
            )
        is_anomaly = flags.to_numpy(dtype=bool)
        require_both_classes(is_anomaly)
        if "scenario" in events.columns:
            scenarios = events["scenario"].astype("string").reset_index(drop=True)
        else:
            scenarios = pd.Series(pd.NA, index=labels.index, dtype="string")
        days = None
        if "timestamp" in events.columns:
            stamps = pd.to_datetime(events["timestamp"], utc=True).reset_index(drop=True)
            days = stamps.dt.date
        attacks = attack_keys(is_anomaly, events["attack_id"] if "attack_id" in events.columns else None)
        users = events["user_id"] if "user_id" in events.columns else None
        incidents = None if days is None else user_day_incidents(days, users)
        return cls(is_anomaly=is_anomaly, labels=labels, scenarios=scenarios, days=days,
                   attacks=attacks, incidents=incidents)

    def __len__(self) -> int:
        return len(self.is_anomaly)


def require_labels(events: pd.DataFrame) -> None:
    """Raise :class:`EvaluationError` when the events carry no ``event_label`` column."""
    if "event_label" not in events.columns:
        raise EvaluationError(
            "the events have no event_label column: evaluation needs labelled events "
            f"({NORMAL_LABEL!r} or an anomaly category such as 'impossible_travel'); "
            "map your label column to event_label or generate labelled logs with ztad generate"
        )


def require_both_classes(is_anomaly: np.ndarray) -> None:
    """Raise :class:`EvaluationError` unless there are both normal and anomalous events."""
    anomalies = int(np.count_nonzero(is_anomaly))
    normals = int(len(is_anomaly) - anomalies)
    if anomalies == 0 or normals == 0:
        present = "anomalous" if anomalies else NORMAL_LABEL
        raise EvaluationError(
            f"only one class in the evaluated events ({len(is_anomaly)} {present} events, "
            f"{anomalies} anomalies, {normals} normal): ROC-AUC, precision and recall need at "
            "least one normal and one anomalous event; evaluate a period that contains attacks"
        )


def labelled_only(events: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Return the events whose ``event_label`` is set, and how many were dropped.

    An empty label is unknown, neither trusted nor an anomaly, so it cannot be scored.
    """
    require_labels(events)
    labels = events["event_label"].astype("string").str.strip()
    keep = labels.notna() & (labels != "")
    keep = keep.to_numpy(dtype=bool)
    return events.loc[keep].reset_index(drop=True), int((~keep).sum())


def as_scores(scores, name: str = "score") -> np.ndarray:
    """Return ``scores`` as float64, refusing NaN and infinite values.

    A missing score would silently rank as neither high nor low, so it is an error.
    """
    values = np.asarray(scores, dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise EvaluationError(
            f"row {first}: field {name} is {values[first]} ({int(bad.sum())} rows are not "
            "finite numbers); every evaluated event needs a score"
        )
    return values


# --------------------------------------------------------------------------- ranking


def roc_auc(is_anomaly: np.ndarray, scores) -> float:
    """Area under the ROC curve from continuous scores (ties count one half)."""
    from sklearn.metrics import roc_auc_score

    require_both_classes(is_anomaly)
    return float(roc_auc_score(is_anomaly, as_scores(scores)))


def pr_auc(is_anomaly: np.ndarray, scores) -> float:
    """Area under the precision-recall curve, as average precision (no interpolation)."""
    from sklearn.metrics import average_precision_score

    require_both_classes(is_anomaly)
    return float(average_precision_score(is_anomaly, as_scores(scores)))


# --------------------------------------------------------------------------- budgets


def fpr_threshold(normal_scores, fpr: float) -> float:
    """Threshold at which at most ``fpr`` of the normal events score strictly higher.

    Parameters
    ----------
    normal_scores
        Scores of normal events.
    fpr
        The false-positive-rate budget, in ``[0, 1)``.

    Returns
    -------
    float
        The ``(k + 1)``-th largest normal score with ``k = floor(fpr * n_normal)``.
    """
    if not 0.0 <= fpr < 1.0:
        raise ValueError(f"fpr must be in [0, 1), got {fpr}")
    values = as_scores(normal_scores)
    if len(values) == 0:
        raise EvaluationError("no normal events: a false-positive budget needs some")
    return score_cut(values, fpr)


def top_fraction_threshold(scores, fraction: float) -> float:
    """Threshold at which at most ``ceil(fraction * n)`` events score strictly higher."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    values = as_scores(scores)
    return kth_largest_cut(values, math.ceil(fraction * len(values) - 1e-9))


def flagged_above(scores, threshold: float) -> np.ndarray:
    """Boolean decisions: strictly above the threshold."""
    return as_scores(scores) > threshold


# --------------------------------------------------------------------------- decisions


def confusion(is_anomaly: np.ndarray, flagged: np.ndarray) -> dict[str, int]:
    """Confusion-matrix counts with the anomaly as the positive class."""
    y = np.asarray(is_anomaly, dtype=bool)
    f = np.asarray(flagged, dtype=bool)
    return {
        "tp": int(np.count_nonzero(y & f)),
        "fp": int(np.count_nonzero(~y & f)),
        "tn": int(np.count_nonzero(~y & ~f)),
        "fn": int(np.count_nonzero(y & ~f)),
    }


def _ratio(numerator: int, denominator: int) -> float:
    """A share that is 0.0 when nothing was counted (no alerts means no precision)."""
    return numerator / denominator if denominator else 0.0


def decision_metrics(is_anomaly: np.ndarray, flagged: np.ndarray) -> dict:
    """Precision, recall, F1, false-positive rate and the confusion matrix of decisions.

    Precision is 0.0 when nothing is flagged (scikit-learn's ``zero_division=0``).
    """
    counts = confusion(is_anomaly, flagged)
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": _ratio(fp, fp + tn),
        "alerts": tp + fp,
        "confusion": counts,
    }


def alerts_per_day(days: pd.Series, flagged: np.ndarray) -> dict:
    """Alerts on each evaluated day (days without alerts count as zero), mean and maximum."""
    per_day = (
        pd.Series(np.asarray(flagged, dtype=np.int64), index=pd.Index(days.to_numpy()))
        .groupby(level=0)
        .sum()
        .sort_index()
    )
    return {
        "mean": float(per_day.mean()) if len(per_day) else 0.0,
        "max": int(per_day.max()) if len(per_day) else 0,
        "by_day": {str(day): int(count) for day, count in per_day.items()},
    }


def category_table(labels: pd.Series, is_anomaly: np.ndarray) -> pd.DataFrame:
    """One row per (anomalous event, category): combined labels are split on ``+``.

    The ``row`` column is the event's position, so decisions can be joined on it.
    """
    anomalous = labels[np.asarray(is_anomaly, dtype=bool)].astype("string")
    parts = anomalous.str.split("+").explode().astype("string").str.strip()
    table = pd.DataFrame({"row": parts.index.to_numpy(), "category": parts.to_numpy()})
    table = table[table["category"].notna() & (table["category"] != "")]
    # "a+a" is one event of category a, not two.
    return table.drop_duplicates().reset_index(drop=True)


def recall_per_category(labels: pd.Series, is_anomaly: np.ndarray, flagged) -> dict:
    """Share of each category's events that were flagged; ``a+b`` counts for both.

    Returns
    -------
    dict
        ``{category: {"events": n, "detected": k, "recall": k / n}}``, sorted by name.
    """
    table = category_table(labels, is_anomaly)
    table["detected"] = np.asarray(flagged, dtype=bool)[table["row"].to_numpy()]
    grouped = table.groupby("category", sort=True)["detected"].agg(["size", "sum"])
    return {
        str(category): {
            "events": int(row["size"]),
            "detected": int(row["sum"]),
            "recall": float(row["sum"] / row["size"]),
        }
        for category, row in grouped.iterrows()
    }


def false_positives_by_scenario(
    scenarios: pd.Series, is_anomaly: np.ndarray, flagged
) -> dict:
    """False positives among normal events per hard-negative kind (business_travel, vpn ...).

    Normal events without a marker are grouped as ``(ordinary)`` for comparison. Returns
    ``{kind: {"events": n, "false_positives": k, "rate": k / n}}``.
    """
    normal = ~np.asarray(is_anomaly, dtype=bool)
    kinds = scenarios.astype("string").str.strip().fillna("").replace("", ORDINARY_SCENARIO)
    frame = pd.DataFrame(
        {"kind": kinds.to_numpy()[normal], "fp": np.asarray(flagged, dtype=bool)[normal]}
    )
    grouped = frame.groupby("kind", sort=True)["fp"].agg(["size", "sum"])
    return {
        str(kind): {
            "events": int(row["size"]),
            "false_positives": int(row["sum"]),
            "rate": float(row["sum"] / row["size"]),
        }
        for kind, row in grouped.iterrows()
    }


# --------------------------------------------------------------------------- one detector


def decisions_report(truth: GroundTruth, flagged: np.ndarray, incidents: pd.Series | None = None) -> dict:
    """Everything measured from one set of hard decisions.

    ``attacks`` counts attacks caught (:func:`ztad.evaluation.attacks.attack_recall`);
    ``incidents`` counts false incidents per day, grouping flagged events by ``incidents``
    (the job's incident ids, aligned with ``truth``) or else by user and day.
    """
    flagged = np.asarray(flagged, dtype=bool)
    if len(flagged) != len(truth):
        raise EvaluationError(
            f"{len(flagged)} decisions for {len(truth)} events: they must align row by row"
        )
    out = decision_metrics(truth.is_anomaly, flagged)
    out["per_category"] = recall_per_category(truth.labels, truth.is_anomaly, flagged)
    out["false_positives_by_scenario"] = false_positives_by_scenario(
        truth.scenarios, truth.is_anomaly, flagged
    )
    if truth.attacks is not None:
        out["attacks"] = attack_recall(truth.labels, truth.attacks, flagged)
    if truth.days is not None:
        out["alerts_per_day"] = alerts_per_day(truth.days, flagged)
        keys = truth.incidents if incidents is None else _filled_incidents(incidents, truth)
        if keys is not None:
            out["incidents"] = false_incidents(truth.days, keys, truth.is_anomaly, flagged)
    return out


def _filled_incidents(incidents: pd.Series, truth: GroundTruth) -> pd.Series:
    """The job's incident ids, with the user-day key where an event has none."""
    given = pd.Series(incidents.to_numpy(), index=pd.RangeIndex(len(incidents))).astype("string")
    return given if truth.incidents is None else given.fillna(truth.incidents)


def budget_key(fpr: float) -> str:
    """The metrics.json key of a false-positive budget, e.g. ``fpr_0.01``."""
    return f"fpr_{fpr:g}"


def detector_metrics(
    truth: GroundTruth,
    scores,
    flagged=None,
    *,
    fpr_budgets: tuple[float, ...] = FPR_BUDGETS,
    top_fraction: float = TOP_FRACTION,
    incidents: pd.Series | None = None,
) -> dict:
    """All metrics of one detector: ranking, alert budgets and its own decisions.

    Parameters
    ----------
    truth
        Labels of the evaluated events.
    scores
        Continuous scores, higher = more anomalous, aligned with ``truth``.
    flagged
        The detector's own decisions at its operating threshold, or ``None`` when it has
        none (then ``operating`` is ``None``).
    incidents
        The job's incident id of each event, for counting the incidents of ``flagged``; the
        budgets, which the job did not run at, group by user and day.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc``, ``at_budget`` (one entry per FPR budget and the top
        fraction, each with threshold and the full decision metrics) and ``operating``.
    """
    values = as_scores(scores)
    if len(values) != len(truth):
        raise EvaluationError(
            f"{len(values)} scores for {len(truth)} events: they must align row by row"
        )
    at_budget = {}
    for fpr in fpr_budgets:
        threshold = fpr_threshold(values[~truth.is_anomaly], fpr)
        at_budget[budget_key(fpr)] = {
            "threshold": threshold,
            **decisions_report(truth, values > threshold),
        }
    threshold = top_fraction_threshold(values, top_fraction)
    at_budget[f"top_{top_fraction:g}"] = {
        "threshold": threshold,
        **decisions_report(truth, values > threshold),
    }
    return {
        "events": len(truth),
        "anomalies": int(truth.is_anomaly.sum()),
        "roc_auc": roc_auc(truth.is_anomaly, values),
        "pr_auc": pr_auc(truth.is_anomaly, values),
        "at_budget": at_budget,
        "operating": None if flagged is None else decisions_report(truth, flagged, incidents),
    }
