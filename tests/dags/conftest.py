"""Airflow for the DAG tests: a temporary home, and its metadata database created once."""

import pytest

from tests.plugins.airflow_home import configure_airflow_environment

configure_airflow_environment()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (SQLite in the temporary home), migrated once per session."""
    from ztad_airflow.local import migrate_metadata_db

    migrate_metadata_db()


@pytest.fixture(scope="session")
def dag_bag():
    """The repo's ``dags/`` folder, parsed once."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.plugins.airflow_home import DAGS_FOLDER

    return DagBag(dag_folder=str(DAGS_FOLDER))
