"""Operators that each run one step of :mod:`ztad.pipeline` for the run's UTC day.

The day is the one the run names in its ``day`` Param, else its data interval's
(:func:`ztad_airflow.intervals.run_day`).

An operator holds only strings and templated values (connection ids, a Variable key, the
``ZTAD_HOME`` folder, detection settings). ``execute`` builds a :class:`ztad.config.JobConfig`
from the hooks, calls ONE pipeline function and returns its small JSON-able result to XCom.
The steps hand data to each other through files in ``<ZTAD_HOME>/work/day=YYYY-MM-DD``, so all
tasks of a run need the same ``ZTAD_HOME`` (a shared volume when workers are separate machines).

A day can be split into shards of users (:mod:`ztad.pipeline.sharding`): :class:`ZtadCrossUserOperator`
prepares the split and returns the list of shards, over which the features and scoring steps
are mapped (``.partial(...).expand(shard=cross_user.output)``); the detectors and write steps
then gather the shards' files (``sharded=True``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ztad_airflow.hooks import (
    FindingsConnectionError,
    SourceConfigError,
    ZtadSourceHook,
    findings_database_url,
)
from ztad_airflow.intervals import DataIntervalError, run_day

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ztad.config import DetectionConfig, JobConfig, SourceConfig

#: Errors in a run's settings, which no retry can fix.
CONFIGURATION_ERRORS = (DataIntervalError, SourceConfigError, FindingsConnectionError)

#: What to do when the source has no logs at all for the day.
ON_MISSING_PARTITION = ("fail", "skip", "wait")


class ZtadJobMixin:
    """The settings every ztad task shares, and how they become a :class:`JobConfig`.

    :param findings_conn_id: Airflow connection of the findings database. When it is not
        defined, ``ZTAD_DATABASE_URL`` or the embedded SQLite file ``<home>/findings.db`` is used.
    :param source_variable: Variable holding the log source JSON (see :mod:`ztad_airflow.hooks`).
    :param source_conn_id: connection whose extra holds the log source JSON, when the
        Variable is not set.
    :param home: folder for ztad's state, work files and models; ``$ZTAD_HOME`` when empty.
    :param history_days: baseline window in days; the ztad default when empty.
    :param target_fpr: alert budget (fraction of normal events allowed to alert); the ztad
        default when empty.
    :param detectors: ensemble members (registered detector names), as a list, JSON text or
        comma-separated text; the ztad default when empty.
    :param rule_thresholds: behavioural rule thresholds by name (``{"spray_min_users": 15}``,
        a dict or JSON text; see :class:`ztad.config.RuleThresholds`), over those of the
        environment (``ZTAD_RULE_<NAME>``); the ztad defaults when empty.
    :param day: the UTC day to process, ``YYYY-MM-DD`` (templated, e.g. ``{{ params.day }}``);
        empty: the day of the run's data interval.
    """

    job_template_fields: Sequence[str] = (
        "day",
        "findings_conn_id",
        "source_variable",
        "source_conn_id",
        "home",
        "history_days",
        "target_fpr",
        "detectors",
        "rule_thresholds",
    )

    def _init_job(
        self,
        findings_conn_id: str = "ztad_findings",
        source_variable: str = "ztad_source",
        source_conn_id: str = "ztad_source",
        home: str | None = None,
        history_days: int | str | None = None,
        target_fpr: float | str | None = None,
        detectors: Sequence[str] | str | None = None,
        rule_thresholds: dict | str | None = None,
        day: str | date | None = None,
    ) -> None:
        self.day = day
        self.findings_conn_id = findings_conn_id
        self.source_variable = source_variable
        self.source_conn_id = source_conn_id
        self.home = home
        self.history_days = history_days
        self.target_fpr = target_fpr
        self.detectors = detectors
        self.rule_thresholds = rule_thresholds

    def day_and_config(self, context: Context) -> tuple[date, JobConfig]:
        """The run's day and configuration; a setting that is wrong fails the task at once,
        without retries, since retrying cannot fix it."""
        try:
            dag_run = context.get("dag_run")
            day = run_day(
                self.day, context.get("data_interval_start"), context.get("data_interval_end"),
                getattr(dag_run, "run_type", None),
            )
            return day, self.job_config()
        except CONFIGURATION_ERRORS as error:
            raise AirflowFailException(f"{type(error).__name__}: {error}") from error

    def source_config(self) -> SourceConfig:
        """The log source, from the Variable, the connection or the environment."""
        hook = ZtadSourceHook(source_conn_id=self.source_conn_id, variable_key=self.source_variable)
        return hook.get_source_config()

    def job_config(self) -> JobConfig:
        """Build the run's configuration: environment defaults, then Airflow's settings."""
        from ztad.config import JobConfig
        from ztad.store import safe_url

        overrides: dict[str, Any] = {"source": self.source_config(), **self._database_override()}
        if _present(self.home):
            overrides["home"] = Path(str(self.home)).expanduser().resolve()
        config = JobConfig.from_env(**overrides)
        self.log.info("ztad home %s, logs from %s", config.home, safe_url(config.source.root))
        return config.with_overrides(detection=self._detection(config.detection))

    def _database_override(self) -> dict[str, str]:
        """``{"database_url": ...}`` from the findings connection, or nothing when it is absent."""
        found = findings_database_url(self.findings_conn_id) if self.findings_conn_id else None
        if found is None:
            self.log.info(
                "no connection %r: findings go to $ZTAD_DATABASE_URL if set, else to "
                "<ZTAD_HOME>/findings.db", self.findings_conn_id,
            )
            return {}
        url, masked = found
        self.log.info("findings database: %s (connection %r)", masked, self.findings_conn_id)
        return {"database_url": url}

    def _detection(self, detection: DetectionConfig) -> DetectionConfig:
        """``detection`` with the history window and alert budget given to this task."""
        if _present(self.history_days):
            history_days = _positive_int(self.history_days, "history_days")
            detection = replace(detection, history_days=history_days)
        if _present(self.target_fpr):
            detection = replace(detection, target_fpr=_fraction(self.target_fpr, "target_fpr"))
        if _present(self.detectors) and self.detectors != []:
            detection = replace(detection, detectors=detector_names(self.detectors))
        if _present(self.rule_thresholds) and self.rule_thresholds != {}:
            detection = replace(
                detection, rule_thresholds=rule_thresholds(self.rule_thresholds, detection.rule_thresholds)
            )
        return detection


class ZtadStepOperator(ZtadJobMixin, BaseOperator):
    """Base of the pipeline step operators: one step for the run's UTC day.

    Subclasses name the step in ``step`` and implement :meth:`run_step`.
    See :class:`ZtadJobMixin` for the shared parameters.
    """

    step: str = ""
    template_fields: Sequence[str] = ZtadJobMixin.job_template_fields
    ui_color = "#dbe9f6"

    def __init__(
        self,
        *,
        findings_conn_id: str = "ztad_findings",
        source_variable: str = "ztad_source",
        source_conn_id: str = "ztad_source",
        home: str | None = None,
        history_days: int | str | None = None,
        target_fpr: float | str | None = None,
        detectors: Sequence[str] | str | None = None,
        rule_thresholds: dict | str | None = None,
        day: str | date | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self._init_job(
            findings_conn_id, source_variable, source_conn_id, home, history_days, target_fpr,
            detectors, rule_thresholds, day,
        )

    def execute(self, context: Context) -> Any:
        day, config = self.day_and_config(context)
        self.log.info("ztad %s for %s%s", self.step, day, self.describe_part())
        result = self.run_step(day, config, context)
        self.log.info("ztad %s for %s%s: %s", self.step, day, self.describe_part(), result)
        return result

    def describe_part(self) -> str:
        """What part of the day the task covers, for its log lines ("" for the whole day)."""
        return ""

    def run_step(self, day: date, config: JobConfig, context: Context) -> dict:
        """Run the step for ``day`` and return its small result."""
        raise NotImplementedError


class ZtadPullOperator(ZtadStepOperator):
    """Load the day's events into the work folder and quarantine bad rows (``pipeline.pull``).

    :param on_missing_partition: ``fail`` (default), ``skip`` or ``wait`` when the source has
        no logs for the day. ``fail`` fails the task at once, without retries; ``skip`` skips
        the rest of the run. Both record the outcome in the ``runs`` table, so a missing day
        is never mistaken for a quiet one. ``wait`` is handled by
        :class:`ztad_airflow.sensors.ZtadPartitionSensor` upstream; if the logs are still
        missing when this task runs, it fails.
    :param dry_run: in a dry run a missing day is not recorded in the ``runs`` table.
    """

    step = "pull"
    template_fields: Sequence[str] = (
        *ZtadStepOperator.template_fields, "on_missing_partition", "dry_run",
    )

    def __init__(
        self, *, on_missing_partition: str = "fail", dry_run: bool | str = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.on_missing_partition = on_missing_partition
        self.dry_run = dry_run

    def run_step(self, day: date, config: JobConfig, context: Context) -> dict:
        from ztad import pipeline
        from ztad.ingest import MissingPartitionError
        from ztad.pipeline.run_records import start_run

        outcome = missing_partition_outcome(self.on_missing_partition)
        start_run(day, config, context["run_id"], dry_run=_flag(self.dry_run, "dry_run"))
        try:
            return pipeline.pull(day, config)
        except MissingPartitionError as error:
            message = f"{error} [on_missing_partition={outcome!r}]"
            status = "skipped" if outcome == "skip" else "failed"
            if not _flag(self.dry_run, "dry_run"):
                record_missing_day(day, config, context["run_id"], status, message, self.log)
            if outcome == "skip":
                raise AirflowSkipException(f"{message}: the day is skipped") from error
            raise AirflowFailException(
                f"{message}. Load the day's logs and clear this task, or trigger the run with "
                "on_missing_partition='skip' or 'wait'"
            ) from error


class ZtadCrossUserOperator(ZtadStepOperator):
    """Prepare the day for its shards (``pipeline.cross_user``): apply the analysts' feedback,
    settle the baseline, count across users once over the whole day, and split the events.

    Returns the list of shards (``[{"index": 0, "count": n}, ...]``) to map the features and
    scoring steps over; the step's counts go to the XCom key ``summary``.

    :param shards: how many shards of users (templated; 1 to ``ztad.pipeline.shards.MAX_SHARDS``).
    """

    step = "cross_user"
    template_fields: Sequence[str] = (*ZtadStepOperator.template_fields, "shards")

    def __init__(self, *, shards: int | str = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shards = shards

    def run_step(self, day: date, config: JobConfig, context: Context) -> list[dict]:
        from ztad import pipeline
        from ztad.pipeline.shards import all_shards

        count = shard_count(self.shards)
        summary = pipeline.cross_user(day, config, count)
        context["ti"].xcom_push(key="summary", value=summary)
        self.log.info("ztad cross_user for %s: %s", day, summary)
        return [shard.as_dict() for shard in all_shards(count)]


class ZtadShardMixin:
    """A step that covers one shard of the day when given ``shard``, else the whole day.

    :param shard: ``{"index": i, "count": n}``, one item of :class:`ZtadCrossUserOperator`'s
        result (the argument a mapped task is expanded over); ``None`` for the whole day.
    """

    shard: dict | None = None

    def shard_of_task(self):
        """The :class:`ztad.pipeline.shards.Shard` of this task, or ``None`` for the whole day."""
        if self.shard is None:
            return None
        from ztad.pipeline.shards import Shard, ShardError

        try:
            return Shard.from_dict(self.shard)
        except ShardError as error:
            raise AirflowFailException(str(error)) from error

    def describe_part(self) -> str:
        return "" if self.shard is None else f" ({self.shard_of_task()})"


class ZtadBaselinesOperator(ZtadShardMixin, ZtadStepOperator):
    """Build the baseline as of the day and compute its features (``pipeline.update_baselines``),
    for the whole day or for one shard of its users."""

    step = "update_baselines"

    def __init__(self, *, shard: dict | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shard = shard

    def run_step(self, day: date, config: JobConfig, context: Context) -> dict:
        from ztad import pipeline

        return pipeline.update_baselines(day, config, shard=self.shard_of_task())


class ZtadDetectorsOperator(ZtadStepOperator):
    """Load the current model or train a new one (``pipeline.prepare_detectors``).

    :param retrain: train a new model even when a recent one exists (templated; a bool or
        ``"true"``/``"false"``).
    :param sharded: the day's features were computed in shards: gather them first
        (``ztad.pipeline.prepare_sharded_detectors``).
    """

    step = "prepare_detectors"
    template_fields: Sequence[str] = (*ZtadStepOperator.template_fields, "retrain")

    def __init__(self, *, retrain: bool | str = False, sharded: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.retrain = retrain
        self.sharded = sharded

    def run_step(self, day: date, config: JobConfig, context: Context) -> dict:
        from ztad import pipeline

        prepare = pipeline.prepare_sharded_detectors if self.sharded else pipeline.prepare_detectors
        return prepare(day, config, retrain=_flag(self.retrain, "retrain"))


class ZtadScoreOperator(ZtadShardMixin, ZtadStepOperator):
    """Score the day's events and flag those over the threshold (``pipeline.score``), for the
    whole day or for one shard of its users."""

    step = "score"

    def __init__(self, *, shard: dict | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shard = shard

    def run_step(self, day: date, config: JobConfig, context: Context) -> dict:
        from ztad import pipeline

        return pipeline.score(day, config, shard=self.shard_of_task())


class ZtadWriteFindingsOperator(ZtadStepOperator):
    """Replace the day's findings and run record in one transaction (``pipeline.write_findings``).

    Give it the findings Asset as outlet: each successful write then emits an Asset event
    whose ``extra`` holds ``day``, ``findings`` and ``run_id``.

    :param dry_run: compute everything but write no findings (templated). The task then ends
        skipped, so that no Asset event claims that findings landed; its counts still go to
        XCom.
    :param sharded: the day was scored in shards: gather their files first
        (``ztad.pipeline.write_sharded_findings``).
    """

    step = "write_findings"
    template_fields: Sequence[str] = (*ZtadStepOperator.template_fields, "dry_run")
    ui_color = "#c8e6c9"

    def __init__(self, *, dry_run: bool | str = False, sharded: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dry_run = dry_run
        self.sharded = sharded

    def run_step(self, day: date, config: JobConfig, context: Context) -> dict:
        from ztad import pipeline

        dry_run = _flag(self.dry_run, "dry_run")
        write = pipeline.write_sharded_findings if self.sharded else pipeline.write_findings
        result = write(day, config, run_id=context["run_id"], dry_run=dry_run)
        if dry_run:
            context["ti"].xcom_push(key="return_value", value=result)
            raise AirflowSkipException(
                f"dry run for {day}: {result.get('findings')} findings computed, nothing written"
            )
        for asset in self.outlets:
            context["outlet_events"][asset].extra = {
                "day": day.isoformat(),
                "findings": result.get("findings"),
                "run_id": context["run_id"],
            }
        return result


# --------------------------------------------------------------------------- failures


def record_failed_run(context: Context) -> None:
    """``on_failure_callback`` of the ztad tasks: leave a ``failed`` row in the ``runs`` table.

    Best effort (``ztad.pipeline.record_failure``): it logs its own problems and never raises,
    so the task's original error stays the one Airflow reports. Nothing is written for a dry
    run, or for a task that is not a ztad task.

    :param context: the failed task's Airflow context.
    """
    task = context.get("task")
    log = getattr(task, "log", None) or logging.getLogger(__name__)
    try:
        if not isinstance(task, ZtadJobMixin):
            return
        if _flag((context.get("params") or {}).get("dry_run", False), "dry_run"):
            return
        from ztad import pipeline

        day, config = task.day_and_config(context)
        error = context.get("exception") or f"task {task.task_id} failed"
        if pipeline.record_failure(day, config, context["run_id"], error):
            log.info("recorded the failed run %s of %s in the runs table", context["run_id"], day)
    except Exception:  # the task's own error is the one that matters
        log.exception("could not record the failed run in the runs table")


# --------------------------------------------------------------------------- helpers


def missing_partition_outcome(value: Any) -> str:
    """Check and return an ``on_missing_partition`` setting (``fail``, ``skip`` or ``wait``)."""
    outcome = str(value).strip().lower() if _present(value) else "fail"
    if outcome not in ON_MISSING_PARTITION:
        raise AirflowFailException(
            f"on_missing_partition must be one of {list(ON_MISSING_PARTITION)}, not {value!r}"
        )
    return outcome


def record_missing_day(
    day: date, config: JobConfig, run_id: str, status: str, message: str, log
) -> None:
    """Leave a ``runs`` row for a day without logs, so that the gap is visible in SQL too.

    Best effort (``ztad.pipeline.run_records.record_outcome``): when the database cannot be
    reached the row waits in ``<ZTAD_HOME>/runs-fallback.jsonl`` for the next run, and the task
    still fails or skips with the original message.
    """
    from ztad.pipeline.run_records import record_outcome

    if not record_outcome(day, config, run_id, status, message):
        log.warning("could not record the %s run of %s in the runs table: it waits in the fallback log",
                    status, day)


def shard_count(value: Any) -> int:
    """Check and return a templated number of shards."""
    from ztad.pipeline.shards import ShardError, check_count

    try:
        number = int(str(value).strip()) if isinstance(value, str) else value
        return check_count(number)
    except (ShardError, ValueError) as error:
        raise AirflowFailException(f"shards: {error}") from None


def detector_names(value: Any) -> tuple[str, ...]:
    """Check and return the detector names of a templated ``detectors`` setting.

    :param value: a list of names, JSON text of one, or comma-separated names.
    """
    from ztad.detection.detectors import DETECTORS

    names = value
    if isinstance(value, str):
        text = value.strip()
        try:
            names = json.loads(text) if text.startswith("[") else [n.strip() for n in text.split(",")]
        except json.JSONDecodeError:
            raise AirflowFailException(f"detectors is not a JSON list of names: {value!r}") from None
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise AirflowFailException(f"detectors must be a list of detector names, not {value!r}")
    unknown = sorted(set(names) - set(DETECTORS))
    if unknown or not names:
        raise AirflowFailException(
            f"unknown detector(s) {unknown or names!r}; choose among {sorted(DETECTORS)}"
        )
    return tuple(names)


def rule_threshold_properties() -> dict[str, dict]:
    """JSON schema properties of the DAG Param ``rule_thresholds``: every threshold of
    :class:`ztad.config.RuleThresholds` by name, a whole number for counts. Written out rather
    than read from ``ztad``, which DAG parsing never imports (a test keeps the two in step)."""
    counts = ("spray_min_users", "brute_force_min_failures", "success_after_min_failures",
              "large_transfer_min_observations", "large_transfer_max_peer_surge",
              "off_hours_max_own_events", "off_hours_min_night_days", "scanning_max_attempts",
              "new_to_peers_min_group")
    names = ("travel_min_km", "travel_min_kmh", "spray_min_users", "brute_force_min_failures",
             "success_after_min_failures", "large_transfer_min_ratio", "large_transfer_min_z",
             "large_transfer_min_observations", "large_transfer_max_peer_surge",
             "large_transfer_single_min_ratio", "off_hours_min_hours",
             "off_hours_min_rarity", "off_hours_night_end", "off_hours_night_min_hours",
             "off_hours_evening_start", "off_hours_max_own_events", "off_hours_min_night_days",
             "min_maturity", "rare_sensitive_max_peer_share",
             "scanning_max_attempts", "scanning_max_minutes", "new_to_peers_min_group")
    return {name: {"type": "integer" if name in counts else "number", "minimum": 0} for name in names}


def rule_thresholds(value: Any, base):
    """Check and return the thresholds of a templated ``rule_thresholds`` setting over ``base``.

    :param value: threshold name -> number, as a dict or JSON text.
    :param base: the :class:`ztad.config.RuleThresholds` to change.
    """
    from ztad.config import rule_thresholds as parse

    values = value
    if isinstance(value, str):
        try:
            values = json.loads(value)
        except json.JSONDecodeError:
            raise AirflowFailException(f"rule_thresholds is not a JSON object: {value!r}") from None
    if not isinstance(values, dict):
        raise AirflowFailException(f"rule_thresholds must map threshold names to numbers, not {value!r}")
    try:
        return parse(values, base, where="rule_thresholds")
    except ValueError as error:
        raise AirflowFailException(str(error)) from None


def _present(value: Any) -> bool:
    """Whether a templated value was given (an empty rendering means "use the default")."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none"):
        return False
    raise AirflowFailException(f"{name} must be true or false, not {value!r}")


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AirflowFailException(
            f"{name} must be a whole number of days, not {value!r}"
        ) from None
    if number < 1:
        raise AirflowFailException(f"{name} must be at least 1, not {number}")
    return number


def _fraction(value: Any, name: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise AirflowFailException(
            f"{name} must be a number between 0 and 1, not {value!r}"
        ) from None
    if not 0.0 < number < 1.0:
        raise AirflowFailException(f"{name} must be between 0 and 1 (exclusive), not {number}")
    return number
