"""The support modules' own tests use Airflow: a temporary home, configured before it is imported."""

from tests.support.airflow_home import configure_airflow_environment

configure_airflow_environment()
