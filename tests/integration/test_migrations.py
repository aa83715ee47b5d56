"""Upgrading a filled database loses nothing, on SQLite and PostgreSQL.

A batch rebuild of a table on SQLite drops the old table; with foreign keys on, that DROP
deletes or clears every row that refers to it (ON DELETE CASCADE / SET NULL). So each
migration since the first is run here on a database holding a row in every table, and every
row must still be there, linked as before.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, inspect, select, text

from postroom.store.db import create_db_engine, upgrade
from postroom.store.models import Base
from tests.support.postgres import create_database, find_or_start_postgres

FIRST = "0001"
NOW = "2026-01-02 03:04:05"

ROWS = [
    "INSERT INTO user_account (id, email, name, created_at) VALUES (1, 'robin@firm.example',"
    " 'Robin', :now)",
    "INSERT INTO company (id, name, name_key, created_at, updated_at) VALUES (1, 'Acme',"
    " 'acme', :now, :now)",
    "INSERT INTO person (id, kind, name, name_key, company_id, links, owner_id, created_at,"
    " updated_at) VALUES (1, 'candidate', 'Anna Berg', 'anna berg', 1, '[]', 1, :now, :now)",
    "INSERT INTO person_email (id, person_id, address, address_key, is_primary) VALUES"
    " (1, 1, 'Anna@Acme.example', 'anna@acme.example', true)",
    "INSERT INTO person_phone (id, person_id, number, label) VALUES (1, 1, '+442079460958',"
    " 'work')",
    "INSERT INTO person_tag (person_id, tag) VALUES (1, 'python')",
    "INSERT INTO mail_account (id, user_id, label, imap_host, imap_port, imap_tls, username,"
    " secret, visibility, is_enabled, capabilities, needs_reauth, consecutive_failures,"
    " created_at) VALUES (1, 1, 'Robin', 'imap.firm.example', 993, 'implicit', 'robin',"
    " :secret, 'everything', true, '[]', false, 0, :now)",
    "INSERT INTO account_address (id, account_id, address, address_key) VALUES (1, 1,"
    " 'robin@firm.example', 'robin@firm.example')",
    "INSERT INTO internal_domain (domain) VALUES ('firm.example')",
    "INSERT INTO private_entry (id, kind, value, created_at) VALUES (1, 'address',"
    " 'lawyer@private.example', :now)",
    "INSERT INTO mail_folder (id, account_id, name_raw, name, is_tracked, state, error_count)"
    " VALUES (1, 1, :inbox, 'INBOX', true, 'live', 0)",
    "INSERT INTO mail_message (id, account_id, identity_key, fingerprint, subject, direction,"
    " kind, created_at) VALUES (1, 1, 'e:1', 'f:1', 'Hello', 'received', 'conversation', :now)",
    "INSERT INTO message_key (id, account_id, key, message_id) VALUES (1, 1, 'e:1', 1)",
    "INSERT INTO message_participant (message_id, role, address_key, display_name) VALUES"
    " (1, 'from', 'anna@acme.example', 'Anna')",
    "INSERT INTO message_location (folder_id, uidvalidity, uid, message_id, flags) VALUES"
    " (1, 7, 42, 1, '[]')",
    "INSERT INTO activity (id, person_id, fingerprint, message_id, kind, direction, subject,"
    " participants, body_state, text, reply_text, attachments, created_at) VALUES (1, 1, 'f:1',"
    " 1, 'email', 'received', 'Hello', '{}', 'present', 'Hi Robin', 'Hi Robin', '[]', :now)",
    "INSERT INTO quarantine (id, account_id, folder_id, uidvalidity, uid, error, attempts,"
    " created_at, last_attempt_at) VALUES (1, 1, 1, 7, 43, 'broken', 1, :now, :now)",
]

LINKS = {
    "mail_account.user_id": "SELECT user_id FROM mail_account",
    "person.owner_id": "SELECT owner_id FROM person",
    "person.company_id": "SELECT company_id FROM person",
    "activity.message_id": "SELECT message_id FROM activity",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request, tmp_path, worker_id):
    """An empty database on each backend (no migration run yet)."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        server = find_or_start_postgres()
        engine = create_db_engine(
            create_database(server, f"postroom_migrate_{worker_id}_{os.getpid()}")
        )
    yield engine
    engine.dispose()


def test_upgrading_a_filled_database_keeps_every_row_and_link(fresh_engine):
    upgrade(fresh_engine, FIRST)
    with fresh_engine.begin() as connection:
        for statement in ROWS:
            connection.execute(
                text(statement), {"now": NOW, "secret": b"sealed", "inbox": b"INBOX"}
            )
    tables = [
        t for t in Base.metadata.sorted_tables if t.name in inspect(fresh_engine).get_table_names()
    ]
    with fresh_engine.connect() as connection:
        before = {t.name: connection.scalar(select(func.count()).select_from(t)) for t in tables}
        links = {name: connection.scalar(text(query)) for name, query in LINKS.items()}
    assert all(before.values()), before

    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        after = {t.name: connection.scalar(select(func.count()).select_from(t)) for t in tables}
        assert after == before
        assert {name: connection.scalar(text(query)) for name, query in LINKS.items()} == links
        search_text = connection.scalar(text("SELECT search_text FROM person"))
    assert "anna berg" in search_text
    assert "acme" in search_text
