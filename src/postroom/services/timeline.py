"""A record's timeline: its activities as typed views, a page at a time, newest first.

Each ``TimelineEntry`` carries what a card of the record page shows (docs/concepts.md,
Activity and Open original): direction, kind, date, subject; who wrote to whom (the
activity's ``participants`` JSON, ``{"from": [[name, address]], "to": [...], "cc": [...]}``);
the new text of a reply and the whole text with its quoted history; attachments; whether
the text is there (``body_state``); for a bounce, which of the record's addresses failed and
why; whether the message is gone from the server. ``original_url`` is where "Open original"
leads (``/activities/{id}/original``, the built-in client's page), and an attachment's
``download_url`` where its file downloads from the viewer's own copy of the message
(``/activities/{id}/original/parts/{part}``, ``part`` being the IMAP part number the
activity keeps, docs/concepts.md "Open original"): None for an activity logged before part
numbers were kept. Who may download is Open original's rule (a viewer holding no copy gets
a 404 there), so the link is shown whoever views the record.

Reads are paged by ``store.activities.list_timeline`` on the (person, occurred_at) index;
the total is one ``COUNT`` over the same index, so a record with ten thousand activities
reads one page. Every function takes keyword-only ``*, session`` and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from postroom.domain.addresses import normalize_address
from postroom.domain.matching import Direction
from postroom.errors import InputError, NotFound
from postroom.mail.filenames import display_filename, unnamed_label
from postroom.mail.render import is_part_number
from postroom.store import activities as activity_store
from postroom.store import records as record_store
from postroom.store.models import Activity, ActivityKind

PREVIEW_LINES = 6
"""Lines of the new text a card shows before "show more"."""

MAX_PER_PAGE = 200
Member = TypeVar("Member", bound=Enum)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One address of a header field, with its display name (may be empty)."""

    name: str
    address: str

    @property
    def label(self) -> str:
        """``Anna Berg`` or the address when there is no name."""
        return self.name or self.address


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """One file of an activity. ``filename`` is the safe display name
    (``mail.filenames.display_filename``: no path, controls, bidirectional marks or markup;
    never empty), not the name as sent, which ``activity.attachments`` keeps. ``part`` is its
    IMAP part number (``"2"``, ``"1.2"``), None when the activity did not keep one;
    ``download_url`` is then None too."""

    filename: str
    content_type: str
    size: int | None
    part: str | None = None
    download_url: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One activity as a card shows it.

    ``body_state`` is ``present``, ``pending`` (text not fetched yet) or ``withheld`` (the
    account's privacy setting keeps it out). ``reply_text`` is the new text; ``text`` the
    whole text with the quoted history. ``bounce_address`` is the record's address a bounce
    says failed, ``detail`` the status and diagnostic the server gave.
    """

    id: int
    record_id: int
    kind: str
    direction: str
    occurred_at: datetime | None
    subject: str
    from_: tuple[Mailbox, ...]
    to: tuple[Mailbox, ...]
    cc: tuple[Mailbox, ...]
    body_state: str
    reply_text: str | None
    text: str | None
    attachments: tuple[AttachmentView, ...]
    detail: str | None
    bounce_address: str | None
    deleted_on_server_at: datetime | None

    @property
    def is_bounce(self) -> bool:
        return self.kind == ActivityKind.BOUNCE.value

    @property
    def is_sent(self) -> bool:
        return self.direction == Direction.SENT.value

    @property
    def is_gone_from_server(self) -> bool:
        return self.deleted_on_server_at is not None

    @property
    def original_url(self) -> str:
        return f"/activities/{self.id}/original"

    @property
    def new_text(self) -> str:
        """The new part of the message (the whole text when no reply part was found)."""
        return (self.reply_text or self.text or "").strip()

    @property
    def preview(self) -> str:
        """The first ``PREVIEW_LINES`` lines of the new text."""
        return "\n".join(self.new_text.splitlines()[:PREVIEW_LINES])

    @property
    def more(self) -> str:
        """The rest of the new text after ``preview`` (empty when it all fits)."""
        return "\n".join(self.new_text.splitlines()[PREVIEW_LINES:])

    @property
    def files(self) -> tuple[AttachmentView, ...]:
        """The attachments a card shows: a bounce's own report parts (the delivery status,
        the returned message) are its body, not files the person sent."""
        if not self.is_bounce:
            return self.attachments
        return tuple(
            a
            for a in self.attachments
            if not a.content_type.startswith(("message/", "text/rfc822-headers"))
        )

    @property
    def has_history(self) -> bool:
        """Whether the whole text says more than the new text (a quoted history)."""
        whole = (self.text or "").strip()
        return bool(whole) and whole != self.new_text

    @property
    def history(self) -> str:
        """What the whole text holds after the new text (the quoted history); the whole
        text when the new text is not at its start."""
        whole = (self.text or "").strip()
        if self.new_text and whole.startswith(self.new_text):
            return whole[len(self.new_text) :].strip()
        return whole


@dataclass(frozen=True, slots=True)
class Timeline:
    """A page of a record's activities: ``entries`` of ``total``, filtered as asked."""

    record_id: int
    entries: tuple[TimelineEntry, ...]
    total: int
    page: int
    per_page: int
    kind: str | None
    direction: str | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _mailboxes(value: Any) -> tuple[Mailbox, ...]:
    boxes: list[Mailbox] = []
    for item in value or ():
        if isinstance(item, list | tuple) and len(item) == 2:
            boxes.append(Mailbox(name=str(item[0] or ""), address=str(item[1] or "")))
    return tuple(boxes)


def _attachments(value: Any, activity_id: int) -> tuple[AttachmentView, ...]:
    found: list[AttachmentView] = []
    for item in value or ():
        if isinstance(item, dict):
            size = item.get("size")
            part = item.get("part")
            part = part if isinstance(part, str) and is_part_number(part) else None
            content_type = str(item.get("content_type") or "application/octet-stream")
            unnamed = unnamed_label(content_type)
            found.append(
                AttachmentView(
                    filename=display_filename(_text_or_none(item.get("filename")), unnamed),
                    content_type=content_type,
                    size=int(size) if isinstance(size, int) else None,
                    part=part,
                    download_url=(
                        f"/activities/{activity_id}/original/parts/{part}" if part else None
                    ),
                )
            )
    return tuple(found)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bounce_address(
    activity: Activity, failed_keys: list[str], addresses: dict[str, str]
) -> str | None:
    """The record's address (as typed) that the bounce names: among the failed recipients of
    the message, else in the participants or the diagnostic."""
    for key in failed_keys:
        if key in addresses:
            return addresses[key]
    for role in ("to", "cc", "from"):
        for box in _mailboxes(activity.participants.get(role)):
            found = normalize_address(box.address)
            if found is not None and found in addresses:
                return addresses[found]
    detail = (activity.detail or "").casefold()
    return next((typed for key, typed in addresses.items() if key in detail), None)


def _entry(
    activity: Activity,
    deleted_at: datetime | None,
    failed_keys: list[str],
    addresses: dict[str, str],
) -> TimelineEntry:
    is_bounce = activity.kind is ActivityKind.BOUNCE
    return TimelineEntry(
        id=activity.id,
        record_id=activity.person_id,
        kind=activity.kind.value,
        direction=activity.direction.value,
        occurred_at=activity.occurred_at,
        subject=activity.subject,
        from_=_mailboxes(activity.participants.get("from")),
        to=_mailboxes(activity.participants.get("to")),
        cc=_mailboxes(activity.participants.get("cc")),
        body_state=activity.body_state.value,
        reply_text=activity.reply_text,
        text=activity.text,
        attachments=_attachments(activity.attachments, activity.id),
        detail=activity.detail,
        bounce_address=_bounce_address(activity, failed_keys, addresses) if is_bounce else None,
        deleted_on_server_at=deleted_at,
    )


def _entries(
    session: Session, person_id: int, rows: list[tuple[Activity, datetime | None]]
) -> tuple[TimelineEntry, ...]:
    bounces = [a.message_id for a, _ in rows if a.kind is ActivityKind.BOUNCE and a.message_id]
    failed = activity_store.list_bounced_addresses(session=session, message_ids=bounces)
    addresses: dict[str, str] = {}
    if bounces:
        person = record_store.get_person(session=session, person_id=person_id)
        if person is not None:
            addresses = {e.address_key: e.address for e in person.emails}
    return tuple(_entry(a, gone, failed.get(a.message_id or 0, []), addresses) for a, gone in rows)


def _member(enum: type[Member], value: str | None, what: str, advice: str) -> Member | None:
    """``value`` as a member of ``enum``; None when empty; else ``InputError`` naming ``what``."""
    if not value:
        return None
    try:
        return enum(value)
    except ValueError as exc:
        raise InputError(f"{what} {value!r}", advice=advice) from exc


def get_timeline(
    *,
    session: Session,
    record_id: int,
    kind: str | None = None,
    direction: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Timeline:
    """Page ``page`` (from 1) of record ``record_id``'s activities, newest first.

    ``kind`` is ``email`` or ``bounce``, ``direction`` ``received`` or ``sent`` (None: all).
    Raises ``NotFound`` for an unknown record, ``InputError`` for an unknown filter or page.
    """
    if record_store.get_person(session=session, person_id=record_id) is None:
        raise NotFound(f"record #{record_id} does not exist")
    if page < 1:
        raise InputError(f"page {page} does not exist", advice="pages start at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InputError(f"per page {per_page}", advice=f"use 1 to {MAX_PER_PAGE}")
    activity_kind = _member(ActivityKind, kind, "activity kind", "use email or bounce")
    activity_direction = _member(Direction, direction, "direction", "use received or sent")
    total = activity_store.count_timeline(
        session=session, person_id=record_id, kind=activity_kind, direction=activity_direction
    )
    rows = activity_store.list_timeline(
        session=session,
        person_id=record_id,
        kind=activity_kind,
        direction=activity_direction,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return Timeline(
        record_id=record_id,
        entries=_entries(session, record_id, rows),
        total=total,
        page=page,
        per_page=per_page,
        kind=activity_kind.value if activity_kind else None,
        direction=activity_direction.value if activity_direction else None,
    )


def get_activity(*, session: Session, activity_id: int) -> TimelineEntry:
    """Activity ``activity_id`` as a timeline entry; raises ``NotFound`` when there is none."""
    found = activity_store.get_activity_with_state(session=session, activity_id=activity_id)
    if found is None:
        raise NotFound(f"activity #{activity_id} does not exist")
    activity, gone = found
    [entry] = _entries(session, activity.person_id, [(activity, gone)])
    return entry
