"""The service's bearer tokens read from an Airflow connection, without importing Airflow.

A deployment that keeps its secrets in Airflow (its metadata database, or a secrets backend
Airflow reads) names a connection (``ztad serve --token-connection ztad_api`` or
``ZTAD_API_TOKEN_CONNECTION``): its **password** is the token granting ``read`` and
``triage``, its extra field **read_token** (optional) the token granting ``read`` only.

The connection is looked up where Airflow itself would look, first to last:

1. ``AIRFLOW_CONN_<ID>`` in the environment (the id in upper case), in either of Airflow's
   documented forms: a URI (``http://:<password>@?read_token=<token>``, the password
   URL-encoded) or a JSON object (``{"conn_type": "http", "password": ..., "extra":
   {"read_token": ...}}``);
2. the Airflow CLI, when Airflow is installed: ``airflow connections get <id> -o json``, run in
   a subprocess with this process's environment (``AIRFLOW_HOME``, the metadata database,
   secrets backends), so that ``ztad`` never imports Airflow.

Tokens are never logged nor put in an error message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

#: How long the Airflow CLI may take to answer (it starts slowly on a loaded machine).
CLI_TIMEOUT_SECONDS = 120


class TokenConnectionError(ValueError):
    """The connection is missing, unreadable or holds no token."""


@dataclass(frozen=True)
class ConnectionTokens:
    """The tokens a connection holds: ``triage`` (its password) and ``read`` (extra ``read_token``)."""

    triage: str | None
    read: str | None

    def __repr__(self) -> str:  # never show a token
        return (
            f"ConnectionTokens(triage={'set' if self.triage else None}, read={'set' if self.read else None})"
        )


def env_variable(conn_id: str) -> str:
    """The variable Airflow reads a connection from: ``AIRFLOW_CONN_`` and the id in upper case."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def tokens_from_connection(conn_id: str, environ=None) -> ConnectionTokens:
    """The tokens of Airflow connection ``conn_id``, from the environment or the Airflow CLI.

    Raises
    ------
    TokenConnectionError
        When neither has the connection, it cannot be read, or it holds no token.
    """
    environ = os.environ if environ is None else environ
    if not conn_id or not conn_id.strip():
        raise TokenConnectionError(
            "the token connection id is empty (--token-connection / ZTAD_API_TOKEN_CONNECTION)"
        )
    value = environ.get(env_variable(conn_id))
    if value:
        fields = _from_env_value(value, env_variable(conn_id))
    else:
        fields = _from_airflow_cli(conn_id, environ)
    return _tokens(fields, conn_id)


def _from_env_value(value: str, variable: str) -> dict:
    """Password and extra of a connection in Airflow's environment form (JSON or URI)."""
    text = value.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise TokenConnectionError(
                f"{variable} is not valid JSON (line {error.lineno}, column {error.colno})"
            ) from None
        if not isinstance(document, dict):
            raise TokenConnectionError(f"{variable} must be a JSON object or a connection URI")
        return {"password": document.get("password"), "extra": document.get("extra")}
    parts = urlsplit(text)
    if not parts.scheme:
        raise TokenConnectionError(f"{variable} is neither a connection URI (scheme://...) nor a JSON object")
    extra = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in extra:  # Airflow's form for an extra that is not flat
        extra = extra["__extra__"]
    password = unquote(parts.password) if parts.password is not None else None
    return {"password": password, "extra": extra}


def _airflow_command() -> list[str] | None:
    """The Airflow CLI beside this interpreter (a virtual environment), else on the PATH."""
    beside = Path(sys.executable).parent / "airflow"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("airflow")
    return [found] if found else None


def _from_airflow_cli(conn_id: str, environ) -> dict:
    """Password and extra of the connection as ``airflow connections get -o json`` gives them."""
    command = _airflow_command()
    if command is None:
        raise TokenConnectionError(
            f"no Airflow connection {conn_id!r}: {env_variable(conn_id)} is not set and Airflow is not "
            "installed to ask (set the variable, or ZTAD_API_TOKEN instead)"
        )
    try:
        done = subprocess.run(
            [*command, "connections", "get", conn_id, "-o", "json"],
            check=False,
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise TokenConnectionError(
            f"the Airflow CLI did not answer within {CLI_TIMEOUT_SECONDS} s for connection {conn_id!r}"
        ) from None
    rows = _json_rows(done.stdout) if done.returncode == 0 else None
    if not rows:
        # Its error output names the missing connection; it holds no secret of a found one.
        said = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
        detail = said[-1].strip() if said else f"exit code {done.returncode}"
        raise TokenConnectionError(
            f"the Airflow CLI has no connection {conn_id!r} ({detail}); add it with "
            f"`airflow connections add {conn_id} --conn-type http --conn-password <token>`"
        )
    row = rows[0]
    extra = row.get("extra_dejson")
    if extra is None:
        extra = row.get("extra")
    return {"password": row.get("password"), "extra": extra}


def _json_rows(output: str) -> list[dict] | None:
    """The connection rows of the CLI's JSON output (a list of objects), or ``None``."""
    start = output.find("[")
    try:
        rows = json.loads(output[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        return None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else None


def _tokens(fields: dict, conn_id: str) -> ConnectionTokens:
    extra = fields.get("extra")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except json.JSONDecodeError:
            raise TokenConnectionError(
                f"the extra field of connection {conn_id!r} is not a JSON object"
            ) from None
    if extra is not None and not isinstance(extra, dict):
        raise TokenConnectionError(f"the extra field of connection {conn_id!r} is not a JSON object")
    triage = fields.get("password") or None
    read = (extra or {}).get("read_token") or None
    if read is not None and not isinstance(read, str):
        raise TokenConnectionError(f"read_token in the extra field of connection {conn_id!r} must be text")
    if not (triage or read):
        raise TokenConnectionError(
            f"connection {conn_id!r} holds no token: set its password (read and triage) and/or "
            "read_token in its extra field (read only)"
        )
    return ConnectionTokens(triage=triage, read=read)
