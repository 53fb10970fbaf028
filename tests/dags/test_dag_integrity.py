"""House rules over every DAG in ``dags/``, checked on a DagBag as the scheduler would parse it."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.support.airflow_home import DAGS_FOLDER, airflow_environment

EXPECTED_DAGS = {"ztad_daily", "ztad_report"}
DAILY_STEPS = [
    "wait_for_logs", "pull", "cross_user", "update_baselines", "prepare_detectors", "score",
    "write_findings",
]
#: Each step of ztad_daily and the steps right after it.
DAILY_EDGES = {
    "wait_for_logs": {"pull"},
    "pull": {"cross_user"},
    "cross_user": {"update_baselines", "score"},
    "update_baselines": {"prepare_detectors"},
    "prepare_detectors": {"score"},
    "score": {"write_findings"},
    "write_findings": set(),
}
#: The steps that run once per shard of users (dynamic task mapping).
SHARD_STEPS = {"update_baselines", "score"}
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
    assert {task.task_id: task.downstream_task_ids for task in daily.tasks} == DAILY_EDGES


def test_features_and_scoring_are_mapped_over_the_shards_of_the_pre_pass(daily):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    mapped = {task.task_id for task in daily.tasks if isinstance(task, MappedOperator)}
    assert mapped == SHARD_STEPS
    for step in SHARD_STEPS:
        expanded = daily.get_task(step).expand_input.value["shard"]
        assert expanded.operator.task_id == "cross_user" and expanded.key == "return_value"
    for step in ("prepare_detectors", "write_findings"):
        assert daily.get_task(step).sharded is True, f"{step} must gather the shards"


def test_daily_uses_the_ztad_operators(daily):
    from ztad_airflow.operators import ZtadStepOperator
    from ztad_airflow.sensors import ZtadPartitionSensor

    assert isinstance(daily.get_task("wait_for_logs"), ZtadPartitionSensor)
    for step in DAILY_STEPS[1:]:
        task = daily.get_task(step)
        settings = task.partial_kwargs if step in SHARD_STEPS else vars(task)
        assert issubclass(task.operator_class if step in SHARD_STEPS else type(task), ZtadStepOperator)
        assert settings["findings_conn_id"] == "ztad_findings", step
        assert settings["source_variable"] == "ztad_source", step


def test_every_daily_task_records_its_failure(daily):
    from ztad_airflow.operators import record_failed_run

    for task in daily.tasks:
        assert record_failed_run in list(task.on_failure_callback or []), task.task_id


def test_only_write_findings_updates_the_findings_asset(daily):
    from ztad_airflow.assets import FINDINGS

    producers = [task.task_id for task in daily.tasks if FINDINGS in task.outlets]
    assert producers == ["write_findings"]


def test_daily_params_and_their_defaults(daily):
    defaults = {name: daily.params[name] for name in daily.params}
    assert defaults == {
        "day": None,
        "retrain": False,
        "target_fpr": 0.001,
        "history_days": 30,
        "detectors": None,
        "rule_thresholds": {},
        "shards": 1,
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
        ("shards", 0),
        ("shards", 65),
        ("shards", 1.5),
        ("detectors", []),
        ("detectors", "ecod"),
        ("detectors", ["ecod", "ecod"]),
        ("rule_thresholds", {"spray_users": 3}),
        ("rule_thresholds", {"spray_min_users": 2.5}),
        ("rule_thresholds", {"travel_min_km": -1}),
        ("rule_thresholds", [15]),
        ("day", "20/03/2026"),
        ("day", 20260320),
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
    assert daily.get_task("prepare_detectors").target_fpr == "{{ params.target_fpr }}"
    assert daily.get_task("score").partial_kwargs["target_fpr"] == "{{ params.target_fpr }}"
    assert daily.get_task("score").partial_kwargs["detectors"] == "{{ params.detectors }}"
    assert daily.get_task("cross_user").shards == "{{ params.shards }}"
    assert daily.get_task("score").partial_kwargs["rule_thresholds"] == "{{ params.rule_thresholds }}"
    assert daily.get_task("prepare_detectors").rule_thresholds == "{{ params.rule_thresholds }}"


def test_the_rule_thresholds_param_names_every_threshold(daily):
    from dataclasses import fields

    from ztad.config import RuleThresholds

    param = daily.params.get_param("rule_thresholds")
    kinds = {f.name: "integer" if f.type in (int, "int") else "number" for f in fields(RuleThresholds)}
    assert {name: spec["type"] for name, spec in param.schema["properties"].items()} == kinds
    assert list(param.schema["properties"]) == list(kinds)
    assert param.resolve({"spray_min_users": 15, "travel_min_km": 300.5}) == {"spray_min_users": 15, "travel_min_km": 300.5}


def test_the_nightly_deadline_survives_serialization_for_the_scheduler(daily):
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.encoders import encode_deadline_alert

    from ztad_airflow.deadlines import NightlyDeadline

    alerts = daily.deadline if isinstance(daily.deadline, list) else [daily.deadline]
    assert len(alerts) == 1 and isinstance(alerts[0].reference, NightlyDeadline)
    decoded = decode_deadline_alert(encode_deadline_alert(alerts[0]))
    assert isinstance(decoded.reference.inner_ref, NightlyDeadline)
    assert decoded.callback.path == "ztad_airflow.deadlines.record_missed_deadline"


def test_every_daily_task_processes_the_day_the_run_names(daily):
    for task in daily.tasks:
        day = task.partial_kwargs["day"] if hasattr(task, "partial_kwargs") else task.day
        assert day == "{{ params.day }}", task.task_id
        assert daily.params.get_param("day").resolve("2026-03-20") == "2026-03-20"


# --------------------------------------------------------------------------- ztad_report


@pytest.fixture(scope="module")
def report(dag_bag):
    return dag_bag.dags["ztad_report"]


def test_the_report_is_scheduled_on_the_findings_asset(report):
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from ztad_airflow.assets import FINDINGS

    assert isinstance(report.timetable, AssetTriggeredTimetable)
    assert [asset.name for asset in report.timetable.asset_condition.objects] == [FINDINGS.name]


def test_the_report_writes_nothing_back_to_the_findings_asset(report):
    from ztad_airflow.assets import FINDINGS

    assert all(FINDINGS not in task.outlets for task in report.tasks)
    assert [task.task_id for task in report.tasks] == ["daily_report"]
    assert {name: report.params[name] for name in report.params} == {"day": None, "trailing_days": 30}
