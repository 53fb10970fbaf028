"""``ztad_daily`` end to end through ``dag.test``, writing findings to a real PostgreSQL.

The first three days after the clean history are run as Airflow runs them (each task in turn,
configuration from the connection ``ztad_findings`` and the Variable ``ztad_source`` given as
environment variables), then the last day again, a dry run, and a day without logs (skipped,
then failed: the second run also shows that one run's Params do not leak into the next).
"""

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.fixtures.logs import SMALL_LOGS
from tests.support.airflow_local import run_day_in_process, without_deadline
from ztad.store import FindingsStore

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]


def airflow_connection(url: str) -> str:
    """The findings database as an Airflow connection in JSON form (``AIRFLOW_CONN_*``)."""
    parsed = make_url(url)
    return json.dumps({
        "conn_type": "postgres", "host": parsed.host, "port": parsed.port,
        "login": parsed.username, "password": parsed.password, "schema": parsed.database,
    })


def log_days(root: Path) -> list[date]:
    """The days that have a partition under ``root``, oldest first."""
    folders = Path(root).glob("date=*")
    return sorted(date.fromisoformat(folder.name.removeprefix("date=")) for folder in folders)


def findings_asset_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra, AssetEvent.source_run_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "ztad_findings")
            .order_by(AssetEvent.id)
        )
        return [{**extra, "source_run_id": run_id} for extra, run_id in session.execute(query)]


@pytest.fixture(scope="module")
def scenario(airflow_db, postgres_url, small_logs, tmp_path_factory):
    """Run the DAG for the first three days with attacks, then the extra runs; keep what happened."""
    first_attacked = SMALL_LOGS["start"] + timedelta(days=SMALL_LOGS["clean_days"])
    days = [first_attacked + timedelta(days=offset) for offset in range(3)]
    assert set(days) <= set(log_days(small_logs))
    missing_day = log_days(small_logs)[-1] + timedelta(days=1)
    store = FindingsStore(postgres_url)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", airflow_connection(postgres_url))
        env.setenv("AIRFLOW_VAR_ZTAD_SOURCE", json.dumps({"root": str(small_logs)}))
        env.setenv("ZTAD_HOME", str(tmp_path_factory.mktemp("ztad-home")))
        env.delenv("ZTAD_DATABASE_URL", raising=False)

        runs = {}
        for index, day in enumerate(days):
            conf = {"retrain": True} if index == 0 else {}
            runs[day] = run_day_in_process(day, conf)
        first = {day: store.findings(day=day) for day in days}
        events_after_days = findings_asset_events()

        rerun = run_day_in_process(days[-1])
        after_rerun = store.findings(day=days[-1])

        dry = run_day_in_process(days[0], {"dry_run": True})
        after_dry = store.findings(day=days[0])

        skipped = run_day_in_process(missing_day, {"on_missing_partition": "skip"})
        failed = run_day_in_process(missing_day)

        yield {
            "days": days, "runs": runs, "first": first, "events_after_days": events_after_days,
            "rerun": rerun, "after_rerun": after_rerun, "dry": dry, "after_dry": after_dry,
            "missing_day": missing_day, "skipped": skipped, "failed": failed,
            "store": store, "events": findings_asset_events(),
        }
    store.close()


def test_each_day_runs_every_task_successfully(scenario):
    for day, run in scenario["runs"].items():
        assert run.state == "success", f"{day}: {run.tasks}"
        assert set(run.tasks.values()) == {"success"}, f"{day}: {run.tasks}"


def test_each_day_has_a_run_record_with_its_airflow_run_id(scenario):
    store = scenario["store"]
    for day, run in scenario["runs"].items():
        records = store.runs(day=day).set_index("run_id")
        assert run.run_id in records.index, f"{day}: no runs row for {run.run_id}"
        record = records.loc[run.run_id]
        assert record["status"] == "success"
        assert record["rows_read"] > 0
        assert record["rows_scored"] > 0
        assert record["rows_flagged"] == len(scenario["first"][day])


def test_findings_land_in_postgres_with_their_run_and_include_injected_attacks(scenario):
    all_findings = []
    for day, run in scenario["runs"].items():
        findings = scenario["first"][day]
        assert set(findings["day"]) <= {day}
        assert set(findings["run_id"]) <= {run.run_id}
        all_findings.append(findings)
    labels = [label for findings in all_findings for label in findings["event_label"]]
    assert labels, "the first three days with attacks gave no findings at all"
    assert any(label != "normal" for label in labels), "no injected attack was found"


def test_each_written_day_emits_one_findings_asset_event(scenario):
    # The Airflow database is shared by the session: only this scenario's runs count.
    ours = {run.run_id for run in scenario["runs"].values()}
    events = [event for event in scenario["events_after_days"] if event["source_run_id"] in ours]
    expected = [
        {
            "day": day.isoformat(),
            "findings": len(scenario["first"][day]),
            "run_id": run.run_id,
            "source_run_id": run.run_id,
        }
        for day, run in scenario["runs"].items()
    ]
    assert events == expected


def test_a_rerun_replaces_the_day_with_identical_findings(scenario):
    last = scenario["days"][-1]
    before, after = scenario["first"][last], scenario["after_rerun"]
    assert scenario["rerun"].state == "success"
    assert sorted(after["event_id"]) == sorted(before["event_id"])
    assert after["finding_id"].is_unique
    scores = lambda frame: frame.set_index("event_id")["score"].sort_index().round(9).tolist()  # noqa: E731
    assert scores(after) == scores(before)
    assert set(after["run_id"]) <= {scenario["rerun"].run_id}


def test_a_dry_run_writes_nothing_and_emits_no_asset_event(scenario):
    first_day = scenario["days"][0]
    states = scenario["dry"].tasks
    assert states["write_findings"] == "skipped"
    assert {state for task, state in states.items() if task != "write_findings"} == {"success"}
    assert sorted(scenario["after_dry"]["finding_id"]) == sorted(scenario["first"][first_day]["finding_id"])
    assert scenario["dry"].run_id not in set(scenario["store"].runs()["run_id"])
    assert scenario["dry"].run_id not in {event["source_run_id"] for event in scenario["events"]}


def test_a_day_without_logs_is_skipped_or_failed_and_never_silent(scenario):
    store, missing_day = scenario["store"], scenario["missing_day"]
    skipped, failed = scenario["skipped"], scenario["failed"]
    assert skipped.state == "success"
    assert (skipped.tasks["pull"], skipped.tasks["write_findings"]) == ("skipped", "skipped")
    assert failed.state == "failed"
    assert (failed.tasks["pull"], failed.tasks["write_findings"]) == ("failed", "upstream_failed")
    records = store.runs(day=missing_day).set_index("run_id")["status"].to_dict()
    assert records == {skipped.run_id: "skipped", failed.run_id: "failed"}
    assert store.findings(day=missing_day).empty


def test_a_write_that_dies_midway_leaves_the_day_whole_and_the_retry_completes(scenario, postgres_url):
    """The connection is lost at the last statement of the day's transaction (the run row, not
    the ``running`` row the pull writes first), after the old findings were deleted and the new ones copied in: nobody sees a partial day,
    and Airflow's retry writes the day in full."""
    from airflow.dag_processing.dagbag import DagBag
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from ztad_airflow.intervals import day_start

    day = scenario["days"][1]
    before = scenario["store"].findings(day=day)
    seen_at_failure = []

    def die_once(connection, cursor, statement, parameters, context, executemany):
        run_row = re.match(r"\s*INSERT INTO runs\b", statement, re.IGNORECASE)
        if not seen_at_failure and run_row and "'running'" not in repr(parameters):  # not the pull's
            with FindingsStore(postgres_url) as other:  # another session, as an analyst would look
                seen_at_failure.append(sorted(other.findings(day=day)["finding_id"]))
            raise ConnectionResetError("the findings database went away in the middle of the write")

    dag = without_deadline(DagBag().dags["ztad_daily"])
    dag.get_task("write_findings").retry_delay = timedelta(seconds=1)
    event.listen(Engine, "before_cursor_execute", die_once)
    try:
        run = dag.test(logical_date=day_start(day), run_conf={"day": day.isoformat()})
    finally:
        event.remove(Engine, "before_cursor_execute", die_once)

    write = run.get_task_instance("write_findings")
    assert (str(run.state), write.try_number) in (("success", 2), ("DagRunState.SUCCESS", 2))
    assert seen_at_failure == [sorted(before["finding_id"])]
    after = scenario["store"].findings(day=day)
    assert sorted(after["finding_id"]) == sorted(before["finding_id"])
    assert set(after["run_id"]) <= {run.run_id}
    assert scenario["store"].runs(day=day).set_index("run_id").loc[run.run_id, "status"] == "success"


def test_airflow_backfill_plans_one_run_per_day(scenario):
    """``airflow backfill create`` accepts the DAG and plans one run per day (logical date = the
    day, data interval = that UTC day). Executing the runs is the scheduler's job."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "airflow", "backfill", "create", "--dag-id", "ztad_daily",
         "--from-date", "2026-04-06", "--to-date", "2026-04-08", "--max-active-runs", "1", "--dry-run"],
        env=os.environ.copy(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    planned = re.findall(r"(\d{4}-\d\d-\d\d) 00:00:00\+00:00 \|", done.stdout)
    assert planned == ["2026-04-06", "2026-04-07", "2026-04-08"], done.stdout[-3000:]


def test_the_dag_gives_the_same_findings_as_ztad_run_over_the_same_days(scenario, small_logs, tmp_path):
    """Task by task through Airflow, or ``run_range`` as ``ztad run --start --end`` does: one answer."""
    from ztad import pipeline
    from ztad.config import JobConfig, SourceConfig

    days = scenario["days"]
    config = JobConfig(source=SourceConfig(root=str(small_logs)), home=tmp_path / "cli-home")
    pipeline.run_range(days[0], days[-1], config)
    with FindingsStore(config.resolved_database_url) as cli_store:
        for day in days:
            through_airflow = scenario["first"][day].set_index("finding_id")["score"].sort_index()
            through_cli = cli_store.findings(day=day).set_index("finding_id")["score"].sort_index()
            assert through_cli.index.tolist() == through_airflow.index.tolist(), day
            assert through_cli.round(9).tolist() == through_airflow.round(9).tolist(), day
