"""users sign in: password hash, role, active, auth epoch, time zone; personal API tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not batch mode: on SQLite a batch rebuild of user_account drops the
    # old table, and with foreign keys on that DROP deletes every mail account (ON DELETE
    # CASCADE) and clears every record's owner (SET NULL). tests/integration/test_migrations.py
    # migrates a filled database to prove nothing is lost.
    op.add_column("user_account", sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.add_column(
        "user_account",
        sa.Column(
            "role",
            sa.Enum("admin", "user", name="userrole", native_enum=False, length=32),
            server_default="user",
            nullable=False,
        ),
    )
    op.add_column(
        "user_account",
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "user_account", sa.Column("auth_epoch", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "user_account",
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_api_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("auth_epoch")
        batch_op.drop_column("is_active")
        batch_op.drop_column("role")
        batch_op.drop_column("password_hash")
