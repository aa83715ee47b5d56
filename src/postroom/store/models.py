"""The database schema as SQLAlchemy 2 models (``Mapped[...]``).

Tables are singular snake_case; foreign keys end in ``_id`` and timestamps in ``_at``. All
timestamps are stored as UTC.

The mail side follows docs/sync.md ("Invariants", "Identity keys"):

* ``mail_message`` is *our* message: one row per (account, identity key). IMAP coordinates are
  only ``message_location`` rows pointing at it, keyed by (folder, UIDVALIDITY, UID), so moves
  and UIDVALIDITY resets never touch activities.
* ``message_key`` keeps every identity key a message ever had (EMAILID, X-GM-MSGID, header
  fingerprint), so a change of key scheme cannot duplicate a message.
* ``activity`` is UNIQUE(fingerprint, person_id): one activity per message and record, across
  folders, restarts and colleagues' mailboxes. ``fingerprint`` is the org-wide header fingerprint
  (Message-ID, Date, From), the same in every mailbox that holds a copy.
* ``mail_folder`` holds the checkpoint (uidvalidity, uidnext_seen, backfill_low, highestmodseq),
  written only in the transaction that writes what it covers.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from postroom.domain.accounts import TlsMode as TlsMode  # re-exported: a column type here
from postroom.domain.matching import Direction
from postroom.mail.types import MessageKind

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back timezone-aware (SQLite has no tz)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    """Enums are stored by value as plain strings (no native PG enum: cheap to extend)."""
    return Enum(
        cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        length=32,
        validate_strings=True,
    )


# --- enumerations -------------------------------------------------------------------------


class PersonKind(enum.Enum):
    CANDIDATE = "candidate"
    CONTACT = "contact"


class Visibility(enum.Enum):
    """How much of an account's mail its activities show (docs/concepts.md, "Privacy and
    visibility")."""

    EVERYTHING = "everything"
    SUBJECT = "subject"  # subject and metadata, no text
    METADATA = "metadata"  # participants and date only


class ActivityKind(enum.Enum):
    EMAIL = "email"
    BOUNCE = "bounce"  # logged on the record of the recipient whose delivery failed


class BodyState(enum.Enum):
    PRESENT = "present"  # text and reply text stored
    PENDING = "pending"  # matched after the fact: text still to be fetched from the original
    WITHHELD = "withheld"  # the account's visibility keeps the text out


class FolderState(enum.Enum):
    NEW = "new"
    BACKFILLING = "backfilling"
    LIVE = "live"
    RESYNC = "resync"


class PrivateKind(enum.Enum):
    ADDRESS = "address"
    DOMAIN = "domain"


class UserRole(enum.Enum):
    """What a user may do: an admin also manages users, internal domains and the private list."""

    ADMIN = "admin"
    USER = "user"


# --- people and companies ----------------------------------------------------------------


class UserAccount(Base):
    """A Postroom user (a recruiter). ``user`` is reserved in PostgreSQL, hence the name.

    A user without ``password_hash`` (made by ``account add --user``) cannot sign in until
    ``postroom user password`` gives one. ``auth_epoch`` grows at every password change: a
    session cookie carries the epoch it was made in, so a new password ends every old session.
    """

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2id (argon2-cffi's encoded form); never the password itself."""
    role: Mapped[UserRole] = mapped_column(
        _enum(UserRole), default=UserRole.USER, server_default=UserRole.USER.value
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    """IANA name (``Europe/London``): dates on pages are shown in it, labelled."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A personal API token: only its SHA-256 is stored; the token is shown once, at creation."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class Company(Base):
    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)
    """Casefolded, whitespace-collapsed name: the duplicate check's key."""
    domain: Mapped[str | None] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Person(Base):
    """A Name record: a candidate or a client contact."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PersonKind] = mapped_column(_enum(PersonKind), default=PersonKind.CANDIDATE)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), index=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(300))
    location: Mapped[str | None] = mapped_column(String(300))
    links: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    """``domain.records.fold_for_search`` of the name, company, emails, phones and tags, kept
    by ``store.records`` whenever one of them changes: what record search matches."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    company: Mapped[Company | None] = relationship(lazy="joined")
    owner: Mapped[UserAccount | None] = relationship(lazy="joined")
    emails: Mapped[list[PersonEmail]] = relationship(
        back_populates="person",
        cascade="all, delete-orphan",
        order_by="PersonEmail.id",
        lazy="selectin",
    )
    phones: Mapped[list[PersonPhone]] = relationship(
        back_populates="person",
        cascade="all, delete-orphan",
        order_by="PersonPhone.id",
        lazy="selectin",
    )
    tags: Mapped[list[PersonTag]] = relationship(
        back_populates="person",
        cascade="all, delete-orphan",
        order_by="PersonTag.tag",
        lazy="selectin",
    )


class PersonEmail(Base):
    __tablename__ = "person_email"
    __table_args__ = (UniqueConstraint("person_id", "address_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    """As the user typed it."""
    address_key: Mapped[str] = mapped_column(String(320), index=True)
    """Normalised (domain.addresses.normalize_address): what matching compares."""
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    person: Mapped[Person] = relationship(back_populates="emails")


class PersonPhone(Base):
    __tablename__ = "person_phone"
    __table_args__ = (UniqueConstraint("person_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32), index=True)
    """E.164, e.g. ``+442079460958``."""
    label: Mapped[str | None] = mapped_column(String(40))

    person: Mapped[Person] = relationship(back_populates="phones")


class PersonTag(Base):
    __tablename__ = "person_tag"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)

    person: Mapped[Person] = relationship(back_populates="tags")


# --- mail accounts and org-wide matching settings -------------------------------------------


class MailAccount(Base):
    __tablename__ = "mail_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    imap_host: Mapped[str] = mapped_column(String(253))
    imap_port: Mapped[int] = mapped_column(Integer, default=993)
    imap_tls: Mapped[TlsMode] = mapped_column(_enum(TlsMode), default=TlsMode.IMPLICIT)
    username: Mapped[str] = mapped_column(String(320))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    """The password (or OAuth2 refresh token), sealed by ``services.secrets``; never plain."""
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_tls: Mapped[TlsMode | None] = mapped_column(_enum(TlsMode))
    signature: Mapped[str | None] = mapped_column(Text)
    """Put below what the user writes from this account (mail client), after "-- "."""
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility), default=Visibility.EVERYTHING)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_reauth: Mapped[bool] = mapped_column(Boolean, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    backoff_until: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_advice: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[UserAccount] = relationship(lazy="joined")
    addresses: Mapped[list[AccountAddress]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        order_by="AccountAddress.id",
        lazy="selectin",
    )


class AccountAddress(Base):
    """One of the account owner's own addresses or aliases: decides sent vs received."""

    __tablename__ = "account_address"
    __table_args__ = (UniqueConstraint("account_id", "address_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mail_account.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    address_key: Mapped[str] = mapped_column(String(320), index=True)

    account: Mapped[MailAccount] = relationship(back_populates="addresses")


class InternalDomain(Base):
    """A domain of the firm itself: its addresses are colleagues, never contacts."""

    __tablename__ = "internal_domain"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)


class PrivateEntry(Base):
    """The private list: mail to, from or mentioning these is never logged."""

    __tablename__ = "private_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PrivateKind] = mapped_column(_enum(PrivateKind))
    value: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- folders, messages, locations ------------------------------------------------------


class MailFolder(Base):
    """A folder the sync engine tracks, with its checkpoint (docs/sync.md, "Invariants").

    Invariants: every UID < ``uidnext_seen`` was processed; every UID in
    [``backfill_low``, ``uidnext_seen``) was processed, 1 meaning the backfill is done;
    these fields change only in the transaction that writes what they cover.
    """

    __tablename__ = "mail_folder"
    __table_args__ = (UniqueConstraint("account_id", "name_raw"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mail_account.id", ondelete="CASCADE"))
    name_raw: Mapped[bytes] = mapped_column(LargeBinary)
    """The name as LIST gave it (modified UTF-7)."""
    name: Mapped[str] = mapped_column(String(1000))
    delimiter: Mapped[str | None] = mapped_column(String(4))
    role: Mapped[str | None] = mapped_column(String(20))
    is_tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[FolderState] = mapped_column(_enum(FolderState), default=FolderState.NEW)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uidnext_seen: Mapped[int | None] = mapped_column(BigInteger)
    backfill_low: Mapped[int | None] = mapped_column(BigInteger)
    modseq_at_backfill: Mapped[int | None] = mapped_column(BigInteger)
    highestmodseq: Mapped[int | None] = mapped_column(BigInteger)
    server_count: Mapped[int | None] = mapped_column(Integer)
    last_full_check_at: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)


class MailMessage(Base):
    """Our copy of one message of one account, whatever folders it sits in."""

    __tablename__ = "mail_message"
    __table_args__ = (
        UniqueConstraint("account_id", "identity_key"),
        Index("ix_mail_message_account_id_date_at", "account_id", "date_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mail_account.id", ondelete="CASCADE"))
    identity_key: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(80), index=True)
    emailid: Mapped[str | None] = mapped_column(String(255))
    gm_msgid: Mapped[int | None] = mapped_column(BigInteger)
    message_id_header: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    """The Message-IDs of the References field, oldest first (RFC 5322 section 3.6.4)."""
    subject: Mapped[str] = mapped_column(Text, default="")
    date_at: Mapped[datetime | None] = mapped_column()
    internaldate: Mapped[datetime | None] = mapped_column()
    size: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    kind_reason: Mapped[str | None] = mapped_column(String(200))
    source_path: Mapped[str | None] = mapped_column(Text)
    """For messages ingested from a file: where to read the original again."""
    deleted_on_server_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageKey(Base):
    """Every identity key a message ever had, so a new key scheme never duplicates it."""

    __tablename__ = "message_key"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mail_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("mail_message.id", ondelete="CASCADE"), index=True
    )


class MessageParticipant(Base):
    """Who a message is from and to, normalised: lets a later-added address find past mail."""

    __tablename__ = "message_participant"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("mail_message.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(10), primary_key=True)
    """``from``, ``to``, ``cc``, ``bcc`` (RFC 5322 field names), or ``body`` for a mention."""
    address_key: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)
    display_name: Mapped[str] = mapped_column(String(300), default="")


class MessageLocation(Base):
    """Where a message is on the server now: (folder, UIDVALIDITY, UID) names it forever."""

    __tablename__ = "message_location"

    folder_id: Mapped[int] = mapped_column(
        ForeignKey("mail_folder.id", ondelete="CASCADE"), primary_key=True
    )
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("mail_message.id", ondelete="CASCADE"), index=True
    )
    modseq: Mapped[int | None] = mapped_column(BigInteger)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    unlinked_at: Mapped[datetime | None] = mapped_column()
    """NULL while present on the server; set when expunged or moved away."""


class Quarantine(Base):
    """A message that could not be fetched or parsed: kept with its error, never blocking.

    ``is_suspect``: the message was in a batch whose FETCH failed (a server may drop the
    connection over one unreadable message). Next time it is fetched alone: then the row is
    deleted when it succeeds, or confirmed (``is_suspect`` False) when it fails again.
    """

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_account.id", ondelete="CASCADE"), index=True
    )
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("mail_folder.id", ondelete="CASCADE"))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    source_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    is_suspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    retry_at: Mapped[datetime | None] = mapped_column()
    """When the sync tries the message again (NULL: not any more; docs/sync.md, "Quarantine")."""
    released_at: Mapped[datetime | None] = mapped_column()
    """Set by ``postroom message quarantine release``: skipped for good, never tried again."""


# --- activities ----------------------------------------------------------------------


class Activity(Base):
    """One email (or bounce) logged on one record, exactly once (UNIQUE fingerprint, person)."""

    __tablename__ = "activity"
    __table_args__ = (
        UniqueConstraint("fingerprint", "person_id"),
        Index("ix_activity_person_id_occurred_at", "person_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(80))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("mail_message.id", ondelete="SET NULL"), index=True
    )
    """The copy first seen; others share the fingerprint (``mail_message.fingerprint``)."""
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    occurred_at: Mapped[datetime | None] = mapped_column()
    subject: Mapped[str] = mapped_column(Text, default="")
    participants: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"from": [[name, address]], "to": [...], "cc": [...]}`` as written in the headers."""
    body_state: Mapped[BodyState] = mapped_column(_enum(BodyState))
    text: Mapped[str | None] = mapped_column(Text)
    reply_text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    """``[{"filename": ..., "content_type": ..., "size": ..., "part": "2"}]``: ``part`` is the
    IMAP part number (``pipeline.attachments_json``); older rows may lack it."""
    detail: Mapped[str | None] = mapped_column(Text)
    """For a bounce: the status and diagnostic the server gave."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- the sync worker -------------------------------------------------------------------


class SyncWorker(Base):
    """A running ``postroom worker`` (or ``postroom serve``): its supervisor writes ``seen_at``
    every ``beat_every`` seconds and deletes the row when it stops, so ``postroom status`` can
    say whether mail is being synced (docs/sync.md, "Is a worker running")."""

    __tablename__ = "sync_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(253))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_every: Mapped[float] = mapped_column(Float)
    """Seconds between two heartbeats: a row not seen for twice that is a worker gone."""
