"""Analysts' verdicts read back by the next run: allowlist, suppression, baseline and training.

The last test runs two consecutive days of the small generated data set against a real
PostgreSQL: a false positive on the first day stops the same pattern from alerting on the
second and enters the first day's baseline; a confirmed attack stays out of the training data.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ztad.feedback import (
    CONFIRMED,
    FALSE_POSITIVE,
    DayFeedback,
    applied_fingerprint,
    baseline_mask,
    covered,
    derive_allowlist,
    drop_confirmed_training_rows,
    effective_allowlist,
    record_fingerprint,
    suppressed_mask,
    training_mask,
)

DAY = date(2026, 3, 16)
TRIP = "Reykjavik, Iceland"


def _verdict(finding, verdict, codes, user="alice", day=DAY, **values):
    row = {
        "day": day,
        "finding_id": finding,
        "event_id": finding.split(":")[-1],
        "user_id": user,
        "location": TRIP,
        "device_id": "LT-TRIP",
        "resource": "payroll",
        "ip_address": "198.51.100.77",
        "reasons": [{"code": code, "text": f"{code} 1"} for code in codes],
        "verdict": verdict,
    }
    row.update(values)
    return row


def _verdicts(*rows):
    return pd.DataFrame(list(rows))


# --------------------------------------------------------------------------- allowlist


def test_a_false_positive_allows_what_made_it_unusual_from_the_next_day():
    verdicts = _verdicts(
        _verdict(f"{DAY}:e1", FALSE_POSITIVE, ["new_city", "new_device_new_place", "new_ip"]),
        _verdict(f"{DAY}:e2", FALSE_POSITIVE, ["off_hours"]),
        _verdict(f"{DAY}:e3", CONFIRMED, ["new_resource"], user="mallory"),
    )
    entries = derive_allowlist(verdicts)
    assert sorted(zip(entries["kind"], entries["value"])) == [
        ("device", "LT-TRIP"), ("ip", "198.51.100.77"), ("location", TRIP)
    ]
    assert set(entries["user_id"]) == {"alice"}
    assert set(entries["valid_from"]) == {DAY + timedelta(days=1)}
    assert set(entries["source_finding_id"]) == {f"{DAY}:e1"}


def test_the_earliest_false_positive_sets_when_an_entry_starts():
    later = DAY + timedelta(days=3)
    verdicts = _verdicts(
        _verdict(f"{later}:e9", FALSE_POSITIVE, ["new_city"], day=later),
        _verdict(f"{DAY}:e1", FALSE_POSITIVE, ["rare_place"]),
    )
    (entry,) = derive_allowlist(verdicts).to_dict("records")
    assert entry["valid_from"] == DAY + timedelta(days=1) and entry["source_finding_id"] == f"{DAY}:e1"


def test_entries_are_in_force_from_their_first_day_only():
    stored = derive_allowlist(_verdicts(_verdict(f"{DAY}:e1", FALSE_POSITIVE, ["new_city"])))
    assert effective_allowlist(stored, derive_allowlist(_verdicts()), DAY).empty
    assert len(effective_allowlist(stored, stored, DAY + timedelta(days=1))) == 1


# --------------------------------------------------------------------------- suppression


def test_an_event_is_covered_only_when_every_reason_is():
    assert covered(["new_city", "new_ip", "cold_start"], {"location"})
    assert covered(["new_device_new_place", "new_city"], {"location", "device"})
    assert not covered(["new_device_new_place"], {"location"})
    assert not covered(["new_city", "brute_force"], {"location"})
    assert not covered(["new_city"], set())
    assert not covered(["deviation"], {"location"})


def _day():
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(7)],
            "user_id": ["alice", "alice", "alice", "bob", "alice", "alice", "alice"],
            "device_id": ["LT-TRIP", "LT-OTHER", "LT-TRIP", "LT-TRIP", "LT-TRIP", "LT-TRIP", "LT-TRIP"],
            "ip_address": ["198.51.100.77"] * 6 + ["198.51.100.99"],
            "location": [TRIP] * 7,
            "resource": ["email"] * 7,
            "login_success": [True] * 7,
            "bytes_transferred": [1000] * 7,
        }
    )
    features = pd.DataFrame(
        {
            "city_novelty": [1.0] * 7,
            "device_novelty": [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            "ip_novelty": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            "ctx_user_failures_10m": [0.0, 0.0, 12.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    rules = pd.DataFrame({"new_device_new_place": [True] + [False] * 6, "brute_force": [False, False, True] + [False] * 4})
    return events, features, rules


def test_suppression_needs_a_matching_entry_covering_every_reason():
    events, features, rules = _day()
    allowlist = pd.DataFrame(
        {"user_id": ["alice", "alice"], "kind": ["location", "device"], "value": [TRIP, "LT-TRIP"],
         "valid_from": [DAY, DAY], "source_finding_id": ["f1", "f1"]}
    )
    flagged = np.array([True, True, True, True, False, True, True])
    suppressed = suppressed_mask(events, features, rules, flagged, allowlist, protected_event_ids=["e5"])
    # e0 the allowed trip; e1 another new device; e2 failures; e3 another user; e4 not flagged;
    # e5 a confirmed attack on rerun; e6 a new address in the allowed place.
    assert suppressed.tolist() == [True, False, False, False, False, False, True]
    assert not suppressed_mask(events, features, rules, flagged, allowlist.iloc[:0]).any()


# --------------------------------------------------------------------------- learning


def test_false_positives_enter_the_baseline_and_confirmed_events_nothing():
    ids = pd.Series(["ok", "flagged", "fp", "attack", "attack-unflagged"])
    flagged = np.array([False, True, True, True, False])
    verdicts = _verdicts(
        _verdict("d:fp", FALSE_POSITIVE, ["new_city"]),
        _verdict("d:attack", CONFIRMED, ["new_city"]),
        _verdict("d:attack-unflagged", CONFIRMED, ["new_city"]),
    )
    assert baseline_mask(ids, flagged, verdicts).tolist() == [True, False, True, False, False]
    assert training_mask(ids, flagged, verdicts).tolist() == [True, False, False, False, False]
    assert baseline_mask(ids, flagged, None).tolist() == (~flagged).tolist()


def test_applied_verdicts_are_recorded_per_day(tmp_path):
    verdicts = _verdicts(_verdict("d:fp", FALSE_POSITIVE, ["new_city"]), _verdict("d:x", CONFIRMED, ["new_city"]))
    assert applied_fingerprint(tmp_path, DAY) == {FALSE_POSITIVE: [], CONFIRMED: []}
    record_fingerprint(tmp_path, DAY, verdicts)
    assert applied_fingerprint(tmp_path, DAY) == {FALSE_POSITIVE: ["fp"], CONFIRMED: ["x"]}
    record_fingerprint(tmp_path, DAY, verdicts.iloc[:0])
    assert applied_fingerprint(tmp_path, DAY) == {FALSE_POSITIVE: [], CONFIRMED: []}


def test_confirmed_events_are_removed_from_a_saved_training_file(tmp_path):
    path = tmp_path / "day.parquet"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "event_id": ["a", "x", "b"]}).to_parquet(path)
    verdicts = _verdicts(_verdict("d:x", CONFIRMED, ["new_city"]))
    assert drop_confirmed_training_rows(path, verdicts) == 1
    assert pd.read_parquet(path)["event_id"].tolist() == ["a", "b"]
    assert drop_confirmed_training_rows(tmp_path / "absent.parquet", verdicts) == 0


def test_day_feedback_survives_its_json_form():
    allowlist = derive_allowlist(_verdicts(_verdict(f"{DAY}:e1", FALSE_POSITIVE, ["new_city"])))
    again = DayFeedback.from_json(DayFeedback(allowlist, ["e5"]).to_json())
    pd.testing.assert_frame_equal(again.allowlist, allowlist, check_dtype=False)
    assert again.protected_event_ids == ["e5"]


# --------------------------------------------------------------------------- two days, PostgreSQL

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
