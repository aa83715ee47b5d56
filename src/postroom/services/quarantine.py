"""The quarantine as users see it: the messages the sync (or an ingest) could not read, and
what can be done about them (docs/sync.md, "Quarantine").

* **list**: account, folder, UID (or file), error, since when, tries, and what happens next:
  tried again at a time, given up (its automatic tries are used up), or released.
* **retry**: the message is tried again at its folder's next sync (a released one too, which
  is then no longer released). If that fails, it stays quarantined and is not tried again by
  itself unless it had automatic tries left.
* **release**: the message is skipped for good: never tried again, no longer shown by
  ``postroom status`` as trouble, never logged. ``retry`` undoes it.

Messages still being checked (suspects: in a batch that failed, each about to be fetched
alone) are not listed; files are listed but never retried (ingest them again instead).
Every function takes keyword-only ``*, session`` and, like the CLI, sees every account.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.errors import InputError, NotFound
from postroom.store import messages as message_store
from postroom.store.models import MailAccount, MailFolder, Quarantine


class QuarantineState(enum.Enum):
    RETRYING = "retrying"
    """The sync tries it again at ``retry_at`` (at its folder's first sync after that)."""
    GIVEN_UP = "given_up"
    """Its automatic tries are used up (or it is a file): ``retry`` to try once more."""
    RELEASED = "released"
    """Skipped for good by a user."""


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    account_id: int | None
    account: str
    """The account's label (``""`` without one)."""
    folder: str | None
    uid: int | None
    source_path: str | None
    error: str
    attempts: int
    since: datetime
    last_attempt_at: datetime
    retry_at: datetime | None
    released_at: datetime | None

    @property
    def state(self) -> QuarantineState:
        if self.released_at is not None:
            return QuarantineState.RELEASED
        if self.retry_at is not None:
            return QuarantineState.RETRYING
        return QuarantineState.GIVEN_UP

    @property
    def where(self) -> str:
        """``INBOX UID 6``, or the file's path."""
        if self.uid is not None:
            return f"{self.folder or 'folder'} UID {self.uid}"
        return self.source_path or ""

    @property
    def next_text(self) -> str:
        """``retry at 2026-12-06 10:05 UTC``, ``given up``, ``released``."""
        if self.state is QuarantineState.RETRYING:
            assert self.retry_at is not None
            return f"retry at {self.retry_at:%Y-%m-%d %H:%M} UTC"
        return "released" if self.state is QuarantineState.RELEASED else "given up"


def list_quarantine(
    *, session: Session, account_id: int | None = None, include_released: bool = False
) -> list[QuarantineEntry]:
    """The quarantined messages (of ``account_id``), oldest first; released ones only with
    ``include_released``."""
    query = (
        select(Quarantine, MailAccount.label, MailFolder.name)
        .outerjoin(MailAccount, MailAccount.id == Quarantine.account_id)
        .outerjoin(MailFolder, MailFolder.id == Quarantine.folder_id)
        .where(~Quarantine.is_suspect)
        .order_by(Quarantine.id)
    )
    if account_id is not None:
        query = query.where(Quarantine.account_id == account_id)
    if not include_released:
        query = query.where(Quarantine.released_at.is_(None))
    return [
        QuarantineEntry(
            id=row.id,
            account_id=row.account_id,
            account=label or "",
            folder=folder,
            uid=row.uid,
            source_path=row.source_path,
            error=row.error,
            attempts=row.attempts,
            since=row.created_at,
            last_attempt_at=row.last_attempt_at,
            retry_at=row.retry_at if row.uid is not None else None,
            released_at=row.released_at,
        )
        for row, label, folder in session.execute(query)
    ]


def retry_quarantined(
    *, session: Session, ids: Sequence[int], account_id: int | None = None
) -> int:
    """Try the messages ``ids`` (or, with no ids, every quarantined message of
    ``account_id``, or of every account) again at their folder's next sync; returns how many.
    ``NotFound`` for an id that is not quarantined; ``InputError`` for a file."""
    chosen = _choose(session, ids, account_id, include_released=True)
    files = [entry for entry in chosen if entry.uid is None]
    if ids and files:
        raise InputError(
            f"quarantine #{files[0].id} is a file, which the sync never reads",
            advice=f"ingest it again: `postroom message ingest {files[0].source_path}`",
        )
    return message_store.retry_quarantine(
        session=session, ids=[entry.id for entry in chosen if entry.uid is not None]
    )


def release_quarantined(
    *, session: Session, ids: Sequence[int], account_id: int | None = None
) -> int:
    """Skip the messages ``ids`` (or every one of ``account_id``, or of every account) for
    good; returns how many. ``NotFound`` for an id that is not quarantined."""
    chosen = _choose(session, ids, account_id, include_released=False)
    return message_store.release_quarantine(session=session, ids=[entry.id for entry in chosen])


def _choose(
    session: Session, ids: Sequence[int], account_id: int | None, *, include_released: bool
) -> list[QuarantineEntry]:
    entries = list_quarantine(
        session=session, account_id=account_id, include_released=include_released or bool(ids)
    )
    if not ids:
        return entries
    by_id = {entry.id: entry for entry in entries}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise NotFound(
            f"nothing quarantined has the id {missing[0]}",
            advice="see `postroom message quarantine list`",
        )
    return [by_id[i] for i in ids]
