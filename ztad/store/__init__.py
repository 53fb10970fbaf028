"""The findings store: flagged events, run records, quarantined rows and the model index in SQL.

PostgreSQL (psycopg 3) in production, a SQLite file as the embedded default. The schema is
managed by the Alembic migrations in ``ztad/store/migrations``.

>>> store = FindingsStore("sqlite:///ztad-home/findings.db")   # doctest: +SKIP
>>> store.create_schema()                                      # doctest: +SKIP
>>> store.replace_day(run, findings, quarantine)               # doctest: +SKIP
"""

from ztad.store.conversion import REQUIRED_FINDING_COLUMNS, REQUIRED_QUARANTINE_COLUMNS
from ztad.store.errors import (
    InvalidRowError,
    MissingColumnError,
    ModelDigestConflictError,
    StoreInputError,
    UnsupportedDatabaseError,
)
from ztad.store.locks import day_lock_name, lock_key
from ztad.store.records import ModelRecord, RunRecord
from ztad.store.store import FindingsStore
from ztad.store.tables import SEVERITY_LEVELS, TRIAGE_STATUSES
from ztad.store.urls import normalize_url, safe_url

__all__ = [
    "FindingsStore",
    "RunRecord",
    "ModelRecord",
    "safe_url",
    "normalize_url",
    "lock_key",
    "day_lock_name",
    "MissingColumnError",
    "InvalidRowError",
    "ModelDigestConflictError",
    "StoreInputError",
    "UnsupportedDatabaseError",
    "REQUIRED_FINDING_COLUMNS",
    "REQUIRED_QUARANTINE_COLUMNS",
    "TRIAGE_STATUSES",
    "SEVERITY_LEVELS",
]
