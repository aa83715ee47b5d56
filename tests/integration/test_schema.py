from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from postroom.store.db import current_revision
from postroom.store.models import Base


def test_migrations_build_every_table(engine):
    tables = set(inspect(engine).get_table_names())
    assert {
        "person",
        "person_email",
        "mail_account",
        "mail_folder",
        "mail_message",
        "message_location",
        "message_key",
        "activity",
        "quarantine",
    } <= tables
    assert current_revision(engine) is not None


def test_the_migrations_give_exactly_the_models_schema(engine):
    """A model changed without a migration (or the reverse) fails here, on both backends."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
