"""Queries for messages, their identity keys and participants, and the quarantine.

Writes are set-based (one statement per table per batch) and idempotent: a message already
stored under one of its identity keys is found, never inserted twice
(UNIQUE(account_id, identity_key) and UNIQUE(account_id, key) back this up).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postroom.domain.matching import Direction, Participant
from postroom.mail.types import MessageKind
from postroom.store.db import chunked, insert_ignoring_duplicates
from postroom.store.models import (
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
    found: dict[str, int] = {}
    for chunk in chunked(list(set(keys))):
        rows = session.execute(
            select(MessageKey.key, MessageKey.message_id).where(
                MessageKey.account_id == account_id, MessageKey.key.in_(chunk)
            )
        )
        found.update(dict(rows.all()))
    return found


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
        existing = next((known[k] for k in m.keys if k in known), None)
        if existing is not None:
            ids[m.identity_key] = existing
        elif m.identity_key not in fresh:
            fresh[m.identity_key] = m
    if fresh:
        session.execute(
            insert_ignoring_duplicates(session, MailMessage),
            [_message_row(account_id, m) for m in fresh.values()],
        )
        for chunk in chunked(list(fresh)):
            rows = session.execute(
                select(MailMessage.identity_key, MailMessage.id).where(
                    MailMessage.account_id == account_id, MailMessage.identity_key.in_(chunk)
                )
            )
            ids.update(dict(rows.all()))
        participant_rows = [
            {
                "message_id": ids[m.identity_key],
                "role": p.role,
                "address_key": p.address_key,
                "display_name": p.name[:300],
            }
            for m in fresh.values()
            for p in m.participants
        ]
        if participant_rows:
            session.execute(
                insert_ignoring_duplicates(session, MessageParticipant),
                participant_rows,
            )
    key_rows = [
        {"account_id": account_id, "key": key, "message_id": ids[m.identity_key]}
        for m in messages
        for key in m.keys
        if key not in known
    ]
    if key_rows:
        session.execute(
            insert_ignoring_duplicates(session, MessageKey),
            key_rows,
        )
    return ids, set(fresh)


def _message_row(account_id: int, m: NewMessage) -> dict[str, object]:
    return {
        "account_id": account_id,
        "identity_key": m.identity_key,
        "fingerprint": m.fingerprint,
        "emailid": m.emailid,
        "gm_msgid": m.gm_msgid,
        "message_id_header": (m.message_id_header or None) and m.message_id_header[:998],
        "in_reply_to": (m.in_reply_to or None) and m.in_reply_to[:998],
        "subject": m.subject,
        "date_at": m.date_at,
        "internaldate": m.internaldate,
        "size": m.size,
        "direction": m.direction,
        "kind": m.kind,
        "kind_reason": m.kind_reason,
        "source_path": m.source_path,
        "created_at": utcnow(),
    }


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
    """Record (or count again) a message that could not be processed."""
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
        session.execute(
            update(Quarantine)
            .where(Quarantine.id == existing.id)
            .values(error=error, attempts=Quarantine.attempts + 1, last_attempt_at=utcnow())
        )
        return existing
    row = Quarantine(
        account_id=account_id,
        source_path=source_path,
        folder_id=folder_id,
        uidvalidity=uidvalidity,
        uid=uid,
        error=error,
    )
    session.add(row)
    return row


def list_quarantine(*, session: Session, account_id: int | None = None) -> list[Quarantine]:
    query = select(Quarantine).order_by(Quarantine.id)
    if account_id is not None:
        query = query.where(Quarantine.account_id == account_id)
    return list(session.scalars(query))
