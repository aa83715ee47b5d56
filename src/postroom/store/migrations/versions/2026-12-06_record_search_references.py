"""record search text (accent- and case-insensitive); a message's References

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:20:00
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fold(text: str) -> str:
    # domain.records.fold_for_search as it was when this migration was written: a migration
    # must not change meaning when the code it once called changes.
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def upgrade() -> None:
    # Plain ADD COLUMNs, not batch mode: a batch rebuild of person or mail_message on SQLite
    # would drop the old table and, with foreign keys on, cascade to their emails, phones,
    # activities and locations (see tests/integration/test_migrations.py).
    op.add_column("person", sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "mail_message", sa.Column("references", sa.JSON(), server_default="[]", nullable=False)
    )

    connection = op.get_bind()
    parts: dict[int, list[str]] = {}
    for person_id, name, company in connection.execute(
        sa.text(
            "SELECT person.id, person.name, company.name FROM person "
            "LEFT JOIN company ON company.id = person.company_id"
        )
    ):
        parts[person_id] = [name or "", company or ""]
    for query in (
        "SELECT person_id, address FROM person_email",
        "SELECT person_id, number FROM person_phone",
        "SELECT person_id, tag FROM person_tag",
    ):
        for person_id, value in connection.execute(sa.text(query)):
            parts.setdefault(person_id, []).append(value or "")
    update = sa.text("UPDATE person SET search_text = :text WHERE id = :id")
    rows = [
        {"id": pid, "text": _fold(" ".join(p for p in values if p))}
        for pid, values in parts.items()
    ]
    if rows:
        connection.execute(update, rows)


def downgrade() -> None:
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.drop_column("references")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("search_text")
