"""``ztad_daily`` in shards through ``dag.test``, against ``ztad run`` unsharded, in PostgreSQL;
then the downstream report DAG, the source reads of consecutive days, and a failed step.

Two days (the second holds a password spray, the cross-user case) are first scored in-process
by ``pipeline.run_range`` as ``ztad run --start --end`` does, with no shards, then by the DAG
in 3 shards with its own state and its own database; what each wrote is compared.
"""

import json
from collections import Counter
from datetime import date, timedelta

import pandas as pd
import pytest

from tests.dags.test_dag_run import airflow_connection, findings_asset_events
from tests.support.airflow_local import run_day_in_process, without_deadline
from ztad import pipeline
from ztad.config import DetectionConfig, JobConfig, SourceConfig
from ztad.store import FindingsStore

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]

DAYS = [date(2026, 3, 17), date(2026, 3, 18)]
#: The detector choice does not matter here; these two are fast.
DETECTORS = ["isolation_forest", "ecod"]
SHARDS = 3
WRITE_TIME = ["created_at", "updated_at"]


def stored(url: str) -> dict[str, pd.DataFrame]:
    """Findings and incidents of DAYS, in a fixed order, without write times and run ids."""
    with FindingsStore(url) as store:
        findings = pd.concat([store.findings(day=d) for d in DAYS], ignore_index=True)
        incidents = pd.concat([store.incidents(day=d) for d in DAYS], ignore_index=True)
    return {
        "findings": findings.drop(columns=WRITE_TIME + ["run_id"]).sort_values("finding_id").reset_index(drop=True),
        "incidents": incidents.drop(columns=WRITE_TIME + ["run_id"]).sort_values("incident_id").reset_index(drop=True),
    }


class SourceReads:
    """Counts the days whose partition ztad reads: ``ztad.ingest.load_day`` (a day read whole)
    and ``ztad.ingest.write_day_files`` (a day pulled into files) calls that found data."""

    def __init__(self, monkeypatch):
        import ztad.ingest

        self.days: list[date] = []
        for name in ("load_day", "write_day_files"):
            monkeypatch.setattr(ztad.ingest, name, self._counting(getattr(ztad.ingest, name)))

    def _counting(self, read):
        def counting(source, day, *rest):
            result = read(source, day, *rest)  # a missing day raises: nothing was read
            self.days.append(day)
            return result

        return counting

    def take(self) -> Counter:
        taken, self.days = Counter(self.days), []
        return taken


@pytest.fixture(scope="module")
def scenario(airflow_db, module_postgres_url, second_module_postgres_url, small_logs, tmp_path_factory):
    url = module_postgres_url
    with pytest.MonkeyPatch.context() as env:
        reads = SourceReads(env)
        # Its own state folder, so its own database: one database holds one folder's models.
        whole = JobConfig(
            source=SourceConfig(root=str(small_logs)), home=tmp_path_factory.mktemp("cli-home"),
            database_url=second_module_postgres_url, detection=DetectionConfig(detectors=tuple(DETECTORS)),
        )
        cli_reads = []
        pipeline.run_range(DAYS[0], DAYS[-1], whole, progress=lambda *_: cli_reads.append(reads.take()))
        unsharded = stored(second_module_postgres_url)

        env.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", airflow_connection(url))
        env.setenv("AIRFLOW_VAR_ZTAD_SOURCE", json.dumps({"root": str(small_logs)}))
        home = tmp_path_factory.mktemp("dag-home")
        env.setenv("ZTAD_HOME", str(home))
        env.delenv("ZTAD_DATABASE_URL", raising=False)
        conf = {"shards": SHARDS, "detectors": DETECTORS}
        runs, dag_reads = {}, []
        for day in DAYS:
            runs[day] = run_day_in_process(day, conf)
            dag_reads.append(reads.take())
        sharded = stored(url)
        # Airflow's metadata database is the session's: keep this module's runs' events.
        ours = {run.run_id for run in runs.values()}
        events = [e for e in findings_asset_events() if e["source_run_id"] in ours]

        report = run_day_in_process(DAYS[-1], {"day": DAYS[-1].isoformat()}, dag_id="ztad_report")
        failed = fail_prepare_detectors(DAYS[-1], conf, env)
        with FindingsStore(url) as store:
            runs_table = store.runs().set_index("run_id")
            after_failure = store.findings(day=DAYS[-1])
        yield {
            "unsharded": unsharded, "sharded": sharded, "runs": runs, "events": events,
            "cli_reads": cli_reads, "dag_reads": dag_reads, "report": report,
            "report_file": home / "reports" / f"daily-{DAYS[-1].isoformat()}.html",
            "failed": failed, "runs_table": runs_table, "after_failure": after_failure,
        }


def fail_prepare_detectors(day: date, conf: dict, env):
    """Run the DAG with the detectors step failing for good; return the run."""
    from airflow.dag_processing.dagbag import DagBag

    from ztad_airflow.intervals import day_start

    def broken(*args, **kwargs):
        raise RuntimeError("the model registry is unreachable")

    from ztad.detection import policy

    env.setattr(policy, "train_or_load", broken)
    dag = without_deadline(DagBag().dags["ztad_daily"])
    dag.get_task("prepare_detectors").retries = 0
    return dag.test(logical_date=day_start(day), run_conf={"day": day.isoformat(), **conf})


def test_every_shard_of_every_day_ran(scenario):
    expected = {f"{step}[{i}]" for step in ("update_baselines", "score") for i in range(SHARDS)}
    for day, run in scenario["runs"].items():
        assert run.state == "success", f"{day}: {run.tasks}"
        assert expected <= set(run.tasks), f"{day}: {sorted(run.tasks)}"
        assert set(run.tasks.values()) == {"success"}, f"{day}: {run.tasks}"


def test_sharded_through_airflow_equals_unsharded_ztad_run(scenario):
    unsharded, sharded = scenario["unsharded"], scenario["sharded"]
    assert len(unsharded["findings"]) > 0 and len(unsharded["incidents"]) > 0
    assert "password_spray" in set(unsharded["findings"]["category"]), "the cross-user case is covered"
    for table in ("findings", "incidents"):
        pd.testing.assert_frame_equal(unsharded[table], sharded[table], check_exact=True)


def test_each_sharded_day_emits_its_findings_asset_event_once(scenario):
    sharded = scenario["sharded"]["findings"]
    expected = [
        {"day": day.isoformat(), "findings": int((sharded["day"] == day).sum()),
         "run_id": run.run_id, "source_run_id": run.run_id}
        for day, run in scenario["runs"].items()
    ]
    assert scenario["events"] == expected


def test_after_its_first_day_a_backfill_reads_only_the_day_it_scores(scenario):
    """The baselines are daily aggregates kept in the state folder: a day's run reads its own
    partition, whatever the length of the history window."""
    first_cli, second_cli = scenario["cli_reads"]
    first_dag, second_dag = scenario["dag_reads"]
    assert second_cli == Counter({DAYS[1]: 1})
    assert second_dag == Counter({DAYS[1]: 1})
    # The first day builds the state of its history (the 15 days of logs before it): each
    # past day is read once, for both its aggregate and its training features.
    history = [d for d in first_cli if d < DAYS[0]]
    assert len(history) == 15 and max(first_cli[d] for d in history) == 1
    assert first_cli[DAYS[0]] == 1 and first_dag[DAYS[0]] == 1


def test_the_report_dag_writes_the_days_report(scenario):
    report, page = scenario["report"], scenario["report_file"]
    assert report.state == "success", report.tasks
    text = page.read_text()
    count = int((scenario["sharded"]["findings"]["day"] == DAYS[-1]).sum())
    assert f"<p>{count} findings, incidents:" in text
    assert "password_spray" in text and "data:image/png;base64," in text


def test_a_step_that_fails_for_good_leaves_a_failed_run_row_and_the_day_untouched(scenario):
    failed = scenario["failed"]
    states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in failed.get_task_instances()}
    assert str(getattr(failed.state, "value", failed.state)) == "failed"
    assert states["prepare_detectors"] == "failed"
    assert states["write_findings"] == "upstream_failed"
    row = scenario["runs_table"].loc[failed.run_id]
    assert row["status"] == "failed"
    assert "RuntimeError: the model registry is unreachable" in row["message"]
    kept = scenario["after_failure"].drop(columns=WRITE_TIME + ["run_id"]).sort_values("finding_id")
    expected = scenario["sharded"]["findings"]
    expected = expected[expected["day"] == DAYS[-1]]
    assert kept["finding_id"].tolist() == expected["finding_id"].tolist()
