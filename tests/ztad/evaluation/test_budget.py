"""The alert budget: expected against actual alerts per scored day and over all of them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ztad.evaluation import EvaluationError
from ztad.evaluation.budget import budget_metrics, budget_table

D1, D2 = date(2026, 3, 16), date(2026, 3, 17)


def _day(day: date, normal: int, attacks: int, model_normal: int, model_attacks: int, rules: int) -> pd.DataFrame:
    """``normal + attacks`` events of ``day``: the ensemble flags the first ``model_normal``
    normal and ``model_attacks`` attack events; rules flag ``rules`` more attack events."""
    n = normal + attacks
    labels = ["normal"] * normal + ["impossible_travel"] * attacks
    model = [i < model_normal for i in range(normal)] + [i < model_attacks for i in range(attacks)]
    rule = [False] * normal + [model_attacks <= i < model_attacks + rules for i in range(attacks)]
    return pd.DataFrame({
        "event_id": [f"{day}-{i}" for i in range(n)],
        "timestamp": pd.Timestamp(day, tz="UTC") + pd.to_timedelta(range(n), unit="s"),
        "event_label": labels,
        "model_flag": model,
        "flagged": [m or r for m, r in zip(model, rule)],
    })


@pytest.fixture
def scored() -> pd.DataFrame:
    # 1000 events a day at 1 %: 10 expected alerts a day.
    return pd.concat([_day(D1, 990, 10, 8, 4, 3), _day(D2, 995, 5, 20, 5, 0)], ignore_index=True)


def test_each_day_sets_actual_alerts_beside_the_budget(scored):
    table = budget_table(scored, 0.01).set_index("day")
    assert table.loc[D1, "events"] == 1000 and table.loc[D1, "normal_events"] == 990
    assert table.loc[D1, "expected_alerts"] == pytest.approx(10.0)
    assert (table.loc[D1, "model_alerts"], table.loc[D1, "final_alerts"]) == (12, 15)
    assert table.loc[D1, "model_ratio"] == pytest.approx(1.2) and table.loc[D1, "model_within"]
    assert table.loc[D1, "final_ratio"] == pytest.approx(1.5) and not table.loc[D1, "final_within"]
    assert table.loc[D1, "model_fpr"] == pytest.approx(8 / 990)
    assert table.loc[D1, "expected_fp"] == pytest.approx(9.9)
    assert table.loc[D1, "model_fp_ratio"] == pytest.approx(8 / 9.9) and table.loc[D1, "model_fp_within"]
    assert table.loc[D2, "model_alerts"] == 25 and not table.loc[D2, "model_within"]
    assert table.loc[D2, "model_fpr"] == pytest.approx(20 / 995)


def test_the_total_says_whether_the_budget_held_over_all_days(scored):
    metrics = budget_metrics(scored, {D1: 0.01, D2: 0.01})
    total = metrics["total"]
    assert (total["days"], total["events"], total["normal_events"]) == (2, 2000, 1985)
    assert total["target_fpr"] == 0.01 and total["expected_alerts"] == pytest.approx(20.0)
    model, final = total["model"], total["final"]
    assert model["alerts"] == 37 and model["ratio"] == pytest.approx(1.85) and model["within"] is False
    assert model["false_positives"] == 28 and model["fpr"] == pytest.approx(28 / 1985)
    # Without the attacks: 28 false positives where the budget allows 19.85.
    assert total["expected_fp"] == pytest.approx(19.85)
    assert model["fp_ratio"] == pytest.approx(28 / 19.85) and model["fp_within"] is False
    assert model["days_within"] == 1 and model["days_fp_within"] == 1
    assert final["alerts"] == 40 and final["days_within"] == 0
    assert [row["day"] for row in metrics["by_day"]] == ["2026-03-16", "2026-03-17"]
    assert metrics["tolerance"] == 0.25 and set(metrics["decisions"]) == {"model", "final"}


def test_a_budget_met_exactly_at_the_edge_of_the_tolerance_is_held():
    table = budget_table(_day(D1, 1000, 0, 125, 0, 0), 0.1)
    assert table["model_ratio"].iloc[0] == pytest.approx(1.25) and table["model_within"].iloc[0]
    table = budget_table(_day(D1, 1000, 0, 74, 0, 0), 0.1)
    assert not table["model_within"].iloc[0]


def test_per_day_budgets_come_from_each_days_run_record(scored):
    table = budget_table(scored, {D1: 0.01, D2: 0.02}).set_index("day")
    assert table.loc[D2, "expected_alerts"] == pytest.approx(20.0)
    assert budget_metrics(scored, {D1: 0.01, D2: 0.02})["total"]["target_fpr"] is None
    with pytest.raises(EvaluationError, match=r"no target false-positive rate for day\(s\) \['2026-03-17'\]"):
        budget_table(scored, {D1: 0.01})


def test_unlabelled_events_count_as_events_not_as_normal_ones(scored):
    scored = scored.copy()
    scored.loc[0, "event_label"] = pd.NA
    table = budget_table(scored, 0.01).set_index("day")
    assert table.loc[D1, "events"] == 1000 and table.loc[D1, "normal_events"] == 989


def test_missing_decisions_are_named(scored):
    with pytest.raises(EvaluationError, match=r"\['model_flag'\]"):
        budget_table(scored.drop(columns=["model_flag"]), 0.01)
