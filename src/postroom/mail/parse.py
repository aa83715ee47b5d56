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
* Address fields hold only ``local@domain`` entries (groups flattened, names decoded). An
  addr-spec is taken as written: encoded words inside it are not decoded (RFC 2047 section 5
  allows them only in a phrase: ``<=?utf-8?q?anna?=@acme.example>`` is not Anna's address),
  and an entry with an invisible character in its address (a control, zero-width or
  bidirectional mark, see ``domain.addresses.has_invisible_characters``) is left out, with an
  ``InvalidAddressDefect``;
  ``date`` is timezone-aware (a zone-less date is taken as UTC) or None, with ``date_raw``
  keeping what the message said.
* :func:`parse_headers` runs once per message of a first sync, so the usual inputs skip the
  stdlib's general parsers: a plain ASCII header block, the common shapes of an address
  field, texts of encoded words and the usual date form are read by small fast paths that
  give exactly what the stdlib gives (tests/unit/mail/test_parse_fast.py compares them with
  the implementation before them); anything else goes to the stdlib. The parse of an address
  field is cached (4096 values), as the same From and To come back.
"""

from __future__ import annotations

import binascii
import email
import functools
import re
from datetime import UTC, datetime, timedelta, timezone
from email import quoprimime
from email.header import Header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime

from postroom.domain.addresses import has_invisible_characters
from postroom.errors import MessageParseError
from postroom.mail.classify import classify
from postroom.mail.text import (
    decode_text,
    decode_words,
    extract_body,
    list_message_ids,
    to_unicode,
)
from postroom.mail.types import Headers, Mailbox, MessageHead, ParsedMessage

_Fields = dict[str, list[str | Header]]

_ADDRESS_CACHE_SIZE = 4096
"""How many address field values (unfolded texts) keep their parse."""

_MAX_BOUNDARY_REPAIRS = 4
"""How many times a message is parsed again after unfolding a boundary (nested ones)."""
_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")  # the order of Headers
_HEADER_PARSER = BytesHeaderParser(policy=compat32)

# One field of a plain header block: what ``email.feedparser`` takes as a field line (a name
# of printable ASCII other than ":", see its ``headerRE``) with its continuation lines, split
# as ``compat32.header_source_parse`` splits it (value after the colon, blanks before it and
# the final line break removed). CRLF or LF line ends only.
_FIELD = re.compile(r"([!-9;-~]++):[ \t]*+([^\r\n]*+(?:\r?\n[ \t][^\r\n]*+)*+)(?:\r?\n|\Z)")
# ``headerRE`` of ``email.feedparser``: a line the feed parser takes as part of the header.
_HEADER_LINE = re.compile(r"From |[!-9;-~]*:|[\t ]")

# The common shapes of a mailbox in an address field, in the terms of ``email._parseaddr``:
# ``local@domain`` or ``phrase <local@domain>``, the phrase made of atoms (dots allowed) and
# quoted strings without escapes. Anything else (comments, groups, routes, escapes, domain
# literals, quoted local parts, empty entries, odd white space) goes to ``getaddresses``.
_ATOM = r"[^\s()<>@,:;.\"\[\]\\]++"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*+"
_ADDR_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_WORD = r'"[^"\\\r\n]*+"|[^\s()<>@,:;"\[\]\\]++'
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*+(?:(?P<bare>{_ADDR_SPEC})"
    rf"|(?P<phrase>(?:(?:{_WORD})[ \t]*+)*+)<(?P<angle>{_ADDR_SPEC})>)"
    r"[ \t]*+(?:,|\Z)"
)
# A text of RFC 2047 encoded words and plain text, with every "=?" the start of an encoded
# word that ``decode_header`` reads as this does (ASCII, no "?" inside, a charset) and plain
# text without backslashes (``decode_header`` passes it through the raw-unicode-escape codec)
# or line breaks (it splits lines).
_ENCODED_WORD = r"=\?([!->@-~]++)\?([BbQq])\?([!->@-~]*+)\?="
_PLAIN_TEXT = r"(?:[^=\\\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]|=(?!\?))*+"
_WORDS_AND_TEXT = re.compile(
    rf"{_PLAIN_TEXT}(?:=\?[!->@-~]++\?[BbQq]\?[!->@-~]*+\?={_PLAIN_TEXT})++"
)
_ENCODED_WORD_PARTS = re.compile(_ENCODED_WORD)
# Q-encoded text that ``binascii.a2b_qp`` decodes as ``quoprimime.header_decode`` does: no "="
# without two hex digits after it (a2b_qp reads a final "=" as a soft line break).
_PLAIN_Q_TEXT = re.compile(r"(?:[^=]|=[0-9A-Fa-f]{2})*+")
# The date form RFC 5322 asks for and nearly all mailers write, as ``email.utils`` reads it.
_PLAIN_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9][0-9]{3}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_PHRASE_WORD = re.compile(r'"([^"\\\r\n]*+)"|([^\s()<>@,:;"\[\]\\]++)')


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
        fields = _split_header_block(raw)
        if fields is not None:
            content_type = _get_content_type(fields)
            if content_type != "multipart/report":  # its report-type: left to the stdlib
                return _read_fields(fields, content_type, None, [])
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
        mime_defects = _list_mime_defects(msg)
        repaired: bytes | None = raw
        for _ in range(_MAX_BOUNDARY_REPAIRS):  # an outer repair may uncover an inner one
            if repaired is None or "StartBoundaryNotFoundDefect" not in mime_defects:
                break
            repaired = _unfold_boundaries(repaired, msg)
            if repaired is not None:
                msg = email.message_from_bytes(repaired, policy=compat32)
                mime_defects = [*_list_mime_defects(msg), "FoldedBoundaryDefect"]
        header_defects: list[str] = []
        headers = read_headers(msg, header_defects)
        classification = classify(headers, msg)
        defects = [*mime_defects, *header_defects]
    except Exception as exc:
        raise _wrap_error(raw, exc) from exc
    return MessageHead(
        headers=headers,
        classification=classification,
        size=len(raw),
        defects=tuple(dict.fromkeys(defects)),
        mime=msg,
    )


def _unfold_boundaries(raw: bytes, msg: Message) -> bytes | None:
    """``raw`` with each multipart boundary that a mailer folded inside its quoted parameter
    (``boundary="----=_Part_1\\r\\n\\t_2"``) written as the body uses it, or None when there is
    none to repair.

    The stdlib keeps the line break in the boundary and so finds no part at all. Unfolded as
    RFC 5322 says (the line break removed) or with the white space after it removed too
    (what the folding mailer broke), whichever of the two delimits the body.
    """
    repaired = raw
    for part in msg.walk():
        boundary = part.get_boundary() if part.get_content_maintype() == "multipart" else None
        if not boundary or ("\n" not in boundary and "\r" not in boundary):
            continue
        if part.is_multipart():
            continue
        folded = boundary.encode("utf-8", "surrogateescape")
        rfc_unfolded = re.sub(rb"\r?\n", b"", folded)
        candidates = (rfc_unfolded, re.sub(rb"\r?\n[ \t]*", b"", folded))
        for candidate in candidates:
            if re.search(rb"(?:\A|\n)--" + re.escape(candidate) + rb"[ \t]*\r?$", raw, re.M):
                repaired = repaired.replace(folded, candidate, 1)
                break
    return None if repaired is raw else repaired


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
    content_type = msg.get_content_type()
    report_type = None
    if content_type == "multipart/report":
        param = msg.get_param("report-type")
        if param:
            report_type = collapse_rfc2231_value(param).strip().lower() or None
    return _read_fields(fields, content_type, report_type, defects)


def _split_header_block(raw: bytes) -> _Fields | None:
    """The fields of a plain header block as ``compat32`` gives them, or None to use the stdlib.

    A fast path for what IMAP ``HEADER.FIELDS`` fetches nearly always are: ASCII, CRLF or LF
    line ends, ``Name: value`` lines and their continuation lines (see ``_FIELD``). The header
    section ends at the first line that the feed parser does not take as part of it (the blank
    line, or a body line). When it would take that line (a "From " line, a continuation or a
    colon first, a field line with a lone CR), or there are 8-bit bytes (which ``compat32``
    returns as ``Header`` objects), this gives None.
    """
    if not raw.isascii():
        return None
    text = raw.decode("ascii")
    fields: _Fields = {}
    pos = 0
    match = _FIELD.match(text)
    while match is not None:
        fields.setdefault(match[1].lower(), []).append(match[2])
        pos = match.end()
        match = _FIELD.match(text, pos)
    if _HEADER_LINE.match(text, pos):
        return None
    return fields


def _get_content_type(fields: _Fields) -> str:
    """``Message.get_content_type()`` of a block without a multipart/digest parent."""
    values = fields.get("content-type")
    if not values:
        return "text/plain"
    content_type = str(values[0]).partition(";")[0].strip().lower()
    return content_type if content_type.count("/") == 1 else "text/plain"


def _read_fields(
    fields: _Fields, content_type: str, report_type: str | None, defects: list[str]
) -> Headers:
    """The :class:`Headers` of the fields of a message (names lower case, values as
    ``compat32`` returns them); tolerated defects are appended in the order fields are read."""
    date_raw = _get_text(fields, "date", defects).strip() or None
    addresses = [_parse_mailboxes(fields.get(name), defects) for name in _ADDRESS_FIELDS]
    return Headers(
        subject=" ".join(_decode_words(_get_text(fields, "subject", defects), defects).split()),
        date=_parse_date(date_raw, defects),
        date_raw=date_raw,
        message_id=_get_message_id(fields, "message-id", defects),
        in_reply_to=_get_message_id(fields, "in-reply-to", defects),
        references=tuple(list_message_ids(_get_text(fields, "references", defects))),
        from_=addresses[0],
        sender=addresses[1],
        reply_to=addresses[2],
        to=addresses[3],
        cc=addresses[4],
        bcc=addresses[5],
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


def _parse_mailboxes(values: list[str | Header] | None, defects: list[str]) -> tuple[Mailbox, ...]:
    """Mailboxes with ``local@domain`` from all instances of an address field, groups flattened.

    Entries without both a local part and a domain (``undisclosed-recipients:;``, a bare name,
    garbage) are dropped.
    """
    if not values:
        return ()
    mailboxes, found = _parse_address_texts(tuple(to_unicode(value, defects) for value in values))
    defects.extend(found)
    return mailboxes


@functools.lru_cache(maxsize=_ADDRESS_CACHE_SIZE)
def _parse_address_texts(texts: tuple[str, ...]) -> tuple[tuple[Mailbox, ...], tuple[str, ...]]:
    """:func:`_parse_mailboxes` of unfolded texts, and the defects found (the caller appends
    them, also when the result comes from the cache)."""
    defects: list[str] = []
    pairs = _split_simple_addresses(", ".join(texts))
    if pairs is None:
        pairs = getaddresses(list(texts))
    mailboxes = []
    for name, address in pairs:
        address = address.strip()
        local, _, domain = address.rpartition("@")
        if not local.strip() or not domain.strip():
            continue
        if has_invisible_characters(address):
            defects.append("InvalidAddressDefect")
            continue
        name = " ".join(_decode_words(name, defects).split())
        mailboxes.append(Mailbox(name=name, address=address))
    return tuple(mailboxes), tuple(defects)


def _split_simple_addresses(text: str) -> list[tuple[str, str]] | None:
    """What ``getaddresses([text])`` gives when ``text`` is a list of mailboxes of the common
    shapes (see ``_SIMPLE_MAILBOX``), else None.

    Only the shapes where the stdlib parser reads each entry as one ``(phrase, addr-spec)``
    pair are taken: the phrase's words joined by one space, quoted strings unquoted. Empty
    entries (a trailing comma, ``,,``) are left to the stdlib: its strict mode (Python 3.11.10,
    3.12.6, 3.13 and later) rejects the whole value for them, the older parser skips them.
    """
    if not text or text.endswith(","):
        return None
    pairs = []
    pos = 0
    end = len(text)
    while pos < end:
        match = _SIMPLE_MAILBOX.match(text, pos)
        if match is None:
            return None
        pos = match.end()
        bare, phrase, angle = match.groups()
        if bare is not None:
            pairs.append(("", bare))
        elif '"' in phrase:
            words = _PHRASE_WORD.findall(phrase)
            pairs.append((" ".join([quoted or atom for quoted, atom in words]), angle))
        else:  # atoms, separated by blanks
            pairs.append((" ".join(phrase.split()), angle))
    return pairs


def _decode_words(text: str, defects: list[str]) -> str:
    """:func:`~postroom.mail.text.decode_words`, without ``decode_header`` for the usual texts.

    For a text of encoded words and plain text (a Subject or name as mailers write it, see
    ``_WORDS_AND_TEXT``) this does what ``decode_header`` does: the text before the first
    encoded word is left-stripped, blank text between two encoded words is dropped, adjacent
    encoded words of one charset are joined before they are decoded. Everything else, and a
    base64 error, goes to ``decode_words``.
    """
    if "=?" not in text:
        return text
    if _WORDS_AND_TEXT.fullmatch(text) is None:
        return decode_words(text, defects)
    chunks: list[tuple[bytes, str] | str] = []  # encoded words (bytes, charset), plain text
    end = 0
    for word in _ENCODED_WORD_PARTS.finditer(text):
        plain = text[end : word.start()]
        if not end:
            plain = plain.lstrip()
        if plain and not (end and plain.isspace()):
            chunks.append(plain)
        end = word.end()
        charset_label, encoding, encoded = word.groups()
        charset = charset_label.lower()
        if encoding in "Qq":
            if _PLAIN_Q_TEXT.fullmatch(encoded):
                data = binascii.a2b_qp(encoded, header=True)
            else:
                data = quoprimime.header_decode(encoded).encode("raw-unicode-escape")
        else:
            padding = len(encoded) % 4
            if padding:
                encoded += "==="[: 4 - padding]
            try:
                data = binascii.a2b_base64(encoded)  # as base64mime.decode(encoded)
            except binascii.Error:
                return decode_words(text, defects)
        last = chunks[-1] if chunks else None
        if isinstance(last, tuple) and last[1] == charset:
            chunks[-1] = (last[0] + data, charset)
        else:
            chunks.append((data, charset))
    if end < len(text):
        chunks.append(text[end:])
    return "".join(
        [chunk if isinstance(chunk, str) else _decode_text(*chunk, defects) for chunk in chunks]
    )


def _decode_text(data: bytes, charset: str, defects: list[str]) -> str:
    """:func:`~postroom.mail.text.decode_text`, without its codec lookups for valid UTF-8."""
    if charset == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return decode_text(data, charset, defects)


def _parse_date(date_raw: str | None, defects: list[str]) -> datetime | None:
    """A timezone-aware datetime (zone-less ``-0000`` dates as UTC), or None."""
    if date_raw is None:
        return None
    match = _PLAIN_DATE.fullmatch(date_raw)
    try:
        date = parsedate_to_datetime(date_raw) if match is None else _make_date(match)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("InvalidDateDefect")
        return None
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)


def _make_date(match: re.Match[str]) -> datetime:
    """``parsedate_to_datetime`` of a date of the usual form (see ``_PLAIN_DATE``), with the
    zone-less ``-0000`` made UTC at once (``timezone(timedelta(0))`` is ``UTC``)."""
    day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
    zone = timezone(timedelta(seconds=-offset if sign == "-" else offset))
    return datetime(
        int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=zone
    )
