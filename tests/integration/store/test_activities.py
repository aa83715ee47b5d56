"""Activities: inserted once per (fingerprint, record), counted, stored as the ORM would."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text

from postroom.domain.matching import Direction
from postroom.store.activities import NewActivity, insert_activities
from postroom.store.models import Activity, ActivityKind, BodyState, Person

WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=-5)))


@pytest.fixture
def people(session_factory) -> list[int]:
    with session_factory.begin() as session:
        persons = [Person(name=name, name_key=name.lower()) for name in ("Anna", "Bob", "Cleo")]
        session.add_all(persons)
        session.flush()
        return [p.id for p in persons]


def activity(fingerprint: str, person_id: int, **changes: Any) -> NewActivity:
    """An activity as ``pipeline.build_activity_rows`` makes it."""
    row: dict[str, Any] = {
        "fingerprint": fingerprint,
        "message_id": None,
        "direction": Direction.RECEIVED,
        "occurred_at": WHEN,
        "subject": f"About {fingerprint}",
        "participants": {"from": [["Anna Berg", "anna@example.com"]], "to": [["", "r@x.example"]]},
        "body_state": BodyState.PRESENT,
        "text": "Hello",
        "reply_text": "Hello",
        "attachments": [{"filename": "cv.pdf", "content_type": "application/pdf", "size": 9}],
        "person_id": person_id,
        "kind": ActivityKind.EMAIL,
        "detail": None,
    }
    return NewActivity(**{**row, **changes})


def test_each_message_and_record_once_and_the_new_ones_counted(session_factory, people):
    anna, bob, cleo = people
    rows = [
        activity("f:1", anna),
        activity("f:1", bob),
        activity("f:1", anna, subject="a later copy"),  # the same pair again: left out
        activity("f:2", anna, attachments=[], kind=ActivityKind.BOUNCE, detail="5.1.1"),
    ]
    with session_factory.begin() as session:
        assert insert_activities(session=session, rows=rows) == 3
    with session_factory.begin() as session:
        again = [activity("f:1", bob), activity("f:2", anna), activity("f:2", cleo)]
        assert insert_activities(session=session, rows=again) == 1
        assert insert_activities(session=session, rows=[]) == 0
    with session_factory() as session:
        stored = session.scalars(select(Activity).order_by(Activity.id)).all()
    assert [(a.fingerprint, a.person_id) for a in stored] == [
        ("f:1", anna),
        ("f:1", bob),
        ("f:2", anna),
        ("f:2", cleo),
    ]
    first, _, bounce, _ = stored
    assert first.subject == "About f:1"
    assert first.occurred_at == WHEN
    assert first.participants == activity("f:1", anna).participants
    assert first.attachments == activity("f:1", anna).attachments
    assert (first.kind, first.direction, first.body_state) == (
        ActivityKind.EMAIL,
        Direction.RECEIVED,
        BodyState.PRESENT,
    )
    assert (bounce.kind, bounce.detail, bounce.attachments) == (ActivityKind.BOUNCE, "5.1.1", [])
    assert first.created_at == stored[1].created_at <= datetime.now(UTC)


def test_the_stored_text_is_the_orms(session_factory, people):
    anna, bob, _ = people
    with session_factory.begin() as session:
        insert_activities(session=session, rows=[activity("f:1", anna)])
        orm = activity("f:1", bob)
        session.add(Activity(**dataclasses.asdict(orm)))
    columns = "occurred_at, participants, attachments, kind, direction, body_state"
    with session_factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            columns = columns.replace("participants", "participants::text")
            columns = columns.replace("attachments", "attachments::text")
        batch, by_orm = session.execute(text(f"SELECT {columns} FROM activity ORDER BY id")).all()
    assert tuple(batch) == tuple(by_orm)
