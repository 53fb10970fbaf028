"""Was the alert budget held? Expected against actual alerts on each scored day.

The threshold is calibrated so that about ``target_fpr`` of normal events score above it
(:mod:`ztad.detection.threshold`), on trailing history and never on the day being scored. On a day of
``n`` events the budget therefore promises about ``target_fpr x n`` alerts from the ensemble.
This module sets that promise beside what happened, per day and over all scored days:

- the ensemble's own decisions (``model_flag``: score above the calibrated threshold), which
  the budget is about;
- the final decisions (``flagged``: the ensemble or a behavioural rule, minus what analysts'
  feedback suppresses), which is what analysts receive.

The budget is held when actual / expected lies within ``1 ± tolerance`` (±25 % by default).
Alerts include the attacks, so on a day with many of them the alerts exceed the budget by
design. The false positives are therefore also set against the budget on their own: the
false-positive rate on the day's normal events against the target (``fp_ratio``, held within
the same tolerance), which is exactly what the calibration promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from ztad.evaluation import EvaluationError
from ztad.schema import NORMAL_LABEL

#: Relative distance from the expected alerts that still counts as holding the budget.
TOLERANCE = 0.25
#: Column of the scored events holding the ensemble's own decision.
MODEL_FLAG = "model_flag"
#: The two decisions measured: the ensemble alone, and the final one with rules.
DECISIONS = {"model": MODEL_FLAG, "final": "flagged"}


def has_model_decisions(scored: pd.DataFrame) -> bool:
    """Whether the scored events carry the ensemble's own decisions (``model_flag``)."""
    return MODEL_FLAG in scored.columns


def _ratio(actual: float, expected: float) -> float | None:
    return float(actual / expected) if expected > 0 else None


def _within(ratio: float | None, tolerance: float) -> bool | None:
    return None if ratio is None else bool(abs(ratio - 1.0) <= tolerance + 1e-12)


def _rate(numerator: int, denominator: int) -> float | None:
    return float(numerator / denominator) if denominator else None


def _day_targets(days: pd.Index, target_fpr: float | Mapping[date, float]) -> np.ndarray:
    if isinstance(target_fpr, Mapping):
        missing = [str(day) for day in days if day not in target_fpr]
        if missing:
            raise EvaluationError(f"no target false-positive rate for day(s) {missing}")
        return np.array([float(target_fpr[day]) for day in days], dtype=np.float64)
    return np.full(len(days), float(target_fpr), dtype=np.float64)


def budget_table(
    scored: pd.DataFrame, target_fpr: float | Mapping[date, float], tolerance: float = TOLERANCE
) -> pd.DataFrame:
    """One row per scored day: events, normal events, expected and actual alerts of each
    decision, their ratio and false-positive rate on normal events, and whether it is held.

    Parameters
    ----------
    scored
        Every scored event of the days (``timestamp``, ``event_label``, ``model_flag``,
        ``flagged``); unlabelled events count as events but not as normal ones.
    target_fpr
        The alert budget, one for all days or per day (as each day's run record kept it).
    tolerance
        Relative distance from the expected alerts that counts as held.
    """
    missing = [c for c in ("timestamp", "event_label", *DECISIONS.values()) if c not in scored.columns]
    if missing:
        raise EvaluationError(f"the scored events lack column(s) {missing} for the alert budget")
    days = pd.to_datetime(scored["timestamp"], utc=True).dt.date.to_numpy()
    labels = scored["event_label"].astype("string").str.strip().str.lower()
    normal = labels.eq(NORMAL_LABEL).fillna(False).to_numpy(bool)
    frame = pd.DataFrame({"day": days, "events": 1, "normal_events": normal.astype(np.int64)})
    for name, column in DECISIONS.items():
        flags = scored[column].fillna(False).to_numpy(bool)
        frame[f"{name}_alerts"] = flags.astype(np.int64)
        frame[f"{name}_fp"] = (flags & normal).astype(np.int64)
    table = frame.groupby("day", sort=True).sum()
    table.insert(2, "target_fpr", _day_targets(table.index, target_fpr))
    table.insert(3, "expected_alerts", table["target_fpr"] * table["events"])
    table.insert(4, "expected_fp", table["target_fpr"] * table["normal_events"])
    table = table.reset_index()
    for name in DECISIONS:
        _add_rates(table, name, tolerance)
    return table


def _add_rates(table: pd.DataFrame, name: str, tolerance: float) -> None:
    """Per row, in place: ``<name>_ratio`` and ``<name>_within`` (alerts against the budget),
    ``<name>_fpr`` (on normal events), ``<name>_fp_ratio`` and ``<name>_fp_within`` (false
    positives against the budget)."""
    ratios = [_ratio(a, e) for a, e in zip(table[f"{name}_alerts"], table["expected_alerts"])]
    table[f"{name}_ratio"] = ratios
    table[f"{name}_within"] = [_within(r, tolerance) for r in ratios]
    table[f"{name}_fpr"] = [_rate(fp, n) for fp, n in zip(table[f"{name}_fp"], table["normal_events"])]
    fp_ratios = [_ratio(fp, e) for fp, e in zip(table[f"{name}_fp"], table["expected_fp"])]
    table[f"{name}_fp_ratio"] = fp_ratios
    table[f"{name}_fp_within"] = [_within(r, tolerance) for r in fp_ratios]


def budget_summary(table: pd.DataFrame, tolerance: float = TOLERANCE) -> dict:
    """The aggregate over every scored day of a :func:`budget_table`."""
    events = int(table["events"].sum())
    normals = int(table["normal_events"].sum())
    expected = float(table["expected_alerts"].sum())
    expected_fp = float(table["expected_fp"].sum())
    targets = table["target_fpr"].unique()
    out = {
        "days": int(len(table)),
        "events": events,
        "normal_events": normals,
        "target_fpr": float(targets[0]) if len(targets) == 1 else None,
        "expected_alerts": expected,
        "expected_alerts_per_day": expected / len(table) if len(table) else None,
        "expected_fp": expected_fp,
    }
    for name in DECISIONS:
        alerts = int(table[f"{name}_alerts"].sum())
        false_positives = int(table[f"{name}_fp"].sum())
        ratio, fp_ratio = _ratio(alerts, expected), _ratio(false_positives, expected_fp)
        out[name] = {
            "alerts": alerts,
            "alerts_per_day": alerts / len(table) if len(table) else None,
            "ratio": ratio,
            "within": _within(ratio, tolerance),
            "days_within": _count_true(table[f"{name}_within"]),
            "false_positives": false_positives,
            "fpr": _rate(false_positives, normals),
            "fp_ratio": fp_ratio,
            "fp_within": _within(fp_ratio, tolerance),
            "days_fp_within": _count_true(table[f"{name}_fp_within"]),
        }
    return out


def _count_true(flags: pd.Series) -> int:
    return int(sum(flag is True or flag is np.True_ for flag in flags))


def budget_metrics(
    scored: pd.DataFrame, target_fpr: float | Mapping[date, float], tolerance: float = TOLERANCE
) -> dict:
    """metrics.json's ``budget``: the per-day table (``by_day``) and the aggregate (``total``)."""
    table = budget_table(scored, target_fpr, tolerance)
    by_day = table.assign(day=table["day"].astype(str))
    return {
        "tolerance": tolerance,
        "decisions": {
            "model": "the ensemble alone: score above the calibrated threshold",
            "final": "the final decision: the ensemble or a behavioural rule, minus feedback suppressions",
        },
        "by_day": by_day.to_dict(orient="records"),
        "total": budget_summary(table, tolerance),
    }
