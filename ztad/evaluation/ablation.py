"""What the known-network and cold-start logic buys, measured on the hard negatives.

Business travellers, VPN users, new employees and people on a new laptop do unusual but
legitimate things. The features protect them: a user with thin history is judged against
peers (cold start), a regular network or a shared VPN egress is not a new place or impossible
travel (known networks), and a plausible trip is not held against the traveller. Switching
these off (:data:`LOGIC_OFF`) and scoring the same days again through the same pipeline gives
the false positives the same detector would raise without them.

Per hard-negative kind (the ``scenario`` marker of normal events), the false positives of the
two runs are compared at the operating point (each run's own calibrated decisions) and at a
1 % false-positive rate (each run's threshold on its own normal scores). The logic earns its
place when the false positives with it are at most :data:`MAX_RATIO` of those without.

The verdict is judged per kind at the operating point, where each run spends the alert budget
its own calibration gives it, and over all hard negatives together at 1 %. Per kind at 1 %
the comparison is reported but not judged: both runs flag exactly 1 % of the normal events
there, so when the run without the logic spends that share on new employees, the other kinds
get fewer alerts only because the budget is gone, not because they look normal to it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ztad.config import JobConfig
from ztad.evaluation import EvaluationError
from ztad.evaluation.metrics import (
    ORDINARY_SCENARIO,
    GroundTruth,
    as_scores,
    budget_key,
    false_positives_by_scenario,
    fpr_threshold,
    labelled_only,
    pr_auc,
    roc_auc,
)

#: The FeatureSettings switches turned off for the run without the logic.
LOGIC_OFF: dict[str, bool] = {"cold_start": False, "known_networks": False, "plausible_travel": False}
#: False positives with the logic must be at most this share of those without it.
MAX_RATIO = 0.25
#: The false-positive-rate budget compared besides the operating point.
ABLATION_FPR = 0.01
#: Key of the sum over every hard-negative kind.
ALL_HARD_NEGATIVES = "all_hard_negatives"
#: Key of each run's own calibrated decisions.
OPERATING = "operating"


def ablated_config(config: JobConfig) -> JobConfig:
    """``config`` with the known-network, cold-start and plausible-travel logic switched off."""
    from ztad.behaviour.features import FeatureSettings

    detection = config.detection
    settings = replace(detection.feature_settings or FeatureSettings(), **LOGIC_OFF)
    return config.with_overrides(detection=replace(detection, feature_settings=settings))


def _aligned(with_logic: pd.DataFrame, without_logic: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labelled events both runs scored, in the same order."""
    with_logic, _ = labelled_only(with_logic)
    ids = pd.Index(without_logic["event_id"].astype("string"))
    if ids.has_duplicates:
        raise EvaluationError("the run without the logic repeats event ids; each event must appear once")
    positions = ids.get_indexer(with_logic["event_id"].astype("string"))
    if (positions < 0).any():
        missing = int((positions < 0).sum())
        raise EvaluationError(
            f"{missing} event(s) scored with the logic were not scored without it: both runs "
            "must score the same days of the same source"
        )
    return with_logic.reset_index(drop=True), without_logic.iloc[positions].reset_index(drop=True)


def _decisions(scored: pd.DataFrame, truth: GroundTruth, fpr: float) -> dict[str, np.ndarray]:
    """The run's flags at its operating point and at the false-positive-rate budget."""
    scores = as_scores(scored["score"])
    threshold = fpr_threshold(scores[~truth.is_anomaly], fpr)
    return {OPERATING: scored["flagged"].fillna(False).to_numpy(bool), budget_key(fpr): scores > threshold}


def _compare(with_fp: dict, without_fp: dict, max_ratio: float, judge_kinds: bool) -> dict:
    """Per kind: events, false positives with and without the logic, their ratio and verdict
    (per kind only when ``judge_kinds``; the sum over every kind always)."""
    kinds = sorted((set(with_fp) | set(without_fp)) - {ORDINARY_SCENARIO})
    rows = {}
    for kind in kinds:
        events = (with_fp.get(kind) or without_fp.get(kind))["events"]
        rows[kind] = _row(events, with_fp.get(kind, {}).get("false_positives", 0),
                          without_fp.get(kind, {}).get("false_positives", 0),
                          max_ratio if judge_kinds else None)
    total = [sum(rows[k][key] for k in kinds) for key in ("events", "with", "without")]
    rows[ALL_HARD_NEGATIVES] = _row(*total, max_ratio)
    if ORDINARY_SCENARIO in with_fp:  # for comparison, not judged: the logic is not for them
        ordinary = with_fp[ORDINARY_SCENARIO]
        rows[ORDINARY_SCENARIO] = _row(
            ordinary["events"], ordinary["false_positives"],
            without_fp.get(ORDINARY_SCENARIO, {}).get("false_positives", 0), None,
        )
    return rows


def _row(events: int, with_logic: int, without_logic: int, max_ratio: float | None) -> dict:
    """One comparison; ``met`` is ``None`` for a row that is not judged (``max_ratio=None``)."""
    ratio = with_logic / without_logic if without_logic else None
    return {
        "events": int(events),
        "with": int(with_logic),
        "without": int(without_logic),
        "ratio": ratio,
        # No false positive without the logic leaves nothing to reduce: held only at zero.
        "met": None if max_ratio is None else bool(with_logic <= max_ratio * without_logic),
    }


def _ranking(truth: GroundTruth, scored: pd.DataFrame, flags: dict[str, np.ndarray]) -> dict:
    scores = scored["score"]
    normal = ~truth.is_anomaly
    return {
        "roc_auc": roc_auc(truth.is_anomaly, scores),
        "pr_auc": pr_auc(truth.is_anomaly, scores),
        **{
            point: {
                "alerts": int(f.sum()),
                "false_positives": int((f & normal).sum()),
                "recall": float(f[truth.is_anomaly].mean()),
            }
            for point, f in flags.items()
        },
    }


def ablation_metrics(
    with_logic: pd.DataFrame,
    without_logic: pd.DataFrame,
    *,
    max_ratio: float = MAX_RATIO,
    fpr: float = ABLATION_FPR,
) -> dict:
    """metrics.json's ``ablation``: false positives per hard-negative kind with and without the
    logic, at the operating point and at ``fpr``, and whether each ratio is at most
    ``max_ratio``.

    Parameters
    ----------
    with_logic, without_logic
        The scored events of the same days (``event_id``, ``timestamp``, ``event_label``,
        ``scenario``, ``score``, ``flagged``), scored with the logic and without it.
    """
    with_logic, without_logic = _aligned(with_logic, without_logic)
    truth = GroundTruth.from_events(with_logic)
    flags = {"with": _decisions(with_logic, truth, fpr), "without": _decisions(without_logic, truth, fpr)}
    points = {}
    for point in flags["with"]:
        by_run = {
            run: false_positives_by_scenario(truth.scenarios, truth.is_anomaly, flags[run][point])
            for run in flags
        }
        points[point] = _compare(by_run["with"], by_run["without"], max_ratio, judge_kinds=point == OPERATING)
    hard_negative_verdicts = [
        row["met"] for table in points.values() for row in table.values() if row["met"] is not None
    ]
    return {
        "logic_off": sorted(LOGIC_OFF),
        "max_ratio": max_ratio,
        "events": len(truth),
        "points": points,
        "runs": {run: _ranking(truth, frame, flags[run])
                 for run, frame in (("with", with_logic), ("without", without_logic))},
        "met": bool(all(hard_negative_verdicts)),
    }
