"""Findings an analyst acts on: severity, category, top features, attributions and incidents.

Unit checks on a hand-made frame, then one day of the small generated data set end to end.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ztad.findings.build import build_findings, enrich_findings
from ztad.findings.typical import TypicalValues

DAY = date(2026, 3, 16)


def _inputs():
    events = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2026-03-16T03:00:00Z", "2026-03-16T09:00:00Z"]),
            "user_id": ["alice", "bob"],
            "device_id": ["LT-NEW", "LT-BOB"],
            "ip_address": ["203.0.113.7", "10.0.0.2"],
            "location": ["Lagos, Nigeria", "Madrid, Spain"],
            "resource": ["payroll", "email"],
            "login_success": [True, True],
            "bytes_transferred": [5_000_000, 10],
            "event_label": ["impossible_travel", "normal"],
        }
    )
    features = pd.DataFrame(
        {
            "travel_speed": [2.7, 0.0], "city_novelty": [1.0, 0.0], "hour_rarity": [0.0, 2.2],
            "ctx_travel_kmh": [5750.0, np.nan], "ctx_travel_km": [3830.0, np.nan],
            "ctx_travel_minutes": [40.0, np.nan], "ctx_travel_location": ["Madrid, Spain", None],
            "ctx_local_hour": [4.0, 3.0], "ctx_usual_start": [8.0, 8.0], "ctx_usual_end": [17.0, 17.0],
        }
    )
    scored = pd.DataFrame(
        {
            "ensemble_score": [2.4, 4.0], "score": [3.4, 4.0], "threshold": [2.3, 2.3],
            "model_flag": [True, True], "score_isolation_forest": [2.4, 4.0],
            "rule_impossible_travel": [True, False], "rule_off_hours": [False, True],
        }
    )
    rules = pd.DataFrame({"impossible_travel": [True, False], "off_hours": [False, True]})
    reasons = pd.Series(
        [
            [{"code": "impossible_travel", "text": "3,830 km from Madrid, Spain 40 min earlier (5,750 km/h)"}],
            [{"code": "off_hours", "text": "login at 03:00 local time"}],
        ]
    )
    attributions = {
        "isolation_forest": pd.DataFrame(
            {"travel_speed": [1.5, 0.0], "city_novelty": [0.5, 0.0], "hour_rarity": [0.0, 2.0]}
        )
    }
    return events, features, scored, rules, reasons, attributions


def test_enriched_findings_carry_severity_category_features_attributions_and_incident():
    events, features, scored, rules, reasons, attributions = _inputs()
    findings = build_findings(day=DAY, events=events, scored=scored, reasons=reasons, model_version="m1", run_id="r1")
    out = enrich_findings(
        findings, events=events, features=features, scored=scored, rule_hits=rules,
        attributions=attributions, sensitive_resources=("payroll",),
    )
    assert out["category"].tolist() == ["impossible_travel", "off_hours"]
    travel, night = out.to_dict("records")
    assert travel["severity"] > night["severity"], "a takeover outranks a rare hour"
    assert travel["severity_level"] in ("high", "critical") and night["severity_level"] in ("low", "medium")
    assert [d["feature"] for d in travel["top_features"]] == ["travel_speed", "city_novelty"]
    assert travel["top_features"][0]["share"] == 0.75
    assert night["top_features"][0]["baseline"] == "08:00-17:00"
    assert travel["attributions"]["isolation_forest"]["top"][0] == ["travel_speed", 1.5]
    assert out["incident_id"].tolist() == [f"{DAY}:user:alice", f"{DAY}:user:bob"]


def test_without_attributions_features_are_ranked_by_the_days_deviation():
    events, features, scored, rules, reasons, _ = _inputs()
    findings = build_findings(day=DAY, events=events, scored=scored, reasons=reasons, model_version="m1", run_id="r1")
    day = pd.concat([features] + [features.assign(travel_speed=0.0, city_novelty=0.0, hour_rarity=0.0)] * 5)
    out = enrich_findings(findings, events=events, features=features, scored=scored, rule_hits=None,
                          typical=TypicalValues.of_frame(day))
    assert out["attributions"].isna().all()
    assert out["top_features"].iloc[1][0]["feature"] == "hour_rarity"


# --------------------------------------------------------------------------- a real day

FIRST_SCORED = date(2026, 3, 16)


@pytest.fixture(scope="module")
def scored_day(small_logs, tmp_path_factory):
    from ztad import pipeline
    from ztad.config import DetectionConfig, JobConfig, SourceConfig
    from ztad.store import FindingsStore

    config = JobConfig(
        source=SourceConfig(root=str(small_logs)),
        home=tmp_path_factory.mktemp("enrich-home"),
        # A looser budget than the default, so that the day has normal findings to rank against.
        detection=DetectionConfig(detectors=("isolation_forest", "ecod"), target_fpr=0.03),
    )
    pipeline.run_day(FIRST_SCORED, config)
    store = FindingsStore(config.resolved_database_url)
    yield store.findings(FIRST_SCORED), store.incidents(FIRST_SCORED), store.user_risk(FIRST_SCORED)
    store.close()


def test_every_finding_of_a_real_day_can_be_acted_on(scored_day):
    findings, incidents, risk = scored_day
    assert len(findings) > 0
    for row in findings.to_dict("records"):
        assert any(ch.isdigit() for reason in row["reasons"] for ch in reason["text"])
        assert 0 <= row["severity"] <= 100 and row["severity_level"] in ("low", "medium", "high", "critical")
        assert row["category"] in {reason["code"] for reason in row["reasons"]}
        assert row["top_features"], row["finding_id"]
        assert all("value" in d and "baseline" in d and d["text"] for d in row["top_features"])
        assert set(row["attributions"]) == {"isolation_forest", "ecod"}
    assert set(findings["incident_id"]) == set(incidents["incident_id"])
    assert incidents["finding_count"].sum() == len(findings)
    assert len(incidents) < len(findings)
    assert set(risk["user_id"]) == set(findings["user_id"])


def test_injected_attacks_rank_above_normal_findings(scored_day):
    findings, _, _ = scored_day
    attacks = findings["event_label"] != "normal"
    assert attacks.any() and (~attacks).any()
    assert findings.loc[attacks, "severity"].median() > findings.loc[~attacks, "severity"].median()


def test_findings_indexed_otherwise_are_enriched_as_those_indexed_from_zero():
    """The flagged rows of a day come indexed by their place in it: their findings are the
    same, row for row, as those of the rows indexed 0..n-1."""
    events, features, scored, rules, reasons, attributions = _inputs()
    kwargs = {"sensitive_resources": ("payroll",)}
    findings = build_findings(day=DAY, events=events, scored=scored, reasons=reasons, model_version="m1", run_id="r1")
    expected = enrich_findings(findings, events=events, features=features, scored=scored, rule_hits=rules,
                               attributions=attributions, **kwargs)
    moved = [frame.set_axis([7, 3]) for frame in (findings, events, features, scored, rules)]
    out = enrich_findings(moved[0], events=moved[1], features=moved[2], scored=moved[3], rule_hits=moved[4],
                          attributions={m: f.set_axis([7, 3]) for m, f in attributions.items()}, **kwargs)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    assert out["incident_id"].dtype == expected["incident_id"].dtype
