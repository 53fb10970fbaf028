"""Create and upgrade the findings schema with the Alembic migrations shipped in ``ztad``.

Runs from code (no ``alembic.ini``): ``upgrade(engine)`` brings any database, empty or
created by an earlier release, to the newest revision. The whole upgrade is one
transaction holding an advisory lock on PostgreSQL (``BEGIN IMMEDIATE`` on SQLite), so
that several processes starting at once (Airflow workers, CLI runs) upgrade it exactly once.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from ztad.store.engine import writer_options
from ztad.store.locks import SCHEMA_LOCK, lock_for_transaction
from ztad.store.tables import VERSION_TABLE
from ztad.store.urls import safe_url

log = logging.getLogger(__name__)

#: Folder of ``env.py`` and ``versions/``.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the shipped migrations, optionally bound to ``connection``.

    Also the way to add a revision::

        from alembic import command
        command.revision(alembic_config(), message="add incidents", rev_id="0002")
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision shipped with this release."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}; the package is incomplete")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or ``None`` for a database without the schema."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the schema to ``revision`` (default: newest); idempotent and concurrency-safe.

    Returns the revision the database is at afterwards.
    """
    if revision == "head":
        with engine.connect() as connection:
            if current_revision(connection) == head_revision():
                return head_revision()
    with engine.connect() as connection:
        connection.execution_options(**writer_options(engine))
        with connection.begin():
            lock_for_transaction(connection, SCHEMA_LOCK)
            before = current_revision(connection)
            command.upgrade(alembic_config(connection), revision)
            after = current_revision(connection)
    if before != after:
        log.info("findings schema of %s upgraded from %s to %s", safe_url(engine.url), before, after)
    return after
