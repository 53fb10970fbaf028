"""docker-compose.yml and docker/ checked without Docker: structure, references and settings agree."""

import copy
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
INIT_SQL = REPO / "docker" / "postgres" / "init-databases.sh"

AIRFLOW_SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
LONG_RUNNING = ("postgres", *AIRFLOW_SERVICES, "redis", "airflow-worker")
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::?[-?](?P<default>[^}]*))?\}")


def resolve(text: str) -> str:
    """The value Compose gives ``text`` with no variables set: ``${X:-default}`` -> ``default``."""
    return _VARIABLE.sub(lambda match: match.group("default") or "", str(text)).replace("$$", "$")


def dependencies(service: dict) -> list[str]:
    depends = service.get("depends_on") or []
    return list(depends) if isinstance(depends, (list, dict)) else []


def dangling_dependencies(compose: dict) -> list[tuple[str, str]]:
    """``(service, missing target)`` for every depends_on naming no service."""
    services = compose["services"]
    return [
        (name, target)
        for name, service in services.items()
        for target in dependencies(service)
        if target not in services
    ]


def missing_healthchecks(compose: dict, names) -> list[str]:
    return [name for name in names if "test" not in (compose["services"][name].get("healthcheck") or {})]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: resolve(value) for key, value in env.items()}


def mounts(service: dict) -> dict[str, str]:
    """Container path -> host path or volume name."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target = resolve(volume).split(":")[:2]
        found[target] = source
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# --------------------------------------------------------------------------- structure


def test_the_stack_has_postgres_and_the_airflow_3_services(compose):
    assert {"postgres", "airflow-init", *AIRFLOW_SERVICES} <= set(compose["services"])
    commands = {compose["services"][name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"api-server", "scheduler", "dag-processor", "triggerer"}


def test_every_dependency_names_a_service(compose):
    assert dangling_dependencies(compose) == []


def test_a_dependency_on_a_missing_service_is_noticed(compose):
    broken = copy.deepcopy(compose)
    depends = broken["services"]["airflow-scheduler"]["depends_on"]
    depends["airflow-webserver"] = {"condition": "service_healthy"}
    assert dangling_dependencies(broken) == [("airflow-scheduler", "airflow-webserver")]


def test_long_running_services_have_healthchecks(compose):
    assert missing_healthchecks(compose, LONG_RUNNING) == []


def test_a_service_without_healthcheck_is_noticed(compose):
    broken = copy.deepcopy(compose)
    del broken["services"]["airflow-triggerer"]["healthcheck"]
    assert missing_healthchecks(broken, LONG_RUNNING) == ["airflow-triggerer"]


def test_airflow_waits_for_a_healthy_postgres_and_a_finished_init(compose):
    for name in AIRFLOW_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert set(compose["services"]["airflow-init"]["depends_on"]) == {"postgres"}


def test_init_migrates_both_databases_and_prepares_the_admin(compose):
    script = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in script
    assert "create_schema()" in script and 'ZtadFindingsHook(findings_conn_id="ztad_findings")' in script
    assert "simple_auth_manager_passwords.json" in script
    assert compose["services"]["airflow-init"].get("restart") == "no"


def test_celery_scale_out_is_an_optional_profile(compose):
    for name in ("redis", "airflow-worker"):
        assert compose["services"][name]["profiles"] == ["celery"]
    for name in ("postgres", "airflow-init", *AIRFLOW_SERVICES):
        assert "profiles" not in compose["services"][name]


# --------------------------------------------------------------------------- settings


def airflow_like(compose):
    return [name for name in compose["services"] if name.startswith("airflow-")]


def test_findings_connection_matches_the_postgres_service_and_init_script(compose):
    postgres = environment(compose["services"]["postgres"])
    init_sql = INIT_SQL.read_text()
    for name in airflow_like(compose):
        url = make_url(environment(compose["services"][name])["AIRFLOW_CONN_ZTAD_FINDINGS"])
        assert url.get_backend_name() == "postgresql", name
        assert (url.host, url.port) == ("postgres", 5432), name
        assert (url.username, url.database) == ("ztad", "ztad"), name
        assert url.password == postgres["ZTAD_DB_PASSWORD"], name
    assert "CREATE ROLE ztad LOGIN PASSWORD :'ztad_password'" in init_sql
    assert "CREATE DATABASE ztad OWNER ztad" in init_sql


def test_metadata_database_matches_the_postgres_service_and_init_script(compose):
    postgres = environment(compose["services"]["postgres"])
    init_sql = INIT_SQL.read_text()
    for name in airflow_like(compose):
        url = make_url(environment(compose["services"][name])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert (url.host, url.port) == ("postgres", 5432), name
        assert (url.username, url.database) == ("airflow", "airflow"), name
        assert url.password == postgres["AIRFLOW_DB_PASSWORD"], name
    assert "CREATE DATABASE airflow OWNER airflow" in init_sql


def test_the_init_script_is_mounted_into_postgres(compose):
    target = "/docker-entrypoint-initdb.d/10-init-databases.sh"
    assert mounts(compose["services"]["postgres"])[target] == "./docker/postgres/init-databases.sh"


def test_airflow_services_share_the_settings_that_must_agree(compose):
    shared = (
        "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__EXECUTOR",
        "ZTAD_HOME", "AIRFLOW_CONN_ZTAD_FINDINGS", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    )
    values = {
        name: tuple(environment(compose["services"][name]).get(key) for key in shared)
        for name in airflow_like(compose)
    }
    assert len(set(values.values())) == 1, values
    api = environment(compose["services"]["airflow-api-server"])
    assert api["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"
    assert api["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_airflow_services_mount_dags_plugins_logs_and_the_shared_state(compose):
    for name in airflow_like(compose):
        found = mounts(compose["services"][name])
        assert found["/opt/airflow/dags"] == "./dags", name
        assert found["/opt/airflow/plugins"] == "./plugins", name
        assert found["/opt/ztad/logs"], name
        assert found["/opt/airflow/ztad-home"] == "ztad-home", name
        assert environment(compose["services"][name])["ZTAD_HOME"] == "/opt/airflow/ztad-home"
    assert "ztad-home" in compose["volumes"]


def test_every_airflow_service_runs_the_project_image(compose):
    for name in airflow_like(compose):
        build = compose["services"][name]["build"]
        assert (build["context"], build["dockerfile"]) == (".", "docker/Dockerfile"), name


def test_nothing_secret_is_written_into_the_file_without_a_variable(compose):
    text = COMPOSE.read_text()
    for match in re.finditer(r"://[^:/\s]+:(?P<password>[^@\s]+)@", text):
        assert match.group("password").startswith("${"), f"a literal password in {match.group(0)}"


# --------------------------------------------------------------------------- the image


def locked_version(package: str) -> str:
    lock = (REPO / "requirements.lock").read_text()
    found = re.search(rf"^{re.escape(package)}==(\S+)$", lock, re.MULTILINE)
    assert found, f"{package} is not pinned in requirements.lock"
    return found.group(1)


def test_the_image_is_the_locked_airflow_with_the_project_installed_under_the_lock():
    dockerfile = DOCKERFILE.read_text()
    airflow = locked_version("apache-airflow")
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow)}-python3\.11$", dockerfile, re.MULTILINE)
    assert "--constraint requirements.lock" in dockerfile
    assert f'"apache-airflow=={airflow}"' in dockerfile
    for copied in ("requirements.lock", "pyproject.toml", "ztad", "dags", "plugins"):
        assert re.search(rf"^COPY .*\b{copied}\b", dockerfile, re.MULTILINE), copied


def test_the_build_context_leaves_out_the_local_environment():
    lines = (REPO / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "everything is left out unless listed"
    assert "!ztad/" in rules and not any(rule.startswith("!.venv") for rule in rules)
