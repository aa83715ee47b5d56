"""What kind of message this is: a conversation, bulk mail, or a bounce of something we sent.

Pure functions of the decoded :class:`Headers` and the stdlib ``compat32`` tree; no I/O.
Invariants:

* A bounce wins over bulk (bounces usually carry ``Auto-Submitted: auto-replied``).
* A message is a bounce only when a failed recipient is known: from an RFC 3464 report
  (:func:`get_dsn`), or, when the report has no usable per-recipient block or there is no
  report, from the text of a notice that looks like a bounce by its headers
  (:func:`get_unstructured_bounce`, ``mail/bounce.py``: ``flufl.bounce``'s detectors, then our
  own patterns, never an address only in the returned original message).
* A report or notice that lists no failure (e.g. ``Action: delayed``, a delay warning) is
  bulk, not a bounce.
* Bulk is recognised from headers only (:func:`get_bulk_reason`): List-Id, List-Unsubscribe,
  ``Precedence: bulk|list|junk``, ``Auto-Submitted`` other than ``no``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from postroom.mail.bounce import (
    BOUNCE_LOCAL_PARTS,
    is_bounce_address,
    is_valid_address,
    might_be_bounce,
    read_notice,
    split_notice,
)
from postroom.mail.text import (
    MAX_TEXT_BYTES,
    decode_text,
    get_decoded_message_bytes,
    list_message_ids,
)
from postroom.mail.types import Bounce, Classification, Headers, MessageKind

BOUNCE_SENDERS = BOUNCE_LOCAL_PARTS
"""Local parts of the mail systems that send bounces (``mail/bounce.py``)."""
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t]*message-id:[ \t]*(<[^<>\s]+>)", re.I | re.MULTILINE)
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_FAILED_ACTIONS = ("fail", "error", "bounce", "reject", "undeliver", "abandon", "permanent")
"""Prefixes of Action values that report a failure: RFC 3464's ``failed`` and the
non-standard ``failure``, ``error``, ``bounced``, ``rejected``... of some MTAs."""
_OTHER_ACTIONS = ("delay", "deliver", "relay", "expand", "warn", "retry", "transient")
_ORIGINAL_PARTS = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})


def classify(headers: Headers, msg: Message) -> Classification:
    """Classify a parsed message: bounce, then bulk, else conversation.

    ``parse_message_head`` calls it; ``msg`` is the ``compat32`` tree ``headers`` were read from.

    >>> raw = b"From: news@example.org\\r\\nList-Id: <jobs.example.org>\\r\\n\\r\\nHi"
    >>> parse_message_head(raw).classification
    Classification(kind=<MessageKind.BULK: 'bulk'>, reason='List-Id', bounce=None)
    """
    bounce, lists_recipients = _read_dsn(msg)
    if not is_dsn(msg) and might_be_bounce(headers):
        bounce, lists_recipients = _read_dsn(_find_wrapped_dsn(msg) or msg)
    if bounce is not None:
        return Classification(MessageKind.BOUNCE, "multipart/report delivery-status", bounce)
    if not lists_recipients:
        bounce = get_unstructured_bounce(headers, msg)
        if bounce is not None:
            return Classification(MessageKind.BOUNCE, "delivery failure notice", bounce)
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

    Reads every ``message/delivery-status`` part: each per-recipient block whose Action reports
    a failure (``failed``, or a non-standard ``failure``, ``error``, ``bounced``...; with no
    known Action, a ``5.x.x`` Status) gives its Original-Recipient (else Final-Recipient)
    address, when that is a valid address; Status and Diagnostic-Code come from the first
    failed block. The original Message-ID comes from the returned ``message/rfc822`` or
    ``text/rfc822-headers`` part.
    """
    return _read_dsn(msg)[0]


def _read_dsn(msg: Message) -> tuple[Bounce | None, bool]:
    """``(bounce, lists_recipients)``: :func:`get_dsn`, and whether the report has a
    per-recipient block with a recipient at all (when it has none, the notice's text is read
    instead)."""
    if not is_dsn(msg):
        return None, False
    recipients: list[str] = []
    lists_recipients = False
    first_failed: Message | None = None
    for part in _iter_children(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _iter_status_blocks(part):
            recipient = _get_recipient(block, "original-recipient")
            final = _get_recipient(block, "final-recipient")
            if recipient is None or not is_valid_address(recipient):
                recipient = final
            if recipient is None:
                continue
            lists_recipients = True
            if is_valid_address(recipient) and _is_failed(block):
                recipients.append(recipient)
                first_failed = first_failed or block
    if first_failed is None:
        return None, lists_recipients
    bounce = Bounce(
        failed_recipients=tuple(dict.fromkeys(recipients)),
        status=_get_token(_get_field(first_failed, "status")) or None,
        diagnostic=_get_typed_value(_get_field(first_failed, "diagnostic-code")) or None,
        original_message_id=get_original_message_id(msg, ""),
    )
    return bounce, True


def _find_wrapped_dsn(msg: Message) -> Message | None:
    """A DSN that a gateway attached as ``message/rfc822`` to a notice of its own (a mail
    system never bounces a bounce, so this is the report, not a returned original)."""
    for part in _iter_children(msg):
        if part.get_content_type() != "message/rfc822":
            continue
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message) and is_dsn(inner):
            return inner
    return None


def _is_failed(block: Message) -> bool:
    """Whether a per-recipient block reports a permanent failure (:func:`get_dsn`)."""
    action = _get_token(_get_field(block, "action"))
    if action.startswith(_FAILED_ACTIONS):
        return True
    if action.startswith(_OTHER_ACTIONS):
        return False
    return _get_token(_get_field(block, "status")).startswith("5")


def get_unstructured_bounce(headers: Headers, msg: Message) -> Bounce | None:
    """A bounce read from the text of a notice (no usable RFC 3464 block), else None.

    Only a message that may be a bounce by its headers is read (``bounce.might_be_bounce``:
    a mail system's or a null sender, a bounce subject in many languages, a report); its
    failed recipients come from ``bounce.read_notice`` (``flufl.bounce``'s detectors for
    Exchange, GroupWise, qmail, Yahoo, AOL, SMTP32... then our patterns for Postfix, Exim,
    Gmail, Exchange Online, Lotus Notes...); a delay warning is not a bounce.
    """
    if not might_be_bounce(headers):
        return None
    notice = read_notice(headers, msg)
    if not notice.failed_recipients:
        return None
    _, returned = split_notice(msg)
    return Bounce(
        failed_recipients=notice.failed_recipients,
        original_message_id=get_original_message_id(msg, returned),
    )


def is_bounce_sender(address: str) -> bool:
    """Whether ``address`` is a mail system's (``MAILER-DAEMON@...``, ``postmaster@...``,
    ``Mailer_Daemon@``... in any case): the test of ``BOUNCE_SENDERS``. The sync's header
    reading should use the wider ``might_be_bounce(headers)`` (null sender, "Mail Delivery
    System" names, bounce subjects in other languages).

    >>> is_bounce_sender("MAILER-DAEMON@mx.example"), is_bounce_sender("postmaster.jobs@x.example")
    (True, False)
    """
    return is_bounce_address(address)


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
