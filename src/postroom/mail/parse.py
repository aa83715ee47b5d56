"""Bytes to typed values: the header block (:func:`parse_headers`) or a whole RFC 5322 message
(:func:`parse_message`, or :func:`parse_message_head` and later the body).

Pure: no I/O, no database. The stdlib ``email`` package parses with the ``compat32`` policy,
about four times faster than ``policy.default``; this module only reads the few fields Postroom
uses out of that tree and decodes them. Invariants:

* :func:`parse_message` and :func:`parse_message_head` raise
  :class:`~postroom.errors.MessageParseError` and nothing else: for bytes with nothing in them,
  and (wrapped, with the cause chained) for any failure inside the stdlib or a library.
  Everything else degrades: unreadable fields become empty/None and the names of what was
  tolerated go to ``defects``.
* :func:`parse_message_head` costs one ``email.message_from_bytes`` plus decoding about fifteen
  header fields; the text, reply split and attachment list are computed only by
  :func:`~postroom.mail.text.extract_body`, which the pipeline calls for the messages it keeps.
  :func:`parse_message` does both.
* Address fields hold only ``local@domain`` entries (groups flattened, names decoded);
  ``date`` is timezone-aware (a zone-less date is taken as UTC) or None, with ``date_raw``
  keeping what the message said.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime

from postroom.errors import MessageParseError
from postroom.mail.classify import classify
from postroom.mail.text import (
    decode_words,
    extract_body,
    list_message_ids,
    to_unicode,
)
from postroom.mail.types import Headers, Mailbox, MessageHead, ParsedMessage

_Fields = dict[str, list[str | Header]]

_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")
_HEADER_PARSER = BytesHeaderParser(policy=compat32)


def parse_headers(raw: bytes) -> Headers:
    """Decode a header block, e.g. IMAP ``BODY.PEEK[HEADER.FIELDS (...)]`` bytes.

    Fields that are missing or unreadable keep their defaults; an empty block gives
    ``Headers()``. ``content_type`` is ``text/plain`` unless the block has a Content-Type.

    >>> parse_headers(b"From: =?utf-8?q?J=C3=B6rg?= <j@example.com>\\r\\n\\r\\n").from_
    (Mailbox(name='Jörg', address='j@example.com'),)

    Raises:
        MessageParseError: only when the stdlib parser itself fails (wrapped).
    """
    try:
        return read_headers(_HEADER_PARSER.parsebytes(raw), [])
    except Exception as exc:
        raise MessageParseError(f"cannot read the header block: {exc!r}") from exc


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse a whole RFC 5322 message: headers, body, classification and defects.

    The same as :func:`parse_message_head` followed by ``extract_body(head.mime)``.

    >>> parse_message(b"From: a@example.com\\r\\nSubject: Hi\\r\\n\\r\\nHello\\r\\n").body.text
    'Hello\\n'

    Raises:
        MessageParseError: as :func:`parse_message_head`.
    """
    head = parse_message_head(raw)
    msg = head.mime
    try:
        body = extract_body(msg)
        # decoding payloads may have added defects (bad base64, ...) to the parts
        defects = [*_list_mime_defects(msg), *head.defects, *body.defects]
    except Exception as exc:
        raise _wrap_error(raw, exc) from exc
    return ParsedMessage(
        headers=head.headers,
        body=body,
        classification=head.classification,
        size=head.size,
        defects=tuple(dict.fromkeys(defects)),
    )


def parse_message_head(raw: bytes) -> MessageHead:
    """Parse a whole message but leave its body unread: headers, classification, defects.

    This costs about one ``email.message_from_bytes(raw)``; the text, reply split and
    attachment list come later, only for the messages that need them::

        head = parse_message_head(raw)
        if is_wanted(head.headers):
            body = extract_body(head.mime)  # no second parse

    Raises:
        MessageParseError: ``raw`` is empty or only whitespace, or parsing failed unexpectedly
            (the original exception is chained as ``__cause__``). Malformed but non-empty mail
            never raises: it degrades and its defects are listed.
    """
    if not raw.strip():
        raise MessageParseError(
            f"the message is empty ({len(raw)} bytes, no header and no body)",
            advice="an empty file or fetch: the message has no content to read",
        )
    try:
        msg = email.message_from_bytes(raw, policy=compat32)
        header_defects: list[str] = []
        headers = read_headers(msg, header_defects)
        classification = classify(headers, msg)
        defects = [*_list_mime_defects(msg), *header_defects]
    except Exception as exc:
        raise _wrap_error(raw, exc) from exc
    return MessageHead(
        headers=headers,
        classification=classification,
        size=len(raw),
        defects=tuple(dict.fromkeys(defects)),
        mime=msg,
    )


def _list_mime_defects(msg: Message) -> list[str]:
    """Class names of the defects the stdlib parser recorded on any part."""
    return [type(defect).__name__ for part in msg.walk() for defect in part.defects]


def _wrap_error(raw: bytes, exc: Exception) -> MessageParseError:
    return MessageParseError(
        f"cannot parse a message of {len(raw)} bytes: {exc!r}",
        advice="keep the raw message and report it with this error",
    )


def read_headers(msg: Message, defects: list[str]) -> Headers:
    """The :class:`Headers` of a parsed ``compat32`` message (or header block)."""
    fields: _Fields = {}
    for name, value in msg.items():
        fields.setdefault(name.lower(), []).append(value)
    date_raw = _get_text(fields, "date", defects).strip() or None
    content_type = msg.get_content_type()
    report_type = None
    if content_type == "multipart/report":
        param = msg.get_param("report-type")
        if param:
            report_type = collapse_rfc2231_value(param).strip().lower() or None
    addresses = {name: _parse_mailboxes(fields.get(name, []), defects) for name in _ADDRESS_FIELDS}
    return Headers(
        subject=" ".join(decode_words(_get_text(fields, "subject", defects), defects).split()),
        date=_parse_date(date_raw, defects),
        date_raw=date_raw,
        message_id=_get_message_id(fields, "message-id", defects),
        in_reply_to=_get_message_id(fields, "in-reply-to", defects),
        references=tuple(list_message_ids(_get_text(fields, "references", defects))),
        from_=addresses["from"],
        sender=addresses["sender"],
        reply_to=addresses["reply-to"],
        to=addresses["to"],
        cc=addresses["cc"],
        bcc=addresses["bcc"],
        list_id=_get_text(fields, "list-id", defects).strip() or None,
        list_unsubscribe=_get_text(fields, "list-unsubscribe", defects).strip() or None,
        precedence=_get_text(fields, "precedence", defects).strip() or None,
        auto_submitted=_get_text(fields, "auto-submitted", defects).strip() or None,
        content_type=content_type,
        report_type=report_type,
    )


def _get_text(fields: _Fields, name: str, defects: list[str]) -> str:
    """The first value of a field, unfolded, 8-bit bytes decoded; ``""`` when missing."""
    values = fields.get(name)
    return to_unicode(values[0], defects) if values else ""


def _get_message_id(fields: _Fields, name: str, defects: list[str]) -> str | None:
    """The first ``<...>`` token of the field, else its stripped text, else None."""
    text = _get_text(fields, name, defects)
    ids = list_message_ids(text)
    return ids[0] if ids else (text.strip() or None)


def _parse_mailboxes(values: list[str | Header], defects: list[str]) -> tuple[Mailbox, ...]:
    """Mailboxes with ``local@domain`` from all instances of an address field, groups flattened.

    Entries without both a local part and a domain (``undisclosed-recipients:;``, a bare name,
    garbage) are dropped.
    """
    if not values:
        return ()
    texts = [to_unicode(value, defects) for value in values]
    mailboxes = []
    for name, address in getaddresses(texts):
        local, _, domain = address.rpartition("@")
        if not local.strip() or not domain.strip():
            continue
        mailboxes.append(
            Mailbox(
                name=" ".join(decode_words(name, defects).split()),
                address=decode_words(address, defects).strip(),
            )
        )
    return tuple(mailboxes)


def _parse_date(date_raw: str | None, defects: list[str]) -> datetime | None:
    """A timezone-aware datetime (zone-less ``-0000`` dates as UTC), or None."""
    if date_raw is None:
        return None
    try:
        date = parsedate_to_datetime(date_raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("InvalidDateDefect")
        return None
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)
