"""Per-user daily risk from the day's findings and incidents."""

from datetime import date

import pandas as pd
import pytest

from ztad.findings.risk import RiskInputError, union_of_chances, user_risk

DAY = date(2026, 3, 20)


def _findings():
    rows = [("alice", "i1", 90, "impossible_travel")]
    rows += [("bob", "i2", 70, "large_transfer"), ("bob", "i3", 70, "new_device")]
    rows += [("carol", "spray", 45, "password_spray")] * 60
    return pd.DataFrame(rows, columns=["user_id", "incident_id", "severity", "category"])


def test_risk_combines_incidents_as_independent_chances():
    risk = user_risk(_findings(), DAY, run_id="run-1").set_index("user_id")
    assert risk.loc["alice", "risk_score"] == pytest.approx(90.0)
    assert risk.loc["bob", "risk_score"] == pytest.approx(91.0)
    assert risk.loc["bob", "incidents_count"] == 2 and risk.loc["bob", "max_severity"] == 70
    assert risk.index.tolist() == ["bob", "alice", "carol"]
    assert set(risk["day"]) == {DAY} and set(risk["run_id"]) == {"run-1"}


def test_many_findings_of_one_incident_count_once():
    risk = user_risk(_findings(), DAY).set_index("user_id")
    assert risk.loc["carol", "findings_count"] == 60
    assert risk.loc["carol", "risk_score"] == pytest.approx(45.0)
    assert risk.loc["carol", "categories"] == {"password_spray": 60}
    assert risk.loc["alice", "top_category"] == "impossible_travel"


def test_a_certain_incident_is_100_not_an_error():
    groups = pd.Series(["a", "a"])
    assert union_of_chances(pd.Series([100.0, 20.0]), groups).tolist() == [pytest.approx(100.0, abs=1e-3)]


def test_input_checks_and_empty_days():
    with pytest.raises(RiskInputError, match="incident_id"):
        user_risk(_findings().drop(columns=["incident_id"]), DAY)
    assert user_risk(_findings().iloc[:0], DAY).empty
