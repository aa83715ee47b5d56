"""sync_worker: the heartbeat of a running worker, for ``postroom status``

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a new table only: no batch mode, which rebuilds tables on SQLite (see 0003)
    op.create_table(
        "sync_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("beat_every", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_worker")),
    )


def downgrade() -> None:
    op.drop_table("sync_worker")
