"""Writing mail: the addresses a user typed, a reply or a forward made from a message, and
the RFC 5322 bytes to send (docs/web.md, "Mail"). Pure: values in, bytes out.

A reply goes to the Reply-To (else From) of the message; reply-all adds its To and Cc, the
user's own addresses left out. Its subject gets one ``Re:``, and ``In-Reply-To`` and
``References`` (RFC 5322 section 3.6.4) tie it to the thread, so every mail program shows it
in its conversation. Its text quotes the original below an attribution line. A forward gets
``Fwd:``, the original's header block and text, and its attachments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid

from postroom.domain.addresses import has_invisible_characters, normalize_address
from postroom.errors import InputError
from postroom.mail.filenames import display_filename
from postroom.mail.types import Headers, Mailbox

MAX_RECIPIENTS = 100
"""At most this many addresses in To, Cc and Bcc together (a bigger mailing is an email
merge)."""
MAX_SUBJECT = 998
MAX_BODY = 2_000_000
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|vs|antw|odp|r|res|ref)\s*(?:\[\d+\])?\s*:\s*", re.I)
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_FORWARD_PREFIX = re.compile(r"^\s*(?:fwd?|wg|tr|rv|fw|vs|doorst)\s*:\s*", re.I)


@dataclass(frozen=True, slots=True)
class FileToSend:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Draft:
    """What the user wrote. ``to``/``cc``/``bcc`` are (name, address) pairs, checked
    (``parse_recipients``); ``in_reply_to`` and ``references`` keep angle brackets."""

    sender: Mailbox
    to: tuple[Mailbox, ...]
    subject: str
    text: str
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[Mailbox, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    files: tuple[FileToSend, ...] = field(default=(), repr=False)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient, each once (Bcc too: it is never in the header)."""
        seen: dict[str, str] = {}
        for mailbox in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(mailbox.address.lower(), mailbox.address)
        return tuple(seen.values())


def parse_recipients(text: str, what: str = "To") -> tuple[Mailbox, ...]:
    """The addresses typed in a To, Cc or Bcc box: commas or semicolons between them, names
    optional (``Anna Berg <anna@acme.example>, lena@contoso.example``).

    Raises ``InputError`` naming the first entry that is not an address.

    >>> [m.address for m in parse_recipients("Anna Berg <anna@acme.example>; lena@x.example")]
    ['anna@acme.example', 'lena@x.example']
    """
    found: list[Mailbox] = []
    entries = [e.strip() for e in re.split(r"[,;\n](?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", text)]
    for entry in entries:
        if not entry:
            continue
        pairs = getaddresses([entry])
        if len(pairs) != 1 or not _is_address(pairs[0][1]):
            raise InputError(
                f"{what}: {entry!r} is not an email address",
                advice="write addresses as name@example.com, separated by commas",
            )
        name, address = pairs[0]
        found.append(Mailbox(" ".join(name.split()), address))
    if len(found) > MAX_RECIPIENTS:
        raise InputError(
            f"{what}: {len(found)} addresses, more than the {MAX_RECIPIENTS} one email may have",
            advice="send to fewer people at once",
        )
    return tuple(found)


def _is_address(address: str) -> bool:
    if not address or has_invisible_characters(address) or any(c.isspace() for c in address):
        return False
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and normalize_address(address))


def reply_subject(subject: str) -> str:
    """``Re:`` once, whatever language the earlier ones were in.

    >>> reply_subject("AW: Re: Interview"), reply_subject("Interview")
    ('Re: Interview', 'Re: Interview')
    """
    rest = subject
    while (match := _REPLY_PREFIX.match(rest)) is not None:
        rest = rest[match.end() :]
    return f"Re: {rest.strip()}"


def forward_subject(subject: str) -> str:
    """``Fwd: Interview`` (an earlier forward prefix is not repeated).

    >>> forward_subject("WG: Interview"), forward_subject("Interview")
    ('Fwd: Interview', 'Fwd: Interview')
    """
    rest = subject
    while (match := _FORWARD_PREFIX.match(rest)) is not None:
        rest = rest[match.end() :]
    return f"Fwd: {rest.strip()}"


def _quoted(text: str) -> str:
    return "\n".join(">" if not line else f"> {line}" for line in text.strip("\n").splitlines())


def _named(mailbox: Mailbox) -> str:
    return f"{mailbox.name} <{mailbox.address}>" if mailbox.name else mailbox.address


def _when(date: datetime | None) -> str:
    return f"{date:%a, %d %b %Y at %H:%M}" if date is not None else "an earlier date"


def reply_draft(
    original: Headers,
    text: str,
    *,
    sender: Mailbox,
    own_addresses: Iterable[str],
    reply_all: bool,
) -> Draft:
    """The draft of a reply to ``original`` (its headers and its readable ``text``)."""
    own = {a.lower() for a in own_addresses} | {sender.address.lower()}
    to = original.reply_to or original.from_
    if all(m.address.lower() in own for m in to):  # replying to one's own sent mail
        to = original.to
    cc: tuple[Mailbox, ...] = ()
    if reply_all:
        taken = {m.address.lower() for m in to} | own
        cc = tuple(
            _unique(m for m in (*original.to, *original.cc) if m.address.lower() not in taken)
        )
    author = original.from_[0] if original.from_ else None
    attribution = f"On {_when(original.date)}, {_named(author) if author else 'someone'} wrote:"
    references = tuple(original.references)
    if original.message_id:
        references = (*references, original.message_id)
    return Draft(
        sender=sender,
        to=tuple(_unique(to)),
        cc=cc,
        subject=reply_subject(original.subject),
        text=f"\n\n{attribution}\n{_quoted(text)}\n",
        in_reply_to=original.message_id,
        references=references[-20:],
    )


def forward_draft(
    original: Headers, text: str, *, sender: Mailbox, files: Sequence[FileToSend] = ()
) -> Draft:
    """The draft of a forward of ``original``: its header block and text, and its files."""
    lines = ["", "", "---------- Forwarded message ----------"]
    if original.from_:
        lines.append("From: " + ", ".join(_named(m) for m in original.from_))
    lines.append(f"Date: {_when(original.date)}")
    lines.append(f"Subject: {original.subject}")
    if original.to:
        lines.append("To: " + ", ".join(_named(m) for m in original.to))
    if original.cc:
        lines.append("Cc: " + ", ".join(_named(m) for m in original.cc))
    return Draft(
        sender=sender,
        to=(),
        subject=forward_subject(original.subject),
        text="\n".join(lines) + "\n\n" + text.strip("\n") + "\n",
        files=tuple(files),
    )


def _unique(mailboxes: Iterable[Mailbox]) -> list[Mailbox]:
    seen: dict[str, Mailbox] = {}
    for mailbox in mailboxes:
        seen.setdefault(mailbox.address.lower(), mailbox)
    return list(seen.values())


def signed(text: str, signature: str) -> str:
    """The text a new message, reply or forward starts with: room to write, then the
    signature after the "-- " line (RFC 3676 section 4.3), then ``text`` (a reply's quote, a
    forward's message).

    >>> signed("", "Robin")
    '\\n\\n-- \\nRobin'
    >>> signed("\\n\\nOn Friday, Anna wrote:\\n> Hi", "Robin")
    '\\n\\n-- \\nRobin\\n\\nOn Friday, Anna wrote:\\n> Hi'
    """
    if not signature:
        return text
    return f"\n\n-- \n{signature}" + text


def check_draft(draft: Draft, *, to_send: bool = True) -> None:
    """Raise ``InputError`` for a draft that cannot be sent (``to_send``: nobody to send to)
    or kept: a subject or text too long, a header value with a line break."""
    if to_send and not draft.recipients:
        raise InputError("nobody to send to", advice="write at least one address in To")
    if len(draft.subject) > MAX_SUBJECT or any(c in draft.subject for c in "\r\n"):
        raise InputError("the subject is too long or holds a line break", advice="shorten it")
    if len(draft.text) > MAX_BODY:
        raise InputError("the text is too long to send", advice="send the long part as a file")


def build_message(
    draft: Draft, *, date: datetime, message_id: str, bcc: bool = False, to_send: bool = True
) -> bytes:
    """The RFC 5322 bytes of ``draft`` (CRLF line ends; UTF-8 text, encoded words in headers
    where needed). The Bcc header only with ``bcc``: for the copy in the Sent folder, never
    for what is sent (both made with the same ``date`` and ``message_id``: one message).
    ``to_send`` False makes a draft to keep, which may have no recipient yet.

    >>> from datetime import UTC
    >>> me = Mailbox("Robin", "robin@firm.example")
    >>> raw = build_message(
    ...     Draft(me, (Mailbox("", "anna@acme.example"),), "Hi", "Hello Anna"),
    ...     date=datetime(2026, 12, 6, 9, tzinfo=UTC), message_id=new_message_id(me))
    >>> b"To: anna@acme.example\\r\\n" in raw, b"Hello Anna" in raw
    (True, True)
    """
    check_draft(draft, to_send=to_send)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _header_address(draft.sender)
    if draft.to or to_send:
        msg["To"] = (
            [_header_address(m) for m in draft.to] if draft.to else "undisclosed-recipients:;"
        )
    if draft.cc:
        msg["Cc"] = [_header_address(m) for m in draft.cc]
    if bcc and draft.bcc:
        msg["Bcc"] = [_header_address(m) for m in draft.bcc]
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = " ".join(draft.references)
    msg["MIME-Version"] = "1.0"
    msg.set_content(draft.text.replace("\r\n", "\n"), charset="utf-8")
    for file in draft.files:
        content_type = file.content_type.lower()
        if not _MEDIA_TYPE.fullmatch(content_type):
            content_type = "application/octet-stream"  # a browser's guess is not trusted
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(
            file.data,
            maintype=maintype,
            subtype=subtype,
            filename=display_filename(file.filename, "attachment"),  # no path, no controls
        )
    return msg.as_bytes()


def new_message_id(sender: Mailbox) -> str:
    """A new, unique Message-ID in the sender's domain (RFC 5322 section 3.6.4)."""
    return make_msgid(domain=sender.address.rpartition("@")[2] or "postroom.invalid")


def _header_address(mailbox: Mailbox) -> Address:
    local, _, domain = mailbox.address.rpartition("@")
    return Address(display_name=mailbox.name, username=local, domain=domain)
