"""Schema creation through the shipped Alembic migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.ztad.store import sample
from ztad.store import FindingsStore, migrate
from ztad.store.tables import VERSION_TABLE, metadata

TABLES = {"findings", "runs", "quarantine", "incidents", "user_risk", "feedback_allowlist", "models"}
INDEXES = {
    "findings": {
        "ix_findings_day", "ix_findings_user_id_event_time", "ix_findings_status", "ix_findings_severity",
        "ix_findings_incident_id",
    },
    "runs": {"ix_runs_day"},
    "quarantine": {"ix_quarantine_day"},
    "models": {"ix_models_trained_to"},
}


def test_create_schema_builds_tables_and_indexes_at_the_newest_revision(store_url):
    with FindingsStore(store_url) as store:
        assert store.schema_revision() is None
        store.create_schema()
        inspector = sa.inspect(store.engine)
        assert TABLES | {VERSION_TABLE} <= set(inspector.get_table_names())
        for table, names in INDEXES.items():
            assert {index["name"] for index in inspector.get_indexes(table)} == names
        assert store.schema_revision() == migrate.head_revision()


def test_create_schema_is_idempotent_and_keeps_data(store):
    store.replace_day(sample.run(), sample.findings(["e1", "e2"]))
    store.create_schema()
    with FindingsStore(store.engine.url) as again:
        again.create_schema()
    assert len(store.findings()) == 2
    with store.engine.connect() as connection:
        assert connection.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar() == 1


def test_concurrent_create_schema_upgrades_once(store_url):
    stores = [FindingsStore(store_url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def create(store):
        try:
            start.wait(timeout=30)
            store.create_schema()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors
        assert {store.schema_revision() for store in stores} == {migrate.head_revision()}
    finally:
        for store in stores:
            store.close()


def test_tables_module_matches_the_migrations(store):
    # A column or index added to tables.py without a migration (or the reverse) shows here.
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, metadata) == []


def test_downgrade_removes_everything_and_upgrade_restores_it(store):
    with store.engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
    assert TABLES.isdisjoint(sa.inspect(store.engine).get_table_names())
    store.create_schema()
    assert TABLES <= set(sa.inspect(store.engine).get_table_names())


def test_shares_a_database_with_another_alembic_project(store_url):
    # Airflow keeps its own revision in alembic_version; the findings schema must not touch it.
    with FindingsStore(store_url) as store:
        with store.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
            connection.execute(sa.text("INSERT INTO alembic_version VALUES ('airflow-head')"))
        store.create_schema()
        assert store.schema_revision() == migrate.head_revision()
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [("airflow-head",)]


@pytest.mark.postgres
def test_postgres_column_types_fit_the_data(empty_postgres_url):
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
        with store.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT table_name, column_name, data_type, udt_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name IN ('findings', 'runs', 'quarantine')"
                )
            ).all()
    types = {(table, column): udt for table, column, _, udt in rows}
    assert types[("findings", "event_time")] == "timestamptz"
    assert types[("findings", "created_at")] == "timestamptz"
    assert types[("findings", "ip_address")] == "inet"
    for column in ("detectors", "detector_scores", "reasons"):
        assert types[("findings", column)] == "jsonb"
    assert types[("findings", "bytes_transferred")] == "int8"
    assert types[("findings", "score")] == "float8"
    assert types[("findings", "day")] == "date"
    assert types[("runs", "timings")] == "jsonb"
    assert types[("runs", "started_at")] == types[("runs", "interval_start")] == "timestamptz"
    assert types[("quarantine", "source_row")] == "int8"


@pytest.mark.postgres
def test_postgres_refuses_an_invalid_ip_address(empty_postgres_url):
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
        bad = sample.findings(["e1", "e2"])
        bad["ip_address"] = ["10.0.0.1", "not-an-ip"]
        with pytest.raises(sa.exc.DataError, match="inet"):
            store.replace_day(sample.run(), bad)
        assert store.findings().empty


def test_environment_module_does_nothing_when_imported_outside_alembic():
    importlib.import_module("ztad.store.migrations.env")
