"""The operator that writes the daily report when a day's findings land (``ztad.reports.daily``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ztad_airflow.assets import FINDINGS
from ztad_airflow.hooks import findings_database_url

if TYPE_CHECKING:
    from airflow.sdk import Context


class ZtadDailyReportOperator(BaseOperator):
    """Write the HTML report of each day whose findings triggered the run.

    The days come from the ``day`` of the triggering ``ztad_findings`` Asset events (a
    backfill that lands several days triggers one run for all of them), or from ``day`` when
    given (a manual run). Each report is ``<report_dir>/daily-YYYY-MM-DD.html``.

    :param findings_conn_id: Airflow connection of the findings database; without it
        ``ZTAD_DATABASE_URL``, else the SQLite file ``<ZTAD_HOME>/findings.db``.
    :param day: the day to report (templated, ``YYYY-MM-DD``); empty: the triggering days.
    :param report_dir: folder of the reports (templated); empty: ``<ZTAD_HOME>/reports``.
    :param trailing_days: days shown in the alerts-per-day figure (templated).
    """

    template_fields: Sequence[str] = ("findings_conn_id", "day", "report_dir", "trailing_days")
    ui_color = "#e1d5f0"

    def __init__(
        self,
        *,
        findings_conn_id: str = "ztad_findings",
        day: str | None = None,
        report_dir: str | None = None,
        trailing_days: int | str = 30,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.findings_conn_id = findings_conn_id
        self.day = day
        self.report_dir = report_dir
        self.trailing_days = trailing_days

    def execute(self, context: Context) -> list[dict]:
        from ztad.reports.daily import write_daily_report
        from ztad.store import FindingsStore

        days = self.days_to_report(context)
        out_dir = self.output_folder()
        trailing = _whole_number(self.trailing_days, "trailing_days")
        written = []
        with FindingsStore(self.database_url()) as store:
            for day in days:
                summary = write_daily_report(store, day, out_dir, trailing_days=trailing)
                self.log.info("daily report of %s: %s", day, summary)
                written.append(summary)
        return written

    def days_to_report(self, context: Context) -> list[date]:
        """The explicit ``day``, else the days of the triggering findings events.

        :raises AirflowSkipException: when neither names a day (nothing to report).
        """
        if self.day is not None and str(self.day).strip():
            try:
                return [date.fromisoformat(str(self.day).strip())]
            except ValueError:
                raise AirflowFailException(f"day must be YYYY-MM-DD, not {self.day!r}") from None
        events = (context.get("triggering_asset_events") or {}).get(FINDINGS, [])
        days = sorted({date.fromisoformat(e.extra["day"]) for e in events if (e.extra or {}).get("day")})
        if not days:
            raise AirflowSkipException(
                "no day to report: the run was not triggered by ztad_findings events; "
                "trigger it with the day, e.g. --conf '{\"day\": \"2026-03-20\"}'"
            )
        return days

    def output_folder(self) -> Path:
        """The reports' folder: ``report_dir``, else ``<ZTAD_HOME>/reports``."""
        if self.report_dir is not None and str(self.report_dir).strip():
            return Path(str(self.report_dir)).expanduser().resolve()
        from ztad.config import default_home

        return default_home() / "reports"

    def database_url(self) -> str:
        """The findings database: the connection, else the ztad defaults."""
        found = findings_database_url(self.findings_conn_id) if self.findings_conn_id else None
        if found is not None:
            url, masked = found
            self.log.info("findings database: %s (connection %r)", masked, self.findings_conn_id)
            return url
        from ztad.config import JobConfig

        url = os.environ.get("ZTAD_DATABASE_URL") or JobConfig.from_env().resolved_database_url
        self.log.info("no connection %r: reading the ztad default findings database", self.findings_conn_id)
        return url


def _whole_number(value: Any, name: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AirflowFailException(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise AirflowFailException(f"{name} must be at least 1, not {number}")
    return number
