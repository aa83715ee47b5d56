"""Storing batches of messages: known and new ones, duplicates, keys, concurrent batches."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import select, text

from postroom.domain.matching import Direction, Participant
from postroom.mail.types import MessageKind
from postroom.store.messages import NewMessage, find_message_ids, store_messages
from postroom.store.models import (
    MailMessage,
    MessageKey,
    MessageParticipant,
)
from tests.integration.store.factories import count, message


def test_a_batch_of_known_new_duplicate_and_rekeyed_messages(session_factory, account_id):
    with session_factory.begin() as session:
        first, new = store_messages(
            session=session, account_id=account_id, messages=[message(1), message(2)]
        )
    assert new == {"e:E1", "e:E2"}
    rekeyed = message(1, emailid="OTHER")  # the same message (fingerprint) under a new key
    batch = [message(2), message(3), message(3), rekeyed, message(4)]
    with session_factory.begin() as session:
        ids, new = store_messages(session=session, account_id=account_id, messages=batch)

    assert new == {"e:E3", "e:E4"}
    assert ids["e:E2"] == first["e:E2"]
    assert ids["e:OTHER"] == first["e:E1"]
    assert len({ids["e:E2"], ids["e:E3"], ids["e:OTHER"], ids["e:E4"]}) == 4
    assert count(session_factory, MailMessage) == 4
    assert count(session_factory, MessageParticipant) == 8  # two a message, once each
    with session_factory() as session:
        keys = dict(session.execute(select(MessageKey.key, MessageKey.message_id)).all())
        assert keys["e:OTHER"] == first["e:E1"]  # the new key is added to the known message
        assert len(keys) == 9
        assert find_message_ids(session=session, account_id=account_id, keys=keys) == keys


def test_replaying_a_batch_stores_nothing_new(session_factory, account_id):
    batch = [message(n) for n in range(5)]
    with session_factory.begin() as session:
        first, _ = store_messages(session=session, account_id=account_id, messages=batch)
    with session_factory.begin() as session:
        again, new = store_messages(session=session, account_id=account_id, messages=batch)
    assert (again, new) == (first, set())
    assert count(session_factory, MailMessage) == 5
    assert count(session_factory, MessageKey) == 10


def test_the_stored_row_is_the_message(session_factory, account_id):
    long = message(7)
    long = NewMessage(
        **{
            **{f: getattr(long, f) for f in NewMessage.__dataclass_fields__},
            "message_id_header": "<" + "x" * 1200 + ">",
            "in_reply_to": "",
            "participants": (Participant("from", "a@example.com", "N" * 400),),
            "gm_msgid": 2**62,
            "kind_reason": "List-Id",
            "kind": MessageKind.BULK,
            "direction": Direction.SENT,
        }
    )
    before = datetime.now(UTC)
    with session_factory.begin() as session:
        ids, _ = store_messages(session=session, account_id=account_id, messages=[long, message(8)])
    with session_factory() as session:
        row = session.get(MailMessage, ids["e:E7"])
        other = session.get(MailMessage, ids["e:E8"])
        assert row is not None
        assert other is not None
        assert row.identity_key == "e:E7"
        assert row.fingerprint == long.fingerprint
        assert row.message_id_header == long.message_id_header[:998]
        assert row.in_reply_to is None
        assert row.date_at == datetime(2025, 3, 3, 9, 7, tzinfo=UTC)
        assert row.internaldate == long.internaldate
        assert (row.size, row.emailid, row.gm_msgid) == (1007, "E7", 2**62)
        assert (row.direction, row.kind, row.kind_reason) == (
            Direction.SENT,
            MessageKind.BULK,
            "List-Id",
        )
        assert row.subject == "Subject 7"
        assert row.source_path is None
        assert row.deleted_on_server_at is None
        assert before <= row.created_at <= datetime.now(UTC)
        assert row.created_at == other.created_at  # one timestamp for the batch
        names = session.scalars(
            select(MessageParticipant.display_name).where(MessageParticipant.message_id == row.id)
        ).all()
        assert names == ["N" * 300]


def test_find_message_ids_takes_any_number_of_keys(session_factory, account_id):
    batch = [message(n, emailid=f"ÉMAIL-'{n}\"") for n in range(1, 1301)]
    with session_factory.begin() as session:
        ids, _ = store_messages(session=session, account_id=account_id, messages=batch)
    assert len(ids) == 1300
    wanted = [*ids, "e:unknown", "f:unknown"]
    with session_factory() as session:
        assert find_message_ids(session=session, account_id=account_id, keys=wanted) == ids
        assert find_message_ids(session=session, account_id=account_id, keys=[]) == {}
        assert find_message_ids(session=session, account_id=account_id + 1, keys=wanted) == {}


def test_two_transactions_storing_the_same_messages_at_once(session_factory, account_id):
    """Two folders' commits hold copies of the same messages: one row each, both get its id."""
    batch = [message(n) for n in range(1, 51)]
    results: dict[str, dict[str, int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def unit(name: str, pause_before: float, pause_after: float) -> None:
        try:
            with session_factory.begin() as session:
                start.wait(timeout=5)
                time.sleep(pause_before)
                ids, _ = store_messages(session=session, account_id=account_id, messages=batch)
                time.sleep(pause_after)  # the other one's insert waits for this commit
                results[name] = ids
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=unit, args=("a", 0.0, 0.4)),
        threading.Thread(target=unit, args=("b", 0.1, 0.0)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert results["a"] == results["b"]
    assert len(set(results["a"].values())) == 50
    assert count(session_factory, MailMessage) == 50
    assert count(session_factory, MessageKey) == 100
    assert count(session_factory, MessageParticipant) == 100


def test_the_stored_text_is_the_orms(session_factory, account_id):
    new = message(1)
    with session_factory.begin() as session:
        store_messages(session=session, account_id=account_id, messages=[new])
        session.add(
            MailMessage(
                account_id=account_id,
                identity_key="orm",
                fingerprint=new.fingerprint,
                subject=new.subject,
                date_at=new.date_at,
                internaldate=new.internaldate,
                size=new.size,
                direction=new.direction,
                kind=new.kind,
            )
        )
    columns = "fingerprint, subject, date_at, internaldate, size, direction, kind"
    with session_factory() as session:
        batch, by_orm = session.execute(
            text(f"SELECT {columns} FROM mail_message ORDER BY id")
        ).all()
    assert tuple(batch) == tuple(by_orm)
