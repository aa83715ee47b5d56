"""Set-based inserts and lookups: what they store and count, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, func, select

from postroom.store.bulk import dialect_of, in_parameter, insert_rows, list_parameter
from postroom.store.db import table_of
from postroom.store.models import PrivateEntry, PrivateKind
from tests.integration.store.factories import count

ADDRESS = PrivateKind.ADDRESS


def test_inserted_rows_are_counted_and_duplicates_left_as_they_are(session_factory):
    before = datetime.now(UTC)
    with session_factory.begin() as session:
        rows = [(ADDRESS, "a@example.com"), (ADDRESS, "b@example.com"), (ADDRESS, "a@example.com")]
        assert insert_rows(session, PrivateEntry, ("kind", "value"), rows) == 2
    with session_factory.begin() as session:
        rows = [(PrivateKind.DOMAIN, "b@example.com"), (PrivateKind.DOMAIN, "c.example")]
        assert insert_rows(session, PrivateEntry, ("kind", "value"), rows) == 1
        assert insert_rows(session, PrivateEntry, ("kind", "value"), []) == 0
    with session_factory() as session:
        stored = session.scalars(select(PrivateEntry).order_by(PrivateEntry.id)).all()
    assert [(e.kind, e.value) for e in stored] == [
        (ADDRESS, "a@example.com"),
        (ADDRESS, "b@example.com"),
        (PrivateKind.DOMAIN, "c.example"),
    ]
    # created_at, left out, is the column's default: now, once for the whole statement
    assert before <= stored[0].created_at == stored[1].created_at <= datetime.now(UTC)


def test_a_column_left_out_whose_default_is_sql_is_refused(session_factory):
    table = Table(
        "nowhere",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", DateTime, default=func.now()),
    )
    with session_factory() as session, pytest.raises(ValueError, match=r"nowhere\.at"):
        insert_rows(session, table, ("id",), [(1,)])


def test_in_parameter_takes_many_values_of_any_text(session_factory):
    values = [f"ü{n}'\"%s?@example.com" for n in range(1500)]
    with session_factory.begin() as session:
        insert_rows(session, PrivateEntry, ("kind", "value"), [(ADDRESS, v) for v in values])
    table = table_of(PrivateEntry).c
    with session_factory() as session:
        dialect = dialect_of(session)
        by_value = select(table.id, table.value).where(in_parameter(dialect, table.value, "v"))
        wanted = [*values[::2], "nobody@example.com"]
        found = dict(session.execute(by_value, {"v": list_parameter(session, wanted)}).all())
        assert sorted(found.values()) == sorted(values[::2])
        by_id = select(table.value).where(in_parameter(dialect, table.id, "ids"))
        ids = [*found, 10**6]
        assert set(session.scalars(by_id, {"ids": list_parameter(session, ids)})) == set(
            found.values()
        )
        assert session.scalars(by_id, {"ids": list_parameter(session, [])}).all() == []
    assert count(session_factory, PrivateEntry) == 1500


def test_boolean_columns_are_inserted_on_both_backends(session_factory):
    """PostgreSQL's unnest path sent uncast parameters as TEXT[], which a boolean column
    refuses; now they go as BOOLEAN[]."""
    from postroom.store.models import Person, PersonEmail

    with session_factory.begin() as session:
        person = Person(name="Anna", name_key="anna")
        session.add(person)
        session.flush()
        rows = [
            (person.id, "a@x.example", "a@x.example", True),
            (person.id, "b@x.example", "b@x.example", False),
        ]
        columns = ("person_id", "address", "address_key", "is_primary")
        assert insert_rows(session, PersonEmail, columns, rows) == 2
    with session_factory() as session:
        stored = session.execute(
            select(PersonEmail.address, PersonEmail.is_primary).order_by(PersonEmail.address)
        ).all()
    assert [tuple(r) for r in stored] == [("a@x.example", True), ("b@x.example", False)]
