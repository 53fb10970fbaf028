"""Verdicts change the next run: two consecutive days of the small data set, in PostgreSQL.

A false positive on the first day stops the same pattern from alerting on the second and enters
the first day's baseline; a confirmed attack stays out of the training data.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.ztad.feedback.verdict_rows import TRIP

FIRST = date(2026, 3, 16)
SECOND = FIRST + timedelta(days=1)
TRIP_DEVICE, TRIP_IP = "LT-TRIPREYKJAVIK", "198.51.100.77"


def _trip_rows(frame: pd.DataFrame, user: str, day: date) -> pd.DataFrame:
    """Two logins of ``user`` from a city, laptop and address never seen in the data set."""
    mine = frame[frame["user_id"] == user]
    rows = mine.iloc[[0, 0]].copy()
    times = [f"{day}T11:00:00Z", f"{day}T11:30:00Z"]
    rows = rows.assign(
        timestamp=times, access_time=["11:00:00", "11:30:00"], device_id=TRIP_DEVICE, ip_address=TRIP_IP,
        location=TRIP, login_success="1", event_label="normal", scenario="business_travel",
    )
    return rows


@pytest.fixture
def trip_logs(small_logs, tmp_path):
    """The small data set with a business trip of one established user on two days."""
    root = tmp_path / "logs"
    shutil.copytree(small_logs, root)
    first = pd.read_csv(root / f"date={FIRST}" / "events.csv", dtype=str, keep_default_na=False)
    normal = first[first["event_label"] == "normal"]
    user = normal["user_id"].value_counts().index[0]
    for day in (FIRST, SECOND):
        path = root / f"date={day}" / "events.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        pd.concat([frame, _trip_rows(frame, user, day)], ignore_index=True).to_csv(path, index=False)
    return root, user


def _trip_findings(store, day, user):
    findings = store.findings(day=day, user_id=user)
    return findings[findings["location"] == TRIP]


@pytest.mark.postgres
def test_feedback_changes_the_next_run(trip_logs, tmp_path, empty_postgres_url):
    from ztad import pipeline
    from ztad.behaviour.baselines import load_daily_aggregate
    from ztad.config import DetectionConfig, JobConfig, SourceConfig
    from ztad.feedback.triage import update
    from ztad.store import FindingsStore

    root, user = trip_logs
    config = JobConfig(
        source=SourceConfig(root=str(root)),
        home=tmp_path / "home",
        database_url=empty_postgres_url,
        detection=DetectionConfig(detectors=("isolation_forest", "ecod")),
    )
    store = FindingsStore(empty_postgres_url)
    pipeline.run_day(FIRST, config)
    trip = _trip_findings(store, FIRST, user)
    assert len(trip) >= 1, "the trip must alert on its first day"
    attacks = store.findings(day=FIRST)
    attacks = attacks[(attacks["event_label"] != "normal") & (attacks["user_id"] != user)]
    confirmed = attacks.iloc[0]

    # Without feedback the trip alerts again on the second day (a dry run writes nothing).
    pipeline.run_day(SECOND, config, dry_run=True)
    second = pipeline.scored_events(SECOND, config)
    assert second.loc[(second["user_id"] == user) & (second["location"] == TRIP), "flagged"].all()

    for finding_id in trip["finding_id"]:
        update(store, "finding", finding_id, status="false_positive", note="business trip, checked")
    with store.engine.begin() as connection:  # a verdict given in SQL counts as well
        connection.execute(
            sa.text("UPDATE findings SET status = 'confirmed' WHERE finding_id = :id"), {"id": confirmed["finding_id"]}
        )
    # A lost training file is rebuilt from the day's events: without the confirmed attack.
    pipeline.training_features_path(config, FIRST).unlink()

    pipeline.run_day(SECOND, config, retrain=True)

    assert _trip_findings(store, SECOND, user).empty
    scored = pipeline.scored_events(SECOND, config)
    assert not scored.loc[(scored["user_id"] == user) & (scored["location"] == TRIP), "flagged"].any()
    cities = load_daily_aggregate(config.state_dir, FIRST).tables["user_city"]
    assert ((cities["user_id"] == user) & (cities["location"] == TRIP)).any(), "the trip joined the baseline"
    training = pd.read_parquet(pipeline.training_features_path(config, FIRST))
    assert confirmed["event_id"] not in set(training["event_id"])
    assert set(training["event_id"]).isdisjoint(set(store.findings(day=FIRST)["event_id"]))
    allowlist = store.engine.connect().execute(sa.text("SELECT user_id, kind, value FROM feedback_allowlist")).all()
    assert (user, "location", TRIP) in {tuple(row) for row in allowlist}
    assert set(_trip_findings(store, FIRST, user)["status"]) == {"false_positive"}
    store.close()
