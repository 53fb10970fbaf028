"""Revision 0002: a database created by 0001 upgrades in place; the analysts' views answer."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from tests.ztad.store import sample
from ztad.findings.incidents import build_incidents, incident_ids
from ztad.findings.risk import user_risk
from ztad.store import FindingsStore, migrate

NEW_TABLES = {"incidents", "user_risk", "feedback_allowlist"}
NEW_FINDING_COLUMNS = {"incident_id", "category", "top_features", "attributions"}
VIEWS = {
    "daily_summary", "open_incidents", "open_incidents_by_severity", "top_risky_users", "user_findings",
    "finding_votes", "detector_agreement", "detector_pairs",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'findings.db'}"
    return request.getfixturevalue("empty_postgres_url")


def _insert_with_0001_columns(engine) -> None:
    """A finding, run and quarantine row as a release with revision 0001 wrote them."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO findings (finding_id, day, event_id, event_time, user_id, ip_address, score, "
                "threshold, reasons, status) VALUES ('2024-03-05:e1', :day, 'e1', :time, 'alice', "
                ":ip, 3.5, 2.3, :reasons, 'investigating')"
            ).bindparams(sa.bindparam("reasons", type_=sa.JSON()), sa.bindparam("time", type_=sa.DateTime(timezone=True))),
            {
                "day": sample.DAY,
                "time": pd.Timestamp("2024-03-05T02:00:00Z").to_pydatetime(),
                "ip": "203.0.113.7",
                "reasons": [{"code": "new_city", "text": "first login from Lagos, Nigeria in 30 days"}],
            },
        )
        connection.execute(sa.text("INSERT INTO runs (run_id, day, status) VALUES ('run-0', :day, 'success')"), {"day": sample.DAY})
        connection.execute(
            sa.text("INSERT INTO quarantine (day, source, source_row, field, reason) VALUES (:day, 'a.csv', 7, 'ip_address', 'bad')"),
            {"day": sample.DAY},
        )


def test_a_0001_database_upgrades_in_place_and_keeps_its_data(url):
    with FindingsStore(url) as store:
        migrate.upgrade(store.engine, "0001")
        assert store.schema_revision() == "0001"
        _insert_with_0001_columns(store.engine)

        store.create_schema()

        assert store.schema_revision() == migrate.head_revision()
        inspector = sa.inspect(store.engine)
        assert NEW_TABLES <= set(inspector.get_table_names())
        assert VIEWS <= set(inspector.get_view_names())
        assert NEW_FINDING_COLUMNS <= {c["name"] for c in inspector.get_columns("findings")}
        (finding,) = store.findings().to_dict("records")
        assert finding["finding_id"] == "2024-03-05:e1" and finding["status"] == "investigating"
        assert finding["ip_address"] == "203.0.113.7"
        assert finding["reasons"][0]["code"] == "new_city"
        assert finding["event_time"] == pd.Timestamp("2024-03-05T02:00:00Z")
        assert all(finding[name] is None for name in NEW_FINDING_COLUMNS)
        assert store.runs()["run_id"].tolist() == ["run-0"]
        assert store.quarantined()["source_row"].tolist() == [7]
        # The old finding shows in the views too.
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT triage_status FROM user_findings")).scalar() == "investigating"


def test_downgrade_to_0001_drops_only_what_0002_added(url):
    with FindingsStore(url) as store:
        store.create_schema()
        store.replace_day(sample.run(), sample.findings(["e1"]))
        with store.engine.begin() as connection:
            command.downgrade(migrate.alembic_config(connection), "0001")
        inspector = sa.inspect(store.engine)
        assert NEW_TABLES.isdisjoint(inspector.get_table_names())
        assert VIEWS.isdisjoint(inspector.get_view_names())
        assert NEW_FINDING_COLUMNS.isdisjoint({c["name"] for c in inspector.get_columns("findings")})
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM findings")).scalar() == 1


@pytest.mark.postgres
def test_postgres_types_and_indexes_of_the_new_tables(empty_postgres_url):
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
        with store.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT table_name, column_name, udt_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema()"
                )
            ).all()
        inspector = sa.inspect(store.engine)
        indexes = {table: {tuple(i["column_names"]) for i in inspector.get_indexes(table)} for table in NEW_TABLES | {"findings"}}
    types = {(table, column): udt for table, column, udt in rows}
    assert types[("findings", "attributions")] == types[("findings", "top_features")] == "jsonb"
    assert types[("incidents", "first_time")] == types[("incidents", "last_time")] == "timestamptz"
    assert types[("incidents", "source_ip")] == "inet"
    assert types[("incidents", "categories")] == types[("user_risk", "categories")] == "jsonb"
    assert types[("user_risk", "day")] == "date" and types[("user_risk", "risk_score")] == "float8"
    assert {("day",), ("status",), ("severity",), ("user_id",)} <= indexes["incidents"]
    assert ("incident_id",) in indexes["findings"] and ("user_id", "day") in indexes["user_risk"]


# --------------------------------------------------------------------------- the views


def _findings(day: date, users: list[str], severities: list[int], votes: list[dict]) -> pd.DataFrame:
    ids = [f"{day:%m%d}-{i}" for i in range(len(users))]
    findings = sample.findings(ids, day=day, run_id=f"run-{day}")
    findings = findings.assign(
        user_id=users,
        severity=severities,
        severity_level=["critical" if s >= 85 else "high" if s >= 65 else "medium" if s >= 40 else "low" for s in severities],
        category=["impossible_travel" if s >= 65 else "off_hours" for s in severities],
        threshold=2.0,
        detector_scores=votes,
        detectors=[["ensemble", "rule:impossible_travel"] if s >= 65 else ["ensemble"] for s in severities],
    )
    findings["incident_id"] = incident_ids(findings, day).to_numpy()
    return findings


def _write_day(store, day, users, severities, votes):
    findings = _findings(day, users, severities, votes)
    incidents = build_incidents(findings, day, f"run-{day}")
    store.replace_day(
        sample.run(f"run-{day}", day=day), findings, incidents=incidents, user_risk=user_risk(findings, day, f"run-{day}")
    )
    return findings, incidents


def test_the_views_answer_the_analysts_questions(url):
    first = date(2024, 3, 1)
    last = first + timedelta(days=20)
    both = {"isolation_forest": 3.0, "ecod": 2.5, "ensemble": 3.0, "final": 4.0}
    forest_only = {"isolation_forest": 2.5, "ecod": 1.0, "ensemble": 2.5, "final": 2.5}
    with FindingsStore(url) as store:
        store.create_schema()
        _write_day(store, first, ["old", "old"], [95, 90], [both, both])
        findings, incidents = _write_day(store, last, ["alice", "alice", "bob"], [90, 30, 50], [both, forest_only, forest_only])
        with store.engine.begin() as connection:
            connection.execute(sa.text("UPDATE incidents SET status = 'resolved' WHERE user_id = 'bob'"))

        def query(sql: str) -> pd.DataFrame:
            with store.engine.connect() as connection:
                result = connection.execute(sa.text(sql))
                return pd.DataFrame(result.all(), columns=list(result.keys()))

        summary = query("SELECT * FROM daily_summary ORDER BY day, category, severity_level")
        latest = summary[summary["day"].astype(str) == str(last)]
        assert latest[["category", "severity_level", "findings"]].values.tolist() == [
            ["impossible_travel", "critical", 1], ["off_hours", "low", 1], ["off_hours", "medium", 1]
        ]
        assert latest["open_findings"].tolist() == [1, 1, 0]

        open_by_level = query("SELECT * FROM open_incidents_by_severity")
        assert open_by_level.set_index("severity_level")["incidents"].to_dict() == {"critical": 2}
        assert open_by_level["level_rank"].tolist() == [4]
        open_list = query("SELECT incident_id FROM open_incidents ORDER BY level_rank DESC, severity DESC")
        assert f"{last}:user:bob" not in set(open_list["incident_id"])

        risky = query("SELECT window_days, user_id, risk_rank, days_at_risk FROM top_risky_users ORDER BY window_days, risk_rank")
        assert risky[risky["window_days"] == 7]["user_id"].tolist() == ["alice", "bob"]
        assert risky[risky["window_days"] == 30]["user_id"].tolist()[0] in {"old", "alice"}
        assert set(risky[risky["window_days"] == 30]["user_id"]) == {"old", "alice", "bob"}

        alice = query("SELECT * FROM user_findings WHERE user_id = 'alice' ORDER BY event_time")
        assert alice["severity"].tolist() == [90, 30]
        assert alice["reason"].str.contains("km").all()
        assert set(query("SELECT triage_status FROM user_findings WHERE user_id = 'bob'")["triage_status"]) == {"resolved"}

        agreement = query("SELECT * FROM detector_agreement ORDER BY day, source")
        on_last = agreement[agreement["day"].astype(str) == str(last)].set_index("source")
        assert on_last.loc["isolation_forest", "findings"] == 3
        assert on_last.loc["ecod", "findings"] == 1
        assert on_last.loc["rule:impossible_travel", "with_others"] == 1
        assert on_last.loc["isolation_forest", "alone"] == 2
        pairs = query("SELECT * FROM detector_pairs ORDER BY day, source_a, source_b")
        assert pairs[pairs["day"].astype(str) == str(last)][["source_a", "source_b", "findings"]].values.tolist() == [
            ["ecod", "isolation_forest", 1], ["ecod", "rule:impossible_travel", 1],
            ["isolation_forest", "rule:impossible_travel", 1],
        ]
