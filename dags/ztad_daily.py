"""
### ztad_daily: nightly anomaly detection on one UTC day of authentication logs

Each run covers one **data interval = one UTC calendar day** `[D 00:00, D+1 00:00)` and runs
`wait_for_logs → pull → update_baselines → prepare_detectors → score → write_findings`.
Every task calls one function of `ztad.pipeline` for day D; the last one replaces D's
findings and run record in one transaction and updates the Asset `ztad_findings`.

**Configuration** (nothing is read while this file is parsed):

- findings database: the connection `ztad_findings` (PostgreSQL); without it
  `ZTAD_DATABASE_URL`, else the SQLite file `<ZTAD_HOME>/findings.db`;
- log source: the Variable `ztad_source`, JSON such as
  `{"root": "s3://bucket/auth", "format": "csv", "column_mapping": {}, "options": {}}`;
  else the connection `ztad_source` (the same JSON as its extra); else env `ZTAD_LOG_ROOT`;
- local state (baselines, models, files passed between tasks): env `ZTAD_HOME`, which all
  tasks of a run must share;
- per-run choices: the Params below (trigger with config).

**Params**: `retrain` (train a new model), `target_fpr` (alert budget), `history_days`
(baseline window), `dry_run` (compute, write nothing), `on_missing_partition`
(`fail`: fail loudly, default; `skip`: skip the day; `wait`: wait up to 6 h for the logs).
A day without logs is recorded in the `runs` table as `failed` or `skipped`, never as a quiet day.

**Schedule**: `CronDataIntervalTimetable("0 0 * * *", timezone="UTC")`, so each run's data
interval is exactly the UTC day that ztad partitions logs by (a `0 2 * * *` cron would give
02:00-to-02:00 windows that straddle two partitions). Late logs are handled by
`on_missing_partition=wait`, not by shifting the window.

**Backfill**: `airflow backfill create --dag-id ztad_daily --from-date 2026-03-01
--to-date 2026-03-31 --max-active-runs 1`. Days build on the previous days' state
(baselines learn each scored day), so they run one at a time, oldest first
(`max_active_runs=1`), like `ztad run --start ... --end ...`.

**A manual run of day D** needs the logical date `D+1 00:00 UTC`, because Airflow gives a
manual run the last complete interval before its logical date
(`airflow dags trigger ztad_daily --logical-date 2026-03-21T00:00:00+00:00` processes
2026-03-20; in Python, `ztad_airflow.intervals.manual_logical_date(day)`). Scheduled and
backfill runs of day D have the logical date D. A backfill skips logical dates that already
have a run, manual ones included: pass `--reprocess-behavior completed` to redo such days.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from ztad_airflow.assets import FINDINGS
from ztad_airflow.operators import (
    ON_MISSING_PARTITION,
    ZtadBaselinesOperator,
    ZtadDetectorsOperator,
    ZtadPullOperator,
    ZtadScoreOperator,
    ZtadWriteFindingsOperator,
)
from ztad_airflow.sensors import ZtadPartitionSensor

# Settings every task shares: rendered from the run's Params when the task runs.
JOB = {
    "findings_conn_id": "ztad_findings",
    "source_variable": "ztad_source",
    "source_conn_id": "ztad_source",
    "history_days": "{{ params.history_days }}",
    "target_fpr": "{{ params.target_fpr }}",
}

with DAG(
    dag_id="ztad_daily",
    description="Nightly anomaly detection on one UTC day of authentication logs",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    render_template_as_native_obj=True,
    tags=["ztad", "security", "anomaly-detection"],
    default_args={
        "owner": "ztad",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=1),
    },
    params={
        "retrain": Param(False, type="boolean", description="Train a new model for this day."),
        "target_fpr": Param(
            0.005, type="number", exclusiveMinimum=0, exclusiveMaximum=0.5,
            description="Alert budget: fraction of normal events allowed to alert.",
        ),
        "history_days": Param(
            30, type="integer", minimum=1, maximum=366,
            description="Baseline window: the day is judged against this many days before it.",
        ),
        "dry_run": Param(False, type="boolean", description="Compute everything, write nothing."),
        "on_missing_partition": Param(
            "fail", enum=list(ON_MISSING_PARTITION),
            description="When the day has no logs: fail loudly, skip the day, or wait for them.",
        ),
    },
) as dag:
    wait_for_logs = ZtadPartitionSensor(
        task_id="wait_for_logs",
        on_missing_partition="{{ params.on_missing_partition }}",
        poke_interval=timedelta(minutes=10),
        timeout=timedelta(hours=6),
        execution_timeout=timedelta(minutes=10),
        **JOB,
    )
    pull = ZtadPullOperator(
        task_id="pull",
        on_missing_partition="{{ params.on_missing_partition }}",
        dry_run="{{ params.dry_run }}",
        **JOB,
    )
    update_baselines = ZtadBaselinesOperator(task_id="update_baselines", **JOB)
    prepare_detectors = ZtadDetectorsOperator(
        task_id="prepare_detectors",
        retrain="{{ params.retrain }}",
        execution_timeout=timedelta(hours=2),
        **JOB,
    )
    score = ZtadScoreOperator(task_id="score", **JOB)
    write_findings = ZtadWriteFindingsOperator(
        task_id="write_findings",
        dry_run="{{ params.dry_run }}",
        outlets=[FINDINGS],
        execution_timeout=timedelta(minutes=30),
        **JOB,
    )

    wait_for_logs >> pull >> update_baselines >> prepare_detectors >> score >> write_findings
