"""``make stack``: the production stack as local processes, from the project's environment.

Airflow 3's api-server, scheduler, dag-processor and triggerer, and two Celery workers (broker
Redis), run this checkout's ``dags/`` and ``plugins/``; Airflow's metadata and ztad's findings
live on the local PostgreSQL in two databases, created when missing. The connection
``ztad_findings`` and the Variable ``ztad_source`` are set in Airflow's metadata database, as
the README describes. Everything is configured through environment variables only, written to
``<home>/stack.env`` (``source`` it to use the ``airflow`` CLI against the stack)::

    python -m tests.support.stack up        # make stack
    python -m tests.support.stack down      # make stack-down: exactly what `up` started
    python -m tests.support.stack status

Each process runs in a session of its own, recorded in ``<home>/run/<name>.pid``
(:mod:`tests.support.processes`); its output goes to ``<home>/logs/<name>.log``. Secrets (the
Fernet key, the JWT secret that signs both REST tokens and the workers' task tokens) are made
once per home; the ``admin`` user's password is ``$ZTAD_STACK_PASSWORD``, else a random one
kept in ``<home>/passwords.json``.

This is development tooling, used by the Makefile and the end-to-end test, so it lives in
``tests/support``; production runs the same processes from ``docker-compose.yml`` or its own
deployment. Two workers on one machine need their own log-server ports and their own
``TaskInstance.hostname``, and they import ztad once before forking their tasks
(:mod:`tests.support.stack_worker`); each stack has its own Celery queue, so that two stacks
sharing a Redis never take each other's tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.support import processes
from tests.support.airflow_api import AirflowApi

REPO = Path(__file__).resolve().parents[2]
#: Environment variable holding a worker's name (see ``stack_worker.worker_hostname``).
WORKER_NAME = "ZTAD_STACK_WORKER"
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTHY_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def free_port(preferred: int = 0) -> int:
    """``preferred`` when nothing listens there on 127.0.0.1, else a port the system picks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class StackSettings:
    """Where the stack lives and what it talks to.

    :param home: the stack's folder: Airflow home, ztad home, PID files, process logs.
    :param postgres: the PostgreSQL server (its maintenance database is used to create the two).
    :param metadata_db: Airflow's metadata database (and Celery's results).
    :param findings_db: ztad's findings database, the connection ``ztad_findings``.
    :param redis: the Celery broker.
    :param logs: the log root that the Variable ``ztad_source`` names.
    :param api_port: the api-server's port (REST API, UI, Task Execution API); 0: any free one.
    :param workers: how many Celery workers; ``concurrency`` task slots each.
    :param variables: more Airflow Variables to set (``ztad_source`` is always set).
    :param extra_env: settings added to every process's environment (e.g. shorter timeouts).
    """

    home: Path = field(default_factory=lambda: REPO / "ztad-home" / "stack")
    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    metadata_db: str = "ztad_stack_airflow"
    findings_db: str = "ztad_stack_findings"
    redis: str = "redis://127.0.0.1:6379/0"
    logs: str = field(
        default_factory=lambda: os.environ.get("ZTAD_LOG_ROOT") or str(REPO / "ztad-home" / "logs")
    )
    api_port: int = 8080
    workers: int = 2
    concurrency: int = 2
    user: str = "admin"
    variables: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def env_file(self) -> Path:
        return self.home / "stack.env"

    def database_url(self, name: str, driver: str = "postgresql") -> str:
        """The URL of database ``name`` on the configured server, with ``driver`` as scheme."""
        server = self.postgres.split("://", 1)[1].rsplit("/", 1)[0]
        return f"{driver}://{server}/{name}"


# --------------------------------------------------------------------------- configuration


def stack_secrets(home: Path) -> dict[str, str]:
    """The Fernet key, JWT secret and API secret of the stack in ``home``, made on first use.

    Every process must share them (the JWT secret signs the workers' task tokens too) and
    they must survive a restart (the Fernet key encrypts stored connections).
    """
    path = home / "secrets.json"
    if not path.exists():
        from cryptography.fernet import Fernet

        home.mkdir(parents=True, exist_ok=True)
        made = {
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        }
        _write_private(path, json.dumps(made, indent=1))
    return json.loads(path.read_text())


def admin_password(settings: StackSettings) -> str:
    """The password of the stack's user: ``$ZTAD_STACK_PASSWORD``, else one made and kept.

    SimpleAuthManager reads it from ``<home>/passwords.json``.
    """
    path = settings.home / "passwords.json"
    given = os.environ.get("ZTAD_STACK_PASSWORD")
    known = json.loads(path.read_text()).get(settings.user) if path.exists() else None
    password = given or known or secrets.token_urlsafe(12)
    if password != known:
        _write_private(path, json.dumps({settings.user: password}))
    return password


def choose_ports(settings: StackSettings) -> dict[str, int]:
    """Free ports for the api-server, the scheduler's health check and the log servers."""
    ports: dict[str, int] = {}
    wanted = {"api": settings.api_port, "scheduler_health": 0, "triggerer_logs": 0}
    wanted.update({f"worker{index}_logs": 0 for index in range(1, settings.workers + 1)})
    for name, preferred in wanted.items():
        port = free_port(preferred)
        while port in ports.values():
            port = free_port(0)
        ports[name] = port
    return ports


def airflow_environment(settings: StackSettings, ports: dict[str, int], queue: str) -> dict[str, str]:
    """The settings every process of the stack shares (not the per-worker ones)."""
    airflow_home = settings.home / "airflow"
    api = f"http://127.0.0.1:{ports['api']}"
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "ZTAD_HOME": str(settings.home / "ztad"),
        "PYTHONPATH": str(REPO),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.database_url(
            settings.metadata_db, "postgresql+psycopg2"
        ),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports["api"]),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CELERY__BROKER_URL": settings.redis,
        "AIRFLOW__CELERY__RESULT_BACKEND": settings.database_url(settings.metadata_db, "db+postgresql"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.concurrency),
        "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "tests.support.stack_worker.CELERY_CONFIG",
        # An unacknowledged task is redelivered after this long: it must exceed the longest task.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports["scheduler_health"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["triggerer_logs"]),
        # A development stack sees new DAG files quickly.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "15",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        **stack_secrets(settings.home),
        **settings.extra_env,
    }


def worker_environment(shared: dict[str, str], ports: dict[str, int], index: int) -> dict[str, str]:
    """Worker ``index``'s own settings on top of the shared ones."""
    return {
        **shared,
        WORKER_NAME: f"worker{index}",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.support.stack_worker.worker_hostname",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports[f"worker{index}_logs"]),
    }


def clean_base_environment() -> dict[str, str]:
    """This process's environment without any Airflow or ztad setting of its own."""
    return {
        key: value for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "ZTAD_")) and key != "PYTHONPATH"
    }


def write_env_file(settings: StackSettings, shared: dict[str, str]) -> None:
    """``<home>/stack.env``: what to ``source`` to run the ``airflow`` CLI against the stack."""
    lines = [f"export {key}={_shell_quote(value)}" for key, value in sorted(shared.items())]
    lines.append(f"export PATH={_shell_quote(str(Path(sys.executable).parent))}:\"$PATH\"")
    _write_private(settings.env_file, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- databases


def create_databases(settings: StackSettings) -> None:
    """Create the metadata and findings databases when they are missing."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(settings.postgres, autocommit=True) as connection:
        for name in (settings.metadata_db, settings.findings_db):
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate_databases(settings: StackSettings, env: dict[str, str]) -> None:
    """Migrate Airflow's metadata database (``airflow db migrate``) and, meanwhile, the
    findings database (ztad's Alembic migrations)."""
    from ztad.store import FindingsStore

    log = settings.log_dir / "db-migrate.log"
    with open(log, "wb") as output:
        airflow = subprocess.Popen(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env,
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
        )
        try:
            with FindingsStore(settings.database_url(settings.findings_db, "postgresql+psycopg")) as store:
                store.create_schema()
        finally:
            airflow.wait(timeout=600)
    if airflow.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"airflow db migrate failed (see {log}):\n{tail}")


def drop_databases(settings: StackSettings) -> None:
    """Drop both databases (the end-to-end test's own, never those of ``make stack``)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(settings.postgres, autocommit=True) as connection:
        for name in (settings.metadata_db, settings.findings_db):
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            connection.execute(drop)


def configure_airflow(settings: StackSettings, api: AirflowApi) -> None:
    """Set the connection ``ztad_findings`` and the Variable ``ztad_source`` (and any other
    Variables of the settings) in Airflow's metadata database, through the REST API."""
    server = make_url(settings.database_url(settings.findings_db))
    api.set_connection({
        "connection_id": "ztad_findings", "conn_type": "postgres", "host": server.host,
        "port": server.port, "login": server.username, "password": server.password,
        "schema": server.database, "description": "ztad's findings database",
    })
    variables = {"ztad_source": json.dumps({"root": str(settings.logs)}), **settings.variables}
    for key, value in variables.items():
        api.set_variable(key, value)


# --------------------------------------------------------------------------- processes


def start_services(settings: StackSettings, shared: dict[str, str]) -> None:
    """Start the Airflow services, each in a session of its own (after the migrations)."""
    for service in AIRFLOW_SERVICES:
        command = [sys.executable, "-m", "airflow", service]
        processes.start(service, command, settings.run_dir, settings.log_dir, shared)


def start_workers(settings: StackSettings, shared: dict[str, str], ports: dict[str, int]) -> None:
    """Start the Celery workers, each in a session of its own.

    They need only Redis to start (tasks reach the metadata through the api-server), so they
    start, and load ztad, while the databases are migrated.
    """
    queue = shared["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    for index in range(1, settings.workers + 1):
        command = [
            sys.executable, "-m", "airflow", "celery", "worker",
            "--celery-hostname", f"worker{index}-{queue}@%h", "--queues", queue,
        ]
        env = worker_environment(shared, ports, index)
        processes.start(f"worker{index}", command, settings.run_dir, settings.log_dir, env)


def wait_until_ready(settings: StackSettings, api: str, timeout: float = 240.0) -> float:
    """Wait until the services report healthy and every worker is ready; return the seconds.

    :raises RuntimeError: when a process dies or the stack is not ready within ``timeout``.
    """
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        dead = [p.name for p in processes.recorded(settings.run_dir) if not p.alive]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} died while starting; {_log_tails(settings, dead)}")
        if _healthy(api) and all(_worker_ready(settings, i) for i in range(1, settings.workers + 1)):
            return time.monotonic() - began
        time.sleep(1)
    raise RuntimeError(f"the stack was not ready after {timeout:.0f} s; logs in {settings.log_dir}")


def _healthy(api: str) -> bool:
    try:
        health = httpx.get(f"{api}/api/v2/monitor/health", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return False
    return all((health.get(name) or {}).get("status") == "healthy" for name in HEALTHY_COMPONENTS)


def _worker_ready(settings: StackSettings, index: int) -> bool:
    log = settings.log_dir / f"worker{index}.log"
    return log.exists() and " ready." in log.read_text(errors="replace")


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """A started stack: where its API is, who may use it, how to reach its databases."""

    settings: StackSettings
    env: dict[str, str]
    ports: dict[str, int]
    password: str
    #: Seconds spent migrating the databases, then until every process was ready.
    migrate_seconds: float = 0.0
    ready_after: float = 0.0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def findings_url(self) -> str:
        return self.settings.database_url(self.settings.findings_db, "postgresql+psycopg")

    @property
    def metadata_url(self) -> str:
        return self.settings.database_url(self.settings.metadata_db, "postgresql+psycopg")

    def client(self) -> AirflowApi:
        """The REST API as the stack's user (a fresh JWT)."""
        return AirflowApi(self.api, self.settings.user, self.password)


def up(settings: StackSettings) -> Stack:
    """Start the stack and wait until it is ready.

    :raises RuntimeError: when processes of a stack in the same home still run, or when the
        stack does not come up (what it started is stopped again).
    """
    if any(process.members() for process in processes.recorded(settings.run_dir)):
        raise RuntimeError(f"a stack is already running in {settings.home}; stop it with `make stack-down`")
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    ports = choose_ports(settings)
    queue = f"ztad-{uuid.uuid4().hex[:8]}"
    shared = {**clean_base_environment(), **airflow_environment(settings, ports, queue)}
    password = admin_password(settings)
    write_env_file(settings, airflow_environment(settings, ports, queue))
    began = time.monotonic()
    create_databases(settings)
    start_workers(settings, shared, ports)
    stack = Stack(settings, shared, ports, password)
    try:
        migrate_databases(settings, shared)
        stack.migrate_seconds = time.monotonic() - began
        start_services(settings, shared)
        stack.ready_after = wait_until_ready(settings, stack.api)
        configure_airflow(settings, stack.client())
    except BaseException:
        down(settings)
        raise
    return stack


def down(settings: StackSettings, grace: float = 30.0) -> list[str]:
    """Stop exactly the processes that :func:`up` started in ``settings.home``; whatever is
    still running ``grace`` seconds after SIGTERM gets SIGKILL."""
    return processes.stop(settings.run_dir, grace)


def status(settings: StackSettings) -> dict[str, str]:
    """Each recorded process: ``running`` or ``stopped``."""
    return {
        process.name: "running" if process.alive else "stopped"
        for process in processes.recorded(settings.run_dir)
    }


# --------------------------------------------------------------------------- helpers


def _log_tails(settings: StackSettings, names: list[str]) -> str:
    tails = []
    for name in names:
        path = settings.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        tails.append(f"--- {path}:\n" + "\n".join(text.splitlines()[-15:]))
    return "\n".join(tails)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tests.support.stack", description=summary)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--home", type=Path, help="the stack's folder (default ztad-home/stack)")
    parser.add_argument(
        "--logs", help="log root for the Variable ztad_source ($ZTAD_LOG_ROOT, default ztad-home/logs)"
    )
    parser.add_argument("--port", type=int, default=8080, help="api-server port (a free one if taken)")
    args = parser.parse_args(argv)
    settings = StackSettings(api_port=args.port)
    if args.home:
        settings.home = args.home.resolve()
    if args.logs:
        settings.logs = args.logs
    try:
        return _command(args.command, settings)
    except RuntimeError as error:
        print(f"stack: error: {error}", file=sys.stderr)
        return 1


def _command(command: str, settings: StackSettings) -> int:
    if command == "up":
        stack = up(settings)
        print(f"stack ready after {stack.migrate_seconds:.0f} s of migrations and {stack.ready_after:.0f} s "
              f"of start-up: {stack.api} (user {settings.user}, "
              f"password in {settings.home / 'passwords.json'})")
        print(f"findings: {settings.database_url(settings.findings_db)}; logs from {settings.logs}")
        print(f"airflow CLI: source {settings.env_file}; stop: make stack-down")
    elif command == "down":
        stopped = down(settings)
        print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    else:
        for name, state in status(settings).items():
            print(f"{name}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
