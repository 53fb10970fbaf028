"""The Airflow plugin of ztad: registers what Airflow's own processes must find by name.

The scheduler evaluates the nightly deadline of ``ztad_daily``
(:class:`ztad_airflow.deadlines.NightlyDeadline`); a custom deadline reference is only
accepted when a plugin registers it. Airflow imports this file from the plugins folder.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ztad_airflow.deadlines import NightlyDeadline


class ZtadPlugin(AirflowPlugin):
    """Registers :class:`NightlyDeadline`."""

    name = "ztad"
    deadline_references = [NightlyDeadline]
