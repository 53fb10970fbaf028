"""The step operators, run through ``execute`` with a hand-made context and a recorded pipeline."""

import re
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ztad import pipeline
from ztad.ingest import MissingPartitionError
from ztad.pipeline import shards
from ztad.store import FindingsStore
from ztad_airflow.assets import FINDINGS
from ztad_airflow.hooks import SourceConfigError
from ztad_airflow.intervals import DataIntervalError
from ztad_airflow.operators import (
    ZtadBaselinesOperator,
    ZtadCrossUserOperator,
    ZtadDetectorsOperator,
    ZtadPullOperator,
    ZtadScoreOperator,
    ZtadWriteFindingsOperator,
    record_failed_run,
)

DAY = date(2026, 3, 2)
SECRET = "s3cret-Pa55"
SOURCE = '{"root": "/data/auth", "format": "csv"}'


class RecordingTaskInstance:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


def context_for(day=DAY, run_id="manual__2026-03-03T00:00:00+00:00", hours=24):
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return {
        "data_interval_start": start,
        "data_interval_end": start + timedelta(hours=hours),
        "run_id": run_id,
        "ti": RecordingTaskInstance(),
        "outlet_events": defaultdict(SimpleNamespace),
    }


@pytest.fixture
def calls(monkeypatch):
    """Replace the pipeline steps with recorders; each returns a small dict as the real ones do."""
    seen = []

    def recorder(name, result):
        def step(day, config, *args, **kwargs):
            seen.append(SimpleNamespace(step=name, day=day, config=config, args=args, kwargs=kwargs))
            return dict(result)
        return step

    monkeypatch.setattr(pipeline, "pull", recorder("pull", {"rows_read": 10}))
    monkeypatch.setattr(pipeline, "update_baselines", recorder("update_baselines", {"rows": 10}))
    monkeypatch.setattr(pipeline, "prepare_detectors", recorder("prepare_detectors", {"model_version": "m1"}))
    monkeypatch.setattr(pipeline, "score", recorder("score", {"rows_flagged": 2}))
    monkeypatch.setattr(pipeline, "write_findings", recorder("write_findings", {"findings": 2}))
    monkeypatch.setattr(pipeline, "cross_user", recorder("cross_user", {"shards": 0}))
    monkeypatch.setattr(pipeline, "prepare_sharded_detectors", recorder("gather+prepare_detectors", {"model_version": "m1"}))
    monkeypatch.setattr(pipeline, "write_sharded_findings", recorder("gather+write_findings", {"findings": 2}))
    return seen


@pytest.fixture
def source(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ZTAD_SOURCE", SOURCE)


def missing_partition(day, config):
    raise MissingPartitionError(day, f"{config.source.root}/date={day}", "no such partition")


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "operator_class, step",
    [
        (ZtadPullOperator, "pull"),
        (ZtadBaselinesOperator, "update_baselines"),
        (ZtadDetectorsOperator, "prepare_detectors"),
        (ZtadScoreOperator, "score"),
        (ZtadWriteFindingsOperator, "write_findings"),
    ],
)
def test_each_operator_runs_its_one_step_for_the_interval_day(operator_class, step, calls, source):
    result = operator_class(task_id=step).execute(context_for())
    assert [call.step for call in calls] == [step]
    assert calls[0].day == DAY
    assert calls[0].config.source.root == "/data/auth"
    assert isinstance(result, dict)


def test_without_findings_connection_the_embedded_sqlite_file_is_used(calls, source, tmp_path):
    ZtadScoreOperator(task_id="score").execute(context_for())
    config = calls[0].config
    assert config.database_url is None
    assert config.resolved_database_url == f"sqlite:///{tmp_path / 'ztad-home' / 'findings.db'}"


def test_without_connection_ztad_database_url_is_honoured(calls, source, monkeypatch):
    monkeypatch.setenv("ZTAD_DATABASE_URL", "postgresql+psycopg://ztad@env-db:5432/ztad")
    ZtadScoreOperator(task_id="score").execute(context_for())
    assert calls[0].config.database_url == "postgresql+psycopg://ztad@env-db:5432/ztad"


def test_the_findings_connection_wins_and_its_password_is_not_logged(calls, source, monkeypatch, capfd):
    monkeypatch.setenv("ZTAD_DATABASE_URL", "postgresql+psycopg://ztad@env-db:5432/ztad")
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", f"postgresql://ztad:{SECRET}@pg:5432/findings")
    ZtadScoreOperator(task_id="score").execute(context_for())
    assert calls[0].config.database_url == f"postgresql+psycopg://ztad:{SECRET}@pg:5432/findings"
    logged = "".join(capfd.readouterr())
    assert "ztad:***@pg:5432/findings" in logged
    assert SECRET not in logged


def test_home_and_detection_settings_come_from_templated_strings(calls, source, tmp_path):
    ZtadScoreOperator(
        task_id="score", home=str(tmp_path / "elsewhere"), history_days="7", target_fpr="0.01"
    ).execute(context_for())
    config = calls[0].config
    assert config.home == tmp_path / "elsewhere"
    assert (config.detection.history_days, config.detection.target_fpr) == (7, 0.01)


def test_empty_templated_settings_keep_the_defaults(calls, source, tmp_path):
    ZtadScoreOperator(task_id="score", home="", history_days="", target_fpr=None).execute(context_for())
    config = calls[0].config
    assert config.home == tmp_path / "ztad-home"
    assert (config.detection.history_days, config.detection.target_fpr) == (30, 0.001)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"history_days": "a week"}, "history_days must be a whole number"),
        ({"history_days": 0}, "history_days must be at least 1"),
        ({"target_fpr": "lots"}, "target_fpr must be a number between 0 and 1"),
        ({"target_fpr": 1.5}, r"target_fpr must be between 0 and 1 \(exclusive\)"),
    ],
)
def test_bad_settings_fail_without_retries(settings, message, calls, source):
    with pytest.raises(AirflowFailException, match=message):
        ZtadScoreOperator(task_id="score", **settings).execute(context_for())
    assert calls == []


def test_an_interval_that_is_not_one_day_fails_without_retries_and_runs_nothing(calls, source):
    with pytest.raises(AirflowFailException, match="DataIntervalError: .* not one UTC calendar day") as error:
        ZtadPullOperator(task_id="pull").execute(context_for(hours=12))
    assert isinstance(error.value.__cause__, DataIntervalError)
    assert calls == []


@pytest.mark.parametrize(
    "operator_class, step",
    [(ZtadPullOperator, "pull"), (ZtadScoreOperator, "score"), (ZtadWriteFindingsOperator, "write_findings")],
)
def test_a_manual_run_processes_the_day_it_names(operator_class, step, calls, source):
    """The CLI gives a manual run the interval before the trigger time: the ``day`` Param wins."""
    context = context_for(day=date(2026, 12, 3), run_id="manual__2026-12-04T23:17:00+00:00")
    context["dag_run"] = SimpleNamespace(run_type="manual")
    operator_class(task_id=step, day="2026-03-20").execute(context)
    assert [call.day for call in calls] == [date(2026, 3, 20)]


def test_a_run_without_logical_date_processes_the_day_it_names(calls, source):
    context = {**context_for(), "data_interval_start": None, "data_interval_end": None}
    ZtadPullOperator(task_id="pull", day="2026-03-20").execute(context)
    assert [call.day for call in calls] == [date(2026, 3, 20)]


def test_a_run_naming_no_day_and_without_interval_fails_without_retries(calls, source):
    context = {**context_for(), "data_interval_start": None, "data_interval_end": None}
    with pytest.raises(AirflowFailException, match='name the day|"day"'):
        ZtadPullOperator(task_id="pull", day=None).execute(context)
    assert calls == []


def test_a_backfill_whose_conf_names_another_day_fails_without_retries(calls, source):
    context = context_for(day=date(2026, 3, 21), run_id="backfill__2026-03-22T00:00:00+00:00")
    context["dag_run"] = SimpleNamespace(run_type="backfill")
    with pytest.raises(AirflowFailException, match="backfill run covers 2026-03-21"):
        ZtadScoreOperator(task_id="score", day="2026-03-20").execute(context)
    assert calls == []


def test_a_malformed_day_fails_without_retries(calls, source):
    with pytest.raises(AirflowFailException, match="day must be YYYY-MM-DD"):
        ZtadPullOperator(task_id="pull", day="20/03/2026").execute(context_for())
    assert calls == []


def test_a_missing_source_configuration_fails_without_retries_and_runs_nothing(calls):
    with pytest.raises(AirflowFailException, match="SourceConfigError: no log source configured") as error:
        ZtadPullOperator(task_id="pull").execute(context_for())
    assert isinstance(error.value.__cause__, SourceConfigError)
    assert calls == []


def test_a_findings_connection_of_the_wrong_kind_fails_without_retries(calls, source, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ZTAD_FINDINGS", f"mysql://ztad:{SECRET}@db:3306/ztad")
    with pytest.raises(AirflowFailException, match="FindingsConnectionError: .*needs a PostgreSQL") as error:
        ZtadScoreOperator(task_id="score").execute(context_for())
    assert SECRET not in str(error.value)
    assert calls == []


def test_operators_hold_strings_and_touch_nothing_when_built(monkeypatch):
    from airflow.sdk import BaseHook, Variable

    def forbidden(*args, **kwargs):
        raise AssertionError("a connection or Variable was read while building an operator")

    monkeypatch.setattr(BaseHook, "get_connection", forbidden)
    monkeypatch.setattr(Variable, "get", forbidden)
    operator = ZtadWriteFindingsOperator(
        task_id="write", dry_run="{{ params.dry_run }}", target_fpr="{{ params.target_fpr }}"
    )
    for name in operator.template_fields:
        value = getattr(operator, name)
        assert value is None or isinstance(value, (str, bool, int, float)), name


# --------------------------------------------------------------------------- steps


@pytest.mark.parametrize("value, expected", [(True, True), ("True", True), ("false", False), (False, False)])
def test_retrain_accepts_native_and_rendered_booleans(value, expected, calls, source):
    ZtadDetectorsOperator(task_id="prepare_detectors", retrain=value).execute(context_for())
    assert calls[0].kwargs == {"retrain": expected}


def test_retrain_refuses_anything_else(calls, source):
    with pytest.raises(AirflowFailException, match="retrain must be true or false"):
        ZtadDetectorsOperator(task_id="prepare_detectors", retrain="maybe").execute(context_for())


def test_write_findings_passes_the_airflow_run_id_and_fills_the_asset_event(calls, source):
    context = context_for(run_id="scheduled__2026-03-02T00:00:00+00:00")
    operator = ZtadWriteFindingsOperator(task_id="write_findings", outlets=[FINDINGS])
    result = operator.execute(context)
    assert result == {"findings": 2}
    assert calls[0].kwargs == {"run_id": "scheduled__2026-03-02T00:00:00+00:00", "dry_run": False}
    assert context["outlet_events"][FINDINGS].extra == {
        "day": "2026-03-02", "findings": 2, "run_id": "scheduled__2026-03-02T00:00:00+00:00",
    }


def test_a_dry_run_writes_nothing_skips_and_still_reports_its_counts(calls, source):
    context = context_for()
    operator = ZtadWriteFindingsOperator(task_id="write_findings", dry_run="True", outlets=[FINDINGS])
    with pytest.raises(AirflowSkipException, match="dry run for 2026-03-02: 2 findings computed"):
        operator.execute(context)
    assert calls[0].kwargs["dry_run"] is True
    assert context["ti"].pushed["return_value"] == {"findings": 2}
    assert FINDINGS not in context["outlet_events"]


# --------------------------------------------------------------------------- missing logs


def runs_of(home: Path):
    return FindingsStore(f"sqlite:///{home / 'findings.db'}").runs()


def test_missing_logs_fail_loudly_by_default_and_are_recorded(monkeypatch, source, tmp_path):
    monkeypatch.setattr(pipeline, "pull", missing_partition)
    expected = r"no log data for 2026-03-02: no such partition \(looked at /data/auth/date=2026-03-02\)"
    with pytest.raises(AirflowFailException, match=expected) as error:
        ZtadPullOperator(task_id="pull").execute(context_for(run_id="run-1"))
    assert "on_missing_partition='skip' or 'wait'" in str(error.value)
    runs = runs_of(tmp_path / "ztad-home")
    assert runs[["run_id", "status"]].to_dict("records") == [{"run_id": "run-1", "status": "failed"}]
    assert "no log data for 2026-03-02" in runs.loc[0, "message"]


def test_missing_logs_skip_the_day_when_asked_and_are_recorded(monkeypatch, source, tmp_path):
    monkeypatch.setattr(pipeline, "pull", missing_partition)
    with pytest.raises(AirflowSkipException, match="the day is skipped"):
        ZtadPullOperator(task_id="pull", on_missing_partition="skip").execute(context_for(run_id="run-2"))
    runs = runs_of(tmp_path / "ztad-home")
    assert runs[["run_id", "status"]].to_dict("records") == [{"run_id": "run-2", "status": "skipped"}]


def test_a_dry_run_records_no_missing_day(monkeypatch, source, tmp_path):
    monkeypatch.setattr(pipeline, "pull", missing_partition)
    with pytest.raises(AirflowSkipException):
        ZtadPullOperator(task_id="pull", on_missing_partition="skip", dry_run="True").execute(context_for())
    assert runs_of(tmp_path / "ztad-home").empty


def test_missing_logs_after_waiting_fail(monkeypatch, source):
    monkeypatch.setattr(pipeline, "pull", missing_partition)
    with pytest.raises(AirflowFailException, match="on_missing_partition='wait'"):
        ZtadPullOperator(task_id="pull", on_missing_partition="wait").execute(context_for())


def test_an_unknown_missing_partition_choice_fails_before_pulling(calls, source):
    expected = r"on_missing_partition must be one of \['fail', 'skip', 'wait'\]"
    with pytest.raises(AirflowFailException, match=expected):
        ZtadPullOperator(task_id="pull", on_missing_partition="ignore").execute(context_for())
    assert calls == []


def test_other_pull_errors_are_not_mistaken_for_missing_logs(monkeypatch, source, tmp_path):
    def broken(day, config):
        raise PermissionError("access denied to /data/auth")

    monkeypatch.setattr(pipeline, "pull", broken)
    with pytest.raises(PermissionError):
        ZtadPullOperator(task_id="pull", on_missing_partition="skip").execute(context_for())
    # Not skipped: the run stays as it started until the failure callback records it failed.
    assert list(runs_of(tmp_path / "ztad-home")["status"]) == ["running"]


# --------------------------------------------------------------------------- shards


def test_the_pre_pass_splits_the_day_and_returns_the_shards_to_map_over(calls, source):
    context = context_for()
    result = ZtadCrossUserOperator(task_id="cross_user", shards="3").execute(context)
    assert result == [{"index": 0, "count": 3}, {"index": 1, "count": 3}, {"index": 2, "count": 3}]
    assert [call.step for call in calls] == ["cross_user"] and calls[0].args == (3,)
    assert context["ti"].pushed["summary"] == {"shards": 0}


@pytest.mark.parametrize("shards", ["0", "many", 1000, None])
def test_a_bad_shard_count_fails_before_the_pre_pass(shards, calls, source):
    with pytest.raises(AirflowFailException, match="shards: "):
        ZtadCrossUserOperator(task_id="cross_user", shards=shards).execute(context_for())
    assert calls == []


@pytest.mark.parametrize("operator_class", [ZtadBaselinesOperator, ZtadScoreOperator])
def test_a_mapped_step_covers_its_shard(operator_class, calls, source):
    operator_class(task_id="step", shard={"index": 1, "count": 3}).execute(context_for())
    assert calls[0].kwargs == {"shard": shards.Shard(1, 3)}


@pytest.mark.parametrize("operator_class", [ZtadBaselinesOperator, ZtadScoreOperator])
def test_without_a_shard_a_step_covers_the_whole_day(operator_class, calls, source):
    operator_class(task_id="step").execute(context_for())
    assert calls[0].kwargs == {"shard": None}


@pytest.mark.parametrize("shard", [{"index": 3, "count": 3}, {"shard": 1}, "1/3"])
def test_a_shard_that_does_not_exist_fails_without_retries(shard, calls, source):
    with pytest.raises(AirflowFailException):
        ZtadScoreOperator(task_id="score", shard=shard).execute(context_for())
    assert calls == []


def test_sharded_detectors_and_write_steps_gather_the_shards_first(calls, source):
    ZtadDetectorsOperator(task_id="prepare_detectors", sharded=True).execute(context_for())
    ZtadWriteFindingsOperator(task_id="write_findings", sharded=True).execute(context_for(run_id="r1"))
    assert [call.step for call in calls] == ["gather+prepare_detectors", "gather+write_findings"]
    assert calls[1].kwargs == {"run_id": "r1", "dry_run": False}


@pytest.mark.parametrize(
    "detectors", [["isolation_forest", "ecod"], '["isolation_forest", "ecod"]', "isolation_forest, ecod"]
)
def test_the_detectors_come_as_a_list_json_or_text(detectors, calls, source):
    ZtadScoreOperator(task_id="score", detectors=detectors).execute(context_for())
    assert calls[0].config.detection.detectors == ("isolation_forest", "ecod")


@pytest.mark.parametrize("thresholds", [{"spray_min_users": 15, "travel_min_km": 300}, '{"spray_min_users": "15", "travel_min_km": 300}'])
def test_rule_thresholds_come_as_a_dict_or_json_over_the_environment(thresholds, calls, source, monkeypatch):
    monkeypatch.setenv("ZTAD_RULE_BRUTE_FORCE_MIN_FAILURES", "11")
    ZtadScoreOperator(task_id="score", rule_thresholds=thresholds).execute(context_for())
    got = calls[0].config.detection.rule_thresholds
    assert (got.spray_min_users, got.travel_min_km, got.brute_force_min_failures) == (15, 300.0, 11)


def test_empty_rule_thresholds_keep_the_defaults(calls, source):
    from ztad.config import RuleThresholds

    ZtadScoreOperator(task_id="score", rule_thresholds={}).execute(context_for())
    ZtadScoreOperator(task_id="score", rule_thresholds="").execute(context_for())
    assert [call.config.detection.rule_thresholds for call in calls] == [RuleThresholds()] * 2


@pytest.mark.parametrize(
    "thresholds, message",
    [
        ({"spray": 3}, "rule_thresholds: unknown rule threshold 'spray'"),
        ({"spray_min_users": "x"}, "rule_thresholds: spray_min_users='x' is not a whole number"),
        ("{broken", "rule_thresholds is not a JSON object"),
        ("[15]", "rule_thresholds must map threshold names to numbers"),
    ],
)
def test_bad_rule_thresholds_fail_without_retries(thresholds, message, calls, source):
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        ZtadScoreOperator(task_id="score", rule_thresholds=thresholds).execute(context_for())
    assert calls == []


@pytest.mark.parametrize("detectors", [["isolation_forest", "magic"], "[broken", [3]])
def test_unknown_detectors_fail_without_retries(detectors, calls, source):
    with pytest.raises(AirflowFailException, match="detector"):
        ZtadScoreOperator(task_id="score", detectors=detectors).execute(context_for())
    assert calls == []


# --------------------------------------------------------------------------- failures


def failure_context(task, run_id="run-9", params=None, error=None):
    return {**context_for(run_id=run_id), "task": task, "params": params or {},
            "exception": error or RuntimeError("the disk is full")}


@pytest.mark.postgres
def test_a_failed_task_leaves_a_failed_run_row(source, monkeypatch, empty_postgres_url):
    monkeypatch.setenv("ZTAD_DATABASE_URL", empty_postgres_url)
    record_failed_run(failure_context(ZtadScoreOperator(task_id="score")))
    with FindingsStore(empty_postgres_url) as store:
        runs = store.runs()
    assert runs[["run_id", "day", "status"]].to_dict("records") == [
        {"run_id": "run-9", "day": DAY, "status": "failed"}
    ]
    assert runs.loc[0, "message"] == "RuntimeError: the disk is full"


@pytest.mark.postgres
def test_a_failed_dry_run_or_foreign_task_records_nothing(source, monkeypatch, empty_postgres_url):
    from airflow.sdk import BaseOperator

    monkeypatch.setenv("ZTAD_DATABASE_URL", empty_postgres_url)
    record_failed_run(failure_context(ZtadScoreOperator(task_id="score"), params={"dry_run": True}))
    record_failed_run(failure_context(BaseOperator(task_id="other")))
    with FindingsStore(empty_postgres_url) as store:
        assert store.runs().empty


def test_recording_a_failure_never_raises(capfd):
    # No log source is configured: building the configuration fails inside the callback.
    record_failed_run(failure_context(ZtadScoreOperator(task_id="score")))
    assert "could not record the failed run" in "".join(capfd.readouterr())
