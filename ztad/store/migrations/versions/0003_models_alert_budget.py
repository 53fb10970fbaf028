"""The model registry's index in SQL, and each run's alert budget.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-15

Creates ``models``: one row per registered model version (the value ``findings.model_version``
and ``runs.model_version`` hold), with its training interval and rows, features, parameters,
library versions, training metrics, calibrated threshold, where its artifacts are and the
SHA-256 of each file, and why it was trained. The artifacts stay in the registry folder or
object store; this is its index, so that SQL can join findings to the model that raised them.

Adds to ``runs`` the alert budget of the day: the target false-positive rate, the alerts it
promises (``target_fpr x rows_scored``), and how many events the ensemble alone and the
behavioural rules flagged. Rows written by earlier revisions keep NULL there.

Creates two views: ``model_findings`` (each finding with its model's facts) and
``daily_budget`` (each day's latest successful run, expected against actual model alerts).

Types and view texts are spelled out here rather than imported, so that this revision keeps
creating the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
DOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")

RUN_COLUMNS = (
    ("target_fpr", sa.Double(), "alert budget the model's threshold was calibrated for"),
    ("expected_alerts", sa.Double(), "target_fpr x rows_scored: the budget's alerts"),
    ("rows_model_flagged", sa.BigInteger(), "events over the model threshold (the ensemble alone)"),
    ("rows_rule_flagged", sa.BigInteger(), "events a behavioural rule flagged"),
)

#: View name -> SELECT text (the same on PostgreSQL and SQLite), in creation order.
VIEWS = {
    "model_findings": """
        SELECT f.finding_id, f.day, f.event_time, f.user_id, f.category, f.severity,
               f.severity_level, f.score, f.threshold, f.model_version,
               m.trained_at, m.trained_from, m.trained_to, m.training_rows, m.detectors,
               m.target_fpr, m.threshold AS model_threshold, m.train_reason, m.artifact_uri
        FROM findings f
        LEFT JOIN models m ON m.model_version = f.model_version
    """,
    "daily_budget": """
        SELECT r.day, r.run_id, r.model_version, r.model_action, r.rows_scored, r.target_fpr,
               r.expected_alerts, r.rows_model_flagged, r.rows_rule_flagged, r.rows_flagged,
               CASE WHEN r.expected_alerts > 0
                    THEN r.rows_model_flagged / r.expected_alerts END AS model_to_expected
        FROM runs r
        WHERE r.status = 'success'
          AND r.finished_at = (
              SELECT MAX(x.finished_at) FROM runs x WHERE x.day = r.day AND x.status = 'success'
          )
    """,
}


def _create_models() -> None:
    op.create_table(
        "models",
        sa.Column("model_version", sa.Text(), nullable=False,
                  comment="registry version, as in findings.model_version"),
        sa.Column("trained_at", TIMESTAMP, nullable=False, comment="when the registry wrote the artifact set"),
        sa.Column("trained_from", sa.Date(), nullable=False, comment="first training day"),
        sa.Column("trained_to", sa.Date(), nullable=False,
                  comment="first day after the training days [trained_from, trained_to)"),
        sa.Column("training_rows", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), comment="ensemble or detector"),
        sa.Column("detectors", DOC, comment="member detectors, in order"),
        sa.Column("feature_names", DOC, nullable=False, comment="model inputs, in order"),
        sa.Column("params", DOC, comment="model parameters and the job settings it was trained with"),
        sa.Column("libraries", DOC, comment="library -> installed version at training"),
        sa.Column("metrics", DOC, comment="training metrics (fit seconds, per-member thresholds ...)"),
        sa.Column("target_fpr", sa.Double(), comment="alert budget the threshold was calibrated for"),
        sa.Column("threshold", sa.Double(), comment="calibrated alert threshold on the ensemble score"),
        sa.Column("calibration_rows", sa.BigInteger(), comment="normal rows the threshold was calibrated on"),
        sa.Column("artifact_uri", sa.Text(), nullable=False, comment="folder or URL of the version's artifact set"),
        sa.Column("metadata_sha256", sa.Text(), nullable=False,
                  comment="SHA-256 of metadata.json, as the registry index holds it"),
        sa.Column("files", DOC, nullable=False, comment="artifact file -> SHA-256"),
        sa.Column("train_reason", sa.Text(), comment="why it was trained (retrain policy)"),
        sa.Column("trained_for_day", sa.Date(), comment="the day whose run trained it"),
        sa.Column("run_id", sa.Text(), comment="the run that trained it"),
        sa.Column("registered_at", TIMESTAMP, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("model_version", name=op.f("pk_models")),
    )
    op.create_index(op.f("ix_models_trained_to"), "models", ["trained_to"])


def upgrade() -> None:
    """Add the run budget columns, the models table and the two views."""
    with op.batch_alter_table("runs") as batch:
        for name, kind, comment in RUN_COLUMNS:
            batch.add_column(sa.Column(name, kind, comment=comment))
    _create_models()
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def downgrade() -> None:
    """Drop the views, the models table and the run budget columns."""
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("models")
    with op.batch_alter_table("runs") as batch:
        for name, _, _ in reversed(RUN_COLUMNS):
            batch.drop_column(name)
