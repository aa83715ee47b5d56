from sqlalchemy import inspect

from postroom.store.db import current_revision


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
