"""Advisory locks that serialise writers of the same day (and of the schema) on PostgreSQL.

Two overlapping runs of one day would otherwise interleave: both delete the day, then both
insert, leaving a mix of two runs. The lock is transaction-scoped, so it is released by the
commit or rollback, including when the process dies and PostgreSQL closes its connection.
On SQLite the same effect comes from ``BEGIN IMMEDIATE`` (one writer at a time), see
``ztad.store.engine``.
"""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: Lock name for schema upgrades.
SCHEMA_LOCK = "ztad:schema"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (the same in every process and release)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def day_lock_name(day: date) -> str:
    """The lock name of one day's findings: ``ztad:YYYY-MM-DD``."""
    return f"ztad:{day.isoformat()}"


def lock_for_transaction(connection: Connection, name: str) -> None:
    """Block until this transaction holds the advisory lock ``name`` (PostgreSQL only)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
