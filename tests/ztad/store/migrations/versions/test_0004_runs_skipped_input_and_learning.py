"""Revision 0004: a database created by 0003 upgrades in place and gains what a run skipped and
what a learning day lacks; it downgrades back without losing what 0003 held."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from tests.ztad.store import sample
from ztad.store import FindingsStore, RunRecord, migrate

RUN_COLUMNS = {"rows_skipped", "files_skipped", "lacking"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'findings.db'}"
    return request.getfixturevalue("empty_postgres_url")


def test_a_0003_database_upgrades_in_place_and_records_learning_and_skipped_input(url):
    with FindingsStore(url) as store:
        migrate.upgrade(store.engine, "0003")
        with store.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO runs (run_id, day, status, rows_read) "
                                       "VALUES ('run-0', :day, 'success', 97)"), {"day": sample.DAY})
        store.create_schema()

        assert store.schema_revision() == migrate.head_revision()
        old = store.runs().set_index("run_id").loc["run-0"]
        assert old["rows_read"] == 97 and all(pd.isna(old[name]) for name in RUN_COLUMNS)
        skipped = [{"path": "date=2024-03-05/auth.log.bz2", "size_bytes": 1234, "reason": "unknown ending"}]
        store.record_run(RunRecord(run_id="run-1", day=sample.DAY, status="learning", rows_read=12,
                                   rows_skipped=40, files_skipped=skipped, lacking="1 of 7 history days"))
        new = store.runs().set_index("run_id").loc["run-1"]
        assert (new["status"], new["rows_skipped"], new["lacking"]) == ("learning", 40, "1 of 7 history days")
        assert new["files_skipped"] == skipped


def test_downgrade_to_0003_drops_only_the_new_columns_and_keeps_the_views(url):
    with FindingsStore(url) as store:
        store.create_schema()
        store.replace_day(sample.run(), sample.findings(["e1"]), model=sample.model())
        with store.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0003")
        inspector = sa.inspect(store.engine)
        assert RUN_COLUMNS.isdisjoint({c["name"] for c in inspector.get_columns("runs")})
        assert {"daily_budget", "model_findings"} <= set(inspector.get_view_names())
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM daily_budget")).scalar() == 1
        store.create_schema()
        assert store.schema_revision() == migrate.head_revision()


def test_a_run_status_outside_the_known_ones_is_refused():
    with pytest.raises(ValueError, match="status 'done' is not one of"):
        RunRecord(run_id="run-1", day=sample.DAY, status="done")
