"""The stack's configuration: ports, environment, secrets and passwords, and its commands.

The stack itself is started by the end-to-end test (tests/dags/test_dag_stack.py).
"""

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import processes, stack

QUEUE = "ztad-test"


@pytest.fixture
def settings(tmp_path):
    return stack.StackSettings(home=tmp_path / "stack", logs="/data/auth", api_port=0, workers=2)


@pytest.fixture
def ports(settings):
    return stack.choose_ports(settings)


def test_ports_are_distinct_and_free(ports):
    assert set(ports) == {"api", "scheduler_health", "triggerer_logs", "worker1_logs", "worker2_logs"}
    assert len(set(ports.values())) == len(ports)
    for port in ports.values():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_a_taken_preferred_port_is_replaced_by_a_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert stack.free_port(busy) != busy


def test_every_process_runs_this_checkout_on_celery_postgres_and_redis(settings, ports):
    env = stack.airflow_environment(settings, ports, QUEUE)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(stack.REPO / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(stack.REPO / "plugins")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/ztad_stack_airflow")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://postgres@127.0.0.1:5432/ztad_stack_airflow"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == QUEUE
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://127.0.0.1:{ports['api']}/execution/"
    assert env["ZTAD_HOME"] == str(settings.home / "ztad")


def test_workers_differ_in_name_and_log_server_port_only(settings, ports):
    shared = stack.airflow_environment(settings, ports, QUEUE)
    first, second = (stack.worker_environment(shared, ports, index) for index in (1, 2))
    differing = {key for key in first if first[key] != second.get(key)}
    assert differing == {stack.WORKER_NAME, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"}
    assert first["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "tests.support.stack_worker.worker_hostname"


def test_settings_of_the_callers_own_airflow_do_not_leak_in(monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", "/somewhere/else")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
    monkeypatch.setenv("ZTAD_DATABASE_URL", "sqlite:///other.db")
    base = stack.clean_base_environment()
    assert not [key for key in base if key.startswith(("AIRFLOW", "ZTAD_"))]
    assert base["PATH"] == os.environ["PATH"]


def test_secrets_are_made_once_per_home_and_kept_private(settings):
    first = stack.stack_secrets(settings.home)
    assert set(first) == {
        "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"
    }
    assert stack.stack_secrets(settings.home) == first
    assert stat.S_IMODE((settings.home / "secrets.json").stat().st_mode) == 0o600


def test_the_password_is_made_once_or_taken_from_the_environment(settings, monkeypatch):
    monkeypatch.delenv("ZTAD_STACK_PASSWORD", raising=False)
    made = stack.admin_password(settings)
    assert len(made) >= 12 and stack.admin_password(settings) == made
    monkeypatch.setenv("ZTAD_STACK_PASSWORD", "chosen-one")
    assert stack.admin_password(settings) == "chosen-one"
    assert json.loads((settings.home / "passwords.json").read_text()) == {"admin": "chosen-one"}


def test_the_env_file_gives_the_airflow_cli_the_stacks_settings(settings, ports):
    env = stack.airflow_environment(settings, ports, QUEUE)
    stack.write_env_file(settings, env)
    script = f"source {settings.env_file} && echo $AIRFLOW__DATABASE__SQL_ALCHEMY_CONN && command -v airflow"
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert shown[0] == env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert Path(shown[1]).parent == Path(sys.executable).parent, "the airflow CLI of this environment"


def test_database_urls_keep_the_server_and_change_the_database(settings):
    assert settings.database_url("x") == "postgresql://postgres@127.0.0.1:5432/x"
    assert settings.database_url("x", "postgresql+psycopg") == "postgresql+psycopg://postgres@127.0.0.1:5432/x"


def test_down_with_nothing_started_stops_nothing(settings, capsys):
    assert stack.down(settings) == []
    assert stack.main(["down", "--home", str(settings.home)]) == 0
    assert "nothing was running" in capsys.readouterr().out


def test_up_refuses_while_a_stack_of_the_same_home_runs(settings):
    processes.start("scheduler", [sys.executable, "-c", "import time; time.sleep(600)"],
                    settings.run_dir, settings.log_dir, dict(os.environ))
    try:
        assert stack.status(settings) == {"scheduler": "running"}
        with pytest.raises(RuntimeError, match="already running"):
            stack.up(settings)
        assert stack.main(["up", "--home", str(settings.home)]) == 1
    finally:
        assert stack.down(settings) == ["scheduler"]
    assert stack.status(settings) == {}


@pytest.mark.postgres
def test_databases_are_created_when_missing_and_dropped(settings, postgres_server_url):
    from sqlalchemy.engine import make_url

    server = make_url(postgres_server_url).set(drivername="postgresql", database="postgres")
    settings.postgres = server.render_as_string(hide_password=False)
    settings.metadata_db, settings.findings_db = "ztad_stack_unit_airflow", "ztad_stack_unit_findings"
    import psycopg

    def existing():
        with psycopg.connect(settings.postgres) as connection:
            query = "SELECT datname FROM pg_database WHERE datname LIKE 'ztad_stack_unit_%'"
            rows = connection.execute(query)
            return sorted(name for (name,) in rows)

    try:
        stack.create_databases(settings)
        stack.create_databases(settings)  # idempotent
        assert existing() == ["ztad_stack_unit_airflow", "ztad_stack_unit_findings"]
    finally:
        stack.drop_databases(settings)
    assert existing() == []
