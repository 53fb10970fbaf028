"""Revision 0003: a database created by 0002 upgrades in place, gains the registry's index and
the runs' alert budget, and downgrades back without losing what 0002 held."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from tests.ztad.store import sample
from ztad.store import FindingsStore, migrate

RUN_COLUMNS = {"target_fpr", "expected_alerts", "rows_model_flagged", "rows_rule_flagged"}
VIEWS = {"model_findings", "daily_budget"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'findings.db'}"
    return request.getfixturevalue("empty_postgres_url")


def _insert_with_0002_columns(engine) -> None:
    """A run and a finding naming their model, as a release with revision 0002 wrote them."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO runs (run_id, day, status, rows_scored, model_version) "
                    "VALUES ('run-0', :day, 'success', 97, 'm-20240305-0123456789ab')"),
            {"day": sample.DAY},
        )
        connection.execute(
            sa.text("INSERT INTO findings (finding_id, day, event_id, event_time, user_id, model_version) "
                    "VALUES ('2024-03-05:e1', :day, 'e1', :time, 'alice', 'm-20240305-0123456789ab')")
            .bindparams(sa.bindparam("time", type_=sa.DateTime(timezone=True))),
            {"day": sample.DAY, "time": sample.findings(["e1"])["event_time"].iloc[0].to_pydatetime()},
        )


def test_a_0002_database_upgrades_in_place_and_keeps_its_data(url):
    with FindingsStore(url) as store:
        migrate.upgrade(store.engine, "0002")
        _insert_with_0002_columns(store.engine)

        store.create_schema()

        assert store.schema_revision() == migrate.head_revision()
        inspector = sa.inspect(store.engine)
        assert "models" in inspector.get_table_names()
        assert VIEWS <= set(inspector.get_view_names())
        assert RUN_COLUMNS <= {c["name"] for c in inspector.get_columns("runs")}
        (run,) = store.runs().to_dict("records")
        assert run["run_id"] == "run-0" and run["rows_scored"] == 97
        assert all(pd.isna(run[name]) for name in RUN_COLUMNS)  # not counted back then
        assert store.models().empty
        # The old finding shows in the join view, without model facts until the model is indexed.
        store.record_model(sample.model())
        with store.engine.connect() as connection:
            row = connection.execute(sa.text("SELECT finding_id, training_rows FROM model_findings")).one()
        assert tuple(row) == ("2024-03-05:e1", 12_345)


def test_downgrade_to_0002_drops_only_what_0003_added(url):
    with FindingsStore(url) as store:
        store.create_schema()
        store.replace_day(sample.run(), sample.findings(["e1"]), model=sample.model())
        with store.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0002")
        assert store.schema_revision() == "0002"
        inspector = sa.inspect(store.engine)
        assert "models" not in inspector.get_table_names()
        assert VIEWS.isdisjoint(inspector.get_view_names())
        assert {"user_findings", "daily_summary"} <= set(inspector.get_view_names())
        assert RUN_COLUMNS.isdisjoint({c["name"] for c in inspector.get_columns("runs")})
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM findings")).scalar() == 1
            assert connection.execute(sa.text("SELECT rows_scored FROM runs")).scalar() == 97
        store.create_schema()  # and up again
        assert store.schema_revision() == migrate.head_revision()


@pytest.mark.postgres
def test_postgres_types_of_the_new_columns(empty_postgres_url):
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
        with store.engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name IN ('models', 'runs')"
            )).all()
            primary = connection.execute(sa.text(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = 'models'::regclass AND i.indisprimary"
            )).scalars().all()
    types = {(table, column): udt for table, column, udt, _ in rows}
    nullable = {(table, column): flag == "YES" for table, column, _, flag in rows}
    assert primary == ["model_version"]
    # The same type as the findings' and runs' reference to it, so the join needs no cast.
    assert types[("models", "model_version")] == "text"
    for column in ("feature_names", "params", "libraries", "metrics", "files", "detectors"):
        assert types[("models", column)] == "jsonb", column
    assert types[("models", "trained_at")] == types[("models", "registered_at")] == "timestamptz"
    assert types[("models", "trained_from")] == types[("models", "trained_to")] == "date"
    assert types[("models", "training_rows")] == "int8" and types[("models", "threshold")] == "float8"
    assert not nullable[("models", "files")] and not nullable[("models", "artifact_uri")]
    assert types[("runs", "expected_alerts")] == types[("runs", "target_fpr")] == "float8"
    assert types[("runs", "rows_model_flagged")] == types[("runs", "rows_rule_flagged")] == "int8"
