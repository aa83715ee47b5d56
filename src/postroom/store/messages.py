"""Queries for messages, their identity keys and participants, and the quarantine.

Writes are set-based (one statement per table per batch) and idempotent: a message already
stored under one of its identity keys is found, never inserted twice
(UNIQUE(account_id, identity_key) and UNIQUE(account_id, key) back this up).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from postroom.domain.matching import Direction, Participant
from postroom.mail.types import MessageKind
from postroom.store.bulk import dialect_of, in_parameter, insert_rows, list_parameter
from postroom.store.db import chunked, table_of
from postroom.store.models import (
    Activity,
    MailAccount,
    MailMessage,
    MessageKey,
    MessageParticipant,
    Quarantine,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message about to be stored; ``keys`` are all its identity keys, best first."""

    keys: tuple[str, ...]
    fingerprint: str
    subject: str
    direction: Direction
    kind: MessageKind
    participants: tuple[Participant, ...]
    kind_reason: str | None = None
    message_id_header: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    """The Message-IDs of the References field, oldest first (``mail_message.references``)."""
    date_at: datetime | None = None
    internaldate: datetime | None = None
    size: int | None = None
    emailid: str | None = None
    gm_msgid: int | None = None
    source_path: str | None = None

    @property
    def identity_key(self) -> str:
        return self.keys[0]


def find_message_ids(*, session: Session, account_id: int, keys: Iterable[str]) -> dict[str, int]:
    """``{key: message id}`` for the keys already known in this account."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = session.execute(
        _ids_by_key(dialect_of(session)),
        {"account_id": account_id, "keys": list_parameter(session, wanted)},
    )
    return dict(rows.all())


@functools.cache
def _ids_by_key(dialect: str) -> Select[str, int]:
    table = table_of(MessageKey).c
    return select(table.key, table.message_id).where(
        table.account_id == bindparam("account_id"), in_parameter(dialect, table.key, "keys")
    )


@functools.cache
def _ids_by_identity_key(dialect: str) -> Select[str, int]:
    table = table_of(MailMessage).c
    return select(table.identity_key, table.id).where(
        table.account_id == bindparam("account_id"),
        in_parameter(dialect, table.identity_key, "keys"),
    )


def store_messages(
    *, session: Session, account_id: int, messages: Sequence[NewMessage]
) -> tuple[dict[str, int], set[str]]:
    """Store the messages not yet known; return ``({identity_key: id}, new identity keys)``.

    A message is known when any of its keys is; its missing keys are then added to it.
    """
    all_keys = [key for m in messages for key in m.keys]
    known = find_message_ids(session=session, account_id=account_id, keys=all_keys)
    ids: dict[str, int] = {}
    fresh: dict[str, NewMessage] = {}
    for m in messages:
        existing = next((known[k] for k in m.keys if k in known), None) if known else None
        if existing is not None:
            ids[m.keys[0]] = existing
        elif m.keys[0] not in fresh:
            fresh[m.keys[0]] = m
    if fresh:
        insert_rows(
            session,
            MailMessage,
            _MESSAGE_COLUMNS,
            [_message_row(account_id, m) for m in fresh.values()],
        )
        rows = session.execute(
            _ids_by_identity_key(dialect_of(session)),
            {"account_id": account_id, "keys": list_parameter(session, fresh)},
        )
        ids.update(rows.all())
        insert_rows(
            session,
            MessageParticipant,
            ("message_id", "role", "address_key", "display_name"),
            [
                (message_id, p.role, p.address_key, p.name[:300])
                for key, m in fresh.items()
                for message_id in (ids[key],)
                for p in m.participants
            ],
        )
    insert_rows(
        session,
        MessageKey,
        ("account_id", "key", "message_id"),
        [
            (account_id, key, message_id)
            for m in messages
            for message_id in (ids[m.keys[0]],)
            for key in m.keys
            if key not in known
        ],
    )
    return ids, set(fresh)


_MESSAGE_COLUMNS = (
    "account_id",
    "identity_key",
    "fingerprint",
    "emailid",
    "gm_msgid",
    "message_id_header",
    "in_reply_to",
    "references",
    "subject",
    "date_at",
    "internaldate",
    "size",
    "direction",
    "kind",
    "kind_reason",
    "source_path",
)
"""The columns ``_message_row`` gives, in its order (``created_at`` is the default)."""


def _message_row(account_id: int, m: NewMessage) -> tuple[object, ...]:
    return (
        account_id,
        m.keys[0],
        m.fingerprint,
        m.emailid,
        m.gm_msgid,
        (m.message_id_header or None) and m.message_id_header[:998],
        (m.in_reply_to or None) and m.in_reply_to[:998],
        m.references,
        m.subject,
        m.date_at,
        m.internaldate,
        m.size,
        m.direction,
        m.kind,
        m.kind_reason,
        m.source_path,
    )


def list_messages_with_addresses(
    *, session: Session, address_keys: Sequence[str], roles: Sequence[str]
) -> list[MailMessage]:
    """Messages in which one of ``address_keys`` takes part in one of ``roles``, oldest first."""
    message_ids: set[int] = set()
    for chunk in chunked(list(address_keys)):
        message_ids.update(
            session.scalars(
                select(MessageParticipant.message_id).where(
                    MessageParticipant.address_key.in_(chunk),
                    MessageParticipant.role.in_(roles),
                )
            )
        )
    messages: list[MailMessage] = []
    for chunk in chunked(sorted(message_ids)):
        messages.extend(session.scalars(select(MailMessage).where(MailMessage.id.in_(chunk))))
    messages.sort(key=lambda m: m.id)
    return messages


def get_activity_with_copies(
    *, session: Session, activity_id: int, user_id: int
) -> tuple[Activity, list[tuple[MailMessage, MailAccount]]] | None:
    """The activity and the copies of its message (same fingerprint) in the mail accounts of
    ``user_id``, the activity's own message first; None when there is no such activity. The
    list is empty when the user holds no copy: the message is not theirs to open."""
    activity = session.get(Activity, activity_id)
    if activity is None:
        return None
    rows = session.execute(
        select(MailMessage, MailAccount)
        .join(MailAccount, MailAccount.id == MailMessage.account_id)
        .where(MailMessage.fingerprint == activity.fingerprint, MailAccount.user_id == user_id)
        .order_by((MailMessage.id != activity.message_id), MailMessage.id)
    )
    return activity, [(message, account) for message, account in rows]


def mark_message_deleted(*, session: Session, message_id: int) -> None:
    """The message is on the server no more (looked for everywhere): ``deleted_on_server_at``
    is set, unless it was already; its activities stay."""
    session.execute(
        update(MailMessage)
        .where(MailMessage.id == message_id, MailMessage.deleted_on_server_at.is_(None))
        .values(deleted_on_server_at=utcnow())
    )


def list_participants(
    *, session: Session, message_ids: Sequence[int]
) -> dict[int, list[Participant]]:
    """``{message id: [Participant, ...]}`` as stored at ingest."""
    result: dict[int, list[Participant]] = {m: [] for m in message_ids}
    for chunk in chunked(list(message_ids)):
        rows = session.execute(
            select(
                MessageParticipant.message_id,
                MessageParticipant.role,
                MessageParticipant.address_key,
                MessageParticipant.display_name,
            ).where(MessageParticipant.message_id.in_(chunk))
        )
        for message_id, role, key, name in rows:
            result[message_id].append(Participant(role, key, name))
    return result


QUARANTINE_RETRY_DELAYS = (
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
"""When a quarantined message is tried again after its 1st, 2nd... failure on its own (at
the first sync of its folder after that time); after one failure more than there are delays,
it is not tried again unless a user asks (docs/sync.md, "Quarantine")."""


def next_retry_at(attempts: int) -> datetime | None:
    """When to try again a message that has now failed ``attempts`` times on its own; None
    once the tries are used up."""
    if attempts < 1 or attempts > len(QUARANTINE_RETRY_DELAYS):
        return None
    return utcnow() + QUARANTINE_RETRY_DELAYS[attempts - 1]


def quarantine_message(
    *,
    session: Session,
    error: str,
    account_id: int | None = None,
    source_path: str | None = None,
    folder_id: int | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> Quarantine:
    """Record (or count again) a message that could not be processed. A message on the
    server (``uid``) is tried again later (``next_retry_at``); a file is not."""
    existing = session.scalars(
        select(Quarantine).where(
            Quarantine.account_id == account_id,
            Quarantine.source_path == source_path
            if source_path is not None
            else Quarantine.source_path.is_(None),
            Quarantine.folder_id == folder_id
            if folder_id is not None
            else Quarantine.folder_id.is_(None),
            Quarantine.uid == uid if uid is not None else Quarantine.uid.is_(None),
        )
    ).first()
    if existing is not None:
        attempts = existing.attempts + 1
        session.execute(
            update(Quarantine)
            .where(Quarantine.id == existing.id)
            .values(
                error=error,
                attempts=attempts,
                last_attempt_at=utcnow(),
                is_suspect=False,
                retry_at=next_retry_at(attempts) if uid is not None else None,
            )
        )
        return existing
    row = Quarantine(
        account_id=account_id,
        source_path=source_path,
        folder_id=folder_id,
        uidvalidity=uidvalidity,
        uid=uid,
        error=error,
        attempts=1,
        retry_at=next_retry_at(1) if uid is not None else None,
    )
    session.add(row)
    return row


def list_quarantine(*, session: Session, account_id: int | None = None) -> list[Quarantine]:
    query = select(Quarantine).order_by(Quarantine.id)
    if account_id is not None:
        query = query.where(Quarantine.account_id == account_id)
    return list(session.scalars(query))


def retry_quarantine(*, session: Session, ids: Sequence[int]) -> int:
    """Quarantined messages on the server to be tried again at their folder's next sync
    (released ones too: they are no longer released); returns how many. Suspects and files
    are left as they are."""
    result = session.execute(
        update(Quarantine)
        .where(Quarantine.id.in_(list(ids)), Quarantine.uid.is_not(None), ~Quarantine.is_suspect)
        .values(retry_at=utcnow(), released_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def release_quarantine(*, session: Session, ids: Sequence[int]) -> int:
    """Quarantined messages skipped for good: never tried again, no longer listed as
    trouble; returns how many."""
    result = session.execute(
        update(Quarantine)
        .where(Quarantine.id.in_(list(ids)), Quarantine.released_at.is_(None))
        .values(released_at=utcnow(), retry_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
