"""quarantine: retry_at (when the sync tries a message again) and released_at (skipped for good)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable columns only: a plain ALTER TABLE ADD COLUMN, no batch mode (see 0003)
    op.add_column("quarantine", sa.Column("retry_at", sa.DateTime(), nullable=True))
    op.add_column("quarantine", sa.Column("released_at", sa.DateTime(), nullable=True))
    # messages quarantined before: tried once more at the next sync (a fatal protocol error
    # used to quarantine every message of the folder at once)
    op.execute(
        "UPDATE quarantine SET retry_at = last_attempt_at"
        " WHERE uid IS NOT NULL AND is_suspect = false"
    )


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("released_at")
        batch_op.drop_column("retry_at")
