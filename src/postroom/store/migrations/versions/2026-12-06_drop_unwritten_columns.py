"""drop the columns nothing writes: mail_message.thread_key, mail_folder.mailboxid,
mail_folder.backfill_horizon, mail_folder.exists_seen, mail_account.capabilities

Threads will be computed from ``mail_message.references`` and In-Reply-To when the mail
client needs them; a history limit by date, folder renames by MAILBOXID and capabilities
kept for diagnostics come back with the features that write them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = (
    ("mail_message", sa.Column("thread_key", sa.String(length=255), nullable=True)),
    ("mail_folder", sa.Column("mailboxid", sa.String(length=255), nullable=True)),
    ("mail_folder", sa.Column("backfill_horizon", sa.DateTime(), nullable=True)),
    ("mail_folder", sa.Column("exists_seen", sa.Integer(), nullable=True)),
    ("mail_account", sa.Column("capabilities", sa.JSON(), server_default="[]", nullable=False)),
)


def upgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+), never batch mode: a batch rebuild
    # drops the old table, and with foreign keys on that cascades to every row referring to
    # it (tests/integration/test_migrations.py).
    for table, column in DROPPED:
        op.execute(f'ALTER TABLE {table} DROP COLUMN "{column.name}"')


def downgrade() -> None:
    for table, column in DROPPED:
        op.add_column(table, column)
