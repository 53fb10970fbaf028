"""Triage of findings and incidents, through the module and through ``ztad triage``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from tests.ztad.store import sample
from ztad.cli import main
from ztad.feedback.triage import TriageError, UnknownTargetError, listing, update
from ztad.findings.incidents import build_incidents, incident_ids
from ztad.store import FindingsStore

NOW = datetime(2026, 3, 6, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'findings.db'}" if request.param == "sqlite" else request.getfixturevalue("empty_postgres_url")
    with FindingsStore(url) as findings_store:
        findings_store.create_schema()
        yield findings_store


def _day(event_ids=("e0", "e1", "e2", "e3")):
    findings = sample.findings(list(event_ids)).assign(severity=[40, 70, 90, 20][: len(event_ids)], category="new_city")
    findings["reasons"] = [[{"code": "new_city", "text": "first login from Lagos, Nigeria in 30 days"}]] * len(findings)
    findings["incident_id"] = incident_ids(findings, sample.DAY).to_numpy()
    return findings, build_incidents(findings, sample.DAY, "run-a")


def _write(store, event_ids=("e0", "e1", "e2", "e3")):
    findings, incidents = _day(event_ids)
    store.replace_day(sample.run(), findings, incidents=incidents)
    return findings, incidents


def test_a_findings_status_assignee_and_notes_change(store):
    findings, _ = _write(store)
    finding_id = findings["finding_id"].iloc[1]
    row = update(store, "finding", finding_id, status="investigating", assignee="ana", note="calling the user", now=NOW)
    assert (row["status"], row["assignee"]) == ("investigating", "ana")
    row = update(store, "finding", finding_id, note="  user was travelling ", now=NOW)
    assert row["notes"] == "[2026-03-06 09:30 UTC] calling the user\n[2026-03-06 09:30 UTC] user was travelling"
    assert row["status"] == "investigating" and row["assignee"] == "ana"
    stored = store.findings().set_index("finding_id")
    assert stored.loc[finding_id, "updated_at"] == NOW
    assert stored.drop(index=finding_id)["status"].eq("new").all()


def test_an_incidents_verdict_reaches_the_findings_that_follow_it(store):
    findings, incidents = _write(store)
    incident_id = findings["incident_id"].iloc[0]
    members = findings.loc[findings["incident_id"] == incident_id, "finding_id"].tolist()
    own = members[0]
    update(store, "finding", own, status="confirmed")
    update(store, "incident", incident_id, status="investigating")
    update(store, "incident", incident_id, status="false_positive", assignee="ana")
    statuses = store.findings().set_index("finding_id")["status"]
    assert statuses[own] == "confirmed", "a finding's own verdict is kept"
    assert set(statuses[members[1:]]) == {"false_positive"}
    (stored,) = store.incidents(status="false_positive").to_dict("records")
    assert stored["assignee"] == "ana" and stored["incident_id"] == incident_id


def test_a_false_positive_lands_in_the_allowlist_at_once_and_leaves_when_rejudged(store):
    findings, _ = _write(store, ("e0",))
    finding_id = findings["finding_id"].iloc[0]
    update(store, "finding", finding_id, status="false_positive")
    query = sa.text("SELECT user_id, kind, value, valid_from FROM feedback_allowlist")
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [("user0", "location", "Lagos, Nigeria")]
    update(store, "finding", finding_id, status="confirmed")
    with store.engine.connect() as connection:
        assert connection.execute(query).all() == []


def test_triage_survives_a_rerun_of_the_day(store):
    findings, _ = _write(store)
    incident_id = findings["incident_id"].iloc[0]
    update(store, "incident", incident_id, status="resolved", note="closed")
    _write(store)
    (stored,) = store.incidents(status="resolved").to_dict("records")
    assert stored["incident_id"] == incident_id and stored["notes"].endswith("closed")


def test_listing_shows_open_work_most_severe_first(store):
    findings, incidents = _write(store)
    update(store, "incident", incidents["incident_id"].iloc[-1], status="resolved")
    listed = listing(store, "incident")
    assert len(listed) == len(incidents) - 1
    assert listed["severity"].is_monotonic_decreasing
    assert listing(store, "incident", status="resolved")["incident_id"].tolist() == [incidents["incident_id"].iloc[-1]]
    assert listing(store, "finding", status="all", limit=2)["severity"].tolist() == [90, 70]


def test_bad_requests_are_refused_with_a_clear_message(store):
    findings, _ = _write(store, ("e0",))
    with pytest.raises(TriageError, match="is not one of new, investigating"):
        update(store, "finding", findings["finding_id"].iloc[0], status="closed")
    with pytest.raises(UnknownTargetError, match="ztad triage list --findings"):
        update(store, "finding", "2024-03-05:nope", status="resolved")
    with pytest.raises(TriageError, match="nothing to change"):
        update(store, "incident", findings["incident_id"].iloc[0], note="  ")
    with pytest.raises(TriageError, match="can triage finding or incident"):
        update(store, "run", "x", status="resolved")


def test_the_command_line_triages_and_lists(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'findings.db'}"
    with FindingsStore(url) as store:
        store.create_schema()
        findings, incidents = _write(store)
    incident_id = incidents["incident_id"].iloc[0]
    assert main(["triage", "list", "--db", url]) == 0
    assert incident_id in capsys.readouterr().out
    assert main(["triage", "incident", incident_id, "--status", "confirmed", "--assignee", "ana", "--note", "ok", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"incident {incident_id}: status confirmed, assignee ana" in out and "] ok" in out
    assert main(["triage", "finding", "nope", "--status", "resolved", "--db", url]) == 2
    assert "no finding with id 'nope'" in capsys.readouterr().err
    assert main(["triage", "list", "--findings", "--status", "confirmed", "--db", url]) == 0
    out = capsys.readouterr().out
    for finding_id, member_of in zip(findings["finding_id"], findings["incident_id"]):
        assert (finding_id in out) == (member_of == incident_id)
