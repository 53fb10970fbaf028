"""FindingsStore on SQLite and on a real PostgreSQL: round trips, replacement, atomicity, locking."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from tests.ztad.store import sample
from ztad.store import FindingsStore, MissingColumnError, RunRecord, UnsupportedDatabaseError
from ztad.store import store as store_module

A_IDS = [f"a{i}" for i in range(8)]
B_IDS = [f"b{i}" for i in range(5)]


def write(store: FindingsStore, run_id: str, event_ids: list[str], day=sample.DAY, quarantined: int = 2):
    store.replace_day(
        sample.run(run_id, day=day),
        sample.findings(event_ids, day=day, run_id=run_id),
        sample.quarantine(quarantined, source=f"{run_id}.csv"),
    )


def snapshot(store: FindingsStore) -> dict:
    """Everything stored, minus write times, for before/after comparisons."""
    findings = store.findings().drop(columns=["created_at"])
    return {
        "findings": findings.to_dict("records"),
        "quarantine": store.quarantined().drop(columns=["id"]).to_dict("records"),
        "runs": store.runs().to_dict("records"),
    }


# --------------------------------------------------------------------------- round trip


def test_findings_round_trip_with_types(store):
    written = sample.findings(["e1", "e2", "e3", "e4"])
    store.replace_day(sample.run(), written, sample.quarantine(2))

    read = store.findings(sample.DAY)

    assert read["event_time"].dtype == "datetime64[us, UTC]"
    assert read["ip_address"].dtype == "string"
    pd.testing.assert_series_equal(read["event_time"], written["event_time"], check_names=False)
    assert read["ip_address"].tolist() == ["203.0.113.7", "2001:db8::1", "10.1.2.3", "203.0.113.7"]
    assert read["bytes_transferred"].tolist() == written["bytes_transferred"].tolist()
    assert read["login_success"].tolist() == [True, False, True, False]
    assert read["detectors"].tolist() == written["detectors"].tolist()
    assert read["detector_scores"].tolist() == written["detector_scores"].tolist()
    assert read["reasons"].tolist() == written["reasons"].tolist()
    assert read["finding_id"].tolist() == written["finding_id"].tolist()
    assert set(read["status"]) == {"new"}
    assert read["day"].tolist() == [sample.DAY] * 4
    assert read["created_at"].notna().all()


def test_run_and_quarantine_round_trip(store):
    run = sample.run()
    store.replace_day(run, sample.findings(["e1"]), sample.quarantine(3))

    (stored,) = store.runs().to_dict("records")
    assert stored["run_id"] == run.run_id and stored["status"] == "success"
    assert stored["rows_read"] == 100 and stored["threshold"] == pytest.approx(0.93)
    assert stored["timings"] == {"pull": 1.25, "score": 3.5}
    assert stored["started_at"] == pd.Timestamp("2024-03-06T01:00:00Z")
    assert stored["interval_end"] == pd.Timestamp("2024-03-06T00:00:00Z")
    quarantined = store.quarantined(sample.DAY)
    assert quarantined["source_row"].tolist() == [2, 3, 4]
    assert quarantined["raw"].iloc[0] == '{"ip_address": "999.1.1.0"}'
    assert set(quarantined["run_id"]) == {run.run_id}


def test_lists_read_back_from_parquet_are_stored_as_lists(store, tmp_path):
    # What a pipeline step hands over after a Parquet round trip: numpy arrays, not lists.
    path = tmp_path / "findings.parquet"
    sample.findings(["e1", "e2"]).to_parquet(path)
    store.replace_day(sample.run(), pd.read_parquet(path))

    read = store.findings()
    assert read["detectors"].tolist() == [["ensemble", "rule:impossible_travel"]] * 2
    assert read["reasons"].iloc[1] == [{"code": "impossible_travel", "text": "3,830 km from Madrid in 40 min (1)"}]


def test_filters_by_day_and_user(store):
    write(store, "run-a", A_IDS)
    write(store, "run-n", B_IDS, day=sample.NEXT_DAY)

    assert len(store.findings()) == len(A_IDS) + len(B_IDS)
    assert set(store.findings(day=sample.NEXT_DAY)["event_id"]) == set(B_IDS)
    assert set(store.findings(day="2024-03-05", user_id="user1")["event_id"]) == {"a1", "a4", "a7"}
    assert store.runs(day=sample.NEXT_DAY)["run_id"].tolist() == ["run-n"]
    assert set(store.quarantined(sample.DAY)["source"]) == {"run-a.csv"}


def test_reads_before_the_schema_exists_are_empty_and_typed(store_url):
    with FindingsStore(store_url) as store:
        findings = store.findings()
        assert findings.empty and findings["event_time"].dtype == "datetime64[us, UTC]"
        assert store.runs().empty and "timings" in store.runs().columns
        assert store.quarantined().empty


def test_a_day_without_findings_clears_it_and_records_the_run(store):
    write(store, "run-a", A_IDS)
    store.replace_day(sample.run("run-b"), sample.findings([]), None)

    assert store.findings(sample.DAY).empty
    assert store.quarantined(sample.DAY).empty
    assert store.runs()["run_id"].tolist() == ["run-a", "run-b"]


# --------------------------------------------------------------------------- replacing a day


def test_replace_day_replaces_and_never_duplicates(store):
    write(store, "run-a", A_IDS, quarantined=3)
    write(store, "run-n", ["n1"], day=sample.NEXT_DAY)
    write(store, "run-b", B_IDS + ["a0"], quarantined=1)
    write(store, "run-b", B_IDS + ["a0"], quarantined=1)  # the same run again

    day = store.findings(sample.DAY)
    assert sorted(day["event_id"]) == sorted(B_IDS + ["a0"])
    assert day["finding_id"].is_unique
    assert set(day["run_id"]) == {"run-b"}
    assert store.quarantined(sample.DAY)["source"].tolist() == ["run-b.csv"]
    assert store.findings(sample.NEXT_DAY)["event_id"].tolist() == ["n1"]
    assert store.runs()["run_id"].tolist() == ["run-a", "run-b", "run-n"]


def test_rerun_keeps_analyst_triage_of_findings_raised_again(store):
    write(store, "run-a", ["a0", "a1", "a2"])
    triaged_at = datetime(2024, 3, 6, 9, 30, tzinfo=timezone.utc)
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE findings SET status = 'false_positive', assignee = 'ana', "
                "notes = 'business trip', updated_at = :at WHERE event_id = 'a1'"
            ),
            {"at": triaged_at},
        )
    write(store, "run-b", ["a1", "a2", "b0"])

    read = store.findings(sample.DAY).set_index("event_id")
    assert read.loc["a1", "status"] == "false_positive"
    assert (read.loc["a1", "assignee"], read.loc["a1", "notes"]) == ("ana", "business trip")
    assert read.loc["a1", "updated_at"] == pd.Timestamp(triaged_at)
    assert read.loc["a1", "run_id"] == "run-b"
    assert read.loc["b0", "status"] == "new" and pd.isna(read.loc["b0", "assignee"])

    store.replace_day(sample.run("run-c"), sample.findings(["a1"], run_id="run-c"), keep_triage=False)
    assert store.findings(sample.DAY)["status"].tolist() == ["new"]


def test_record_run_upserts_one_row(store):
    store.record_run(RunRecord(run_id="run-x", day=sample.DAY, status="failed", message="boom"))
    store.record_run(sample.run("run-x"))

    (row,) = store.runs().to_dict("records")
    assert row["status"] == "success" and row["message"] == ""
    assert row["rows_flagged"] == 3


# --------------------------------------------------------------------------- atomicity


def test_a_row_violating_a_constraint_leaves_the_previous_day_intact(store):
    write(store, "run-a", A_IDS, quarantined=3)
    before = snapshot(store)
    bad = sample.findings(B_IDS, run_id="run-b")
    bad["severity"] = [10, 20, 150, 30, 40]  # 150 is outside 0-100: the database refuses it

    with pytest.raises(IntegrityError, match="severity"):
        store.replace_day(sample.run("run-b"), bad, sample.quarantine(1))

    assert snapshot(store) == before


def test_a_failure_after_the_inserts_leaves_the_previous_day_intact(store, monkeypatch):
    write(store, "run-a", A_IDS, quarantined=3)
    before = snapshot(store)

    def fail(connection, run):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(store_module, "_upsert_run", fail)
    with pytest.raises(RuntimeError, match="died"):
        write(store, "run-b", B_IDS)

    assert snapshot(store) == before


def test_invalid_input_writes_nothing(store):
    write(store, "run-a", A_IDS)
    before = snapshot(store)
    incomplete = sample.findings(B_IDS).drop(columns=["reasons"])

    with pytest.raises(MissingColumnError, match="'reasons'") as raised:
        store.replace_day(sample.run("run-b"), incomplete)

    assert raised.value.columns == ["reasons"]
    assert snapshot(store) == before


def test_quarantine_missing_a_column_is_named(store):
    with pytest.raises(MissingColumnError, match="quarantine frame is missing required column.*'raw'"):
        store.replace_day(sample.run(), sample.findings(["e1"]), sample.quarantine(2).drop(columns=["raw"]))


@pytest.mark.postgres
def test_connection_lost_mid_write_leaves_no_partial_day_and_a_retry_completes(empty_postgres_url, monkeypatch):
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
        write(store, "run-a", A_IDS)
        before = snapshot(store)
        real_delete = store_module._delete_day

        def delete_then_lose_the_connection(connection, day):
            real_delete(connection, day)
            pid = connection.connection.driver_connection.info.backend_pid
            with store.engine.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        monkeypatch.setattr(store_module, "_delete_day", delete_then_lose_the_connection)
        with pytest.raises(OperationalError):
            write(store, "run-b", B_IDS)
        assert snapshot(store) == before

        monkeypatch.setattr(store_module, "_delete_day", real_delete)
        write(store, "run-b", B_IDS)
        assert sorted(store.findings(sample.DAY)["event_id"]) == sorted(B_IDS)


# --------------------------------------------------------------------------- overlapping runs


def _overlap(store_url: str, monkeypatch) -> tuple[bool, list, pd.DataFrame]:
    """Start run-a, hold it just after it deleted the day, start run-b, then let both finish.

    Returns whether run-b got past its own delete while run-a still held the day, the
    errors raised, and the day's findings at the end.
    """
    first_deleted, second_deleted, release = threading.Event(), threading.Event(), threading.Event()
    real_delete = store_module._delete_day

    def delete_and_pause(connection, day):
        real_delete(connection, day)
        if threading.current_thread().name == "run-a":
            first_deleted.set()
            release.wait(timeout=60)
        else:
            second_deleted.set()

    monkeypatch.setattr(store_module, "_delete_day", delete_and_pause)
    stores = [FindingsStore(store_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(store, run_id, ids):
        try:
            write(store, run_id, ids)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [
        threading.Thread(target=run, name="run-a", args=(stores[0], "run-a", A_IDS)),
        threading.Thread(target=run, name="run-b", args=(stores[1], "run-b", B_IDS)),
    ]
    try:
        threads[0].start()
        assert first_deleted.wait(timeout=30), "run-a never reached its delete"
        threads[1].start()
        interleaved = second_deleted.wait(timeout=3)
        release.set()
        for thread in threads:
            thread.join(timeout=120)
        return interleaved, errors, stores[2].findings(sample.DAY)
    finally:
        release.set()
        for store in stores:
            store.close()


def test_overlapping_runs_of_one_day_apply_one_after_the_other(store, store_url, monkeypatch):
    interleaved, errors, final = _overlap(store_url, monkeypatch)

    assert not errors
    assert not interleaved, "run-b deleted the day while run-a was still writing it"
    assert sorted(final["event_id"]) == sorted(B_IDS), "the day must hold exactly the last run's findings"
    assert set(final["run_id"]) == {"run-b"}


@pytest.mark.postgres
def test_without_the_day_lock_overlapping_runs_would_mix(empty_postgres_url, monkeypatch):
    # Shows that the test above detects the interleaving the lock prevents.
    with FindingsStore(empty_postgres_url) as store:
        store.create_schema()
    monkeypatch.setattr(store_module, "lock_for_transaction", lambda connection, name: None)

    interleaved, errors, final = _overlap(empty_postgres_url, monkeypatch)

    assert not errors and interleaved
    assert sorted(final["event_id"]) == sorted(A_IDS + B_IDS)


# --------------------------------------------------------------------------- connecting


def test_accepts_an_engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    store = FindingsStore(engine)
    store.create_schema()
    write(store, "run-a", ["e1"])
    store.close()  # leaves the caller's engine usable
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM findings")).scalar() == 1
    engine.dispose()


def test_unsupported_database_is_refused_without_printing_the_password():
    with pytest.raises(UnsupportedDatabaseError, match="mysql") as raised:
        FindingsStore("mysql://ana:s3cret@db.example:3306/ztad")
    assert "s3cret" not in str(raised.value)


def test_repr_masks_the_password():
    store = FindingsStore("postgresql://ana:s3cret@db.example:5432/ztad")
    assert "s3cret" not in repr(store) and "***" in store.url
    assert store.engine.url.drivername == "postgresql+psycopg"
