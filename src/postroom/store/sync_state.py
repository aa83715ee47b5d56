"""Queries for the sync engine's state: tracked folders, their checkpoints, message locations.

Invariants (docs/sync.md, "Invariants"):

* A location is keyed by (folder, UIDVALIDITY, UID): that triple names one immutable message
  forever, so a UIDVALIDITY reset can never cross-link an old UID with a new message.
* Locations are never deleted by the sync: an expunge or a move away sets ``unlinked_at``; a
  message whose locations are all unlinked for longer than the grace period is marked
  ``deleted_on_server_at``, and its activities stay.
* Checkpoint fields are written by ``save_checkpoint`` in the caller's transaction, the one that
  also writes the messages, locations and activities they cover.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from postroom.errors import NotFound
from postroom.store.bulk import dialect_of, in_parameter, insert_rows, list_parameter
from postroom.store.db import chunked, insert_ignoring_duplicates, table_of
from postroom.store.messages import next_retry_at
from postroom.store.models import (
    Activity,
    FolderState,
    MailAccount,
    MailFolder,
    MailMessage,
    MessageLocation,
    Quarantine,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A folder's sync position, as read at the start of a cycle (a plain value, no session)."""

    folder_id: int
    name_raw: bytes
    name: str
    role: str | None
    state: FolderState
    uidvalidity: int | None
    uidnext_seen: int | None
    backfill_low: int | None
    modseq_at_backfill: int | None
    highestmodseq: int | None
    last_full_check_at: datetime | None = None

    @classmethod
    def of(cls, folder: MailFolder) -> Checkpoint:
        return cls(
            folder.id,
            folder.name_raw,
            folder.name,
            folder.role,
            folder.state,
            folder.uidvalidity,
            folder.uidnext_seen,
            folder.backfill_low,
            folder.modseq_at_backfill,
            folder.highestmodseq,
            folder.last_full_check_at,
        )


def ensure_folder(
    *,
    session: Session,
    account_id: int,
    name_raw: bytes,
    name: str,
    delimiter: str | None,
    role: str | None,
    is_tracked: bool = True,
) -> MailFolder:
    """The folder row for ``name_raw`` (created when new, tracked unless ``is_tracked`` is
    False: a folder "open original" found a message in); its role is refreshed, and whether
    an existing row is tracked is left as it is.

    Two syncs of one account may discover the folder at the same time: the row is inserted
    with ``ON CONFLICT DO NOTHING``, so the second finds the first's row instead of failing.
    """
    session.execute(
        insert_ignoring_duplicates(session, MailFolder).values(
            account_id=account_id,
            name_raw=name_raw,
            name=name,
            delimiter=delimiter,
            role=role,
            is_tracked=is_tracked,
        )
    )
    folder = session.scalars(
        select(MailFolder).where(
            MailFolder.account_id == account_id, MailFolder.name_raw == name_raw
        )
    ).one()
    if folder.role != role or folder.delimiter != delimiter:
        folder.role, folder.delimiter = role, delimiter
    return folder


def get_folder_or_raise(*, session: Session, folder_id: int) -> MailFolder:
    folder = session.get(MailFolder, folder_id)
    if folder is None:
        raise NotFound(f"folder {folder_id} does not exist")
    return folder


def list_tracked_folders(*, session: Session, account_id: int) -> list[MailFolder]:
    """The folders to sync, INBOX first, then Sent, then the others by name."""
    folders = session.scalars(
        select(MailFolder).where(MailFolder.account_id == account_id, MailFolder.is_tracked)
    ).all()
    order = {"inbox": 0, "sent": 1}
    return sorted(folders, key=lambda f: (order.get(f.role or "", 2), f.name))


def list_folders(*, session: Session, account_id: int) -> list[MailFolder]:
    return list(
        session.scalars(
            select(MailFolder).where(MailFolder.account_id == account_id).order_by(MailFolder.id)
        )
    )


def save_checkpoint(*, session: Session, folder_id: int, **fields: Any) -> None:
    """Write checkpoint fields (``uidnext_seen=...``, ``state=...``) in the caller's transaction."""
    allowed = {
        "state",
        "uidvalidity",
        "uidnext_seen",
        "backfill_low",
        "modseq_at_backfill",
        "highestmodseq",
        "server_count",
        "last_full_check_at",
        "last_success_at",
        "last_error",
        "error_count",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not checkpoint fields: {sorted(unknown)}")
    session.execute(update(MailFolder).where(MailFolder.id == folder_id).values(**fields))


def add_locations(
    *,
    session: Session,
    folder_id: int,
    uidvalidity: int,
    rows: Sequence[tuple[int, int, int | None, Sequence[str]]],
) -> None:
    """Record ``(uid, message_id, modseq, flags)`` locations; a known one is linked again."""
    if not rows:
        return
    flag_lists: dict[tuple[str, ...], list[str]] = {}  # one list (and JSON) per flag set
    values = []
    for uid, message_id, modseq, flags in rows:
        key = tuple(flags)
        flag_list = flag_lists.get(key)
        if flag_list is None:
            flag_list = flag_lists[key] = list(key)
        values.append((folder_id, uidvalidity, uid, message_id, modseq, flag_list, None))
    inserted = insert_rows(session, MessageLocation, _LOCATION_COLUMNS, values)
    if inserted != len(rows):  # some were there already: those may have been unlinked
        session.execute(
            _relink(dialect_of(session)),
            {
                "in_folder": folder_id,
                "in_uidvalidity": uidvalidity,
                "uids": list_parameter(session, {r[0] for r in rows}),
            },
        )
    revive_messages(session=session, message_ids=[r[1] for r in rows])


@functools.cache
def _relink(dialect: str) -> Update:
    table = table_of(MessageLocation).c
    return (
        update(table_of(MessageLocation))
        .where(
            table.folder_id == bindparam("in_folder"),  # not a column's name: UPDATE's
            table.uidvalidity == bindparam("in_uidvalidity"),
            in_parameter(dialect, table.uid, "uids"),
            table.unlinked_at.is_not(None),
        )
        .values(unlinked_at=None)
    )


_LOCATION_COLUMNS = (
    "folder_id",
    "uidvalidity",
    "uid",
    "message_id",
    "modseq",
    "flags",
    "unlinked_at",
)


def revive_messages(*, session: Session, message_ids: Sequence[int]) -> None:
    """Messages seen on the server again are no longer 'deleted on the server'."""
    if message_ids:
        session.execute(
            _revive(dialect_of(session)), {"ids": list_parameter(session, set(message_ids))}
        )


@functools.cache
def _revive(dialect: str) -> Update:
    table = table_of(MailMessage).c
    return (
        update(table_of(MailMessage))
        .where(in_parameter(dialect, table.id, "ids"), table.deleted_on_server_at.is_not(None))
        .values(deleted_on_server_at=None)
    )


def unlink_uid_ranges(
    *, session: Session, folder_id: int, uidvalidity: int, ranges: Iterable[tuple[int, int]]
) -> int:
    """Mark the locations in these UID ranges gone (expunged or moved); returns how many."""
    now = utcnow()
    total = 0
    for low, high in ranges:
        result = session.execute(
            update(MessageLocation)
            .where(
                MessageLocation.folder_id == folder_id,
                MessageLocation.uidvalidity == uidvalidity,
                MessageLocation.uid.between(low, high),
                MessageLocation.unlinked_at.is_(None),
            )
            .values(unlinked_at=now)
        )
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


def unlink_other_uidvalidities(*, session: Session, folder_id: int, uidvalidity: int) -> int:
    """After a UIDVALIDITY change: every location of an older UIDVALIDITY is gone."""
    result = session.execute(
        update(MessageLocation)
        .where(
            MessageLocation.folder_id == folder_id,
            MessageLocation.uidvalidity != uidvalidity,
            MessageLocation.unlinked_at.is_(None),
        )
        .values(unlinked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_linked_uids(*, session: Session, folder_id: int, uidvalidity: int) -> array[int]:
    """The UIDs believed present on the server, ascending, as 32-bit numbers (RFC 9051 UIDs
    are): 400 KB for a 100,000-message folder, streamed from the database, not 4 MB of
    Python ints."""
    rows = session.scalars(
        select(MessageLocation.uid)
        .where(
            MessageLocation.folder_id == folder_id,
            MessageLocation.uidvalidity == uidvalidity,
            MessageLocation.unlinked_at.is_(None),
        )
        .order_by(MessageLocation.uid)
        .execution_options(yield_per=5000)
    )
    return array("I", rows)


def count_linked(*, session: Session, folder_id: int, uidvalidity: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(MessageLocation)
            .where(
                MessageLocation.folder_id == folder_id,
                MessageLocation.uidvalidity == uidvalidity,
                MessageLocation.unlinked_at.is_(None),
            )
        )
        or 0
    )


def mark_deleted_messages(*, session: Session, account_id: int, grace: timedelta) -> int:
    """Messages whose every location was unlinked more than ``grace`` ago are marked
    ``deleted_on_server_at`` (their activities stay); returns how many."""
    cutoff = utcnow() - grace
    linked = exists().where(
        MessageLocation.message_id == MailMessage.id,
        or_(MessageLocation.unlinked_at.is_(None), MessageLocation.unlinked_at > cutoff),
    )
    had_location = exists().where(MessageLocation.message_id == MailMessage.id)
    result = session.execute(
        update(MailMessage)
        .where(
            MailMessage.account_id == account_id,
            MailMessage.deleted_on_server_at.is_(None),
            and_(had_location, ~linked),
        )
        .values(deleted_on_server_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_locations(*, session: Session, message_id: int) -> list[MessageLocation]:
    """Where a message is (linked first): what "open original" follows."""
    return list(
        session.scalars(
            select(MessageLocation)
            .where(MessageLocation.message_id == message_id)
            .order_by(MessageLocation.unlinked_at.is_not(None), MessageLocation.folder_id)
        )
    )


def list_linked_locations(
    *, session: Session, message_id: int
) -> list[tuple[MessageLocation, MailFolder]]:
    """Where a message is believed to be now (locations not unlinked), with their folders:
    tracked folders first, then by folder id. What "open original" tries first."""
    rows = session.execute(
        select(MessageLocation, MailFolder)
        .join(MailFolder, MailFolder.id == MessageLocation.folder_id)
        .where(MessageLocation.message_id == message_id, MessageLocation.unlinked_at.is_(None))
        .order_by(MailFolder.is_tracked.desc(), MailFolder.id, MessageLocation.uid.desc())
    )
    return [(location, folder) for location, folder in rows]


def record_account_success(*, session: Session, account_id: int) -> None:
    session.execute(
        update(MailAccount)
        .where(MailAccount.id == account_id)
        .values(
            last_success_at=utcnow(),
            last_error=None,
            last_error_advice=None,
            consecutive_failures=0,
            needs_reauth=False,
            backoff_until=None,
        )
    )


def record_account_failure(
    *,
    session: Session,
    account_id: int,
    error: str,
    advice: str | None,
    needs_reauth: bool = False,
    retry_at: datetime | None = None,
) -> None:
    """What went wrong and what to do, for ``postroom status``; never a secret in ``error``."""
    session.execute(
        update(MailAccount)
        .where(MailAccount.id == account_id)
        .values(
            last_error=error,
            last_error_advice=advice,
            needs_reauth=needs_reauth,
            consecutive_failures=MailAccount.consecutive_failures + 1,
            backoff_until=retry_at,
        )
    )


def is_reauth_needed(*, session: Session, account_id: int) -> bool:
    return bool(
        session.scalar(select(MailAccount.needs_reauth).where(MailAccount.id == account_id))
    )


def record_folder_failure(*, session: Session, folder_id: int, error: str) -> None:
    session.execute(
        update(MailFolder)
        .where(MailFolder.id == folder_id)
        .values(last_error=error, error_count=MailFolder.error_count + 1)
    )


def count_folder_messages(*, session: Session, account_id: int) -> dict[int, tuple[int, int]]:
    """``{folder id: (synced, matched)}``: messages linked in the folder now, and how many of
    them are logged on some record."""
    logged = exists().where(Activity.fingerprint == MailMessage.fingerprint)
    rows = session.execute(
        select(
            MessageLocation.folder_id,
            func.count(),
            func.count().filter(logged),
        )
        .join(MailMessage, MailMessage.id == MessageLocation.message_id)
        .join(MailFolder, MailFolder.id == MessageLocation.folder_id)
        .where(
            MailFolder.account_id == account_id,
            MailFolder.uidvalidity == MessageLocation.uidvalidity,
            MessageLocation.unlinked_at.is_(None),
        )
        .group_by(MessageLocation.folder_id)
    )
    return {folder_id: (int(synced), int(matched)) for folder_id, synced, matched in rows}


def count_quarantined(*, session: Session, account_id: int) -> dict[int | None, int]:
    rows = session.execute(
        select(Quarantine.folder_id, func.count())
        .where(Quarantine.account_id == account_id, ~Quarantine.is_suspect)
        .group_by(Quarantine.folder_id)
    )
    return {folder_id: int(n) for folder_id, n in rows}


def mark_suspects(
    *,
    session: Session,
    account_id: int,
    folder_id: int,
    uidvalidity: int,
    uids: Sequence[int],
    error: str,
) -> None:
    """The messages of a batch whose FETCH failed: each will be fetched alone next time."""
    known = set(
        session.scalars(
            select(Quarantine.uid).where(
                Quarantine.folder_id == folder_id,
                Quarantine.uidvalidity == uidvalidity,
                Quarantine.uid.in_(list(uids)),
            )
        )
    )
    session.add_all(
        Quarantine(
            account_id=account_id,
            folder_id=folder_id,
            uidvalidity=uidvalidity,
            uid=uid,
            error=f"in a batch whose fetch failed: {error}",
            is_suspect=True,
            attempts=0,  # not failed on its own (yet)
        )
        for uid in uids
        if uid not in known
    )


def list_quarantined_uids(
    *, session: Session, folder_id: int, uidvalidity: int
) -> tuple[set[int], set[int]]:
    """``(suspects, confirmed)``: the folder's quarantined UIDs (usually none, always few);
    ``confirmed`` holds the released ones too."""
    suspects: set[int] = set()
    confirmed: set[int] = set()
    rows = session.execute(
        select(Quarantine.uid, Quarantine.is_suspect).where(
            Quarantine.folder_id == folder_id,
            Quarantine.uidvalidity == uidvalidity,
            Quarantine.uid.is_not(None),
        )
    )
    for uid, is_suspect in rows:
        if uid is not None:
            (suspects if is_suspect else confirmed).add(uid)
    return suspects, confirmed


def list_due_quarantine(
    *, session: Session, folder_id: int, uidvalidity: int, limit: int
) -> list[int]:
    """The folder's quarantined UIDs whose retry is due (``retry_at`` passed, not released),
    oldest retry first, at most ``limit``."""
    return [
        int(uid)
        for uid in session.scalars(
            select(Quarantine.uid)
            .where(
                Quarantine.folder_id == folder_id,
                Quarantine.uidvalidity == uidvalidity,
                Quarantine.uid.is_not(None),
                ~Quarantine.is_suspect,
                Quarantine.released_at.is_(None),
                Quarantine.retry_at <= utcnow(),
            )
            .order_by(Quarantine.retry_at, Quarantine.uid)
            .limit(limit)
        )
        if uid is not None
    ]


def clear_suspects(
    *, session: Session, folder_id: int, uidvalidity: int, uids: Sequence[int]
) -> None:
    """Suspects, and quarantined messages tried again, that were fetched alone without
    trouble are no longer quarantined (released ones are never tried, so never cleared)."""
    for chunk in chunked(list(uids)):
        session.query(Quarantine).filter(
            Quarantine.folder_id == folder_id,
            Quarantine.uidvalidity == uidvalidity,
            Quarantine.uid.in_(chunk),
            Quarantine.released_at.is_(None),
        ).delete(synchronize_session=False)


def confirm_quarantine(
    *, session: Session, folder_id: int, uidvalidity: int, uid: int, error: str
) -> None:
    """A suspect (or a quarantined message tried again) failed on its own: it is quarantined,
    the sync moves past it, and it is tried again later (``next_retry_at``)."""
    attempts = session.scalar(
        select(Quarantine.attempts).where(
            Quarantine.folder_id == folder_id,
            Quarantine.uidvalidity == uidvalidity,
            Quarantine.uid == uid,
        )
    )
    if attempts is None:
        return
    session.execute(
        update(Quarantine)
        .where(
            Quarantine.folder_id == folder_id,
            Quarantine.uidvalidity == uidvalidity,
            Quarantine.uid == uid,
        )
        .values(
            is_suspect=False,
            error=error,
            attempts=attempts + 1,
            last_attempt_at=utcnow(),
            retry_at=next_retry_at(attempts + 1),
        )
    )
