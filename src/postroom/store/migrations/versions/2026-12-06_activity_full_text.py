"""full-text search over activities' subject and text (accent- and case-insensitive)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:00:00

SQLite: ``activity_fts``, an external-content FTS5 table over ``activity(subject, text)``
(``tokenize='unicode61 remove_diacritics 2'``: case and accents folded), kept current by
triggers on activity INSERT, UPDATE OF subject/text and DELETE. Triggers fire for every
writer, the sync's bulk inserts and ``fill_body``'s UPDATE included, and for rows deleted by
the ON DELETE CASCADE of a person, in the same transaction as the change.

Both: ``ix_activity_occurred_at`` (occurred_at DESC, undated last), so results too many to
rank come newest first without sorting them all.

Caution for later migrations: a ``batch_alter_table("activity")`` on SQLite copies the table
and drops the old one, and the triggers with it; such a migration must create them again.

PostgreSQL: ``activity.search_vector``, a STORED generated ``tsvector`` with a GIN index:
``to_tsvector('simple', ...)`` of the subject (weight A) and the first 100,000 characters of
the text (weight B; a tsvector holds at most 1 MB), each folded first as
``domain.records.fold_for_search`` folds the words typed: ``normalize(..., NFKD)`` with the
combining marks removed (so ``café`` is indexed as ``cafe``), lower case, ``ß`` as ``ss``,
and the ASCII punctuation as spaces (so ``anna@acme.example`` gives ``anna acme example``,
as FTS5's unicode61 tokenizer splits it). Only built-in functions: no extension (``unaccent``)
is needed; ``normalize`` needs a UTF8 database (PostgreSQL's default).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The ASCII punctuation, each turned into a space before PostgreSQL's parser sees the text.
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_MARKS = "[\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f]"


def _pg_fold(expression: str) -> str:
    punctuation = _PUNCTUATION.replace("'", "''")
    return (
        "translate(replace(lower(regexp_replace(normalize("
        f"{expression}, NFKD), '{_MARKS}', '', 'g')), 'ß', 'ss'), "
        f"'{punctuation}', '{' ' * len(_PUNCTUATION)}')"
    )


_TEXT = "left(coalesce(text, ''), 100000)"
_PG_VECTOR = (
    f"setweight(to_tsvector('simple'::regconfig, {_pg_fold('subject')}), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, {_pg_fold(_TEXT)}), 'B')"
)

_SQLITE = [
    "CREATE VIRTUAL TABLE activity_fts USING fts5("
    "subject, text, content='activity', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER activity_fts_insert AFTER INSERT ON activity BEGIN "
    "INSERT INTO activity_fts(rowid, subject, text) VALUES (new.id, new.subject, new.text); "
    "END",
    "CREATE TRIGGER activity_fts_delete AFTER DELETE ON activity BEGIN "
    "INSERT INTO activity_fts(activity_fts, rowid, subject, text) "
    "VALUES ('delete', old.id, old.subject, old.text); "
    "END",
    "CREATE TRIGGER activity_fts_update AFTER UPDATE OF subject, text ON activity BEGIN "
    "INSERT INTO activity_fts(activity_fts, rowid, subject, text) "
    "VALUES ('delete', old.id, old.subject, old.text); "
    "INSERT INTO activity_fts(rowid, subject, text) VALUES (new.id, new.subject, new.text); "
    "END",
    # the backfill: index every activity already stored
    "INSERT INTO activity_fts(activity_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # newest-first search results walk this index (store.search); SQLite's DESC already puts
    # NULL last, PostgreSQL's needs saying (the models cannot say it for one backend only)
    nulls = " NULLS LAST" if dialect == "postgresql" else ""
    op.execute(f"CREATE INDEX ix_activity_occurred_at ON activity (occurred_at DESC{nulls})")
    if dialect == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
    elif dialect == "postgresql":
        # ADD COLUMN ... GENERATED ... STORED computes the column for every existing row
        op.execute(
            f"ALTER TABLE activity ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({_PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_activity_search_vector ON activity USING gin (search_vector)")
    else:
        raise NotImplementedError(f"full-text search for {dialect}")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_activity_occurred_at")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS activity_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS activity_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_activity_search_vector")
        op.execute("ALTER TABLE activity DROP COLUMN IF EXISTS search_vector")
