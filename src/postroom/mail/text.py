"""Readable text from mail: charsets, header words, HTML, the body of a message.

Everything here is a pure function over ``str``/``bytes`` or a stdlib ``email.message.Message``
tree (the fast ``compat32`` policy); nothing does I/O. Invariants:

* **Nothing raises on bad input.** Bytes in a wrong or unknown charset are decoded by the
  fallback chain *declared charset → UTF-8 → with replacement characters* (see
  :func:`decode_text`); each fallback is recorded as a defect name (``UnknownCharsetDefect``,
  ``CharsetMismatchDefect``, ...) in the ``defects`` list the caller passes in, or in
  ``Body.defects``.
* **Work is bounded.** Only the first :data:`MAX_TEXT_BYTES` of a text part are decoded and
  converted, so a hostile message costs milliseconds, not minutes.
* The libraries do the parsing: ``inscriptis`` turns HTML into text (lxml; ``<style>``,
  ``<script>`` and ``<head>`` are not rendered), the stdlib decodes encoded words and RFC 2231
  parameters. The new part of a reply is found in :mod:`postroom.mail.reply`.
  This module chooses the parts, decodes them and guards the libraries.
"""

from __future__ import annotations

import codecs
import email
import functools
import mimetypes
import re
from collections.abc import Iterator
from email.errors import HeaderParseError
from email.header import Header, decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from inscriptis import get_text

from postroom.mail.reply import split_reply
from postroom.mail.types import Attachment, Body

MAX_TEXT_BYTES = 256 * 1024
"""Only this many bytes of a text part, and characters of an HTML document, are used."""

_UNKNOWN_LABELS = frozenset({"unknown-8bit", "x-unknown"})
_CHARSET_SUPERSETS = {
    # As in the WHATWG Encoding Standard (what browsers and mail clients do): senders label
    # cp1252/GBK/cp949 text with the narrower, older name. Plus names Python does not know.
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    # UTF-7 by the names Outlook and .NET write in encoded words (=?x-unicode-2-0-utf-7?...)
    "x-utf-7": "utf-7",
    "utf7": "utf-7",
    "unicode-2-0-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "x-unicode-1-1-utf-7": "utf-7",
    "csunicode11utf7": "utf-7",
}
_BODY_TYPES = frozenset({"text/plain", "text/html"})
SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
"""The signature part of a multipart/signed message (RFC 3156, RFC 8551): not a file."""
FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
"""A forwarded message attached whole (RFC 2046 section 5.2.1, RFC 6532 section 3.7)."""
_FORWARD_MARKER = re.compile(
    r"""[ \t>]*(?:
        -{2,}[ \t]*(?:forwarded[ ]message|original[ ]message|weitergeleitete[ ]nachricht
            |ursprüngliche[ ]nachricht|message[ ]transféré|message[ ]d'origine
            |mensaje[ ]reenviado|mensaje[ ]original|messaggio[ ]inoltrato|messaggio[ ]originale
            |doorgestuurd[ ]bericht|oorspronkelijk[ ]bericht|mensagem[ ]encaminhada
            |mensagem[ ]original)[ \t]*-*
        |begin[ ]forwarded[ ]message[ ]?:
        |anfang[ ]der[ ]weitergeleiteten[ ]nachricht[ ]?:
        |début[ ]du[ ]message[ ]réexpédié[ ]?:
        |_{10,}
    )[ \t]*""",
    re.IGNORECASE | re.VERBOSE,
)
"""The line a mail client puts above a message it forwards inline (Gmail, Outlook, Apple
Mail, Thunderbird; in English and a few other languages)."""
_FORWARD_HEADER = re.compile(r"[ \t>]*\*?[^\s:*][^:\n]{0,30}:\*?(?:[ \t]|\Z)")
"""A line of the header block under that marker: ``From: Anna``, ``*Sent:* Monday``."""
_MAX_FORWARD_DEPTH = 4
REPORT_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
"""Delivery reports (RFC 3464, RFC 6533): text, read as the text when there is no other."""
TEXT_ALTERNATIVE_TYPES = frozenset({"text/enriched", "text/richtext"})
"""Other renderings of the text (RFC 1896): not a file unless sent as one."""
_MESSAGE_ID = re.compile(r"<[^<>]+>")
_UU_BEGIN = re.compile(r"begin [0-7]{3,4} (.*\S)[ \t]*")
"""The first line of a uuencoded file (POSIX ``uuencode``): mode and file name."""
_UU_LINE = re.compile(r"[ -`]{1,90}")
"""A line of uuencoded data: a length character and up to 60 data characters (some encoders
pad or add a checksum character; ``\x60`` stands for zero)."""
_HEADER_PARSER = BytesHeaderParser(policy=compat32)


@functools.lru_cache(maxsize=256)
def _get_text_codec(label: str) -> str | None:
    """The Python codec for a charset label, or None when it is unknown or not a text codec."""
    codec = _CHARSET_SUPERSETS.get(label, label)
    try:
        # A text codec turns b"" into "". The label comes from the sender, so bytes-to-bytes
        # codecs (zlib, base64, ...) and codecs that fail in any way are refused here.
        is_text = isinstance(codecs.decode(b"", codec), str)
    except Exception:
        return None
    return codecs.lookup(codec).name if is_text else None


def decode_text(
    data: bytes, charset: str | None, defects: list[str], *, limit: int | None = None
) -> str:
    """Decode ``data`` declared as ``charset``; never raises.

    Tries the declared charset (ISO-8859-1 read as its superset cp1252, GB2312 as GB18030, ...),
    then UTF-8; as a last resort it decodes with replacement characters (U+FFFD): with the
    declared charset (a Big5 text with one bad byte keeps its other characters), or with cp1252
    when the label was UTF-8, ASCII, unknown or missing (such text is mostly Windows Latin-1).
    With ``limit`` only the first ``limit`` bytes are decoded; a multi-byte character cut at
    that end is dropped.

    >>> decode_text(b"caf\\xe9", "utf-8", defects := [])
    'café'
    >>> defects
    ['CharsetMismatchDefect']
    """
    final = limit is None or len(data) <= limit
    if not final:
        data = data[:limit]
    label = (charset or "").strip().lower()
    declared = None
    if label and label not in _UNKNOWN_LABELS:
        declared = _get_text_codec(label)
        if declared is None:
            defects.append("UnknownCharsetDefect")
    candidates = ["utf-8"]
    if declared is not None and declared != "utf-8":
        candidates.insert(0, declared)
    for index, codec in enumerate(candidates):
        try:
            text: str = codecs.getincrementaldecoder(codec)("strict").decode(data, final=final)
        except UnicodeError:
            continue
        if index and declared is not None and declared != "ascii":
            defects.append("CharsetMismatchDefect")
        return text
    if declared is not None:
        defects.append("CharsetMismatchDefect")
    last = declared if declared not in (None, "utf-8", "ascii") else "cp1252"
    try:
        replaced: str = codecs.getincrementaldecoder(last)("replace").decode(data, final=final)
    except UnicodeError:  # UTF-16/32 without a BOM refuse even in "replace" mode
        replaced = codecs.getincrementaldecoder("cp1252")("replace").decode(data, final=final)
    return replaced


def to_unicode(value: str | Header, defects: list[str]) -> str:
    """A header value as ``compat32`` returns it, unfolded, with raw 8-bit bytes decoded.

    ``compat32`` keeps raw non-ASCII header bytes inside a :class:`~email.header.Header`
    (charset ``unknown-8bit``); they are decoded as UTF-8, else cp1252. Encoded words
    (``=?utf-8?q?...?=``) are left as they are: see :func:`decode_words`.
    """
    if isinstance(value, Header):
        chunks = decode_header(value)
        value = "".join(
            chunk if isinstance(chunk, str) else decode_text(chunk, charset, defects)
            for chunk, charset in chunks
        )
    return value.replace("\r", "").replace("\n", "")


def decode_words(text: str, defects: list[str]) -> str:
    """Decode RFC 2047 encoded words; never raises.

    >>> decode_words("Re: =?iso-8859-1?q?caf=E9?=", [])
    'Re: café'
    """
    if "=?" not in text:
        return text
    try:
        chunks = decode_header(text)
    except HeaderParseError:
        defects.append("HeaderDecodeDefect")
        return text
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        elif charset is None:
            # decode_header hands back the text around encoded words as raw-unicode-escape bytes
            parts.append(chunk.decode("raw-unicode-escape"))
        else:
            parts.append(decode_text(chunk, charset, defects))
    return "".join(parts)


def decode_header_value(value: str | Header, defects: list[str]) -> str:
    """A header value as readable text: unfolded, 8-bit bytes and encoded words decoded."""
    return decode_words(to_unicode(value, defects), defects)


def split_uuencoded(text: str) -> tuple[str, tuple[Attachment, ...]]:
    """``text`` without the uuencoded files inside it, and those files as attachments.

    Old mailers (and some scanners and gateways today) put a file into a plain text body as
    a ``begin 644 cv.pdf`` line, lines of uuencoded data and an ``end`` line. The block is
    taken out of the text and listed by name, type (from the name) and decoded size; it has
    no part number of its own (``part`` is None: it is inside the text part). A ``begin``
    line not followed by uuencoded lines is left as text; a block cut by the end of the text
    (a partial fetch) is taken out all the same.

    >>> text, files = split_uuencoded("See my CV.\\nbegin 644 cv.pdf\\n$)5!$1@``\\n`\\nend\\nAnna")
    >>> text, [(f.filename, f.content_type, f.size) for f in files]
    ('See my CV.\\nAnna', [('cv.pdf', 'application/pdf', 4)])
    """
    if "begin " not in text:
        return text, ()
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    files: list[Attachment] = []
    index = 0
    while index < len(lines):
        begin = _UU_BEGIN.fullmatch(lines[index].rstrip("\r\n"))
        end = _find_uu_end(lines, index + 1) if begin is not None else None
        if begin is None or end is None:
            kept.append(lines[index])
            index += 1
            continue
        size = sum(_uu_line_size(line.rstrip("\r\n")) for line in lines[index + 1 : end])
        name = begin.group(1).strip()
        content_type = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
        files.append(Attachment(filename=name or None, content_type=content_type, size=size))
        index = end + 1  # past the "end" line
    return "".join(kept), tuple(files)


def _find_uu_end(lines: list[str], start: int) -> int | None:
    """The index of the ``end`` line of a uuencoded block whose data starts at ``start`` (the
    length of ``lines`` for a block cut short), or None when these are not uuencoded lines."""
    for index in range(start, len(lines)):
        line = lines[index].rstrip("\r\n")
        if line.strip() == "end":
            return index if index > start else None
        if _UU_LINE.fullmatch(line) is None:
            return None
    return len(lines) if len(lines) > start else None


def _uu_line_size(line: str) -> int:
    """The bytes one uuencoded line holds (its length character), 0 for a line that is not."""
    if not line or line.strip() == "end":
        return 0
    return (ord(line[0]) - 32) & 63


def list_message_ids(value: str) -> list[str]:
    """The ``<...>`` tokens of a Message-ID, In-Reply-To or References value, in order.

    >>> list_message_ids("<a@x> (comment) <b@y>")
    ['<a@x>', '<b@y>']
    """
    return [token.replace(" ", "") for token in _MESSAGE_ID.findall(value)]


def html_to_text(html: str) -> str:
    """The text a reader sees in an HTML document (``inscriptis``), stripped of outer space.

    Only the first :data:`MAX_TEXT_BYTES` characters are converted. Style sheets, scripts and
    the document head are not rendered; an empty or text-free document gives ``""``.

    >>> html_to_text("<style>p {color: red}</style><p>Hello <b>Anna</b></p>")
    'Hello Anna'
    """
    text: str = get_text(html[:MAX_TEXT_BYTES])
    return text.strip()


def extract_body(msg: Message) -> Body:
    """The readable content of a parsed message; never raises on malformed input.

    The text is the first ``text/plain`` part that is not an attachment, else (or when that
    part is blank) the first ``text/html`` part turned into text. Every other leaf part is listed
    as an :class:`Attachment` (name, type, decoded size) without keeping its bytes, but for
    signatures and text/enriched renderings (:func:`is_not_a_file`); files uuencoded inside a
    plain text are taken out of it and listed too (:func:`split_uuencoded`). When there is no
    text at all, a delivery report part holds it (:func:`is_report_text`: prose is often
    mislabelled so) and is no attachment; else, in a forward with an empty cover note, the
    attached message's text is the text (and ``reply_text`` is that of a message forwarded
    inline: :func:`read_reply`). A nested
    ``message/rfc822`` is one attachment of the outer message, named by its subject when it has
    no file name, and its own parts are not searched for text.

    ``msg`` is a ``compat32`` tree such as ``MessageHead.mime``: the ingest pipeline parses with
    ``parse_message_head(raw)`` and calls this only for the messages it keeps.

    >>> body = extract_body(parse_message_head(b"Subject: x\\r\\n\\r\\nHello").mime)
    >>> body.text, body.reply_text, body.attachments, body.is_from_html
    ('Hello', 'Hello', (), False)
    """
    defects: list[str] = []
    plain, html, files = _sort_parts(msg)
    text, is_from_html = _read_body_text(plain, html, defects)
    if not text.strip():
        report = next((part for _, part in files if is_report_text(part)), None)
        if report is not None:
            text = read_report_text(report, defects)
            files = [(number, part) for number, part in files if part is not report]
    if not text.strip() and msg.get_content_type() != "multipart/report":
        # a forward with an empty cover note: the forwarded message's text is the text
        forwarded = next((p for _, p in files if p.get_content_type() in FORWARD_TYPES), None)
        if forwarded is not None:
            text, is_from_html = _read_forwarded_text(forwarded, defects)
    attachments = tuple(describe_attachment(part, defects, number) for number, part in files)
    if not is_from_html:
        text, uuencoded = split_uuencoded(text)
        attachments += uuencoded
    return Body(
        text=text,
        reply_text=read_reply(text),
        attachments=attachments,
        is_from_html=is_from_html,
        defects=tuple(dict.fromkeys(defects)),
    )


def read_reply(text: str) -> str:
    """The new part of ``text`` (:func:`~postroom.mail.reply.split_reply`); for a forward with
    an empty cover note (the text begins with the forwarding line and header block, see
    :func:`forwarded_text`), the new part of the forwarded message.

    >>> read_reply("---------- Forwarded message ---------\\nFrom: Anna <a@x.example>\\n"
    ...            "Subject: CV\\n\\nHere is my CV.\\n")
    'Here is my CV.'
    """
    for _ in range(_MAX_FORWARD_DEPTH):  # a forward of a forward
        forwarded = forwarded_text(text)
        if forwarded is None:
            break
        text = forwarded
    return split_reply(text)


def forwarded_text(text: str) -> str | None:
    """The message forwarded inline in ``text`` when nothing is written above it: the text
    after the forwarding line (``---------- Forwarded message ---------``, ``-------- Original
    Message --------``, ``Begin forwarded message:``, Outlook's line of underscores, ...) and
    the header block under it. None when ``text`` does not begin so, or nothing follows."""
    head = text[:4096]
    start = len(head) - len(head.lstrip())
    end = text.find("\n", start)
    first = text[start:] if end < 0 else text[start:end]
    if not first or _FORWARD_MARKER.fullmatch(first.rstrip("\r")) is None:
        return None  # the usual case: only the first line was looked at
    lines = text[start + len(first) :].splitlines()
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index == len(lines) or _FORWARD_HEADER.match(lines[index]) is None:
        return None  # no header block: not a forward (a line of underscores in a text)
    while index < len(lines) and lines[index].strip():
        index += 1
    body = "\n".join(lines[index:]).strip()
    return body or None


def _read_forwarded_text(part: Message, defects: list[str]) -> tuple[str, bool]:
    """``(text, is_from_html)`` of a message attached as a ``message/rfc822`` part."""
    decoded = get_decoded_message_bytes(part)
    if decoded is not None:
        inner: Message | None = email.message_from_bytes(decoded, policy=compat32)
    else:
        payload = part.get_payload()
        inner = (
            next((m for m in payload if isinstance(m, Message)), None)
            if isinstance(payload, list)
            else None
        )
    if inner is None:
        return "", False
    plain, html, _ = _sort_parts(inner)
    return _read_body_text(plain, html, defects)


def extract_text(msg: Message, defects: list[str]) -> str:
    """Only ``extract_body(msg).text``: no reply split, no attachment sizes."""
    plain, html, _ = _sort_parts(msg)
    return _read_body_text(plain, html, defects)[0]


def _sort_parts(
    msg: Message,
) -> tuple[Message | None, Message | None, list[tuple[str, Message]]]:
    """The first text/plain and text/html body parts, and the attachment parts with their
    IMAP part numbers."""
    plain: Message | None = None
    html: Message | None = None
    files: list[tuple[str, Message]] = []
    for number, part in iter_numbered_leaf_parts(msg):
        if part.get_content_maintype() == "multipart":
            continue  # a container whose boundary is missing: a defect, neither text nor file
        if is_not_a_file(part):
            continue
        if is_attachment(part):
            files.append((number, part))
        elif part.get_content_type() == "text/plain":
            plain = plain or part
        else:
            html = html or part
    return plain, html, files


def _read_body_text(
    plain: Message | None, html: Message | None, defects: list[str]
) -> tuple[str, bool]:
    """``(text, is_from_html)``: the plain part, else the HTML part as text."""
    text = read_text_part(plain, defects) if plain is not None else ""
    if html is not None and not text.strip():
        return html_to_text(read_text_part(html, defects)), True
    return text, False


def iter_leaf_parts(msg: Message) -> Iterator[Message]:
    """The leaves of a MIME tree in order, a nested ``message/*`` part counting as one leaf.

    Iterative, so a deeply nested tree cannot exhaust the stack.
    """
    for _, part in iter_numbered_leaf_parts(msg):
        yield part


def iter_numbered_leaf_parts(msg: Message) -> Iterator[tuple[str, Message]]:
    """The leaves of :func:`iter_leaf_parts`, in the same order, each with its IMAP part number
    (RFC 9051 section 6.4.5), as ``mail.structure`` numbers the server's BODYSTRUCTURE.

    ``"1"`` is the body of a single-part message; the children of a multipart are numbered
    from 1 after their parent's number and a dot (``"2.1"``); a message that *is* a
    message/rfc822 is read through, its encapsulated message's parts being ``"1.1"``,
    ``"1.2"``... (a message that is a delivery report is one leaf, ``"1"``, as servers number
    it: the stdlib parses its field blocks as messages). A nested ``message/*`` part is one
    leaf with its own number. Iterative.

    ``multipart/mixed(multipart/alternative(text/plain, text/html), application/pdf)`` gives
    ``1.1``, ``1.2`` and ``2``.
    """
    stack: list[tuple[Message, str, bool]] = [(msg, "", True)]
    while stack:
        part, number, is_root = stack.pop()
        is_read_through = part is msg and part.get_content_type() not in REPORT_TYPES
        if part.is_multipart() and (is_read_through or part.get_content_maintype() != "message"):
            payload = part.get_payload()
            children = [c for c in payload if isinstance(c, Message)]
            if part.get_content_maintype() == "message":
                # the whole message is a message/rfc822: its body part 1 is the message inside
                stack.extend((child, "1.", True) for child in reversed(children))
            else:
                prefix = number if is_root else f"{number}."
                numbered = [(c, f"{prefix}{i}", False) for i, c in enumerate(children, 1)]
                stack.extend(reversed(numbered))
        else:
            yield (f"{number}1" if is_root else number), part


def is_attachment(part: Message) -> bool:
    """Whether a leaf part is a file rather than the message's text.

    Only ``text/plain`` and ``text/html`` parts without a file name and not marked
    ``Content-Disposition: attachment`` are text; everything else (images, PDFs, calendars,
    nested messages, delivery reports) is an attachment.
    """
    return (
        part.get_content_type() not in _BODY_TYPES
        or part.get_content_disposition() == "attachment"
        or part.get_filename() is not None
    )


def is_report_text(part: Message) -> bool:
    """Whether a leaf is a delivery report (``message/delivery-status``, RFC 3464; or its
    RFC 6533 ``global`` form) sent as the message's text rather than as a file: it holds
    text, and it is the text when the message has no other (mailers label prose so)."""
    return (
        part.get_content_type() in REPORT_TYPES
        and part.get_content_disposition() != "attachment"
        and part.get_filename() is None
    )


def read_report_text(part: Message, defects: list[str]) -> str:
    """The text of a ``message/delivery-status`` part (at most :data:`MAX_TEXT_BYTES`), with
    ``\\n`` newlines: whatever it holds, report fields or prose.

    The stdlib parses such a part into blocks of header fields; they are written back as
    the lines they were (a prose line without a colon ends up as a block's body).
    """
    data = get_decoded_message_bytes(part)
    if data is None:
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        texts: list[bytes] = []
        for block in blocks:
            if isinstance(block, Message):
                lines = [f"{name}: {value}" for name, value in block.raw_items()]
                head = "\n".join(lines).encode("utf-8", "surrogateescape")
                body = block.get_payload(decode=True)  # its bytes as they came
                texts.append(
                    b"\n".join(filter(None, [head, body if isinstance(body, bytes) else b""]))
                )
        data = b"\n\n".join(text.strip(b"\r\n") for text in texts)
    text = decode_text(data, part.get_content_charset(), defects, limit=MAX_TEXT_BYTES)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_not_a_file(part: Message) -> bool:
    """Whether a leaf is neither the text nor a file the sender attached: a signature
    (:data:`SIGNATURE_TYPES`), or a text/enriched rendering of the text that is not sent as a
    file (no file name, not ``Content-Disposition: attachment``)."""
    content_type = part.get_content_type()
    if content_type in SIGNATURE_TYPES:
        return True
    return (
        content_type in TEXT_ALTERNATIVE_TYPES
        and part.get_content_disposition() != "attachment"
        and part.get_filename() is None
    )


def describe_attachment(part: Message, defects: list[str], number: str | None = None) -> Attachment:
    """Name, type and decoded size of an attachment part (its bytes are not kept); ``number``
    is its IMAP part number (:func:`iter_numbered_leaf_parts`)."""
    content_type = part.get_content_type()
    filename = get_filename(part, defects)
    payload = part.get_payload()
    if not isinstance(payload, list):
        data = part.get_payload(decode=True)
        size = len(data) if isinstance(data, bytes) else 0
        return Attachment(filename=filename, content_type=content_type, size=size, part=number)
    nested = [m for m in payload if isinstance(m, Message)]
    decoded = get_decoded_message_bytes(part)
    if decoded is not None:
        nested = [_HEADER_PARSER.parsebytes(decoded)]
        size = len(decoded)
    else:
        size = sum(len(m.as_bytes()) for m in nested)
    if filename is None and content_type == "message/rfc822" and nested:
        subject = nested[0].get("subject")
        if subject is not None:
            filename = " ".join(decode_header_value(subject, defects).split()) or None
    return Attachment(filename=filename, content_type=content_type, size=size, part=number)


def get_decoded_message_bytes(part: Message) -> bytes | None:
    """The content of a ``message/*`` part sent base64 or quoted-printable encoded, or None.

    RFC 2046 forbids those encodings for ``message/*`` but some mailers use them; the stdlib
    then parses the *encoded* text as if it were the message, so it is decoded here.
    """
    payload = part.get_payload()
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding not in ("base64", "quoted-printable") or not isinstance(payload, list):
        return None
    encoded = Message()
    encoded["Content-Transfer-Encoding"] = encoding
    text = b"".join(m.as_bytes() for m in payload if isinstance(m, Message))
    encoded.set_payload(text.decode("ascii", "replace"))
    decoded = encoded.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else None


def get_filename(part: Message, defects: list[str]) -> str | None:
    """The decoded file name of a part, or None.

    The stdlib undoes RFC 2231 (``filename*=utf-8''...``); raw 8-bit bytes and encoded words
    (``=?koi8-r?b?...?=``, common though not allowed in parameters) are decoded here.
    """
    fields = {name: part.get(name) for name in ("content-disposition", "content-type")}
    if any(isinstance(value, Header) for value in fields.values()):
        # compat32 turns raw 8-bit bytes in a parameter into U+FFFD: decode the fields first
        part = Message()
        for field_name, value in fields.items():
            if value is not None:
                part[field_name] = to_unicode(value, defects)
    name = part.get_filename()
    if name is None:
        return None
    return decode_words(name, defects).strip() or None


def read_text_part(part: Message, defects: list[str]) -> str:
    """The decoded text of a leaf part (at most :data:`MAX_TEXT_BYTES`), with ``\\n`` newlines."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = decode_text(data, part.get_content_charset(), defects, limit=MAX_TEXT_BYTES)
    return text.replace("\r\n", "\n").replace("\r", "\n")
