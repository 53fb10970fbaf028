"""Hooks that turn Airflow connections and Variables into plain ztad configuration.

``ztad`` never imports Airflow: these hooks are the only place where an Airflow connection
becomes a database URL and a Variable becomes a :class:`ztad.config.SourceConfig`. They are
created inside ``execute``, never while a DAG file is parsed.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowNotFoundException

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

    from ztad.config import SourceConfig

#: Keys of the ``ztad_source`` document (Variable value, or connection extra).
SOURCE_KEYS = ("root", "format", "column_mapping", "options")
SOURCE_EXAMPLE = (
    '{"root": "s3://bucket/auth", "format": "csv", '
    '"column_mapping": {"ts": "timestamp"}, "options": {}}'
)


class FindingsConnectionError(ValueError):
    """The findings connection cannot name a database the findings store can use."""


class SourceConfigError(ValueError):
    """The log source settings (Variable or connection) are missing or malformed."""


# --------------------------------------------------------------------------- findings


class ZtadFindingsHook(PostgresHook):
    """The findings database of the Airflow connection ``ztad_findings``, for ztad's store.

    Builds on the Postgres provider's hook, so that IAM tokens, ``sqlalchemy_scheme`` and
    ``sqlalchemy_query`` extras work as they do for every other PostgreSQL connection. The
    URL always uses the psycopg 3 driver, and the connection's libpq extras (``sslmode``,
    ``connect_timeout``, ``options`` ...) travel in its query string, as they do in
    :meth:`PostgresHook.get_conn`.

    :param findings_conn_id: the connection id; ``ztad_findings`` by default.
    """

    conn_name_attr = "findings_conn_id"
    default_conn_name = "ztad_findings"
    conn_type = "postgres"
    hook_name = "ztad findings (PostgreSQL)"

    @property
    def sqlalchemy_url(self) -> URL:
        """The connection as an SQLAlchemy URL (``postgresql+psycopg://``), password included."""
        from ztad.store import normalize_url

        connection = self.connection
        if (connection.conn_type or "").split("+")[0] not in ("postgres", "postgresql"):
            raise FindingsConnectionError(
                f"connection {self.get_conn_id()!r} has type {connection.conn_type!r}; the "
                "findings store needs a PostgreSQL connection, e.g. "
                "AIRFLOW_CONN_ZTAD_FINDINGS='postgresql://user:password@host:5432/ztad'"
            )
        url = normalize_url(super().sqlalchemy_url)
        libpq = {
            key: str(value)
            for key, value in connection.extra_dejson.items()
            if key not in self.ignored_extra_options and value is not None
        }
        return url.update_query_dict({**libpq, **url.query})

    def findings_url(self) -> str:
        """The URL for :class:`ztad.store.FindingsStore`; it holds the password: never log it."""
        return self.sqlalchemy_url.render_as_string(hide_password=False)

    def masked_url(self) -> str:
        """The URL with its password replaced by ``***``, for logs and messages."""
        from ztad.store import safe_url

        return safe_url(self.sqlalchemy_url)

    def get_findings_engine(self) -> Engine:
        """An SQLAlchemy engine configured as the findings store configures its own."""
        from ztad.store.engine import make_engine

        return make_engine(self.sqlalchemy_url)


def findings_database_url(conn_id: str) -> tuple[str, str] | None:
    """Return ``(url, masked_url)`` of the findings connection, or ``None`` if it is not defined.

    ``None`` lets the caller fall back to ``ZTAD_DATABASE_URL`` or the embedded SQLite file.

    :param conn_id: the Airflow connection id of the findings database.
    """
    hook = ZtadFindingsHook(findings_conn_id=conn_id)
    try:
        hook.connection
    except AirflowNotFoundException:
        return None
    return hook.findings_url(), hook.masked_url()


# --------------------------------------------------------------------------- log source


def parse_source_config(document: str | dict[str, Any], origin: str) -> SourceConfig:
    """Turn the JSON source document into a :class:`ztad.config.SourceConfig`.

    The document is ``{"root": ..., "format": ..., "column_mapping": {...}, "options": {...}}``;
    only ``root`` is required. Error messages name ``origin`` and the offending key, never
    the values (options may hold credentials).

    :param document: JSON text, or the already decoded object.
    :param origin: where the document came from, e.g. ``Variable 'ztad_source'``.
    :raises SourceConfigError: for invalid JSON, unknown keys or values of the wrong type.
    """
    from ztad.config import SourceConfig

    settings = _decode(document, origin)
    unknown = sorted(set(settings) - set(SOURCE_KEYS))
    if unknown:
        raise SourceConfigError(
            f"{origin} has unknown key(s) {unknown}; the allowed keys are {list(SOURCE_KEYS)}"
        )
    root = settings.get("root")
    if not isinstance(root, str) or not root.strip():
        raise SourceConfigError(
            f"{origin} needs \"root\": the folder, file or URL of the logs, e.g. {SOURCE_EXAMPLE}"
        )
    log_format = settings.get("format")
    if log_format is not None and (not isinstance(log_format, str) or not log_format.strip()):
        raise SourceConfigError(
            f"{origin}: \"format\" must be a format name such as \"csv\", or null"
        )
    return SourceConfig(
        root=root.strip(),
        format=log_format.strip() if log_format else None,
        column_mapping=_string_mapping(settings.get("column_mapping"), "column_mapping", origin),
        options=_options(settings.get("options"), origin),
    )


def _decode(document: str | dict[str, Any], origin: str) -> dict[str, Any]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            raise SourceConfigError(
                f"{origin} is not valid JSON ({error.msg} at line {error.lineno}, column "
                f"{error.colno}); expected an object such as {SOURCE_EXAMPLE}"
            ) from None
    if not isinstance(document, dict):
        raise SourceConfigError(
            f"{origin} must be a JSON object, not {type(document).__name__}; e.g. {SOURCE_EXAMPLE}"
        )
    return document


def _string_mapping(value: Any, key: str, origin: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SourceConfigError(f"{origin}: \"{key}\" must be an object of column names")
    bad = sorted(str(name) for name, target in value.items() if not isinstance(target, str))
    if bad:
        raise SourceConfigError(
            f"{origin}: \"{key}\" maps {bad} to non-text values; map each source column to a "
            "canonical column name such as \"timestamp\" or \"user_id\""
        )
    return dict(value)


def _options(value: Any, origin: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SourceConfigError(f"{origin}: \"options\" must be an object of format settings")
    nested = sorted(name for name, option in value.items() if isinstance(option, (dict, list)))
    if nested:
        raise SourceConfigError(
            f"{origin}: option(s) {nested} must be text, numbers or true/false, "
            "not objects or lists"
        )
    return dict(value)


class ZtadSourceHook(BaseHook):
    """Where the logs are: the Variable ``ztad_source``, else a connection, else ``ZTAD_LOG_ROOT``.

    The Variable holds the JSON document of :func:`parse_source_config`. A connection holds
    the same document in its ``extra`` (useful when the source belongs with other secrets in
    a secrets backend). Without either, ``ZTAD_LOG_ROOT`` and ``ZTAD_LOG_FORMAT`` are used.

    :param source_conn_id: the connection id looked up when the Variable is not set.
    :param variable_key: the Variable key; ``ztad_source`` by default.
    """

    conn_name_attr = "source_conn_id"
    default_conn_name = "ztad_source"
    conn_type = "generic"
    hook_name = "ztad log source"

    def __init__(self, source_conn_id: str = default_conn_name, variable_key: str = "ztad_source"):
        super().__init__()
        self.source_conn_id = source_conn_id
        self.variable_key = variable_key

    def get_source_config(self) -> SourceConfig:
        """Return the configured :class:`ztad.config.SourceConfig`.

        :raises SourceConfigError: when nothing is configured, or the settings are malformed.
        """
        document = Variable.get(self.variable_key, default=None) if self.variable_key else None
        if document is not None:
            return parse_source_config(document, f"Variable {self.variable_key!r}")
        connection = self._connection_or_none()
        if connection is not None:
            return parse_source_config(
                connection.extra_dejson, f"extra of connection {self.source_conn_id!r}"
            )
        return self._from_environment()

    def _connection_or_none(self):
        if not self.source_conn_id:
            return None
        try:
            return self.get_connection(self.source_conn_id)
        except AirflowNotFoundException:
            return None

    def _from_environment(self) -> SourceConfig:
        from ztad.config import SourceConfig

        root = os.environ.get("ZTAD_LOG_ROOT", "").strip()
        if not root:
            raise SourceConfigError(
                f"no log source configured: set the Variable {self.variable_key!r} to JSON such "
                f"as {SOURCE_EXAMPLE}, or define the connection {self.source_conn_id!r} with "
                "that JSON as its extra, or set ZTAD_LOG_ROOT in the workers' environment"
            )
        return SourceConfig(root=root, format=os.environ.get("ZTAD_LOG_FORMAT") or None)
