"""House rules over every DAG in ``dags/``, checked on a DagBag as the scheduler would parse it."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.plugins.airflow_home import DAGS_FOLDER, airflow_environment

EXPECTED_DAGS = {"ztad_daily"}
DAILY_STEPS = ["wait_for_logs", "pull", "update_baselines", "prepare_detectors", "score", "write_findings"]
HEAVY_MODULES = (
    "pandas", "numpy", "pyarrow", "sklearn", "scipy", "tensorflow", "keras", "shap",
    "matplotlib", "torch", "ztad",
)

# Parses dags/ with every way of reading a connection or Variable replaced by a recorder that
# fails, and counts database connections; prints one JSON line of what it saw.
PARSE_PROBE = r"""
import json, sys
from sqlalchemy import event
from sqlalchemy.pool import Pool

connections = []
event.listen(Pool, "connect", lambda *args: connections.append(1))
touched = []

def forbidden(name):
    def refuse(*args, **kwargs):
        touched.append(name)
        raise RuntimeError(name + " called while parsing a DAG file")
    return classmethod(refuse)

from airflow.sdk import BaseHook, Connection, Variable
from airflow.models.variable import Variable as CoreVariable
from airflow.models.connection import Connection as CoreConnection
BaseHook.get_connection = forbidden("BaseHook.get_connection")
Connection.get = forbidden("Connection.get")
Variable.get = forbidden("Variable.get")
CoreVariable.get = forbidden("airflow.models.Variable.get")
CoreConnection.get_connection_from_secrets = forbidden("airflow.models.Connection.from_secrets")

from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print("PROBE " + json.dumps({
    "errors": bag.import_errors,
    "dags": sorted(bag.dags),
    "touched": touched,
    "connections": len(connections),
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


@pytest.fixture(scope="module")
def parse_probe(tmp_path_factory):
    """Parse dags/ in a fresh interpreter whose metadata database cannot be reached."""
    home = tmp_path_factory.mktemp("airflow-home-parse")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ZTAD_"))},
        **airflow_environment(home, database_url="postgresql+psycopg://nobody@127.0.0.1:9/unreachable"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(DAGS_FOLDER)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0 and lines, f"the probe failed:\n{output}"
    return json.loads(lines[-1].removeprefix("PROBE "))


# --------------------------------------------------------------------------- every DAG


def test_dags_import_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert EXPECTED_DAGS <= set(dag_bag.dag_ids)


def test_every_dag_has_tags_owner_docs_and_a_fixed_start(dag_bag):
    for dag in dag_bag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag.dag_id} has no documentation"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None
        assert dag.catchup is False, f"{dag.dag_id} must not catch up unless asked to"
        for task in dag.tasks:
            assert task.owner not in (None, "", "airflow"), f"{dag.dag_id}.{task.task_id} has no owner"


def test_every_task_retries_with_backoff_and_has_a_timeout(dag_bag):
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 1, f"{where} has no retries"
            assert task.retry_exponential_backoff > 1, f"{where} retries without backoff"
            assert task.max_retry_delay is not None, f"{where} has unbounded retry delays"
            assert task.execution_timeout is not None, f"{where} has no execution timeout"
            assert task.execution_timeout <= timedelta(hours=4)


def test_parsing_reads_no_connection_variable_or_database(parse_probe):
    assert parse_probe["errors"] == {}
    assert EXPECTED_DAGS <= set(parse_probe["dags"])
    assert parse_probe["touched"] == []
    assert parse_probe["connections"] == 0


def test_parsing_imports_no_heavy_module(parse_probe):
    assert sorted(set(HEAVY_MODULES) & set(parse_probe["modules"])) == []


def test_the_probe_would_notice_a_heavy_import(parse_probe):
    # The probe's module list is the real one: Airflow itself is in it.
    assert {"airflow", "sqlalchemy"} <= set(parse_probe["modules"])


# --------------------------------------------------------------------------- ztad_daily


@pytest.fixture(scope="module")
def daily(dag_bag):
    return dag_bag.dags["ztad_daily"]


def test_daily_runs_one_utc_day_per_data_interval(daily):
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(daily.timetable, CronDataIntervalTimetable)
    assert daily.timetable.expression == "0 0 * * *"
    assert str(daily.timetable.timezone) == "UTC"


def test_daily_runs_days_one_at_a_time(daily):
    assert daily.max_active_runs == 1


def test_daily_chains_the_pipeline_steps(daily):
    assert [task.task_id for task in daily.topological_sort()] == DAILY_STEPS
    for upstream, downstream in zip(DAILY_STEPS, DAILY_STEPS[1:]):
        assert daily.get_task(upstream).downstream_task_ids == {downstream}


def test_daily_uses_the_ztad_operators(daily):
    from ztad_airflow.operators import ZtadStepOperator
    from ztad_airflow.sensors import ZtadPartitionSensor

    assert isinstance(daily.get_task("wait_for_logs"), ZtadPartitionSensor)
    for step in DAILY_STEPS[1:]:
        task = daily.get_task(step)
        assert isinstance(task, ZtadStepOperator)
        assert task.findings_conn_id == "ztad_findings"
        assert task.source_variable == "ztad_source"


def test_only_write_findings_updates_the_findings_asset(daily):
    from ztad_airflow.assets import FINDINGS

    producers = [task.task_id for task in daily.tasks if FINDINGS in task.outlets]
    assert producers == ["write_findings"]


def test_daily_params_and_their_defaults(daily):
    defaults = {name: daily.params[name] for name in daily.params}
    assert defaults == {
        "retrain": False,
        "target_fpr": 0.005,
        "history_days": 30,
        "dry_run": False,
        "on_missing_partition": "fail",
    }


@pytest.mark.parametrize(
    "name, value",
    [
        ("on_missing_partition", "ignore"),
        ("target_fpr", 0),
        ("target_fpr", 0.9),
        ("history_days", 0),
        ("retrain", "yes"),
    ],
)
def test_daily_params_refuse_bad_values(daily, name, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        daily.params.get_param(name).resolve(value)


def test_params_reach_the_operators_as_templates(daily):
    assert daily.get_task("prepare_detectors").retrain == "{{ params.retrain }}"
    assert daily.get_task("write_findings").dry_run == "{{ params.dry_run }}"
    assert daily.get_task("pull").on_missing_partition == "{{ params.on_missing_partition }}"
    assert daily.get_task("pull").dry_run == "{{ params.dry_run }}"
    assert daily.get_task("score").target_fpr == "{{ params.target_fpr }}"
