"""Queries for activities: the idempotent insert and the timeline of a record.

``insert_activities`` relies on UNIQUE(fingerprint, person_id): a row already there is left
as it is, so replaying a batch (restart, reconnect, second copy) creates nothing new.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from postroom.store.bulk import insert_rows
from postroom.store.db import chunked
from postroom.store.models import Activity, BodyState, MailMessage, MessageLocation


def insert_activities(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the activities not yet logged; return how many were new.

    Each row needs ``fingerprint`` and ``person_id`` plus the other Activity columns (every
    row the same keys); a later row for the same (fingerprint, person) is left out.
    """
    if not rows:
        return 0
    fresh: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        fresh.setdefault((r["fingerprint"], r["person_id"]), r)
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
    columns = tuple(rows[0])
    values = operator.itemgetter(*columns)
    inserted = insert_rows(
        session,
        Activity,
        columns,
        [values(r) for pair, r in fresh.items() if pair not in existing],
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
