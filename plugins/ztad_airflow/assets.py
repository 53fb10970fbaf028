"""Assets that ztad's DAGs produce and consume."""

from __future__ import annotations

from airflow.sdk import Asset

#: The findings table. ``ztad_daily`` updates it each time a day's findings land; each event
#: carries ``{"day", "findings", "run_id"}`` in its ``extra`` for downstream DAGs.
FINDINGS = Asset(name="ztad_findings", uri="ztad://findings")
