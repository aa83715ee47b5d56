"""Queries for activities: the idempotent insert and the timeline of a record.

``insert_activities`` relies on UNIQUE(fingerprint, person_id): a row already there is left
as it is, so replaying a batch (restart, reconnect, second copy) creates nothing new.

Timeline reads (``list_timeline``, ``count_timeline``, ``summarize_persons``) filter on
``person_id`` first, so they walk ``ix_activity_person_id_occurred_at``: a record with ten
thousand activities reads one page, and a list of records gets its counts and last contact
dates in one grouped query for the page's ids.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from postroom.domain.matching import Direction
from postroom.store.bulk import insert_rows
from postroom.store.db import chunked
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    MailMessage,
    MessageLocation,
    MessageParticipant,
)


@dataclass(frozen=True, slots=True)
class NewActivity:
    """An activity about to be logged: one email (or bounce) on one record. The fields are the
    ``activity`` columns ``insert_activities`` writes (``id`` and ``created_at`` are the
    database's); ``pipeline.build_activity_rows`` makes them."""

    fingerprint: str
    person_id: int
    message_id: int | None
    kind: ActivityKind
    direction: Direction
    occurred_at: datetime | None
    subject: str
    participants: dict[str, Any]
    """``{"from": [[name, address]], "to": [...], "cc": [...]}`` as written in the headers."""
    body_state: BodyState
    text: str | None
    reply_text: str | None
    attachments: list[dict[str, Any]]
    """``pipeline.attachments_json``: name, type, size and IMAP part number of each file."""
    detail: str | None = None
    """For a bounce: the status and diagnostic the server gave."""


_ACTIVITY_COLUMNS = tuple(f.name for f in fields(NewActivity))
"""The columns ``insert_activities`` writes, in ``NewActivity``'s field order."""
_activity_values = operator.attrgetter(*_ACTIVITY_COLUMNS)


def insert_activities(*, session: Session, rows: Sequence[NewActivity]) -> int:
    """Insert the activities not yet logged; return how many were new.

    A later row for the same (fingerprint, person) as an earlier one is left out.
    """
    if not rows:
        return 0
    fresh: dict[tuple[str, int], NewActivity] = {}
    for r in rows:
        fresh.setdefault((r.fingerprint, r.person_id), r)
    existing: set[tuple[str, int]] = set()
    if not session.connection().dialect.supports_sane_multi_rowcount:
        # the driver cannot count what an executemany inserted: ask first
        for chunk in chunked(sorted(fresh), 400):
            found = session.execute(
                select(Activity.fingerprint, Activity.person_id).where(
                    tuple_(Activity.fingerprint, Activity.person_id).in_(chunk)
                )
            )
            existing.update((f, p) for f, p in found)
    inserted = insert_rows(
        session,
        Activity,
        _ACTIVITY_COLUMNS,
        [_activity_values(r) for pair, r in fresh.items() if pair not in existing],
    )
    return inserted if inserted >= 0 else len(fresh) - len(existing)


def list_activities(
    *, session: Session, person_id: int, limit: int = 50, offset: int = 0
) -> list[Activity]:
    """A record's timeline, newest first (undated activities last)."""
    query = (
        select(Activity)
        .where(Activity.person_id == person_id)
        .order_by(Activity.occurred_at.desc().nulls_last(), Activity.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def count_activities(*, session: Session, person_id: int | None = None) -> int:
    query = select(func.count()).select_from(Activity)
    if person_id is not None:
        query = query.where(Activity.person_id == person_id)
    return int(session.scalar(query) or 0)


def list_pending_in_folder(
    *, session: Session, folder_id: int, uidvalidity: int, limit: int
) -> dict[int, list[int]]:
    """``{uid: [activity id, ...]}``: activities waiting for their text whose message (any
    copy with the same fingerprint) is linked in this folder now."""
    rows = session.execute(
        select(MessageLocation.uid, Activity.id)
        .join(MailMessage, MailMessage.fingerprint == Activity.fingerprint)
        .join(MessageLocation, MessageLocation.message_id == MailMessage.id)
        .where(
            Activity.body_state == BodyState.PENDING,
            MessageLocation.folder_id == folder_id,
            MessageLocation.uidvalidity == uidvalidity,
            MessageLocation.unlinked_at.is_(None),
        )
        .order_by(MessageLocation.uid.desc())
        .limit(limit)
    )
    pending: dict[int, list[int]] = {}
    for uid, activity_id in rows:
        pending.setdefault(uid, []).append(activity_id)
    return pending


def fill_body(
    *,
    session: Session,
    activity_ids: Sequence[int],
    text: str,
    reply_text: str,
    attachments: list[dict[str, Any]],
) -> None:
    """Store the text of activities that were waiting for it."""
    session.execute(
        update(Activity)
        .where(Activity.id.in_(activity_ids), Activity.body_state == BodyState.PENDING)
        .values(
            text=text,
            reply_text=reply_text,
            attachments=attachments,
            body_state=BodyState.PRESENT,
        )
    )


def delete_activities(*, session: Session, activity_ids: Sequence[int]) -> None:
    """Remove activities that must not exist (a pending one found to mention a private address)."""
    for chunk in chunked(list(activity_ids)):
        session.query(Activity).filter(Activity.id.in_(chunk)).delete(synchronize_session=False)


def summarize_persons(
    *, session: Session, person_ids: Sequence[int]
) -> dict[int, tuple[int, datetime | None]]:
    """``{person_id: (activity count, last occurred_at)}`` for ``person_ids``, in one grouped
    query; persons without activities are absent."""
    summary: dict[int, tuple[int, datetime | None]] = {}
    for chunk in chunked(list(person_ids)):
        rows = session.execute(
            select(Activity.person_id, func.count(), func.max(Activity.occurred_at))
            .where(Activity.person_id.in_(chunk))
            .group_by(Activity.person_id)
        )
        for person_id, count, last in rows:
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            summary[person_id] = (int(count), last)
    return summary


def _timeline_where(
    person_id: int, kind: ActivityKind | None, direction: Direction | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Activity.person_id == person_id]
    if kind is not None:
        conditions.append(Activity.kind == kind)
    if direction is not None:
        conditions.append(Activity.direction == direction)
    return conditions


def list_timeline(
    *,
    session: Session,
    person_id: int,
    kind: ActivityKind | None = None,
    direction: Direction | None = None,
    limit: int = 25,
    offset: int = 0,
) -> list[tuple[Activity, datetime | None]]:
    """One page of a record's activities, newest first (undated last), each with when its
    message was found deleted on the server (None while it is there).

    Two steps: the page's ids come from the (person_id, occurred_at) index alone, then only
    those rows are read, so a record with ten thousand long emails never sorts their texts.
    """
    ids = list(
        session.scalars(
            select(Activity.id)
            .where(*_timeline_where(person_id, kind, direction))
            .order_by(Activity.occurred_at.desc().nulls_last(), Activity.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    if not ids:
        return []
    rows = session.execute(
        select(Activity, MailMessage.deleted_on_server_at)
        .outerjoin(MailMessage, MailMessage.id == Activity.message_id)
        .where(Activity.id.in_(ids))
    )
    found = {activity.id: (activity, gone) for activity, gone in rows}
    return [found[i] for i in ids if i in found]


def count_timeline(
    *,
    session: Session,
    person_id: int,
    kind: ActivityKind | None = None,
    direction: Direction | None = None,
) -> int:
    """How many activities ``list_timeline`` pages through.

    ``count(*)``, not ``count(activity.id)``: PostgreSQL can then count from the index on
    (person_id, occurred_at) alone, without reading the rows (benchmarks/web.py).
    """
    query = (
        select(func.count())
        .select_from(Activity)
        .where(*_timeline_where(person_id, kind, direction))
    )
    return int(session.scalar(query) or 0)


def get_activity_with_state(
    *, session: Session, activity_id: int
) -> tuple[Activity, datetime | None] | None:
    """The activity and when its message was found deleted on the server, or None."""
    row = session.execute(
        select(Activity, MailMessage.deleted_on_server_at)
        .outerjoin(MailMessage, MailMessage.id == Activity.message_id)
        .where(Activity.id == activity_id)
    ).first()
    return None if row is None else (row[0], row[1])


def list_bounced_addresses(*, session: Session, message_ids: Sequence[int]) -> dict[int, list[str]]:
    """``{message_id: [address key, ...]}``: the recipients each bounce says failed."""
    failed: dict[int, list[str]] = {}
    for chunk in chunked(list(message_ids)):
        rows = session.execute(
            select(MessageParticipant.message_id, MessageParticipant.address_key)
            .where(
                MessageParticipant.message_id.in_(chunk),
                MessageParticipant.role == "bounced",
            )
            .order_by(MessageParticipant.address_key)
        )
        for message_id, key in rows:
            failed.setdefault(message_id, []).append(key)
    return failed
