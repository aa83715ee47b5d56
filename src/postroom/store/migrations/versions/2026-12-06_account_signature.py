"""mail_account: signature (put below what the user writes in the mail client)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a nullable column: a plain ALTER TABLE ADD COLUMN, no batch mode (see 0003)
    op.add_column("mail_account", sa.Column("signature", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_account", schema=None) as batch_op:
        batch_op.drop_column("signature")
