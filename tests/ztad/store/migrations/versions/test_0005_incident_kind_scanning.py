"""Revision 0005: a database created by 0004 upgrades in place, its scanning incidents get the
kind ``scanning`` and the analysts' views keep working; a downgrade gives them back ``source``."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from tests.ztad.store import sample
from ztad.findings.incidents import build_incidents, incident_ids
from ztad.store import FindingsStore, migrate

SCANNING = f"{sample.DAY}:scanning"
USER = f"{sample.DAY}:user:user0"
#: The views over ``incidents`` (revision 0002) that SQLite's rebuild of the table must keep.
INCIDENT_VIEWS = ("daily_summary", "open_incidents", "open_incidents_by_severity", "user_findings")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'findings.db'}"
    return request.getfixturevalue("empty_postgres_url")


def _insert_incident(connection, incident_id: str, kind: str) -> None:
    connection.execute(
        sa.text("INSERT INTO incidents (incident_id, day, kind, first_time, last_time, finding_count, "
                "user_count, severity, severity_level) VALUES (:id, :day, :kind, :t, :t, 3, 2, 30, 'low')"),
        {"id": incident_id, "day": sample.DAY, "kind": kind, "t": "2024-03-05 02:00:00+00:00"},
    )


def _open_kinds(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT incident_id, kind FROM open_incidents"))
        return dict(rows.all())


def _scanning_findings():
    findings = sample.findings(["e0", "e1", "e2"]).assign(severity=30, category="background_scanning")
    findings["detectors"] = [["rule:background_scanning"]] * len(findings)
    findings["incident_id"] = incident_ids(findings, sample.DAY).to_numpy()
    return findings


def test_a_0004_database_upgrades_in_place_and_its_scanning_incident_gets_its_kind(url):
    with FindingsStore(url) as store:
        migrate.upgrade(store.engine, "0004")
        with store.engine.begin() as connection:
            _insert_incident(connection, SCANNING, "source")
            _insert_incident(connection, USER, "user")
        store.create_schema()

        assert store.schema_revision() == migrate.head_revision()
        assert _open_kinds(store.engine) == {SCANNING: "scanning", USER: "user"}
        assert set(INCIDENT_VIEWS) <= set(sa.inspect(store.engine).get_view_names())
        with store.engine.connect() as connection:
            for view in INCIDENT_VIEWS:
                connection.execute(sa.text(f"SELECT * FROM {view}")).all()

        findings = _scanning_findings()
        store.replace_day(sample.run(), findings, incidents=build_incidents(findings, sample.DAY, "run-a"))
        stored = store.incidents(sample.DAY).set_index("incident_id")
        assert stored.loc[SCANNING, "kind"] == "scanning" and stored.loc[SCANNING, "finding_count"] == 3


def test_downgrade_to_0004_stores_scanning_as_a_source_again_and_keeps_the_views(url):
    with FindingsStore(url) as store:
        store.create_schema()
        findings = _scanning_findings()
        store.replace_day(sample.run(), findings, incidents=build_incidents(findings, sample.DAY, "run-a"))
        with store.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0004")

        assert _open_kinds(store.engine) == {SCANNING: "source"}
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
            _insert_incident(connection, f"{sample.DAY}:scanning:again", "scanning")
        with store.engine.connect() as connection:
            for view in INCIDENT_VIEWS:
                connection.execute(sa.text(f"SELECT * FROM {view}")).all()
        store.create_schema()
        assert store.schema_revision() == migrate.head_revision()
        assert _open_kinds(store.engine) == {SCANNING: "scanning"}


def test_a_kind_outside_the_known_ones_is_refused(url):
    with FindingsStore(url) as store:
        store.create_schema()
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
            _insert_incident(connection, f"{sample.DAY}:team:red", "team")
