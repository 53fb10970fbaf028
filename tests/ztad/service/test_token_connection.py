"""Bearer tokens from an Airflow connection: its environment forms, and a real Airflow's CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.support.airflow_home import PLUGINS_FOLDER  # noqa: F401  (puts plugins/ on the path)
from tests.support.airflow_local import airflow_environment
from tests.ztad.service.browser import free_port, wait_until_up
from ztad.service.auth import READ, TRIAGE, ServiceSettings
from ztad.service.token_connection import (
    ConnectionTokens,
    TokenConnectionError,
    env_variable,
    tokens_from_connection,
)

TRIAGE_TOKEN, READ_ONLY_TOKEN = "tri:age/t0ken?x", "read-only-t0ken"


def test_the_variable_is_airflows_own_name():
    assert env_variable("ztad_api") == "AIRFLOW_CONN_ZTAD_API"


def test_a_uri_connection_gives_the_password_and_the_read_token():
    uri = "generic://:tri%3Aage%2Ft0ken%3Fx@/?read_token=read-only-t0ken"
    tokens = tokens_from_connection("ztad_api", {"AIRFLOW_CONN_ZTAD_API": uri})
    assert tokens == ConnectionTokens(TRIAGE_TOKEN, READ_ONLY_TOKEN)


def test_a_json_connection_gives_the_password_and_the_read_token():
    document = {"conn_type": "generic", "password": TRIAGE_TOKEN, "extra": {"read_token": READ_ONLY_TOKEN}}
    tokens = tokens_from_connection("ztad_api", {"AIRFLOW_CONN_ZTAD_API": json.dumps(document)})
    assert tokens == ConnectionTokens(TRIAGE_TOKEN, READ_ONLY_TOKEN)
    extra_as_text = dict(document, extra=json.dumps({"read_token": READ_ONLY_TOKEN}), password=None)
    tokens = tokens_from_connection("ztad_api", {"AIRFLOW_CONN_ZTAD_API": json.dumps(extra_as_text)})
    assert tokens == ConnectionTokens(None, READ_ONLY_TOKEN)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("generic://host", "holds no token"),
        ('{"password": "x", ', "not valid JSON"),
        ("no-scheme", "neither a connection URI"),
        ('{"password": "x", "extra": "[1]"}', "not a JSON object"),
    ],
)
def test_an_unusable_connection_is_refused_without_showing_it(value, message):
    with pytest.raises(TokenConnectionError, match=message) as refused:
        tokens_from_connection("ztad_api", {"AIRFLOW_CONN_ZTAD_API": value})
    assert '"x"' not in str(refused.value)


def test_tokens_given_twice_are_refused():
    environ = {"ZTAD_API_TOKEN": "a", "AIRFLOW_CONN_ZTAD_API": "generic://:b@/"}
    with pytest.raises(ValueError, match="given twice"):
        ServiceSettings.from_env(environ, token_connection="ztad_api")


def test_settings_name_the_connection_by_variable_and_never_show_the_tokens():
    environ = {"ZTAD_API_TOKEN_CONNECTION": "ztad_api", "AIRFLOW_CONN_ZTAD_API": "generic://:secret-1@/"}
    settings = ServiceSettings.from_env(environ)
    assert settings.scopes_of("secret-1") == {READ, TRIAGE}
    assert "secret-1" not in repr(settings)
    assert "secret-1" not in repr(tokens_from_connection("ztad_api", environ))


# --------------------------------------------------------------------------- a real Airflow


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a real Airflow installation (migrated metadata database) that holds
    connection ``ztad_api``, added with Airflow's own CLI."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "ZTAD_API_"))}
    environ.update(airflow_environment(tmp_path_factory.mktemp("airflow-home"), log_level="WARNING"))
    airflow = [sys.executable, "-m", "airflow"]
    for command in (
        ["db", "migrate"],
        [
            "connections", "add", "ztad_api", "--conn-type", "generic", "--conn-password", TRIAGE_TOKEN,
            "--conn-extra", json.dumps({"read_token": READ_ONLY_TOKEN}),
        ],
    ):  # fmt: skip
        done = subprocess.run(
            [*airflow, *command], check=False, env=environ, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return environ


@pytest.mark.slow
def test_the_airflow_cli_gives_the_connections_tokens(airflow_env):
    assert tokens_from_connection("ztad_api", airflow_env) == ConnectionTokens(TRIAGE_TOKEN, READ_ONLY_TOKEN)
    with pytest.raises(TokenConnectionError, match="no connection 'missing'"):
        tokens_from_connection("missing", airflow_env)


@pytest.mark.slow
def test_the_served_api_takes_the_connections_tokens_and_never_logs_them(airflow_env, served_sqlite):
    port = free_port()
    home = str(served_sqlite.config.home)
    command = [sys.executable, "-m", "ztad.cli", "-v", "serve", "--home", home, "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--token-connection", "ztad_api"],
        env=airflow_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_until_up(client, server)
            triage = {"Authorization": f"Bearer {TRIAGE_TOKEN}"}
            read = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}
            assert client.get("/health", headers=triage).status_code == 200
            assert client.get("/findings", params={"limit": 1}, headers=read).status_code == 200
            assert client.patch("/incidents/none", json={"note": "x"}, headers=read).status_code == 403
            assert client.patch("/incidents/none", json={"note": "x"}, headers=triage).status_code == 404
            for other in ("Bearer not-the-token", f"Bearer {TRIAGE_TOKEN}x", "Basic abc"):
                assert client.get("/health", headers={"Authorization": other}).status_code == 401
            assert client.get("/health").status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert "GET /health" in output  # the verbose access log was on
    assert TRIAGE_TOKEN not in output and READ_ONLY_TOKEN not in output
    assert "tri%3Aage" not in output

