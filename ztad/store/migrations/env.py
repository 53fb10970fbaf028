"""Alembic environment for the findings database.

``ztad.store.migrate`` passes an open connection (inside a transaction that holds the
schema lock) through ``config.attributes["connection"]``. Run by hand, it connects to
``sqlalchemy.url`` from the config or to ``$ZTAD_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context

from ztad.store.engine import make_engine
from ztad.store.tables import VERSION_TABLE, metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations() -> None:
    """Apply migrations on the given connection, or on one opened from the URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("ZTAD_DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or ZTAD_DATABASE_URL to run migrations by hand")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


# Importing this module outside Alembic (e.g. walking the package) must do nothing.
if hasattr(context, "config"):
    if context.is_offline_mode():
        raise RuntimeError("offline (SQL script) mode is not supported; run against a database")
    run_migrations()
