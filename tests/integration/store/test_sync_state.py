"""Message locations: added in batches, linked again when seen again, their flags as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from postroom.store import sync_state
from postroom.store.messages import store_messages
from postroom.store.models import MailMessage, MessageLocation
from tests.integration.store.factories import count, message


@pytest.fixture
def folders(session_factory, account_id) -> tuple[int, int]:
    with session_factory.begin() as session:
        return tuple(
            sync_state.ensure_folder(
                session=session,
                account_id=account_id,
                name_raw=name.encode(),
                name=name,
                delimiter="/",
                role=None,
            ).id
            for name in ("INBOX", "Archive")
        )


@pytest.fixture
def message_ids(session_factory, account_id) -> list[int]:
    with session_factory.begin() as session:
        ids, _ = store_messages(
            session=session, account_id=account_id, messages=[message(n) for n in range(6)]
        )
    return list(ids.values())


def locations(session_factory) -> dict[tuple[int, int, int], tuple[int, list[str], bool]]:
    with session_factory() as session:
        return {
            (row.folder_id, row.uidvalidity, row.uid): (
                row.message_id,
                row.flags,
                row.unlinked_at is not None,
            )
            for row in session.scalars(select(MessageLocation))
        }


def test_locations_of_a_batch_with_their_flags(session_factory, folders, message_ids):
    inbox, _ = folders
    rows = [
        (10 + i, mid, 500 + i, flags)
        for i, (mid, flags) in enumerate(
            zip(
                message_ids,
                [(), ("\\Seen",), ("\\Seen", "$Label"), ["\\Seen"], (), ()],
                strict=True,
            )
        )
    ]
    with session_factory.begin() as session:
        sync_state.add_locations(session=session, folder_id=inbox, uidvalidity=7, rows=rows)
    stored = locations(session_factory)
    assert stored[(inbox, 7, 10)] == (message_ids[0], [], False)
    assert stored[(inbox, 7, 12)] == (message_ids[2], ["\\Seen", "$Label"], False)
    assert stored[(inbox, 7, 13)] == (message_ids[3], ["\\Seen"], False)
    with session_factory() as session:
        modseqs = session.scalars(select(MessageLocation.modseq).order_by(MessageLocation.uid))
        assert list(modseqs) == [500, 501, 502, 503, 504, 505]
    with session_factory.begin() as session:  # the same flags through the ORM
        session.add(
            MessageLocation(
                folder_id=inbox,
                uidvalidity=8,
                uid=12,
                message_id=message_ids[2],
                flags=["\\Seen", "$Label"],
            )
        )
    with session_factory() as session:
        as_text = "flags" if session.get_bind().dialect.name == "sqlite" else "flags::text"
        raw = session.scalars(text(f"SELECT {as_text} FROM message_location WHERE uid = 12"))
        batch, orm = raw.all()
    assert batch == orm  # the same JSON text (PostgreSQL's json keeps it as it was sent)


def test_a_batch_mixing_new_known_and_unlinked_locations(session_factory, folders, message_ids):
    inbox, archive = folders
    with session_factory.begin() as session:
        sync_state.add_locations(
            session=session,
            folder_id=inbox,
            uidvalidity=7,
            rows=[(1, message_ids[0], None, ()), (2, message_ids[1], None, ())],
        )
        sync_state.add_locations(
            session=session,
            folder_id=archive,
            uidvalidity=7,
            rows=[(2, message_ids[2], None, ())],
        )
        sync_state.unlink_uid_ranges(
            session=session, folder_id=inbox, uidvalidity=7, ranges=[(2, 2)]
        )
        sync_state.unlink_uid_ranges(
            session=session, folder_id=archive, uidvalidity=7, ranges=[(2, 2)]
        )
        gone = datetime.now(UTC) - timedelta(days=30)
        session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_([message_ids[1], message_ids[2]]))
            .values(deleted_on_server_at=gone)
        )
    # INBOX again: uid 1 known and linked, uid 2 unlinked, uid 3 new (twice in the batch)
    batch = [
        (1, message_ids[0], 9, ("\\Seen",)),
        (2, message_ids[1], 9, ()),
        (3, message_ids[3], 9, ()),
        (3, message_ids[3], 9, ()),
    ]
    with session_factory.begin() as session:
        sync_state.add_locations(session=session, folder_id=inbox, uidvalidity=7, rows=batch)

    stored = locations(session_factory)
    assert stored[(inbox, 7, 1)] == (message_ids[0], [], False)  # a known location is kept
    assert stored[(inbox, 7, 2)] == (message_ids[1], [], False)  # linked again
    assert stored[(inbox, 7, 3)] == (message_ids[3], [], False)
    assert stored[(archive, 7, 2)] == (message_ids[2], [], True)  # another folder: untouched
    assert count(session_factory, MessageLocation) == 4
    with session_factory() as session:
        deleted = dict(
            session.execute(select(MailMessage.id, MailMessage.deleted_on_server_at)).all()
        )
    assert deleted[message_ids[1]] is None  # seen on the server again
    assert deleted[message_ids[2]] is not None


def test_every_location_new_and_a_replay(session_factory, folders, message_ids):
    inbox, _ = folders
    rows = [(100 + i, mid, None, ("\\Seen",)) for i, mid in enumerate(message_ids)]
    for _ in range(2):
        with session_factory.begin() as session:
            sync_state.add_locations(session=session, folder_id=inbox, uidvalidity=1, rows=rows)
            sync_state.add_locations(session=session, folder_id=inbox, uidvalidity=1, rows=[])
    assert count(session_factory, MessageLocation) == len(message_ids)
    assert all(not unlinked for _, _, unlinked in locations(session_factory).values())
