"""Findings an analyst can act on: incidents, user risk, feedback allowlist and views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-08

Adds to ``findings`` the incident it belongs to, its category (weightiest reason), its top
contributing features and the detectors' per-feature attributions; creates ``incidents``,
``user_risk`` and ``feedback_allowlist``; and creates the analysts' views. Rows written by
revision 0001 stay as they are (the new columns are NULL for them).

Views are plain SQL. Where the two backends differ (JSON functions, date arithmetic) each
has its own text; everything else is shared. Types and view texts are spelled out here
rather than imported, so that this revision keeps creating the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
IP = sa.Text().with_variant(postgresql.INET(), "postgresql")
DOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
STATUSES = "'new', 'investigating', 'false_positive', 'confirmed', 'resolved'"
LEVELS = "'low', 'medium', 'high', 'critical'"
OPEN = "'new', 'investigating'"

# --------------------------------------------------------------------------- views

#: A finding's triage status: its own once an analyst set it, else its incident's.
_TRIAGE_STATUS = (
    "CASE WHEN f.status = 'new' AND i.status IS NOT NULL THEN i.status ELSE f.status END"
)


def _level_rank(column: str) -> str:
    """4 for critical down to 1 for low (0 when unknown), to sort levels by gravity."""
    return (
        f"CASE {column} WHEN 'critical' THEN 4 WHEN 'high' THEN 3 "
        f"WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END"
    )


_FIRST_REASON = {
    "postgresql": "f.reasons -> 0 ->> 'text'",
    "sqlite": "json_extract(f.reasons, '$[0].text')",
}

#: One row per (finding, source that would have raised it alone): every ensemble member whose
#: normalised score exceeds the finding's threshold (with the default "max" combination,
#: exactly the members that made the ensemble fire), and every behavioural rule that fired.
_FINDING_VOTES = {
    "postgresql": f"""
        SELECT f.finding_id, f.day, s.key AS source
        FROM findings f
        CROSS JOIN LATERAL jsonb_each_text(
            CASE WHEN jsonb_typeof(f.detector_scores) = 'object' THEN f.detector_scores ELSE '{{}}'::jsonb END
        ) AS s(key, value)
        WHERE s.key NOT IN ('ensemble', 'final')
          AND s.value IS NOT NULL AND s.value::double precision > f.threshold
        UNION ALL
        SELECT f.finding_id, f.day, d.value AS source
        FROM findings f
        CROSS JOIN LATERAL jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(f.detectors) = 'array' THEN f.detectors ELSE '[]'::jsonb END
        ) AS d(value)
        WHERE d.value LIKE 'rule:%'
    """,
    "sqlite": """
        SELECT f.finding_id, f.day, s.key AS source
        FROM findings f, json_each(f.detector_scores) AS s
        WHERE s.key NOT IN ('ensemble', 'final')
          AND s.value IS NOT NULL AND s.value > f.threshold
        UNION ALL
        SELECT f.finding_id, f.day, d.value AS source
        FROM findings f, json_each(f.detectors) AS d
        WHERE d.value LIKE 'rule:%'
    """,
}

#: ``r.day`` lies in the ``w.window_days`` days ending with the latest day ``l.day``.
_IN_WINDOW = {
    "postgresql": "r.day > l.day - w.window_days",
    "sqlite": "r.day > date(l.day, '-' || w.window_days || ' days')",
}


def _views(dialect: str) -> dict[str, str]:
    """View name -> SELECT text for ``dialect``, in creation order."""
    return {
        "daily_summary": f"""
            SELECT f.day,
                   COALESCE(f.category, 'unknown') AS category,
                   COALESCE(f.severity_level, 'unknown') AS severity_level,
                   {_level_rank("f.severity_level")} AS level_rank,
                   COUNT(*) AS findings,
                   COUNT(DISTINCT f.incident_id) AS incidents,
                   COUNT(DISTINCT f.user_id) AS users,
                   SUM(CASE WHEN {_TRIAGE_STATUS} IN ({OPEN}) THEN 1 ELSE 0 END) AS open_findings,
                   SUM(CASE WHEN {_TRIAGE_STATUS} = 'confirmed' THEN 1 ELSE 0 END) AS confirmed,
                   SUM(CASE WHEN {_TRIAGE_STATUS} = 'false_positive' THEN 1 ELSE 0 END) AS false_positives,
                   MAX(f.severity) AS max_severity
            FROM findings f
            LEFT JOIN incidents i ON i.incident_id = f.incident_id
            GROUP BY f.day, COALESCE(f.category, 'unknown'), COALESCE(f.severity_level, 'unknown'),
                     {_level_rank("f.severity_level")}
        """,
        "open_incidents": f"""
            SELECT i.incident_id, i.day, i.severity, i.severity_level,
                   {_level_rank("i.severity_level")} AS level_rank,
                   i.kind, i.user_id, i.source_ip, i.category, i.finding_count, i.user_count,
                   i.first_time, i.last_time, i.status, i.assignee, i.summary
            FROM incidents i
            WHERE i.status IN ({OPEN})
        """,
        "open_incidents_by_severity": f"""
            SELECT i.severity_level,
                   {_level_rank("i.severity_level")} AS level_rank,
                   COUNT(*) AS incidents,
                   SUM(i.finding_count) AS findings,
                   SUM(CASE WHEN i.assignee IS NULL THEN 1 ELSE 0 END) AS unassigned,
                   MIN(i.day) AS oldest_day,
                   MAX(i.day) AS newest_day,
                   MAX(i.severity) AS max_severity
            FROM incidents i
            WHERE i.status IN ({OPEN})
            GROUP BY i.severity_level, {_level_rank("i.severity_level")}
        """,
        "top_risky_users": f"""
            SELECT w.window_days,
                   r.user_id,
                   SUM(r.risk_score) AS risk_total,
                   MAX(r.risk_score) AS risk_peak,
                   COUNT(*) AS days_at_risk,
                   SUM(r.findings_count) AS findings,
                   SUM(r.incidents_count) AS incidents,
                   MAX(r.max_severity) AS max_severity,
                   MAX(r.day) AS last_day,
                   RANK() OVER (PARTITION BY w.window_days ORDER BY SUM(r.risk_score) DESC) AS risk_rank
            FROM user_risk r
            CROSS JOIN (SELECT MAX(day) AS day FROM user_risk) AS l
            CROSS JOIN (SELECT 7 AS window_days UNION ALL SELECT 30) AS w
            WHERE {_IN_WINDOW[dialect]}
            GROUP BY w.window_days, r.user_id
        """,
        "user_findings": f"""
            SELECT f.user_id, f.day, f.event_time, f.finding_id, f.incident_id, f.category,
                   f.severity, f.severity_level, {_TRIAGE_STATUS} AS triage_status,
                   f.location, f.device_id, f.ip_address, f.resource, f.login_success,
                   f.bytes_transferred, f.score, {_FIRST_REASON[dialect]} AS reason
            FROM findings f
            LEFT JOIN incidents i ON i.incident_id = f.incident_id
        """,
        "finding_votes": _FINDING_VOTES[dialect],
        "detector_agreement": """
            SELECT v.day, v.source,
                   COUNT(*) AS findings,
                   SUM(CASE WHEN c.votes = 1 THEN 1 ELSE 0 END) AS alone,
                   SUM(CASE WHEN c.votes > 1 THEN 1 ELSE 0 END) AS with_others,
                   AVG(c.votes - 1.0) AS mean_other_sources
            FROM finding_votes v
            JOIN (SELECT finding_id, COUNT(*) AS votes FROM finding_votes GROUP BY finding_id) AS c
              ON c.finding_id = v.finding_id
            GROUP BY v.day, v.source
        """,
        "detector_pairs": """
            SELECT a.day, a.source AS source_a, b.source AS source_b, COUNT(*) AS findings
            FROM finding_votes a
            JOIN finding_votes b ON b.finding_id = a.finding_id AND a.source < b.source
            GROUP BY a.day, a.source, b.source
        """,
    }


# --------------------------------------------------------------------------- upgrade


def _add_finding_columns() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(
            sa.Column("incident_id", sa.Text(), comment="the incident grouping it (incidents.incident_id)")
        )
        batch.add_column(sa.Column("category", sa.Text(), comment="code of the weightiest reason"))
        batch.add_column(
            sa.Column(
                "top_features", DOC, comment="list of {feature, value, observed, baseline, share, text}"
            )
        )
        batch.add_column(
            sa.Column(
                "attributions", DOC, comment="per detector: method and top per-feature attributions"
            )
        )
    op.create_index(op.f("ix_findings_incident_id"), "findings", ["incident_id"])


def _create_incidents() -> None:
    op.create_table(
        "incidents",
        sa.Column(
            "incident_id", sa.Text(), nullable=False,
            comment="'<day>:user:<user_id>' or '<day>:source:<ip>'",
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "kind", sa.Text(), nullable=False,
            comment="user: one user's day; source: one IP across users",
        ),
        sa.Column("user_id", sa.Text(), comment="the user (a source incident's only user, else NULL)"),
        sa.Column("source_ip", IP, comment="the attacking address of a source incident"),
        sa.Column("category", sa.Text(), comment="code of the weightiest reason among its findings"),
        sa.Column("categories", DOC, comment="reason code -> number of findings"),
        sa.Column("severity", sa.SmallInteger(), comment="0-100"),
        sa.Column("severity_level", sa.Text()),
        sa.Column("first_time", TIMESTAMP, nullable=False),
        sa.Column("last_time", TIMESTAMP, nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("user_count", sa.Integer(), nullable=False),
        sa.Column("users", DOC, comment="user ids involved (at most 100)"),
        sa.Column("summary", sa.Text()),
        sa.Column("run_id", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'new'")),
        sa.Column("assignee", sa.Text()),
        sa.Column("notes", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.Column("updated_at", TIMESTAMP, comment="last triage change"),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
        sa.CheckConstraint("kind IN ('user', 'source')", name=op.f("ck_incidents_kind")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_incidents_status")),
        sa.CheckConstraint("severity BETWEEN 0 AND 100", name=op.f("ck_incidents_severity_range")),
        sa.CheckConstraint(f"severity_level IN ({LEVELS})", name=op.f("ck_incidents_severity_level")),
    )
    for column in ("day", "status", "severity", "user_id"):
        op.create_index(op.f(f"ix_incidents_{column}"), "incidents", [column])


def _create_user_risk() -> None:
    op.create_table(
        "user_risk",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column(
            "risk_score", sa.Double(), nullable=False,
            comment="0-100: the chance-like union of its incidents' severities",
        ),
        sa.Column("findings_count", sa.Integer(), nullable=False),
        sa.Column("incidents_count", sa.Integer(), nullable=False),
        sa.Column("max_severity", sa.SmallInteger()),
        sa.Column("top_category", sa.Text()),
        sa.Column("categories", DOC, comment="reason code -> number of findings"),
        sa.Column("run_id", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("day", "user_id", name=op.f("pk_user_risk")),
        sa.CheckConstraint("risk_score BETWEEN 0 AND 100", name=op.f("ck_user_risk_risk_range")),
    )
    op.create_index(op.f("ix_user_risk_user_id_day"), "user_risk", ["user_id", "day"])


def _create_allowlist() -> None:
    op.create_table(
        "feedback_allowlist",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False, comment="location, device, resource or ip"),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False, comment="first day it suppresses alerts"),
        sa.Column("source_finding_id", sa.Text(), comment="the false positive it comes from"),
        sa.Column("note", sa.Text()),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_allowlist")),
        sa.CheckConstraint(
            "kind IN ('location', 'device', 'resource', 'ip')", name=op.f("ck_feedback_allowlist_kind")
        ),
        sa.UniqueConstraint(
            "user_id", "kind", "value", name=op.f("uq_feedback_allowlist_user_id_kind_value")
        ),
    )


def upgrade() -> None:
    """Add the finding columns, the three tables and the views."""
    _add_finding_columns()
    _create_incidents()
    _create_user_risk()
    _create_allowlist()
    dialect = op.get_bind().dialect.name
    for name, select in _views(dialect).items():
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def downgrade() -> None:
    """Drop the views, the tables and the finding columns this revision added."""
    dialect = op.get_bind().dialect.name
    for name in reversed(list(_views(dialect))):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("feedback_allowlist")
    op.drop_table("user_risk")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_findings_incident_id"), table_name="findings")
    with op.batch_alter_table("findings") as batch:
        for column in ("attributions", "top_features", "category", "incident_id"):
            batch.drop_column(column)
