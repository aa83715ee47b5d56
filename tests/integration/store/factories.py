"""Values for the store tests: messages to store, row counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select

from postroom.domain.matching import Direction, Participant
from postroom.mail.types import MessageKind
from postroom.store.messages import NewMessage

CET = timezone(timedelta(hours=1))


def message(n: int, *, emailid: str | None = None, fingerprint: str | None = None) -> NewMessage:
    """Message ``n``: identity key ``e:<emailid>`` (default ``E<n>``), then its fingerprint."""
    print_ = fingerprint or f"f:{n:064x}"
    return NewMessage(
        keys=(f"e:{emailid or f'E{n}'}", print_),
        fingerprint=print_,
        subject=f"Subject {n}",
        direction=Direction.RECEIVED,
        kind=MessageKind.CONVERSATION,
        participants=(
            Participant("from", f"sender{n}@example.com", f"Sender {n}"),
            Participant("to", "robin@firm.example"),
        ),
        message_id_header=f"<{n}@example.com>",
        date_at=datetime(2025, 3, 3, 10, n % 60, tzinfo=CET),
        internaldate=datetime(2025, 3, 3, 9, n % 60, 30, tzinfo=UTC),
        size=1000 + n,
        emailid=emailid or f"E{n}",
    )


def count(session_factory, model) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
