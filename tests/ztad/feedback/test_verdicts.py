"""Analysts' verdicts read back from a real findings database, on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.ztad.store import sample
from ztad.feedback import read_verdicts
from ztad.feedback.verdicts import VERDICT_COLUMNS, _verdict_query
from ztad.findings.incidents import build_incidents
from ztad.store import FindingsStore, migrate

DAY, NEXT_DAY = sample.DAY, sample.NEXT_DAY

#: Per event of a day: its incident's user (``None``: no incident) and its own status.
#: sample.findings gives event i the user ``user{i % 3}``.
DAY_FINDINGS = {
    "e0": ("user0", "new"),  # its incident's false positive
    "e3": ("user0", "confirmed"),  # its own verdict over its incident's
    "e1": ("user1", "investigating"),  # still being looked at, whatever its incident says
    "e4": ("user1", "new"),  # its incident's confirmation
    "e2": ("user2", "false_positive"),  # its own verdict in an incident still open
    "e5": ("user2", "new"),  # its incident is resolved: no verdict
    "e6": (None, "confirmed"),  # no incident, its own verdict
    "e7": (None, "new"),  # no incident, no verdict
}
INCIDENT_STATUSES = {"user0": "false_positive", "user1": "confirmed", "user2": "resolved"}
EXPECTED_DAY = [
    ("e0", "false_positive"), ("e2", "false_positive"), ("e3", "confirmed"), ("e4", "confirmed"), ("e6", "confirmed"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'findings.db'}"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def store(store_url):
    with _filled_store(store_url) as findings_store:
        yield findings_store


@contextmanager
def _filled_store(url):
    """A store holding two days of :data:`DAY_FINDINGS`."""
    with FindingsStore(url) as findings_store:
        findings_store.create_schema()
        for day in (DAY, NEXT_DAY):
            _write_day(findings_store, day)
        yield findings_store


def _write_day(store, day):
    """The day's findings and incidents as a run stores them, then the analysts' statuses."""
    findings = sample.findings(sorted(DAY_FINDINGS), day=day).assign(severity=50, category="impossible_travel")
    users = [DAY_FINDINGS[e][0] for e in findings["event_id"]]
    findings["incident_id"] = pd.array([None if u is None else f"{day}:user:{u}" for u in users], dtype="string")
    incidents = build_incidents(findings[findings["incident_id"].notna()], day, "run-a")
    store.replace_day(sample.run(day=day), findings, incidents=incidents)
    with store.engine.begin() as connection:
        for event_id, (_, status) in DAY_FINDINGS.items():
            connection.execute(sa.text("UPDATE findings SET status = :s WHERE finding_id = :f"),
                               {"s": status, "f": f"{day}:{event_id}"})
        for user, status in INCIDENT_STATUSES.items():
            connection.execute(sa.text("UPDATE incidents SET status = :s WHERE incident_id = :i"),
                               {"s": status, "i": f"{day}:user:{user}"})


def _verdicts(frame):
    return list(zip(frame["finding_id"], frame["verdict"]))


def _of(day, expected):
    return [(f"{day}:{event_id}", verdict) for event_id, verdict in expected]


def test_verdicts_are_own_else_the_incidents_while_new_in_finding_order(store):
    verdicts = read_verdicts(store)
    assert list(verdicts.columns) == list(VERDICT_COLUMNS)
    assert _verdicts(verdicts) == _of(DAY, EXPECTED_DAY) + _of(NEXT_DAY, EXPECTED_DAY)


def test_verdict_rows_carry_the_findings_values(store):
    verdicts = read_verdicts(store).set_index("finding_id")
    stored = store.findings().set_index("finding_id").loc[verdicts.index]
    for column in ("day", "event_id", "user_id", "location", "device_id", "resource", "reasons"):
        assert verdicts[column].tolist() == stored[column].tolist(), column
    assert verdicts["ip_address"].astype(str).tolist() == stored["ip_address"].astype(str).tolist()


def test_day_bounds_keep_the_days_asked_for(store):
    assert _verdicts(read_verdicts(store, DAY, NEXT_DAY)) == _of(DAY, EXPECTED_DAY)
    assert _verdicts(read_verdicts(store, start=NEXT_DAY)) == _of(NEXT_DAY, EXPECTED_DAY)
    assert _verdicts(read_verdicts(store, end=DAY)) == []


def test_a_store_from_before_incidents_has_the_findings_own_verdicts(store_url):
    with FindingsStore(store_url) as store:
        migrate.upgrade(store.engine, "0001")
        with store.engine.begin() as connection:
            for event_id, (user, status) in DAY_FINDINGS.items():
                connection.execute(
                    sa.text("INSERT INTO findings (finding_id, day, event_id, event_time, user_id, status) "
                            "VALUES (:f, :d, :e, :t, :u, :s)"),
                    {"f": f"{DAY}:{event_id}", "d": DAY, "e": event_id, "t": "2024-03-05 10:00:00+00:00",
                     "u": user or "user3", "s": status},
                )
        verdicts = read_verdicts(store)
    assert _verdicts(verdicts) == _of(DAY, [("e2", "false_positive"), ("e3", "confirmed"), ("e6", "confirmed")])


def test_an_empty_database_has_no_verdicts(store_url):
    with FindingsStore(store_url) as store:
        verdicts = read_verdicts(store)
    assert verdicts.empty and list(verdicts.columns) == list(VERDICT_COLUMNS)


def test_sqlite_finds_the_verdicts_through_indexes_without_statistics(tmp_path):
    """SQLite keeps no statistics: the judged incidents, not the (mostly ``new``) findings'
    status, must lead to the findings that take their incident's verdict."""
    with _filled_store(f"sqlite:///{tmp_path / 'findings.db'}") as store, store.engine.connect() as connection:
        query = _verdict_query(connection, list(VERDICT_COLUMNS[:-1]), None, None)
        sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    assert not [step for step in plan if step.startswith("SCAN findings")], plan
    assert "SEARCH incidents USING INDEX ix_incidents_status (status=?)" in plan, plan
    assert "SEARCH findings USING INDEX ix_findings_incident_id (incident_id=?)" in plan, plan
