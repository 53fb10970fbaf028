"""docker-compose.yml checked without Docker: structure, references and settings agree."""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
#: The repository's top level; the stack needs nothing outside it (``ztad-home`` is the local,
#: ignored state folder where ``make demo`` writes its logs).
TOP_LEVEL = {"dags", "plugins", "ztad", "tests", "bench", ".ci", "ztad-home"}
INIT_TARGET = "/docker-entrypoint-initdb.d/10-init-databases.sh"

AIRFLOW_SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
#: The scoring API and the dashboard: ztad's own processes, on the project image.
ZTAD_SERVICES = ("api", "dashboard")
LONG_RUNNING = ("postgres", *AIRFLOW_SERVICES, "redis", "airflow-worker", *ZTAD_SERVICES)
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
#: The variables an operator must set (in .env): the stack has no default for them.
REQUIRED = ("POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "ZTAD_DB_PASSWORD", "ZTAD_API_TOKEN")
#: An .env with the required variables and nothing else.
DOT_ENV = {
    "POSTGRES_PASSWORD": "pg-9f2c41", "AIRFLOW_DB_PASSWORD": "af-77d0e3", "ZTAD_DB_PASSWORD": "zt-0b5a18",
    "ZTAD_API_TOKEN": "api-3c61e0",
}
#: Secrets that airflow-init generates into the airflow-config volume, and the Airflow
#: settings that read them.
GENERATED = {
    "fernet_key": "AIRFLOW__CORE__FERNET_KEY_CMD",
    "jwt_secret": "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
    "api_secret_key": "AIRFLOW__API__SECRET_KEY_CMD",
}


class MissingVariable(ValueError):
    """A ``${NAME:?message}`` whose variable is not set: Compose refuses to start."""


def resolve(text: str, env: dict | None = None) -> str:
    """The value Compose gives ``text`` under the variables ``env`` (:data:`DOT_ENV` by
    default): ``${X:-default}``, ``${X:?message}`` (an error when X is unset or empty), the
    escape ``$$`` -> a literal ``$``."""
    env = DOT_ENV if env is None else env

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        if op == ":?" and not value:
            raise MissingVariable(f"required variable {name} is missing a value: {arg}")
        if op == ":-" and not value:
            return arg
        return value or ""

    return _VARIABLE.sub(substitute, str(text))


def missing_variables(text: str, env: dict) -> set[str]:
    """Variables that Compose requires (``${X:?...}``) and ``env`` leaves unset or empty."""
    return {
        m.group("name") for m in _VARIABLE.finditer(text)
        if m.group("op") == ":?" and not env.get(m.group("name"))
    }


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


def environment(service: dict, env: dict | None = None) -> dict[str, str]:
    """The service's environment as Compose resolves it under the variables ``env``."""
    values = service.get("environment") or {}
    if isinstance(values, list):
        values = dict(item.split("=", 1) for item in values)
    return {key: resolve(value, env) for key, value in values.items()}


def mounts(service: dict) -> dict[str, str]:
    """Container path -> host path or volume name."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target = resolve(volume).split(":")[:2]
        found[target] = source
    return found


def init_script(compose: dict) -> str:
    """The PostgreSQL init script as the container sees it (Compose's ``$$`` unescaped)."""
    mounted = {c["target"]: c["source"] for c in compose["services"]["postgres"]["configs"]}
    return resolve(compose["configs"][mounted[INIT_TARGET]]["content"])


def dockerfile(compose: dict, service: str = "airflow-scheduler") -> str:
    return resolve(compose["services"][service]["build"]["dockerfile_inline"])


def host_paths(compose: dict) -> set[str]:
    """Every host path the stack reads: bind mounts, build contexts and config files."""
    found = set()
    for service in compose["services"].values():
        found |= {source for source in mounts(service).values() if source.startswith(".")}
        if "build" in service:
            found.add(service["build"]["context"])
            found |= {service["build"][key] for key in ("dockerfile",) if key in service["build"]}
    found |= {c["file"] for c in (compose.get("configs") or {}).values() if "file" in c}
    return found


def outside_top_level(compose: dict) -> list[str]:
    """Host paths below a folder that is not part of the repository's fixed top level."""
    return sorted(
        path for path in host_paths(compose)
        if Path(path).parts and Path(path).parts[0] not in TOP_LEVEL
    )


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
    init_sql = init_script(compose)
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
    init_sql = init_script(compose)
    for name in airflow_like(compose):
        url = make_url(environment(compose["services"][name])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert (url.host, url.port) == ("postgres", 5432), name
        assert (url.username, url.database) == ("airflow", "airflow"), name
        assert url.password == postgres["AIRFLOW_DB_PASSWORD"], name
    assert "CREATE DATABASE airflow OWNER airflow" in init_sql


def test_the_init_script_is_given_to_postgres_and_reads_its_passwords_from_the_environment(compose):
    script = init_script(compose)
    assert "ON_ERROR_STOP=1" in script
    for name in ("AIRFLOW_DB_PASSWORD", "ZTAD_DB_PASSWORD"):
        assert f'"${{{name}:?' in script and f'="${name}"' in script, name
    # Compose would substitute a single "$" itself, from the host's environment.
    raw = compose["configs"]["init-databases"]["content"]
    assert "$" not in raw.replace("$$", "")


def test_the_stack_needs_nothing_outside_the_repositorys_top_level(compose):
    assert outside_top_level(compose) == []
    assert not (REPO / "docker").exists()


def test_a_file_outside_the_top_level_is_noticed(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-init"]["build"] = {"context": ".", "dockerfile": "docker/Dockerfile"}
    broken["services"]["postgres"]["volumes"].append("./docker/postgres/init.sh:/init.sh:ro")
    assert outside_top_level(broken) == ["./docker/postgres/init.sh", "docker/Dockerfile"]


def test_airflow_services_share_the_settings_that_must_agree(compose):
    shared = (
        *GENERATED.values(), "AIRFLOW__CORE__EXECUTOR",
        "ZTAD_HOME", "AIRFLOW_CONN_ZTAD_FINDINGS", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    )
    values = {
        name: tuple(environment(compose["services"][name]).get(key) for key in shared)
        for name in airflow_like(compose)
    }
    assert len(set(values.values())) == 1, values
    api = environment(compose["services"]["airflow-api-server"])
    assert api["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"
    assert api["AIRFLOW__API_AUTH__JWT_SECRET_CMD"] == "cat /opt/airflow/config/jwt_secret"


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
    images = {compose["services"][name]["image"] for name in airflow_like(compose)}
    assert images == {"${ZTAD_IMAGE:-ztad-airflow:latest}"}
    for name in airflow_like(compose):
        build = compose["services"][name]["build"]
        assert build["context"] == ".", name
        assert dockerfile(compose, name) == dockerfile(compose), name


def test_nothing_secret_is_written_into_the_file_without_a_variable(compose):
    text = COMPOSE.read_text()
    for match in re.finditer(r"://[^:/\s]+:(?P<password>[^@\s]+)@", text):
        assert match.group("password").startswith("${"), f"a literal password in {match.group(0)}"


# --------------------------------------------------------------------------- fail closed

#: Variable names that hold secrets.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$")


def secret_defaults(text: str) -> list[tuple[str, str]]:
    """``(variable, default)`` for every secret-looking variable with a non-empty default."""
    return [
        (m.group("name"), m.group("arg"))
        for m in _VARIABLE.finditer(text)
        if m.group("name") and _SECRET_NAME.search(m.group("name"))
        and m.group("op") in (":-", "-") and m.group("arg")
    ]


def published_beyond_loopback(compose: dict, env: dict) -> list[str]:
    """Port mappings that, under ``env``, listen on more than 127.0.0.1."""
    found = []
    for name, service in compose["services"].items():
        for mapping in service.get("ports") or []:
            if not resolve(mapping, env).startswith("127.0.0.1:"):
                found.append(f"{name}: {mapping}")
    return found


def test_compose_refuses_to_start_without_the_database_passwords(compose):
    text = COMPOSE.read_text()
    assert missing_variables(text, {}) == set(REQUIRED)
    assert missing_variables(text, DOT_ENV) == set()
    for name in ("postgres", *AIRFLOW_SERVICES):
        with pytest.raises(MissingVariable, match="missing a value: set it in .env"):
            environment(compose["services"][name], env={})


def test_an_empty_password_in_env_is_refused_too():
    assert missing_variables(COMPOSE.read_text(), {**DOT_ENV, "ZTAD_DB_PASSWORD": ""}) == {"ZTAD_DB_PASSWORD"}


def test_no_secret_has_a_default_value():
    assert secret_defaults(COMPOSE.read_text()) == []


def test_a_default_password_is_noticed():
    insecure = COMPOSE.read_text().replace(
        "${POSTGRES_PASSWORD:?set it in .env, see the header of docker-compose.yml}", "${POSTGRES_PASSWORD:-postgres}"
    )
    assert secret_defaults(insecure) == [("POSTGRES_PASSWORD", "postgres")]
    assert secret_defaults("key: ${AIRFLOW_FERNET_KEY:-}") == []  # empty: nothing to guess


def test_with_only_the_passwords_set_every_secret_is_the_operators_or_generated(compose):
    for name in airflow_like(compose):
        env = environment(compose["services"][name])
        urls = [make_url(env[key]) for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONN_ZTAD_FINDINGS")]
        assert [url.password for url in urls] == [DOT_ENV["AIRFLOW_DB_PASSWORD"], DOT_ENV["ZTAD_DB_PASSWORD"]], name
        # Airflow reads the generated secrets from files; no value is written into the stack.
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
            assert key not in env, (name, key)
        for file, setting in GENERATED.items():
            assert env[setting] == f"cat /opt/airflow/config/{file}", (name, setting)
    postgres = environment(compose["services"]["postgres"])
    assert postgres["POSTGRES_PASSWORD"] == DOT_ENV["POSTGRES_PASSWORD"]
    assert environment(compose["services"]["airflow-init"])["AIRFLOW_ADMIN_PASSWORD"] == ""


def test_ports_listen_on_loopback_by_default(compose):
    assert [s for s in compose["services"] if compose["services"][s].get("ports")] == [
        "postgres", "airflow-api-server", "api", "dashboard",
    ]
    assert published_beyond_loopback(compose, DOT_ENV) == []
    opened = {**DOT_ENV, "ZTAD_BIND_ADDRESS": "0.0.0.0"}
    assert published_beyond_loopback(compose, opened) == [
        "postgres: ${ZTAD_BIND_ADDRESS:-127.0.0.1}:${ZTAD_PG_PORT:-5433}:5432",
        "airflow-api-server: ${ZTAD_BIND_ADDRESS:-127.0.0.1}:${AIRFLOW_PORT:-8080}:8080",
        "api: ${ZTAD_BIND_ADDRESS:-127.0.0.1}:${ZTAD_API_PORT:-8000}:8000",
        "dashboard: ${ZTAD_BIND_ADDRESS:-127.0.0.1}:${ZTAD_DASHBOARD_PORT:-8501}:8501",
    ]


def test_a_port_open_to_every_address_is_noticed(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-api-server"]["ports"] = ["8080:8080"]
    assert published_beyond_loopback(broken, DOT_ENV) == ["airflow-api-server: 8080:8080"]


# --------------------------------------------------------------------------- the init step


def init_command(compose: dict, config: Path) -> str:
    """airflow-init's script as its container runs it, with the config volume at ``config``
    and the plugins read from the repository."""
    script = resolve(compose["services"]["airflow-init"]["command"][1])
    return script.replace("/opt/airflow/config", str(config)).replace("/opt/airflow/plugins", str(REPO / "plugins"))


def run_init(compose: dict, tmp_path: Path, findings_url: str, **extra_env) -> subprocess.CompletedProcess:
    """Run the init script with the project's Python and a stub ``airflow`` command (Airflow's
    own migration needs its database; the findings database is migrated for real)."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stubs = {
        "python": f'exec "{sys.executable}" "$@"',
        "airflow": 'echo "airflow $*" >> "$(dirname "$0")/airflow.calls"',
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW_CONN_ZTAD_FINDINGS": findings_url,
        **extra_env,
    }
    command = ["bash", "-c", init_command(compose, config)]
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=300)


def _plain_postgres(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.mark.postgres
def test_init_generates_the_secrets_once_and_migrates_the_findings_database(compose, tmp_path, empty_postgres_url):
    from cryptography.fernet import Fernet

    from ztad.store import FindingsStore

    first = run_init(compose, tmp_path, _plain_postgres(empty_postgres_url))
    assert first.returncode == 0, first.stderr
    config = tmp_path / "config"
    secrets = {name: (config / name).read_text().strip() for name in GENERATED}
    Fernet(secrets["fernet_key"].encode())  # a valid key
    assert len(secrets["jwt_secret"]) >= 48 and secrets["jwt_secret"] != secrets["api_secret_key"]
    password = json.loads((config / "simple_auth_manager_passwords.json").read_text())["admin"]
    assert len(password) >= 20 and f"generated the password of the admin user: {password}" in first.stderr
    assert (tmp_path / "bin" / "airflow.calls").read_text() == "airflow db migrate\n"
    assert FindingsStore(empty_postgres_url).schema_revision() is not None

    again = run_init(compose, tmp_path, _plain_postgres(empty_postgres_url))
    assert again.returncode == 0, again.stderr
    assert {name: (config / name).read_text().strip() for name in GENERATED} == secrets
    assert json.loads((config / "simple_auth_manager_passwords.json").read_text())["admin"] == password
    assert "generated" not in again.stdout + again.stderr


@pytest.mark.postgres
def test_init_keeps_an_admin_password_the_operator_chose(compose, tmp_path, empty_postgres_url):
    result = run_init(compose, tmp_path, _plain_postgres(empty_postgres_url), AIRFLOW_ADMIN_PASSWORD="chosen-by-ops")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "config" / "simple_auth_manager_passwords.json").read_text()) == {
        "admin": "chosen-by-ops"
    }
    assert "chosen-by-ops" not in result.stdout + result.stderr


@pytest.mark.postgres
def test_init_fails_when_the_findings_database_is_unreachable(compose, tmp_path):
    result = run_init(compose, tmp_path, "postgresql://ztad:x@127.0.0.1:1/ztad")
    assert result.returncode != 0


# --------------------------------------------------------------------------- the image


def locked_version(package: str) -> str:
    lock = (REPO / "requirements.lock").read_text()
    found = re.search(rf"^{re.escape(package)}==(\S+)$", lock, re.MULTILINE)
    assert found, f"{package} is not pinned in requirements.lock"
    return found.group(1)


def test_the_image_is_the_locked_airflow_with_the_project_installed_under_the_lock(compose):
    text = dockerfile(compose)
    airflow = locked_version("apache-airflow")
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow)}-python3\.11$", text, re.MULTILINE)
    assert "--constraint requirements.lock" in text
    assert f'"apache-airflow=={airflow}"' in text
    assert '".[${ZTAD_EXTRAS}]"' in text, "the extras are the build argument, left to Docker"
    for copied in ("requirements.lock", "pyproject.toml", "ztad", "dags", "plugins"):
        assert re.search(rf"^COPY .*\b{copied}\b", text, re.MULTILINE), copied


def copied_sources(text: str) -> list[str]:
    """The build-context paths of the Dockerfile's COPY lines (options and target left out)."""
    sources = []
    for line in text.splitlines():
        if line.startswith("COPY "):
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            sources += words[:-1]
    return sources


def test_the_build_copies_only_named_project_paths_never_the_whole_context(compose):
    # Without a .dockerignore, copying "." would send the local .venv and ztad-home along.
    sources = copied_sources(dockerfile(compose))
    assert sources and all(s not in (".", "./", "*") and not s.startswith(".venv") for s in sources)
    assert not [s for s in sources if not (REPO / s).exists()], "a COPY names a missing path"


def test_copying_the_whole_context_is_noticed():
    assert copied_sources("FROM x\nCOPY --chown=a:0 . /opt/ztad\n") == ["."]


# --------------------------------------------------------------------------- the API and the dashboard


@pytest.mark.parametrize("name", ZTAD_SERVICES)
def test_the_api_and_the_dashboard_serve_the_findings_database_and_the_shared_state(compose, name):
    service = compose["services"][name]
    env = environment(service)
    url = make_url(env["ZTAD_DATABASE_URL"])
    expected = ("ztad", DOT_ENV["ZTAD_DB_PASSWORD"], "postgres", "ztad")
    assert (url.username, url.password, url.host, url.database) == expected
    assert env["ZTAD_API_TOKEN"] == DOT_ENV["ZTAD_API_TOKEN"] and env["ZTAD_API_READ_TOKEN"] == ""
    assert mounts(service)[env["ZTAD_HOME"]] == "ztad-home"
    assert service["entrypoint"] == ["ztad"] and service["command"][0] == ("serve" if name == "api" else name)
    assert resolve(service["image"]) == resolve(compose["services"]["airflow-scheduler"]["image"])
    assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize(("env", "workers"), [(DOT_ENV, 1), ({**DOT_ENV, "ZTAD_API_WORKERS": "4"}, 4)])
def test_the_api_runs_the_worker_processes_the_env_asks_for(compose, env, workers):
    from ztad.cli import build_parser

    command = [resolve(word, env) for word in compose["services"]["api"]["command"]]
    assert build_parser().parse_args(command).workers == workers


@pytest.mark.parametrize("name", ZTAD_SERVICES)
def test_the_api_and_the_dashboard_refuse_to_start_without_a_token(compose, name):
    with pytest.raises(MissingVariable, match="ZTAD_API_TOKEN"):
        environment(compose["services"][name], env={**DOT_ENV, "ZTAD_API_TOKEN": ""})


@pytest.mark.parametrize("name", ZTAD_SERVICES)
def test_the_health_check_keeps_the_token_off_the_command_line(compose, name):
    service = compose["services"][name]
    test = " ".join(service["healthcheck"]["test"])
    assert "os.environ['ZTAD_API_TOKEN']" in test and DOT_ENV["ZTAD_API_TOKEN"] not in resolve(test)
    port = service["command"][service["command"].index("--port") + 1]
    assert service["healthcheck"]["test"][-1] == port
    assert resolve(service["ports"][0]).endswith(f":{port}")
