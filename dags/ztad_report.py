"""
### ztad_report: the daily report, written when a day's findings land

Scheduled on the Asset `ztad_findings`: every successful `write_findings` of `ztad_daily`
emits an Asset event whose `extra` holds `{"day", "findings", "run_id"}`, and this DAG then
writes `<ZTAD_HOME>/reports/daily-<day>.html` for each triggering day (a backfill that lands
several days before this DAG runs gives one run that reports all of them).

The report is one self-contained HTML page built from the findings database only, with no
labels: the day's volumes (rows read, quarantined, scored, flagged), the categories of the
reasons behind its findings, its top incidents (its top findings when the database has no
incidents table), and the findings per day over the trailing `trailing_days` days.

**Configuration**: the findings database comes from the connection `ztad_findings` (else
`ZTAD_DATABASE_URL`, else `<ZTAD_HOME>/findings.db`). A dry run of `ztad_daily` emits no Asset
event, so it triggers no report.

**Params**: `day` (report this day instead of the triggering ones, `YYYY-MM-DD`; for a manual
run: `airflow dags trigger ztad_report --conf '{"day": "2026-03-20"}'`), `trailing_days`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Param

from ztad_airflow.assets import FINDINGS
from ztad_airflow.report import ZtadDailyReportOperator

with DAG(
    dag_id="ztad_report",
    description="The daily report of ztad's findings, written when a day's findings land",
    doc_md=__doc__,
    schedule=[FINDINGS],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    render_template_as_native_obj=True,
    tags=["ztad", "security", "report"],
    default_args={
        "owner": "ztad",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=20),
    },
    params={
        "day": Param(
            None, type=["null", "string"], format="date",
            description="Report this day (YYYY-MM-DD) instead of the triggering days.",
        ),
        "trailing_days": Param(
            30, type="integer", minimum=1, maximum=366,
            description="Days shown in the findings-per-day figure.",
        ),
    },
) as dag:
    ZtadDailyReportOperator(
        task_id="daily_report",
        findings_conn_id="ztad_findings",
        day="{{ params.day }}",
        trailing_days="{{ params.trailing_days }}",
    )
