"""The findings database: three tables, described once for queries and for migration checks.

The schema itself is created and changed only by the Alembic migrations in
``ztad/migrations``; a test keeps these definitions and the migrations in step.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Double,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    text,
)

from ztad.store.types import IPAddress, JSONDocument, UTCDateTime

#: Deterministic constraint names, so that later migrations can refer to them (and SQLite
#: batch migrations can rebuild tables) on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Triage states of a finding, from first sight to closure.
TRIAGE_STATUSES = ("new", "investigating", "false_positive", "confirmed", "resolved")
#: Severity levels, lowest first.
SEVERITY_LEVELS = ("low", "medium", "high", "critical")
#: Name of Alembic's version table: its own name, so that the findings can share a database
#: with Airflow's metadata (which has an ``alembic_version`` table of its own).
VERSION_TABLE = "ztad_alembic_version"

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


findings = Table(
    "findings",
    metadata,
    Column("finding_id", Text, primary_key=True, comment="'<day>:<event_id>'"),
    Column("day", Date, nullable=False, comment="UTC day of the run that raised it"),
    Column("event_id", Text, nullable=False),
    Column("event_time", UTCDateTime, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text),
    Column("ip_address", IPAddress),
    Column("location", Text),
    Column("resource", Text),
    Column("login_success", Boolean),
    Column("bytes_transferred", BigInteger),
    Column("event_label", Text, comment="evaluation only, when the source is labelled"),
    Column("score", Double),
    Column("threshold", Double),
    Column("detectors", JSONDocument, comment="sources that raised it, e.g. rule:<code>"),
    Column("detector_scores", JSONDocument, comment="per-detector normalised score"),
    Column("reasons", JSONDocument, comment="list of {code, text}"),
    Column("model_version", Text),
    Column("run_id", Text),
    Column("status", Text, nullable=False, server_default=text("'new'")),
    Column("created_at", UTCDateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    Column("severity", SmallInteger, comment="0-100"),
    Column("severity_level", Text),
    Column("assignee", Text),
    Column("notes", Text),
    Column("updated_at", UTCDateTime, comment="last triage change"),
    CheckConstraint(f"status IN ({_quoted(TRIAGE_STATUSES)})", name="status"),
    CheckConstraint("severity BETWEEN 0 AND 100", name="severity_range"),
    CheckConstraint(f"severity_level IN ({_quoted(SEVERITY_LEVELS)})", name="severity_level"),
    Index(None, "day"),
    Index(None, "user_id", "event_time"),
    Index(None, "status"),
    Index(None, "severity"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("day", Date, nullable=False),
    Column("interval_start", UTCDateTime),
    Column("interval_end", UTCDateTime),
    Column("status", Text, nullable=False),
    Column("rows_read", BigInteger),
    Column("rows_quarantined", BigInteger),
    Column("rows_duplicate", BigInteger),
    Column("rows_scored", BigInteger),
    Column("rows_flagged", BigInteger),
    Column("model_version", Text),
    Column("model_action", Text),
    Column("threshold", Double),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("timings", JSONDocument, comment="seconds per step"),
    Column("message", Text),
    Index(None, "day"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        Identity(),
        primary_key=True,
    ),
    Column("day", Date, nullable=False),
    Column("run_id", Text),
    Column("source", Text, comment="file name or URL"),
    Column("source_row", BigInteger, comment="1-based row/line in the source"),
    Column("field", Text),
    Column("reason", Text),
    Column("raw", Text, comment="the original row, as JSON text"),
    Index(None, "day"),
)
