"""What a run skipped, and what a learning day lacks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Adds to ``runs``:

- ``rows_skipped``: input lines that carry no authentication attempt (session, cron, sudo
  lines of a syslog file ...), counted so that every record read is accounted for;
- ``files_skipped``: the files of the day's partition that were not read, as a list of
  ``{path, size_bytes, reason}``;
- ``lacking``: what the history of a *learning* day still lacks before a model can be
  trained (e.g. ``3 of 7 history days; 40 of 50 training rows``).

A run's ``status`` may now also be ``running`` (written when a run starts, so that a killed
run leaves a row), ``learning`` (no model yet: behavioural rules only) and ``empty`` (no
events). Rows written by earlier revisions keep NULL in the new columns. Types are spelled
out here rather than imported, so that this revision keeps creating the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DOC = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

RUN_COLUMNS = (
    ("rows_skipped", sa.BigInteger(), "input lines without an authentication attempt"),
    ("files_skipped", DOC, "partition files not read: list of {path, size_bytes, reason}"),
    ("lacking", sa.Text(), "what a learning day's history lacks before a model can be trained"),
)


def upgrade() -> None:
    """Add the three ``runs`` columns."""
    with op.batch_alter_table("runs") as batch:
        for name, kind, comment in RUN_COLUMNS:
            batch.add_column(sa.Column(name, kind, comment=comment))


#: The view over ``runs`` (revision 0003), which SQLite's rebuild of the table must not see.
DAILY_BUDGET = """
    SELECT r.day, r.run_id, r.model_version, r.model_action, r.rows_scored, r.target_fpr,
           r.expected_alerts, r.rows_model_flagged, r.rows_rule_flagged, r.rows_flagged,
           CASE WHEN r.expected_alerts > 0
                THEN r.rows_model_flagged / r.expected_alerts END AS model_to_expected
    FROM runs r
    WHERE r.status = 'success'
      AND r.finished_at = (
          SELECT MAX(x.finished_at) FROM runs x WHERE x.day = r.day AND x.status = 'success'
      )
"""


def downgrade() -> None:
    """Drop the three ``runs`` columns (the view over ``runs`` is set aside meanwhile)."""
    op.execute("DROP VIEW IF EXISTS daily_budget")
    with op.batch_alter_table("runs") as batch:
        for name, _, _ in reversed(RUN_COLUMNS):
            batch.drop_column(name)
    op.execute(f"CREATE VIEW daily_budget AS {DAILY_BUDGET.strip()}")
