"""Pydantic models of the JSON API for records, companies and activities.

Kept apart from the ORM models (docs/architecture.md): each is built from a service view
(``services.records``, ``services.timeline``) with ``from_attributes``, so the API shows
exactly what the pages show and nothing the services did not choose to return.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from postroom.services.timeline import TimelineEntry


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CompanyRefOut(_View):
    id: int
    name: str


class OwnerOut(_View):
    id: int
    name: str
    email: str


class EmailOut(_View):
    address: str
    is_primary: bool


class PhoneOut(_View):
    number: str = Field(description="E.164, e.g. +442079460958")
    label: str | None
    display: str = Field(description="international form, e.g. +44 20 7946 0958")


class RecordRowOut(_View):
    id: int
    name: str
    kind: Literal["candidate", "contact"]
    title: str | None
    company: CompanyRefOut | None
    primary_email: str | None
    phone: str | None
    tags: list[str]
    owner: OwnerOut | None
    last_contact_at: datetime | None
    activity_count: int


class RecordListOut(BaseModel):
    items: list[RecordRowOut]
    total: int
    page: int
    per_page: int


class RecordOut(_View):
    id: int
    name: str
    kind: Literal["candidate", "contact"]
    title: str | None
    location: str | None
    notes: str | None
    company: CompanyRefOut | None
    owner: OwnerOut | None
    emails: list[EmailOut]
    phones: list[PhoneOut]
    links: list[str]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    activity_count: int
    last_contact_at: datetime | None


class PhoneIn(BaseModel):
    number: str = Field(max_length=64, examples=["+44 20 7946 0958"])
    label: str | None = Field(default=None, max_length=40, examples=["mobile"])


class RecordIn(BaseModel):
    """A new record. The first email is the primary one."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=300, examples=["Anna Berg"])
    kind: Literal["candidate", "contact"] = "candidate"
    emails: list[str] = Field(default_factory=list, max_length=50)
    phones: list[PhoneIn] = Field(default_factory=list, max_length=50)
    company: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    links: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=100)
    notes: str | None = None
    owner_email: str | None = None
    default_region: str | None = Field(
        default=None, max_length=2, description="ISO 3166 country of numbers without a code"
    )
    on_duplicate: Literal["error", "merge", "create"] = Field(
        default="error",
        description="when it duplicates a record: 409 (error), merge into it, or create anyway",
    )


class RecordPatch(BaseModel):
    """The fields to change; those left out stay. ``emails`` replaces the list (the first is
    primary); past mail with a new address appears on the record."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=300)
    kind: Literal["candidate", "contact"] | None = None
    emails: list[str] | None = Field(default=None, max_length=50)
    phones: list[PhoneIn] | None = Field(default=None, max_length=50)
    company: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    links: list[str] | None = Field(default=None, max_length=50)
    tags: list[str] | None = Field(default=None, max_length=100)
    notes: str | None = None
    owner_email: str | None = None
    default_region: str | None = Field(default=None, max_length=2)


class MailboxOut(_View):
    name: str
    address: str


class AttachmentOut(_View):
    filename: str = Field(
        description="the file's safe display name: no path, control or bidirectional "
        'characters, no <, > or "; at most 120 characters; never empty (not the name as sent)'
    )
    content_type: str
    size: int | None


class ActivityOut(BaseModel):
    id: int
    record_id: int
    kind: Literal["email", "bounce"]
    direction: Literal["received", "sent"]
    occurred_at: datetime | None
    subject: str
    from_: list[MailboxOut] = Field(serialization_alias="from")
    to: list[MailboxOut]
    cc: list[MailboxOut]
    body_state: Literal["present", "pending", "withheld"]
    reply_text: str | None = Field(description="the new text of the message")
    text: str | None = Field(description="the whole text, quoted history included")
    attachments: list[AttachmentOut]
    detail: str | None = Field(description="for a bounce: the status and diagnostic")
    bounce_address: str | None = Field(description="for a bounce: the record's address")
    deleted_on_server_at: datetime | None
    original_url: str

    @classmethod
    def of(cls, entry: TimelineEntry) -> ActivityOut:
        return cls(
            id=entry.id,
            record_id=entry.record_id,
            kind=entry.kind,  # type: ignore[arg-type]
            direction=entry.direction,  # type: ignore[arg-type]
            occurred_at=entry.occurred_at,
            subject=entry.subject,
            from_=[MailboxOut.model_validate(b) for b in entry.from_],
            to=[MailboxOut.model_validate(b) for b in entry.to],
            cc=[MailboxOut.model_validate(b) for b in entry.cc],
            body_state=entry.body_state,  # type: ignore[arg-type]
            reply_text=entry.reply_text,
            text=entry.text,
            attachments=[AttachmentOut.model_validate(a) for a in entry.attachments],
            detail=entry.detail,
            bounce_address=entry.bounce_address,
            deleted_on_server_at=entry.deleted_on_server_at,
            original_url=entry.original_url,
        )


class ActivityListOut(BaseModel):
    items: list[ActivityOut]
    total: int
    page: int
    per_page: int


class CompanyOut(_View):
    id: int
    name: str
    domain: str | None
    people_count: int


class CompanyListOut(BaseModel):
    items: list[CompanyOut]
    total: int
    page: int
    per_page: int


class CompanyDetailOut(CompanyOut):
    people: RecordListOut
