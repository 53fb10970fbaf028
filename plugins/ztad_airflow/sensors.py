"""A sensor that waits for a day's logs when the run asks to wait for them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from airflow.sdk import BaseSensorOperator

from ztad_airflow.operators import ZtadJobMixin, missing_partition_outcome

if TYPE_CHECKING:
    from airflow.sdk import Context


class ZtadPartitionSensor(ZtadJobMixin, BaseSensorOperator):
    """Wait until the log source has data for the run's UTC day.

    It only waits when ``on_missing_partition`` is ``wait``; for ``fail`` and ``skip`` it
    succeeds at once and leaves the decision to :class:`ztad_airflow.operators.ZtadPullOperator`.
    It pokes in ``reschedule`` mode (no worker slot held between pokes) and fails when
    ``timeout`` passes, so a day whose logs never arrive ends loudly.

    :param on_missing_partition: ``fail``, ``skip`` or ``wait`` (templated).
    See :class:`ztad_airflow.operators.ZtadJobMixin` for the source parameters.
    """

    template_fields: Sequence[str] = (*ZtadJobMixin.job_template_fields, "on_missing_partition")
    ui_color = "#fff3c4"

    def __init__(
        self,
        *,
        on_missing_partition: str = "fail",
        findings_conn_id: str = "ztad_findings",
        source_variable: str = "ztad_source",
        source_conn_id: str = "ztad_source",
        home: str | None = None,
        history_days: int | str | None = None,
        target_fpr: float | str | None = None,
        detectors: Sequence[str] | str | None = None,
        rule_thresholds: dict | str | None = None,
        day: str | date | None = None,
        mode: str = "reschedule",
        poke_interval: timedelta | float = timedelta(minutes=10),
        timeout: timedelta | float = timedelta(hours=6),
        **kwargs,
    ) -> None:
        super().__init__(mode=mode, poke_interval=poke_interval, timeout=timeout, **kwargs)
        self._init_job(
            findings_conn_id, source_variable, source_conn_id, home, history_days, target_fpr,
            detectors, rule_thresholds, day,
        )
        self.on_missing_partition = on_missing_partition

    def poke(self, context: Context) -> bool:
        if missing_partition_outcome(self.on_missing_partition) != "wait":
            return True
        from ztad.ingest import available_days
        from ztad.store import safe_url

        day, config = self.day_and_config(context)
        present = day in set(available_days(config.source, config.flat_index_dir))
        where = safe_url(config.source.root)
        self.log.info("logs for %s under %s: %s", day, where, "present" if present else "not yet")
        return present
