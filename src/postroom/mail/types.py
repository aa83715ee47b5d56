"""Typed results of parsing mail: what the rest of Postroom knows about a message.

All values are frozen dataclasses built by pure functions in this package (``parse.py``,
``text.py``, ``classify.py``); none of them needs a socket or a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

from postroom.mail.filenames import display_filename, unnamed_label


def reduce_by_fields(value: Any) -> tuple[type, tuple[Any, ...]]:
    """A ``__reduce__`` for frozen slots dataclasses: the class and its field values, rebuilt
    by ``__init__``. Batches of these go to and from reading workers (``sync.pool``), and this
    pickles about three times faster than the ``__getstate__`` dataclasses generate (which
    looks up ``fields()`` for every object). Only for classes whose fields all go to
    ``__init__``, in ``__slots__`` order."""
    return (type(value), tuple(getattr(value, name) for name in value.__slots__))


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One RFC 5322 mailbox: ``"Anna Berg" <anna@example.com>``.

    ``name`` is decoded (encoded words undone); ``address`` is the addr-spec as written (never
    decoded, no invisible characters: see ``mail.parse``), not normalised; see
    ``postroom.domain.addresses.normalize_address`` for the matching key.
    """

    __reduce__ = reduce_by_fields

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Headers:
    """The header fields Postroom uses, decoded.

    Address fields hold only mailboxes with a local part and a domain; groups are flattened.
    ``date`` is timezone-aware, or None when the Date field is missing or unreadable.
    ``message_id`` keeps its angle brackets and case, with surrounding space removed.
    """

    __reduce__ = reduce_by_fields

    subject: str = ""
    date: datetime | None = None
    date_raw: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    from_: tuple[Mailbox, ...] = ()
    sender: tuple[Mailbox, ...] = ()
    reply_to: tuple[Mailbox, ...] = ()
    to: tuple[Mailbox, ...] = ()
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[Mailbox, ...] = ()
    list_id: str | None = None
    list_unsubscribe: str | None = None
    precedence: str | None = None
    auto_submitted: str | None = None
    content_type: str = "text/plain"
    """The top-level media type, lower case (``multipart/report`` marks a DSN)."""
    report_type: str | None = None
    """The ``report-type`` parameter of a multipart/report, lower case."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file in a message, described without its bytes.

    ``filename`` is decoded (RFC 2231, encoded words) and otherwise as sent; a nested message
    without a file name is named by its subject. Show :attr:`display_name`, never
    ``filename`` (``mail.filenames``).
    """

    __reduce__ = reduce_by_fields

    filename: str | None
    content_type: str
    size: int
    """Decoded size in bytes."""
    part: str | None = None
    """The IMAP part number (RFC 9051 section 6.4.5: ``"2"``, ``"1.2"``): ``BODY.PEEK[<part>]``
    fetches this file from the server. The same on both paths (BODYSTRUCTURE and a whole
    message)."""

    @property
    def display_name(self) -> str:
        """The name to show or offer as a download name: ``filename`` without path, controls,
        bidirectional marks or markup, length-capped, never empty
        (:func:`postroom.mail.filenames.display_filename`)."""
        return display_filename(self.filename, unnamed_label(self.content_type))


class MessageKind(enum.Enum):
    CONVERSATION = "conversation"
    BULK = "bulk"
    BOUNCE = "bounce"


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery status notification (RFC 3464): whose delivery failed and why."""

    __reduce__ = reduce_by_fields

    failed_recipients: tuple[str, ...]
    """Addresses (as written in Final-Recipient / Original-Recipient) whose delivery failed."""
    status: str | None = None
    """The first failed recipient's Status, e.g. ``5.1.1``."""
    diagnostic: str | None = None
    original_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Classification:
    __reduce__ = reduce_by_fields

    kind: MessageKind
    reason: str | None = None
    """Why, e.g. ``List-Id``, ``Precedence: bulk``, ``multipart/report delivery-status``."""
    bounce: Bounce | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """The readable content of a message."""

    __reduce__ = reduce_by_fields

    text: str
    """The whole readable text: text/plain, else the HTML part turned into text (at most the
    first 256 KiB of the part)."""
    reply_text: str
    """The new part of ``text``: quoted history (and the reply header) removed."""
    attachments: tuple[Attachment, ...] = ()
    is_from_html: bool = False
    defects: tuple[str, ...] = ()
    """Names of what decoding the text and attachments tolerated, e.g. ``CharsetMismatchDefect``."""


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What is known about a message before its text is read: from its IMAP header fetch,
    or from a parsed file (``source_path``)."""

    __reduce__ = reduce_by_fields

    headers: Headers
    classification: Classification
    size: int | None = None
    internaldate: datetime | None = None
    emailid: str | None = None
    gm_msgid: int | None = None
    source_path: str | None = None


@dataclass(frozen=True, slots=True)
class MessageHead:
    """A parsed message whose body has not been read yet (``parse_message_head``).

    Everything but the text: enough to match addresses and decide whether the body is needed.
    ``extract_body(head.mime)`` then gives the :class:`Body` without parsing the bytes again.
    """

    headers: Headers
    classification: Classification
    size: int
    defects: tuple[str, ...] = ()
    """Names of the defects the parser tolerated so far (see ``ParsedMessage.defects``)."""
    mime: Message = field(default_factory=Message, compare=False, repr=False)
    """The stdlib ``compat32`` tree the values were read from. Read it, never change it."""


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """Everything the ingest pipeline needs from one message."""

    headers: Headers
    body: Body
    classification: Classification
    size: int
    defects: tuple[str, ...] = field(default=())
    """Names of the defects the parser tolerated (malformed but readable mail): the stdlib's
    MIME defects (``StartBoundaryNotFoundDefect``, ...), then ours for headers
    (``InvalidDateDefect``, ...) and ``body.defects``."""


@dataclass(frozen=True, slots=True)
class TextPlan:
    """Which part of a message to fetch for its text, read from its IMAP BODYSTRUCTURE.

    Built by ``postroom.mail.plan_text_fetch``; ``postroom.mail.decode_text_part`` turns the
    fetched bytes of ``part`` into a :class:`Body`. A text/plain part and a PDF:

    >>> from imapclient.response_parser import parse_fetch_response
    >>> from postroom.mail import plan_text_fetch
    >>> response = (
    ...     b'1 (UID 7 BODYSTRUCTURE (("text" "plain" ("charset" "UTF-8") NIL NIL'
    ...     b' "quoted-printable" 1204 31 NIL NIL NIL NIL)("application" "pdf" ("name" "cv.pdf")'
    ...     b' NIL NIL "base64" 78000 NIL ("attachment" ("filename" "cv.pdf")) NIL NIL)'
    ...     b' "mixed" ("boundary" "b1") NIL NIL NIL))'
    ... )
    >>> plan = plan_text_fetch(parse_fetch_response([response])[7][b"BODYSTRUCTURE"])
    >>> plan.part, plan.subtype, plan.charset, plan.encoding, plan.size
    ('1', 'plain', 'utf-8', 'quoted-printable', 1204)
    >>> plan.attachments, plan.is_report
    ((Attachment(filename='cv.pdf', content_type='application/pdf', size=57000, part='2'),), False)

    The engine then fetches ``BODY.PEEK[1]<0.262144>``.
    """

    __reduce__ = reduce_by_fields

    part: str | None = None
    """The IMAP part number (``"1"``, ``"1.2"``), or None when the message has no text part."""
    subtype: str = "plain"
    """``plain`` or ``html`` (lower case)."""
    charset: str = "us-ascii"
    """The ``charset`` parameter, lower case (``us-ascii`` when the part has none)."""
    encoding: str = "7bit"
    """The Content-Transfer-Encoding, lower case."""
    size: int = 0
    """The part's size in octets as the server sends it (encoded); more than the fetched
    length means the fetch cut the part."""
    attachments: tuple[Attachment, ...] = ()
    """Every other leaf part, in order; sizes are estimated from the encoded size."""
    is_report: bool = False
    """The message is a delivery status notification (``multipart/report;
    report-type=delivery-status``)."""
    defects: tuple[str, ...] = ()
    """Names of what decoding the structure (file names, parameters) tolerated."""
