"""Initial findings schema: findings, runs and quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

Types are spelled out here rather than imported from ``ztad.store`` so that this revision
keeps creating the same schema whatever later releases change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
IP = sa.Text().with_variant(postgresql.INET(), "postgresql")
DOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "findings",
        sa.Column("finding_id", sa.Text(), nullable=False, comment="'<day>:<event_id>'"),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC day of the run that raised it"),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_time", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text()),
        sa.Column("ip_address", IP),
        sa.Column("location", sa.Text()),
        sa.Column("resource", sa.Text()),
        sa.Column("login_success", sa.Boolean()),
        sa.Column("bytes_transferred", sa.BigInteger()),
        sa.Column("event_label", sa.Text(), comment="evaluation only, when the source is labelled"),
        sa.Column("score", sa.Double()),
        sa.Column("threshold", sa.Double()),
        sa.Column("detectors", DOC, comment="sources that raised it, e.g. rule:<code>"),
        sa.Column("detector_scores", DOC, comment="per-detector normalised score"),
        sa.Column("reasons", DOC, comment="list of {code, text}"),
        sa.Column("model_version", sa.Text()),
        sa.Column("run_id", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'new'")),
        sa.Column("created_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.Column("severity", sa.SmallInteger(), comment="0-100"),
        sa.Column("severity_level", sa.Text()),
        sa.Column("assignee", sa.Text()),
        sa.Column("notes", sa.Text()),
        sa.Column("updated_at", TIMESTAMP, comment="last triage change"),
        sa.PrimaryKeyConstraint("finding_id", name=op.f("pk_findings")),
        sa.CheckConstraint(
            "status IN ('new', 'investigating', 'false_positive', 'confirmed', 'resolved')",
            name=op.f("ck_findings_status"),
        ),
        sa.CheckConstraint("severity BETWEEN 0 AND 100", name=op.f("ck_findings_severity_range")),
        sa.CheckConstraint(
            "severity_level IN ('low', 'medium', 'high', 'critical')",
            name=op.f("ck_findings_severity_level"),
        ),
    )
    op.create_index(op.f("ix_findings_day"), "findings", ["day"])
    op.create_index(op.f("ix_findings_user_id_event_time"), "findings", ["user_id", "event_time"])
    op.create_index(op.f("ix_findings_status"), "findings", ["status"])
    op.create_index(op.f("ix_findings_severity"), "findings", ["severity"])

    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("interval_start", TIMESTAMP),
        sa.Column("interval_end", TIMESTAMP),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("rows_read", sa.BigInteger()),
        sa.Column("rows_quarantined", sa.BigInteger()),
        sa.Column("rows_duplicate", sa.BigInteger()),
        sa.Column("rows_scored", sa.BigInteger()),
        sa.Column("rows_flagged", sa.BigInteger()),
        sa.Column("model_version", sa.Text()),
        sa.Column("model_action", sa.Text()),
        sa.Column("threshold", sa.Double()),
        sa.Column("started_at", TIMESTAMP),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("timings", DOC, comment="seconds per step"),
        sa.Column("message", sa.Text()),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_day"), "runs", ["day"])

    op.create_table(
        "quarantine",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Text()),
        sa.Column("source", sa.Text(), comment="file name or URL"),
        sa.Column("source_row", sa.BigInteger(), comment="1-based row/line in the source"),
        sa.Column("field", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("raw", sa.Text(), comment="the original row, as JSON text"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_day"), "quarantine", ["day"])


def downgrade() -> None:
    """Drop everything this revision created."""
    op.drop_table("quarantine")
    op.drop_table("runs")
    op.drop_table("findings")
