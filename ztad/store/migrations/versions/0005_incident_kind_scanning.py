"""The day's background scanning is an incident kind of its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

``incidents.kind`` may now also be ``scanning``: the one low-severity incident a day that
summarises the internet's background noise (many never-seen addresses, so no ``source_ip``
and no ``user_id``). Revision 0004 stored it as ``source``; its rows, recognisable by their
id ``<day>:scanning``, are given the new kind. A downgrade gives them back ``source``.

SQLite changes a CHECK constraint by rebuilding the table, and refuses to rename a table
while a view names the one it replaces: its views are set aside meanwhile, and re-created
from their own stored text, so that they come back exactly as they were. PostgreSQL alters
the constraint in place and keeps its views.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KINDS = "'user', 'source', 'scanning'"
OLD_KINDS = "'user', 'source'"
KIND_COMMENT = (
    "user: one user's day; source: one address or workstation across users; "
    "scanning: the day's background scanning"
)
OLD_KIND_COMMENT = "user: one user's day; source: one IP across users"
#: The day's scanning incidents, by their id ``<day>:scanning`` (a bound value: a colon in SQL text
#: would read as a parameter).
TO_SCANNING = sa.text("UPDATE incidents SET kind = 'scanning' WHERE incident_id LIKE :ids").bindparams(
    ids="%:scanning"
)


def _set_kinds(kinds: str, comment: str, old_comment: str) -> None:
    """Replace the CHECK constraint on ``incidents.kind`` (SQLite: with its views set aside)."""
    views = _sqlite_views()
    for name, _ in reversed(views):
        op.execute(f"DROP VIEW {name}")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint(op.f("ck_incidents_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_incidents_kind"), f"kind IN ({kinds})")
        batch.alter_column("kind", existing_type=sa.Text(), existing_nullable=False,
                           comment=comment, existing_comment=old_comment)
    for _, sql in views:
        op.execute(sql)


def _sqlite_views() -> list[tuple[str, str]]:
    """(name, CREATE VIEW text) of every SQLite view, in creation order; none on PostgreSQL."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    rows = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid"))
    return [(name, sql) for name, sql in rows]


def upgrade() -> None:
    """Allow kind ``scanning`` and give it to the day's scanning incidents."""
    _set_kinds(KINDS, KIND_COMMENT, OLD_KIND_COMMENT)
    op.execute(TO_SCANNING)


def downgrade() -> None:
    """Store scanning incidents as ``source`` again and allow only ``user`` and ``source``."""
    op.execute("UPDATE incidents SET kind = 'source' WHERE kind = 'scanning'")
    _set_kinds(OLD_KINDS, OLD_KIND_COMMENT, KIND_COMMENT)
