"""Airflow for the DAG tests: a temporary home, configured before Airflow is imported; its
metadata database is the session's `airflow_db` (tests/fixtures/airflow.py)."""

import pytest

from tests.support.airflow_home import configure_airflow_environment

configure_airflow_environment()


@pytest.fixture(scope="session")
def dag_bag():
    """The repo's ``dags/`` folder, parsed once."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.support.airflow_home import DAGS_FOLDER

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server_url):
    """A findings database of the test module's own: the end-to-end modules write the same
    days, and each must see only its own runs."""
    yield from _module_database(postgres_server_url)


@pytest.fixture(scope="module")
def second_module_postgres_url(postgres_server_url):
    """Another findings database of the module's own, for a second state folder: one findings
    database holds the model registry (the models' digests) of one state folder."""
    yield from _module_database(postgres_server_url)


def _module_database(postgres_server_url):
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(postgres_server_url)
    name = f"ztad_dags_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
