"""Airflow for the plugin tests: a temporary home, configured before Airflow is imported."""

import pytest

from tests.support.airflow_home import configure_airflow_environment

configure_airflow_environment()

#: Settings that would leak from the developer's shell into what the tests expect.
_OUTSIDE_SETTINGS = (
    "AIRFLOW_CONN_ZTAD_FINDINGS",
    "AIRFLOW_CONN_ZTAD_SOURCE",
    "AIRFLOW_VAR_ZTAD_SOURCE",
    "ZTAD_DATABASE_URL",
    "ZTAD_LOG_ROOT",
    "ZTAD_LOG_FORMAT",
)


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch, tmp_path):
    """Each test starts with no ztad connection, Variable or environment setting of its own."""
    for name in _OUTSIDE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZTAD_HOME", str(tmp_path / "ztad-home"))
