"""Hard negatives with and without the known-network and cold-start logic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ztad.behaviour.features import FeatureSettings
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.evaluation import EvaluationError
from ztad.evaluation.ablation import ALL_HARD_NEGATIVES, LOGIC_OFF, ablated_config, ablation_metrics

KINDS = ["business_travel", "vpn", "new_employee", "new_laptop"]


def _scored(fp_per_kind: dict[str, int], ordinary_fp: int = 0, seed: int = 0) -> pd.DataFrame:
    """100 normal events of each hard-negative kind, 600 ordinary ones and 50 attacks.

    Attacks score highest; within each kind the first ``fp_per_kind[kind]`` events score and
    are flagged just below them (so that they are false positives at any budget that reaches
    them), the rest score low.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for kind in KINDS:
        for i in range(100):
            hot = i < fp_per_kind.get(kind, 0)
            rows.append(("normal", kind, 5.0 + rng.random() if hot else rng.random(), hot))
    for i in range(600):
        hot = i < ordinary_fp
        rows.append(("normal", "", 5.0 + rng.random() if hot else rng.random(), hot))
    rows += [("impossible_travel", "", 10.0 + rng.random(), True) for _ in range(50)]
    frame = pd.DataFrame(rows, columns=["event_label", "scenario", "score", "flagged"])
    frame.insert(0, "event_id", [f"e{i}" for i in range(len(frame))])
    frame.insert(1, "timestamp", pd.Timestamp("2026-03-16", tz="UTC"))
    return frame


def test_false_positives_per_kind_are_compared_at_both_points():
    with_logic = _scored({"business_travel": 1, "vpn": 0, "new_employee": 3, "new_laptop": 0}, ordinary_fp=2)
    without = _scored({"business_travel": 8, "vpn": 6, "new_employee": 4, "new_laptop": 0}, ordinary_fp=2)
    metrics = ablation_metrics(with_logic, without.sample(frac=1.0, random_state=1))  # matched by event id
    operating = metrics["points"]["operating"]
    assert operating["business_travel"] == {"events": 100, "with": 1, "without": 8, "ratio": 0.125, "met": True}
    assert operating["vpn"] == {"events": 100, "with": 0, "without": 6, "ratio": 0.0, "met": True}
    assert operating["new_employee"]["ratio"] == pytest.approx(0.75) and not operating["new_employee"]["met"]
    # Nothing to reduce: held only because there is no false positive with the logic either.
    assert operating["new_laptop"] == {"events": 100, "with": 0, "without": 0, "ratio": None, "met": True}
    assert operating[ALL_HARD_NEGATIVES] == {"events": 400, "with": 4, "without": 18, "ratio": pytest.approx(4 / 18),
                                             "met": True}
    assert operating["(ordinary)"]["events"] == 600 and operating["(ordinary)"]["met"] is None  # not judged
    assert metrics["met"] is False  # new employees
    assert metrics["logic_off"] == sorted(LOGIC_OFF) and metrics["max_ratio"] == 0.25
    # At 1 % FPR each run's threshold is set on its own normal scores: 10 of the 1000 normal
    # events are false positives in both runs, spread over the kinds differently.
    at_budget = metrics["points"]["fpr_0.01"]
    for run in ("with", "without"):
        assert at_budget[ALL_HARD_NEGATIVES][run] + at_budget["(ordinary)"][run] == 10
    assert at_budget["business_travel"]["with"] >= 1 and at_budget["new_employee"]["with"] >= 3
    assert at_budget["new_laptop"]["without"] == 0
    # Per kind at a fixed rate only the budget's split is compared: reported, not judged.
    assert all(row["met"] is None for kind, row in at_budget.items() if kind != ALL_HARD_NEGATIVES)
    assert at_budget[ALL_HARD_NEGATIVES]["met"] is not None
    assert metrics["runs"]["with"]["roc_auc"] == pytest.approx(1.0)
    assert metrics["runs"]["without"]["operating"]["false_positives"] == 20


def test_a_run_that_did_not_score_the_same_events_is_refused():
    with_logic = _scored({})
    with pytest.raises(EvaluationError, match="2 event\\(s\\) scored with the logic were not scored without it"):
        ablation_metrics(with_logic, with_logic.iloc[2:])


def test_the_ablated_config_switches_only_the_logic_off(tmp_path):
    settings = FeatureSettings(min_history_days=9)
    config = JobConfig(source=SourceConfig(root="logs"), home=tmp_path,
                       detection=DetectionConfig(seed=3, feature_settings=settings))
    ablated = ablated_config(config)
    assert ablated.detection.feature_settings == FeatureSettings(
        min_history_days=9, cold_start=False, known_networks=False, plausible_travel=False)
    assert ablated.detection.seed == 3 and ablated.home == config.home
    assert config.detection.feature_settings == settings  # the original is untouched
    assert ablated_config(JobConfig(source=SourceConfig(root="logs"))).detection.feature_settings == FeatureSettings(
        cold_start=False, known_networks=False, plausible_travel=False)
