"""What kind of message this is: a conversation, bulk mail, or a bounce of something we sent.

Pure functions of the decoded :class:`Headers` and the stdlib ``compat32`` tree; no I/O.
Invariants:

* A bounce wins over bulk (bounces usually carry ``Auto-Submitted: auto-replied``).
* A message is a bounce only when a failed recipient is known: from an RFC 3464 report
  (:func:`get_dsn`), or, for the common non-standard bounce from ``MAILER-DAEMON`` or
  ``postmaster`` with a delivery-failure subject, from a conservative pattern in its text
  (:func:`get_unstructured_bounce`). A report that lists no failure (e.g. ``Action: delayed``)
  is bulk, not a bounce.
* Bulk is recognised from headers only (:func:`get_bulk_reason`): List-Id, List-Unsubscribe,
  ``Precedence: bulk|list|junk``, ``Auto-Submitted`` other than ``no``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from postroom.mail.text import (
    MAX_TEXT_BYTES,
    decode_text,
    extract_text,
    get_decoded_message_bytes,
    list_message_ids,
)
from postroom.mail.types import Bounce, Classification, Headers, MessageKind

BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
"""Local parts of the mail systems that send bounces (RFC 5321 section 4.5.1 for
``postmaster``; ``MAILER-DAEMON`` by long use), compared case-insensitively."""
_BOUNCE_SUBJECT = re.compile(
    r"undeliver(?:ed|able)|returned mail|mail delivery failed|failure notice"
    r"|delivery (?:status notification \(failure\)|has failed|failed|failure)"
    r"|could not be delivered|non-?delivery",
    re.IGNORECASE,
)
_ADDRESS = r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
_FAILED_RECIPIENT_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    for pattern in (
        # Postfix, qmail: "<anna@example.com>: host mx.example.com said: 550 ..."
        rf"^[ \t]*<({_ADDRESS})>:",
        # Exim: "The following address(es) failed:\n\n  anna@example.com"
        rf"following address(?:\(es\)|es)? failed:\s*<?({_ADDRESS})>?",
        # Gmail: "Delivery to the following recipient failed permanently:\n\n  anna@..."
        rf"following recipients? failed permanently:\s*<?({_ADDRESS})>?",
        # Gmail, Exchange: "wasn't delivered to anna@...", "Your message to anna@... couldn't be"
        rf"(?:wasn't|was not|couldn't be|could not be) delivered to <?({_ADDRESS})>?",
        rf"message to <?({_ADDRESS})>? (?:couldn't|could not|can't|cannot) be delivered",
        # DSN fields copied into the text, Sun/Oracle "Recipient address: anna@..."
        rf"^[ \t]*(?:final|original)-recipient:[ \t]*rfc822;[ \t]*<?({_ADDRESS})>?",
        rf"^[ \t]*recipient address:[ \t]*<?({_ADDRESS})>?",
    )
)
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t]*message-id:[ \t]*(<[^<>\s]+>)", re.I | re.MULTILINE)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_ORIGINAL_PARTS = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})


def classify(headers: Headers, msg: Message) -> Classification:
    """Classify a parsed message: bounce, then bulk, else conversation.

    ``parse_message_head`` calls it; ``msg`` is the ``compat32`` tree ``headers`` were read from.

    >>> raw = b"From: news@example.org\\r\\nList-Id: <jobs.example.org>\\r\\n\\r\\nHi"
    >>> parse_message_head(raw).classification
    Classification(kind=<MessageKind.BULK: 'bulk'>, reason='List-Id', bounce=None)
    """
    bounce = get_dsn(msg)
    if bounce is not None:
        return Classification(MessageKind.BOUNCE, "multipart/report delivery-status", bounce)
    bounce = get_unstructured_bounce(headers, msg)
    if bounce is not None:
        return Classification(MessageKind.BOUNCE, "delivery failure from mailer-daemon", bounce)
    reason = get_bulk_reason(headers)
    if reason is not None:
        return Classification(MessageKind.BULK, reason)
    if is_dsn(msg):
        return Classification(MessageKind.BULK, "multipart/report delivery-status, no failure")
    return Classification(MessageKind.CONVERSATION)


def get_bulk_reason(headers: Headers) -> str | None:
    """Why a message is bulk (``"List-Id"``, ``"Precedence: bulk"``, ...), or None."""
    if headers.list_id:
        return "List-Id"
    if headers.list_unsubscribe:
        return "List-Unsubscribe"
    precedence = _get_token(headers.precedence)
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    auto_submitted = _get_token(headers.auto_submitted)
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    return None


def is_dsn(msg: Message) -> bool:
    """Whether the message is an RFC 3464 delivery status notification.

    That is a ``multipart/report`` with ``report-type=delivery-status``, or with no
    report-type but a ``message/delivery-status`` part (some MTAs omit the parameter).
    """
    if msg.get_content_type() != "multipart/report":
        return False
    report_type = msg.get_param("report-type")
    if isinstance(report_type, str) and report_type.strip():
        return report_type.strip().lower() == "delivery-status"
    return any(p.get_content_type() == "message/delivery-status" for p in _iter_children(msg))


def get_dsn(msg: Message) -> Bounce | None:
    """The failures reported by an RFC 3464 DSN, or None (not a DSN, or nothing failed).

    Reads every ``message/delivery-status`` part: each per-recipient block with
    ``Action: failed`` gives its Original-Recipient (else Final-Recipient) address; Status and
    Diagnostic-Code come from the first failed block. The original Message-ID comes from the
    returned ``message/rfc822`` or ``text/rfc822-headers`` part.
    """
    if not is_dsn(msg):
        return None
    recipients: list[str] = []
    first_failed: Message | None = None
    for part in _iter_children(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _iter_status_blocks(part):
            if _get_token(_get_field(block, "action")) != "failed":
                continue
            recipient = _get_recipient(block, "original-recipient") or _get_recipient(
                block, "final-recipient"
            )
            if recipient is not None:
                recipients.append(recipient)
                first_failed = first_failed or block
    if first_failed is None:
        return None
    return Bounce(
        failed_recipients=tuple(dict.fromkeys(recipients)),
        status=_get_token(_get_field(first_failed, "status")) or None,
        diagnostic=_get_typed_value(_get_field(first_failed, "diagnostic-code")) or None,
        original_message_id=get_original_message_id(msg, ""),
    )


def get_unstructured_bounce(headers: Headers, msg: Message) -> Bounce | None:
    """A non-standard bounce: from MAILER-DAEMON/postmaster, with a delivery-failure subject,
    and a failed recipient found in its text by a conservative pattern; else None.

    Recognised texts include Postfix/qmail (``<anna@example.com>: host ... said``), Exim
    (``The following address(es) failed:``), Gmail (``wasn't delivered to``,
    ``Delivery to the following recipient failed permanently``) and Exchange
    (``Your message to ... couldn't be delivered``).
    """
    sender = headers.from_[0].address if headers.from_ else ""
    if not is_bounce_sender(sender):
        return None
    if not _BOUNCE_SUBJECT.search(headers.subject):
        return None
    defects: list[str] = []
    text = extract_text(msg, defects)[:MAX_TEXT_BYTES]
    found = [m.group(1) for p in _FAILED_RECIPIENT_PATTERNS for m in p.finditer(text)]
    recipients = [a for a in dict.fromkeys(found) if a.lower() != sender.lower()]
    if not recipients:
        return None
    return Bounce(
        failed_recipients=tuple(recipients),
        original_message_id=get_original_message_id(msg, text),
    )


def is_bounce_sender(address: str) -> bool:
    """Whether ``address`` is a mail system's (``MAILER-DAEMON@...``, ``postmaster@...``, in
    any case): the one test of ``BOUNCE_SENDERS``, used by the whole-message path and by the
    sync's header reading (``sync/reading.py``).

    >>> is_bounce_sender("MAILER-DAEMON@mx.example"), is_bounce_sender("postmaster.jobs@x.example")
    (True, False)
    """
    local, at, _ = address.strip().rpartition("@")
    return bool(at) and local.lower() in BOUNCE_SENDERS


def get_original_message_id(msg: Message, text: str) -> str | None:
    """The Message-ID of the returned message: from a ``message/rfc822`` or
    ``text/rfc822-headers`` part of ``msg``, else from a ``Message-ID:`` line quoted in
    ``text``; None when neither has one."""
    for part in _iter_children(msg):
        content_type = part.get_content_type()
        if content_type not in _ORIGINAL_PARTS:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            original = payload[0] if payload and isinstance(payload[0], Message) else None
        else:
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            headers_text = decode_text(data, part.get_content_charset(), [], limit=MAX_TEXT_BYTES)
            original = HeaderParser(policy=compat32).parsestr(headers_text, headersonly=True)
        if original is not None:
            ids = list_message_ids(str(original.get("message-id", "")))
            if ids:
                return ids[0]
    match = _QUOTED_MESSAGE_ID.search(text)
    return match.group(1) if match else None


def _iter_children(msg: Message) -> Iterator[Message]:
    """The direct parts of a multipart message (a report's parts are its direct children)."""
    payload = msg.get_payload() if msg.is_multipart() else []
    return (part for part in payload if isinstance(part, Message))


def _iter_status_blocks(part: Message) -> Iterator[Message]:
    """The header blocks of a ``message/delivery-status`` part.

    The stdlib parses each block into a nested message; when the part is transfer-encoded
    (base64), the decoded text is split into blocks here instead.
    """
    data = get_decoded_message_bytes(part)
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, list):
            yield from (block for block in payload if isinstance(block, Message))
        return
    text = decode_text(data, part.get_content_charset(), [], limit=MAX_TEXT_BYTES)
    for block in re.split(r"\r?\n[ \t]*\r?\n", text):
        yield HeaderParser(policy=compat32).parsestr(block.strip() + "\n", headersonly=True)


def _get_field(block: Message, name: str) -> str:
    """A field of a status block, unfolded and stripped; ``""`` when missing."""
    value = block.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _get_typed_value(value: str) -> str:
    """``"rfc822; anna@example.com"`` → ``"anna@example.com"`` (RFC 3464 type;value)."""
    return value.partition(";")[2].strip() if ";" in value else value.strip()


def _get_recipient(block: Message, name: str) -> str | None:
    """The address of a Final-/Original-Recipient field, or None when it has no ``@``."""
    address = _get_typed_value(_get_field(block, name)).strip("<> ")
    return address if "@" in address else None


def _get_token(value: str | None) -> str:
    """The first token of a field, lower case: ``"Auto-Replied (x)"`` → ``"auto-replied"``."""
    if not value:
        return ""
    return re.split(r"[\s;(]", value.strip(), maxsplit=1)[0].lower()
