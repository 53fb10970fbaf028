"""The findings database: its tables, described once for queries and for migration checks.

The schema itself is created and changed only by the Alembic migrations in
``ztad/store/migrations``; a test keeps these definitions and the migrations in step.
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
    UniqueConstraint,
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
#: What a run's ``status`` says: ``running`` until it ends; ``success`` (scored by a model and
#: the rules), ``learning`` (no model yet: the rules only), ``empty`` (no events), ``skipped``
#: (no logs, skipped on purpose), ``failed``.
RUN_STATUSES = ("running", "success", "learning", "empty", "skipped", "failed")
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
    Column("incident_id", Text, comment="the incident grouping it (incidents.incident_id)"),
    Column("category", Text, comment="code of the weightiest reason"),
    Column("top_features", JSONDocument, comment="list of {feature, value, observed, baseline, share, text}"),
    Column("attributions", JSONDocument, comment="per detector: method and top per-feature attributions"),
    CheckConstraint(f"status IN ({_quoted(TRIAGE_STATUSES)})", name="status"),
    CheckConstraint("severity BETWEEN 0 AND 100", name="severity_range"),
    CheckConstraint(f"severity_level IN ({_quoted(SEVERITY_LEVELS)})", name="severity_level"),
    Index(None, "day"),
    Index(None, "user_id", "event_time"),
    Index(None, "status"),
    Index(None, "severity"),
    Index(None, "incident_id"),
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
    Column("target_fpr", Double, comment="alert budget the model's threshold was calibrated for"),
    Column("expected_alerts", Double, comment="target_fpr x rows_scored: the budget's alerts"),
    Column("rows_model_flagged", BigInteger, comment="events over the model threshold (the ensemble alone)"),
    Column("rows_rule_flagged", BigInteger, comment="events a behavioural rule flagged"),
    Column("rows_skipped", BigInteger, comment="input lines without an authentication attempt"),
    Column("files_skipped", JSONDocument,
           comment="partition files not read: list of {path, size_bytes, reason}"),
    Column("lacking", Text, comment="what a learning day's history lacks before a model can be trained"),
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

#: How the findings of an incident are related: one user's day, one source across users, or
#: the day's background scanning (many never-seen addresses, :mod:`ztad.findings.incidents`).
INCIDENT_KINDS = ("user", "source", "scanning")
#: What a false-positive verdict lets through for a user: a place, device, resource or address.
ALLOWLIST_KINDS = ("location", "device", "resource", "ip")

incidents = Table(
    "incidents",
    metadata,
    Column("incident_id", Text, primary_key=True, comment="'<day>:user:<user_id>' or '<day>:source:<ip>'"),
    Column("day", Date, nullable=False),
    Column(
        "kind", Text, nullable=False,
        comment="user: one user's day; source: one address or workstation across users; "
        "scanning: the day's background scanning",
    ),
    Column("user_id", Text, comment="the user (a source incident's only user, else NULL)"),
    Column("source_ip", IPAddress, comment="the attacking address of a source incident"),
    Column("category", Text, comment="code of the weightiest reason among its findings"),
    Column("categories", JSONDocument, comment="reason code -> number of findings"),
    Column("severity", SmallInteger, comment="0-100"),
    Column("severity_level", Text),
    Column("first_time", UTCDateTime, nullable=False),
    Column("last_time", UTCDateTime, nullable=False),
    Column("finding_count", Integer, nullable=False),
    Column("user_count", Integer, nullable=False),
    Column("users", JSONDocument, comment="user ids involved (at most 100)"),
    Column("summary", Text),
    Column("run_id", Text),
    Column("status", Text, nullable=False, server_default=text("'new'")),
    Column("assignee", Text),
    Column("notes", Text),
    Column("created_at", UTCDateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    Column("updated_at", UTCDateTime, comment="last triage change"),
    CheckConstraint(f"kind IN ({_quoted(INCIDENT_KINDS)})", name="kind"),
    CheckConstraint(f"status IN ({_quoted(TRIAGE_STATUSES)})", name="status"),
    CheckConstraint("severity BETWEEN 0 AND 100", name="severity_range"),
    CheckConstraint(f"severity_level IN ({_quoted(SEVERITY_LEVELS)})", name="severity_level"),
    Index(None, "day"),
    Index(None, "status"),
    Index(None, "severity"),
    Index(None, "user_id"),
)

user_risk = Table(
    "user_risk",
    metadata,
    Column("day", Date, primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("risk_score", Double, nullable=False, comment="0-100: the chance-like union of its incidents' severities"),
    Column("findings_count", Integer, nullable=False),
    Column("incidents_count", Integer, nullable=False),
    Column("max_severity", SmallInteger),
    Column("top_category", Text),
    Column("categories", JSONDocument, comment="reason code -> number of findings"),
    Column("run_id", Text),
    Column("created_at", UTCDateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    CheckConstraint("risk_score BETWEEN 0 AND 100", name="risk_range"),
    Index(None, "user_id", "day"),
)

feedback_allowlist = Table(
    "feedback_allowlist",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer, "sqlite"),
        Identity(),
        primary_key=True,
    ),
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False, comment="location, device, resource or ip"),
    Column("value", Text, nullable=False),
    Column("valid_from", Date, nullable=False, comment="first day it suppresses alerts"),
    Column("source_finding_id", Text, comment="the false positive it comes from"),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    CheckConstraint(f"kind IN ({_quoted(ALLOWLIST_KINDS)})", name="kind"),
    UniqueConstraint("user_id", "kind", "value"),
)

models = Table(
    "models",
    metadata,
    Column("model_version", Text, primary_key=True, comment="registry version, as in findings.model_version"),
    Column("trained_at", UTCDateTime, nullable=False, comment="when the registry wrote the artifact set"),
    Column("trained_from", Date, nullable=False, comment="first training day"),
    Column("trained_to", Date, nullable=False, comment="first day after the training days [trained_from, trained_to)"),
    Column("training_rows", BigInteger, nullable=False),
    Column("kind", Text, comment="ensemble or detector"),
    Column("detectors", JSONDocument, comment="member detectors, in order"),
    Column("feature_names", JSONDocument, nullable=False, comment="model inputs, in order"),
    Column("params", JSONDocument, comment="model parameters and the job settings it was trained with"),
    Column("libraries", JSONDocument, comment="library -> installed version at training"),
    Column("metrics", JSONDocument, comment="training metrics (fit seconds, per-member thresholds ...)"),
    Column("target_fpr", Double, comment="alert budget the threshold was calibrated for"),
    Column("threshold", Double, comment="calibrated alert threshold on the ensemble score"),
    Column("calibration_rows", BigInteger, comment="normal rows the threshold was calibrated on"),
    Column("artifact_uri", Text, nullable=False, comment="folder or URL of the version's artifact set"),
    Column("metadata_sha256", Text, nullable=False, comment="SHA-256 of metadata.json, as the registry index holds it"),
    Column("files", JSONDocument, nullable=False, comment="artifact file -> SHA-256"),
    Column("train_reason", Text, comment="why it was trained (retrain policy)"),
    Column("trained_for_day", Date, comment="the day whose run trained it"),
    Column("run_id", Text, comment="the run that trained it"),
    Column("registered_at", UTCDateTime, nullable=False, server_default=text("CURRENT_TIMESTAMP")),
    Index(None, "trained_to"),
)
