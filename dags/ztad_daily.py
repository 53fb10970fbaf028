"""
### ztad_daily: nightly anomaly detection on one UTC day of authentication logs

Each run covers one **data interval = one UTC calendar day** `[D 00:00, D+1 00:00)` and runs

`wait_for_logs → pull → cross_user → update_baselines[shards] → prepare_detectors →
score[shards] → write_findings`.

Every task calls `ztad.pipeline` for day D; the last one replaces D's
findings, incidents and run record in ONE transaction and updates the Asset `ztad_findings`
(the downstream DAG `ztad_report` is scheduled on it).

**Scale-out** (Param `shards`, default 1): `cross_user` applies the analysts' feedback,
settles the baseline, computes the signals that look across users (users one IP served today,
distinct users one source failed against in the last hour) ONCE over the whole day, and
splits the events into `shards` shards by a stable hash of the user id. `update_baselines` and
`score` are mapped over the shards (dynamic task mapping), so the Celery or Kubernetes
executor runs them on as many workers. The model is trained or loaded once, between the two,
on the whole day; `write_findings` gathers the shards and writes the day in one transaction.
A sharded day gives exactly the findings of an unsharded one. All tasks of a run must share
`ZTAD_HOME` (a shared volume or file system when workers are separate machines).

**Configuration** (nothing is read while this file is parsed):

- findings database: the connection `ztad_findings` (PostgreSQL, e.g.
  `AIRFLOW_CONN_ZTAD_FINDINGS=postgresql://ztad:***@db:5432/ztad`); without it
  `ZTAD_DATABASE_URL`, else the SQLite file `<ZTAD_HOME>/findings.db`;
- log source: the Variable `ztad_source`, JSON such as
  `{"root": "s3://bucket/auth", "format": "csv", "column_mapping": {}, "options": {}}`;
  else the connection `ztad_source` (the same JSON as its extra); else env `ZTAD_LOG_ROOT`.
  `format` is `csv`, `parquet`, `jsonl` or a log format (`sshd`, `windows`, `okta`,
  `entra`, `mapping`); `options` are its settings, e.g. for sshd `auth.log` partitions
  `{"year": "2026", "timezone": "Europe/Madrid"}`. Options `geoip_city_db` and
  `geoip_asn_db` (paths of MaxMind `.mmdb` files every worker can read) locate the addresses
  of every format: places for travel, autonomous systems for known networks;
- local state (baselines, models, files passed between tasks): env `ZTAD_HOME`;
- per-run choices: the Params below (trigger with config).

**Params**: `day` (the UTC day of a manual run, see below), `retrain` (train a new model), `target_fpr` (alert budget), `history_days`
(baseline window), `detectors` (ensemble members, e.g. `["isolation_forest", "ecod"]`; empty:
ztad's default), `rule_thresholds` (behavioural rule thresholds by name, e.g.
`{"spray_min_users": 15}`; empty: ztad's defaults), `shards` (shards of users, 1-64),
`dry_run` (compute, write no findings; a model it trains is registered), `on_missing_partition` (`fail`: fail loudly, default; `skip`: skip the day; `wait`: wait up to
6 h for the logs). A day without logs is recorded in the `runs` table as `failed` or
`skipped`, never as a quiet day; any task that fails for good leaves a `failed` runs row
(`on_failure_callback`) with the counts its steps reached, and `pull` writes a `running` row
first. A day with an empty partition is recorded `empty`; the first days of a deployment, before
the history can train a model, are `learning` days (the behavioural rules still flag; the row's
`lacking` says what the history lacks), and the model starts by itself after them.

**Failure safety**: every task retries 3 times with exponential backoff (2 min doubling, at
most 30 min) and has a timeout. Steps exchange files written atomically, and the write is one
transaction under a per-day PostgreSQL advisory lock: a killed or retried run never leaves a
partial day, and two overlapping runs of one day apply one after the other.

**Schedule**: `CronDataIntervalTimetable("0 0 * * *", timezone="UTC")`, so each run's data
interval is exactly the UTC day that ztad partitions logs by. Late logs are handled by
`on_missing_partition=wait`, not by shifting the window.

**Backfill**: `airflow backfill create --dag-id ztad_daily --from-date 2026-03-01
--to-date 2026-03-31 --max-active-runs 1` (never `--run-backwards`: days build on the
previous days' state). Days run one at a time, oldest first (`max_active_runs=1`), like
`ztad run --start 2026-03-01 --end 2026-03-31`, and give the same findings. Each day reads
only its own partition: the baselines are daily aggregates kept in `ZTAD_HOME`.

**A manual run of day D** names the day, never a logical date: Airflow 3.3's
`airflow dags trigger` infers a manual run's data interval from the moment it is triggered,
whatever `--logical-date` says. Either give the Param `day`:

- CLI: `airflow dags trigger ztad_daily --conf '{"day": "2026-03-20", "shards": 4}'`;
- REST API v2: `POST /api/v2/dags/ztad_daily/dagRuns` with
  `{"logical_date": null, "conf": {"day": "2026-03-20"}}`;
- UI: *Trigger* with the run configuration `{"day": "2026-03-20"}`;

or an explicit data interval of the day, through the REST API (`"logical_date":
"2026-03-20T00:00:00Z", "data_interval_start": "2026-03-20T00:00:00Z", "data_interval_end":
"2026-03-21T00:00:00Z"`) or the UI's trigger form (logical date and data interval fields). A run
with `day` has no logical date of the day, so a later backfill over that day runs it as usual;
a run with the explicit interval holds logical date D, like a scheduled run of D (a backfill
counts the day as done unless `--reprocess-behavior completed`). Scheduled and backfill runs
never take `day`: a backfill given `{"day": ...}` as its conf fails instead of processing one
day N times.

**Deadline**: a nightly (scheduled) run of day D that is not done by the hour the Variable
`ztad_deadline` gives (`HH:MM` UTC on D+1, default `06:00`) is recorded by a callback in the
triggerer (Airflow's DeadlineAlert): one warning line `ztad deadline missed: ...` in the
triggerer's log, and the same text as the callback's output in Airflow's metadata database.
Manual and backfill runs have no deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, AsyncCallback, CronDataIntervalTimetable, DeadlineAlert, Param

from ztad_airflow.assets import FINDINGS
from ztad_airflow.deadlines import NightlyDeadline, record_missed_deadline
from ztad_airflow.operators import (
    ON_MISSING_PARTITION,
    ZtadBaselinesOperator,
    ZtadCrossUserOperator,
    ZtadDetectorsOperator,
    ZtadPullOperator,
    ZtadScoreOperator,
    ZtadWriteFindingsOperator,
    record_failed_run,
    rule_threshold_properties,
)
from ztad_airflow.sensors import ZtadPartitionSensor

# Settings every task shares: rendered from the run's Params when the task runs.
JOB = {
    "findings_conn_id": "ztad_findings",
    "source_variable": "ztad_source",
    "source_conn_id": "ztad_source",
    "history_days": "{{ params.history_days }}",
    "target_fpr": "{{ params.target_fpr }}",
    "detectors": "{{ params.detectors }}",
    "rule_thresholds": "{{ params.rule_thresholds }}",
    "day": "{{ params.day }}",
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
    deadline=DeadlineAlert(
        reference=NightlyDeadline(),
        interval=timedelta(0),
        callback=AsyncCallback(record_missed_deadline),
        name="findings by the morning",
    ),
    render_template_as_native_obj=True,
    tags=["ztad", "security", "anomaly-detection"],
    default_args={
        "owner": "ztad",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(hours=1),
        "on_failure_callback": record_failed_run,
    },
    params={
        "day": Param(
            None, type=["null", "string"], format="date",
            description="The UTC day to process (YYYY-MM-DD) in a manual run; empty: the day "
            "of the run's data interval (scheduled and backfill runs).",
        ),
        "retrain": Param(False, type="boolean", description="Train a new model for this day."),
        "target_fpr": Param(
            0.001, type="number", exclusiveMinimum=0, exclusiveMaximum=0.5,
            description="Alert budget: fraction of normal events allowed to alert.",
        ),
        "history_days": Param(
            30, type="integer", minimum=1, maximum=366,
            description="Baseline window: the day is judged against this many days before it.",
        ),
        "detectors": Param(
            None, type=["null", "array"], items={"type": "string"}, minItems=1, uniqueItems=True,
            description="Ensemble members, e.g. [\"isolation_forest\", \"ecod\"]; empty for "
            "ztad's default (Isolation Forest, One-Class SVM, autoencoder, ECOD).",
        ),
        "rule_thresholds": Param(
            {}, type="object", properties=rule_threshold_properties(), additionalProperties=False,
            description="Behavioural rule thresholds by name, e.g. {\"spray_min_users\": 15}; "
            "empty for ztad's defaults (or ZTAD_RULE_<NAME> in the workers' environment).",
        ),
        "shards": Param(
            1, type="integer", minimum=1, maximum=64,
            description="Shards of users that compute and score the day in parallel tasks.",
        ),
        "dry_run": Param(False, type="boolean", description="Compute everything, write no findings (a model it trains is registered)."),
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
    cross_user = ZtadCrossUserOperator(task_id="cross_user", shards="{{ params.shards }}", **JOB)
    update_baselines = ZtadBaselinesOperator.partial(task_id="update_baselines", **JOB).expand(
        shard=cross_user.output
    )
    prepare_detectors = ZtadDetectorsOperator(
        task_id="prepare_detectors",
        retrain="{{ params.retrain }}",
        sharded=True,
        execution_timeout=timedelta(hours=2),
        **JOB,
    )
    score = ZtadScoreOperator.partial(task_id="score", **JOB).expand(shard=cross_user.output)
    write_findings = ZtadWriteFindingsOperator(
        task_id="write_findings",
        dry_run="{{ params.dry_run }}",
        sharded=True,
        outlets=[FINDINGS],
        execution_timeout=timedelta(minutes=30),
        **JOB,
    )

    wait_for_logs >> pull >> cross_user >> update_baselines >> prepare_detectors >> score
    score >> write_findings
