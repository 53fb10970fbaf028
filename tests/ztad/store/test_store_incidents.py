"""The day's incidents and user risk are written with its findings, in the same transaction."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.ztad.store import sample
from ztad.findings.incidents import build_incidents, incident_ids
from ztad.findings.risk import user_risk
from ztad.store import MissingColumnError


def _day(event_ids, run_id="run-a", day=sample.DAY):
    findings = sample.findings(event_ids, day=day, run_id=run_id).assign(severity=70, category="impossible_travel")
    findings["incident_id"] = incident_ids(findings, day).to_numpy()
    return findings, build_incidents(findings, day, run_id), user_risk(findings, day, run_id)


def _write(store, event_ids, run_id="run-a", day=sample.DAY):
    findings, incidents, risk = _day(event_ids, run_id, day)
    store.replace_day(sample.run(run_id, day=day), findings, sample.quarantine(1), incidents=incidents, user_risk=risk)
    return findings, incidents, risk


def test_incidents_and_risk_round_trip_with_their_findings(store):
    findings, incidents, risk = _write(store, ["e0", "e1", "e2", "e3"])
    stored = store.incidents(sample.DAY)
    assert sorted(stored["incident_id"]) == sorted(incidents["incident_id"])
    row = stored.set_index("incident_id").loc[incidents["incident_id"].iloc[0]]
    assert row["kind"] == "user" and row["status"] == "new" and row["run_id"] == "run-a"
    assert row["first_time"].tzinfo is not None and row["created_at"] is not pd.NaT
    assert isinstance(row["categories"], dict) and isinstance(row["users"], list)
    assert set(store.findings(sample.DAY)["incident_id"]) == set(incidents["incident_id"])
    stored_risk = store.user_risk(sample.DAY).set_index("user_id")
    assert stored_risk["risk_score"].to_dict() == pytest.approx(risk.set_index("user_id")["risk_score"].to_dict())


def test_a_rerun_replaces_the_days_incidents_and_risk_and_keeps_their_triage(store):
    _, incidents, _ = _write(store, ["e0", "e1", "e2"])
    kept = incidents["incident_id"].iloc[0]
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE incidents SET status = 'investigating', assignee = 'ana', notes = 'on it' WHERE incident_id = :id"),
            {"id": kept},
        )
    _write(store, ["e0", "e1"], run_id="run-b")
    stored = store.incidents(sample.DAY).set_index("incident_id")
    assert len(stored) == 2 and set(stored["run_id"]) == {"run-b"}
    assert stored.loc[kept, ["status", "assignee", "notes"]].tolist() == ["investigating", "ana", "on it"]
    assert len(store.user_risk(sample.DAY)) == 2


def test_other_days_are_left_alone(store):
    _write(store, ["e0"])
    _write(store, ["e0", "e1"], run_id="run-next", day=sample.NEXT_DAY)
    _write(store, ["e5"], run_id="run-again")
    assert len(store.incidents(sample.NEXT_DAY)) == 2
    assert store.incidents(sample.DAY)["incident_id"].tolist() == [f"{sample.DAY}:user:user0"]


def test_a_bad_incidents_frame_writes_nothing(store):
    _write(store, ["e0", "e1"])
    findings, incidents, risk = _day(["e7"], run_id="run-bad")
    before = (store.findings().drop(columns="created_at").to_dict("records"), store.incidents()["incident_id"].tolist())
    with pytest.raises(MissingColumnError, match="first_time"):
        store.replace_day(sample.run("run-bad"), findings, incidents=incidents.drop(columns="first_time"), user_risk=risk)
    assert (store.findings().drop(columns="created_at").to_dict("records"), store.incidents()["incident_id"].tolist()) == before


def test_an_incident_of_another_kind_is_refused_by_the_database(store):
    findings, incidents, risk = _day(["e0"])
    with pytest.raises(sa.exc.IntegrityError):
        store.replace_day(sample.run(), findings, incidents=incidents.assign(kind="team"), user_risk=risk)
    assert store.findings().empty and store.incidents().empty
