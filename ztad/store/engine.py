"""SQLAlchemy engines for the findings store, with the same transaction semantics everywhere.

PostgreSQL has transactional DDL and row locks already. SQLite's Python driver, by default,
starts transactions lazily and not for DDL; here every transaction is an explicit ``BEGIN``
(so schema upgrades are atomic too), and writers ask for ``BEGIN IMMEDIATE`` so that two
writers of one file queue up instead of failing halfway through.
"""

from __future__ import annotations

import json

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import StaticPool

from ztad.store.urls import normalize_url

#: Execution option a connection carries to make its next transaction a writer on SQLite.
SQLITE_BEGIN_OPTION = "ztad_sqlite_begin"
#: Seconds a SQLite writer waits for another writer to finish.
SQLITE_BUSY_TIMEOUT = 60


def make_engine(url: str | URL) -> Engine:
    """Create an engine for a PostgreSQL (psycopg 3) or SQLite URL."""
    parsed = normalize_url(url)
    options: dict = {"pool_pre_ping": True, "json_serializer": dumps_json}
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT}
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, else every connection sees its own empty database.
            options["poolclass"] = StaticPool
            options["connect_args"]["check_same_thread"] = False
    engine = create_engine(parsed, **options)
    prepare_engine(engine)
    return engine


def prepare_engine(engine: Engine) -> Engine:
    """Install the SQLite transaction handling on ``engine`` (once; no-op on PostgreSQL)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "begin", _sqlite_begin):
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def writer_options(engine: Engine) -> dict:
    """Execution options for a connection that is about to write."""
    return {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def dumps_json(value) -> str:
    """JSON text for a document column (no NaN: JSON has none and jsonb rejects it)."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False)
