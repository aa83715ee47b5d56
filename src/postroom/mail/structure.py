"""The readable text of a message from its IMAP BODYSTRUCTURE, without fetching attachments.

The sync engine fetches ``BODYSTRUCTURE`` of the messages it logs (docs/sync.md, "Invariants":
text only when needed). :func:`plan_text_fetch` chooses the one part worth downloading and lists
the attachments by name, size and part number; the engine then fetches only that part, capped::

    plan = plan_text_fetch(fetched[uid][b"BODYSTRUCTURE"])   # imapclient's BodyData
    if plan.part is not None:
        item = f"BODY.PEEK[{plan.part}]<0.{TEXT_FETCH_BYTES}>"
        ...                                                    # UID FETCH uid (item)
    body = decode_text_part(payload, plan)                     # payload: the fetched bytes

Pure: no I/O; only the data types of ``imapclient`` are used, never its network code.

Invariants:

* **The same choice as the whole-message path.** :func:`plan_text_fetch` applies the rules of
  :func:`postroom.mail.text.extract_body` to the structure: the text is the first ``text/plain``
  leaf that is not an attachment, else the first ``text/html`` one; an attachment is any other
  leaf (a non-text type, ``Content-Disposition: attachment``, or a file name) but for a
  signature or a text/enriched rendering (``mail.text.is_not_a_file``); a message with no
  text but a delivery report part reads that part as its text (``mail.text.is_report_text``);
  a nested
  ``message/rfc822`` is one attachment and is not searched for text (only a message that *is* a
  message/rfc822 at the top is read through, as the stdlib tree does). File names are decoded
  by :func:`postroom.mail.text.get_filename` (RFC 2231, continuations, encoded words, raw 8-bit
  bytes), and the text by the same charset fallback chain (:func:`postroom.mail.text.decode_text`),
  HTML conversion and reply split. The corpus cross-check in ``tests/unit/mail/test_structure.py``
  holds the two paths to the same text and attachment names.
* **Part numbers follow RFC 3501/9051 §6.4.5**: ``"1"`` for a single-part message, ``"2.1"``
  for the first child of the second part, ``"n.1"`` for the body of a message/rfc822 part ``n``.
* **Nothing raises on odd structures.** Upper/lower case, NIL anywhere, missing extension data,
  ``bytes`` or ``str`` atoms, numbers sent as strings, plain tuples instead of ``BodyData``:
  what cannot be read takes its RFC default (``text/plain``, ``us-ascii``, ``7bit``, size 0).
* **A payload cut by the partial fetch decodes.** When the payload is shorter than the part (or
  as long as the cap), the incomplete base64 quantum or quoted-printable escape at its end and a
  multi-byte character split there are dropped, instead of turning the text into garbage.
* **Attachment sizes are estimates of the decoded size** (the structure gives the encoded
  octets): base64 counts three bytes per four characters without line breaks (the line count
  of text parts, else MIME's 76-character lines); other encodings give the octets as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from email.utils import quote
from typing import TypeGuard

from postroom.mail.text import (
    MAX_TEXT_BYTES,
    REPORT_TYPES,
    SIGNATURE_TYPES,
    TEXT_ALTERNATIVE_TYPES,
    decode_header_value,
    decode_text,
    get_filename,
    html_to_text,
    read_reply,
    split_uuencoded,
)
from postroom.mail.types import Attachment, Body, TextPlan

TEXT_FETCH_BYTES = MAX_TEXT_BYTES
"""The partial fetch of the text part: ``BODY.PEEK[<part>]<0.262144>`` (the text path never
reads more than this)."""

_TEXT_TYPES = frozenset({("text", "plain"), ("text", "html")})
_BASE64_NOISE = re.compile(rb"[^A-Za-z0-9+/=]")
_QP_CUT_ESCAPE = re.compile(rb"=[0-9A-Fa-f\r]?\Z")
_MIME_LINE = 78
"""A base64 line as MIME writes it: 76 characters and CRLF."""


@dataclass(frozen=True, slots=True)
class _Leaf:
    """What the walk reads from one leaf of the structure."""

    number: str
    maintype: str
    subtype: str
    params: list[tuple[str, str]]
    encoding: str
    size: int
    lines: int | None
    disposition: str | None
    disposition_params: list[tuple[str, str]]
    envelope_subject: str | None
    inner: object
    """The encapsulated body of a message/rfc822 leaf, else None."""


def plan_text_fetch(bodystructure: object) -> TextPlan:
    """Which part holds the readable text, and what the attachments are; never raises.

    ``bodystructure`` is the parsed ``BODYSTRUCTURE`` (an ``imapclient`` ``BodyData``, or the
    same shape as plain tuples). See :class:`~postroom.mail.types.TextPlan` for an example.
    """
    defects: list[str] = []
    plain: _Leaf | None = None
    html: _Leaf | None = None
    report: _Leaf | None = None
    files: list[tuple[_Leaf, Attachment]] = []
    for leaf in _iter_leaves(bodystructure, defects):
        if leaf.maintype == "multipart":
            continue  # a container without children: neither text nor a file (as the stdlib)
        filename = _get_filename(leaf, defects)
        content_type = (leaf.maintype, leaf.subtype)
        if _is_not_a_file(leaf, filename):
            continue
        if (
            content_type not in _TEXT_TYPES
            or leaf.disposition == "attachment"
            or filename is not None
        ):
            files.append((leaf, _describe_attachment(leaf, filename, defects)))
            if report is None and _is_report_text(leaf, filename):
                report = leaf
        elif content_type == ("text", "plain"):
            plain = plain or leaf
        else:
            html = html or leaf
    chosen = html if html is not None and (plain is None or _is_blank(plain)) else plain
    if report is not None and (chosen is None or (chosen is plain and _is_blank(chosen))):
        chosen = report  # no text but a delivery report: mail.text.is_report_text
    if (chosen is None or (chosen is plain and _is_blank(chosen))) and not _is_multipart_report(
        bodystructure, defects
    ):
        # a forward with an empty cover note: the attached message's text (as extract_body)
        forwarded = next((leaf for leaf, _ in files if leaf.inner is not None), None)
        if forwarded is not None:
            chosen = _choose_text(forwarded.inner, f"{forwarded.number}.", defects) or chosen
    attachments = [attachment for leaf, attachment in files if leaf is not chosen]
    is_report = _is_report(bodystructure, defects)
    if chosen is None:
        return TextPlan(
            attachments=tuple(attachments),
            is_report=is_report,
            defects=tuple(dict.fromkeys(defects)),
        )
    return TextPlan(
        part=chosen.number,
        subtype="html" if chosen.subtype == "html" else "plain",
        charset=_get_param(chosen.params, "charset") or "us-ascii",
        encoding=chosen.encoding,
        size=chosen.size,
        attachments=tuple(attachments),
        is_report=is_report,
        defects=tuple(dict.fromkeys(defects)),
    )


def decode_text_part(payload: bytes, plan: TextPlan) -> Body:
    """The :class:`~postroom.mail.types.Body` from the fetched bytes of ``plan.part``.

    Undoes the transfer encoding (base64 with bad padding or stray characters, quoted-printable,
    7bit/8bit/binary, uuencode: as the stdlib does for the whole message), decodes the charset by
    the fallback chain of :func:`~postroom.mail.text.decode_text`, turns HTML into text, splits
    off the quoted history and attaches ``plan.attachments``. A payload cut by the partial
    fetch decodes without error (see the module's invariants); never raises.

    >>> plan = TextPlan(part="1", charset="utf-8", encoding="base64", size=8)
    >>> decode_text_part(b"SGkgw6k=", plan).text
    'Hi é'
    >>> decode_text_part(b"SGkgw6", plan).text    # cut by the fetch: the split é is dropped
    'Hi '
    """
    if plan.part is None:
        return Body(text="", reply_text="", attachments=plan.attachments, defects=plan.defects)
    defects: list[str] = []
    truncated = len(payload) < plan.size or len(payload) >= TEXT_FETCH_BYTES
    data = _undo_transfer_encoding(payload, plan.encoding, truncated, defects)
    text = _decode_charset(data, plan.charset, truncated, defects)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    is_from_html = plan.subtype == "html"
    attachments = plan.attachments
    if is_from_html:
        text = html_to_text(text)
    else:
        text, uuencoded = split_uuencoded(text)
        attachments += uuencoded
    return Body(
        text=text,
        reply_text=read_reply(text),
        attachments=attachments,
        is_from_html=is_from_html,
        defects=tuple(dict.fromkeys([*defects, *plan.defects])),
    )


# --- transfer encodings --------------------------------------------------------------------------


def _undo_transfer_encoding(
    payload: bytes, encoding: str, truncated: bool, defects: list[str]
) -> bytes:
    """The decoded bytes, by the stdlib's own decoder (as for a whole message)."""
    if truncated and encoding == "base64":
        # drop the incomplete quantum at the cut: 1 character left over is undecodable and
        # makes the stdlib return the encoded text itself
        compact = _BASE64_NOISE.sub(b"", payload)
        payload = compact[: len(compact) - len(compact) % 4]
    elif truncated and encoding == "quoted-printable":
        payload = _QP_CUT_ESCAPE.sub(b"", payload)  # "=", "=C" or "=\r" cut from its escape
    part = Message()
    part["Content-Transfer-Encoding"] = _clean(encoding)
    part.set_payload(payload.decode("ascii", "surrogateescape"))
    data = part.get_payload(decode=True)
    if not truncated:
        defects.extend(type(defect).__name__ for defect in part.defects)
    return data if isinstance(data, bytes) else payload


def _decode_charset(data: bytes, charset: str, truncated: bool, defects: list[str]) -> str:
    """``decode_text``'s fallback chain; a cut payload is decoded as the start of a longer text.

    The byte appended to a cut payload only makes ``decode_text`` see a longer input, so that
    an incomplete last character is dropped rather than decoded as an error.
    """
    try:
        if truncated:
            return decode_text(data + b"\0", charset, defects, limit=min(len(data), MAX_TEXT_BYTES))
        return decode_text(data, charset, defects, limit=MAX_TEXT_BYTES)
    except UnicodeError:
        # decode_text's last resort still raises for a BOM-less text labelled UTF-16/UTF-32
        # that is not UTF-8 either (the stdlib's incremental decoder ignores errors="replace"
        # there); the whole-message path raises too
        defects.append("CharsetMismatchDefect")
        return data[:MAX_TEXT_BYTES].decode("cp1252", "replace")


# --- walking the structure -----------------------------------------------------------------------


def _iter_leaves(root: object, defects: list[str], prefix: str = "") -> Iterator[_Leaf]:
    """The leaves in document order with their part numbers; iterative.

    Stack entries are ``(node, number, is_root)``; for the root of a message (the whole
    message, or the body of a message/rfc822) ``number`` is the prefix of its children's
    numbers (``""``, ``"1."``; ``prefix``, e.g. ``"2."`` for the body of part 2).
    """
    stack: list[tuple[object, str, bool]] = [(root, prefix, True)]
    while stack:
        node, number, is_root = stack.pop()
        if not _is_sequence(node) or not node:
            continue
        split = _split_multipart(node)
        if split is not None:
            prefix = number if is_root else f"{number}."
            children = [(child, f"{prefix}{i}", False) for i, child in enumerate(split[0], 1)]
            stack.extend(reversed(children))
            continue
        leaf = _read_leaf(node, f"{number}1" if is_root else number, defects)
        if is_root and number == "" and leaf.inner is not None:
            # a message that is a message/rfc822: its text is the encapsulated message's
            stack.append((leaf.inner, f"{leaf.number}.", True))
            continue
        yield leaf


def _split_multipart(node: Sequence[object]) -> tuple[list[object], Sequence[object]] | None:
    """``(children, extension fields)`` of a multipart node, or None for a leaf.

    ``BodyData`` keeps the children in a list at index 0; a raw parse (the body inside a
    message/rfc822 part) has them as the leading tuples.
    """
    first = node[0]
    if isinstance(first, list):
        return first, node[1:]
    if isinstance(first, tuple):
        count = next((i for i, item in enumerate(node) if not isinstance(item, tuple)), len(node))
        return list(node[:count]), node[count:]
    return None


def _read_leaf(node: Sequence[object], number: str, defects: list[str]) -> _Leaf:
    maintype = _get_atom(node, 0, defects).lower()
    subtype = _get_atom(node, 1, defects).lower()
    if not maintype or not subtype:
        maintype, subtype = "text", "plain"  # as the stdlib reads a missing or invalid type
    envelope = _get(node, 7)
    inner = _get(node, 8)
    if maintype == "message" and _is_envelope(envelope) and _is_sequence(inner):
        lines, extension = _get_int(node, 9), 10  # body-type-msg
        subject = _to_str(envelope[1], defects) if envelope[1] is not None else None
    else:
        inner, subject = None, None
        if maintype == "text":
            lines, extension = _get_int(node, 7), 8  # body-type-text
        else:
            lines, extension = None, 7  # body-type-basic
    disposition = _get(node, extension + 1)  # after body-fld-md5
    if not _is_disposition(disposition):
        # a server that leaves out the MD5 field, or puts the extension data elsewhere
        disposition = next((item for item in node[extension:] if _is_disposition(item)), None)
    disposition_type: str | None = None
    disposition_params: list[tuple[str, str]] = []
    if _is_sequence(disposition):
        disposition_type = _to_str(disposition[0], defects).strip().lower() or None
        disposition_params = _read_params(disposition[1], defects)
    return _Leaf(
        number=number,
        maintype=maintype,
        subtype=subtype,
        params=_read_params(_get(node, 2), defects),
        encoding=_get_atom(node, 5, defects).lower() or "7bit",
        size=_get_int(node, 6) or 0,
        lines=lines,
        disposition=disposition_type,
        disposition_params=disposition_params,
        envelope_subject=subject,
        inner=inner,
    )


def _is_report(root: object, defects: list[str]) -> bool:
    """A delivery status notification, by the rule of ``postroom.mail.classify.is_dsn``."""
    if not _is_sequence(root) or not root:
        return False
    split = _split_multipart(root)
    if split is None:
        return False
    children, extension = split
    if _get_atom(extension, 0, defects).lower() != "report":
        return False
    report_type = _get_param(_read_params(_get(extension, 1), defects), "report-type")
    if report_type and report_type.strip():
        return report_type.strip().lower() == "delivery-status"
    return any(
        _is_sequence(child)
        and bool(child)
        and _get_atom(child, 0, defects).lower() == "message"
        and _get_atom(child, 1, defects).lower() == "delivery-status"
        for child in children
    )


# --- attachments ---------------------------------------------------------------------------------


def _get_filename(leaf: _Leaf, defects: list[str]) -> str | None:
    """The decoded file name, by the whole-message path's own decoder.

    The structure's parameters are written back as ``Content-Type`` and
    ``Content-Disposition`` fields of an empty part, so RFC 2231 (also as continuations,
    merged or not by the server), encoded words and 8-bit bytes are decoded exactly as for a
    whole message.
    """
    named = any(name.partition("*")[0] == "name" for name, _ in leaf.params) or any(
        name.partition("*")[0] == "filename" for name, _ in leaf.disposition_params
    )
    if not named and ";" not in f"{leaf.maintype}{leaf.subtype}{leaf.disposition or ''}":
        return None  # no parameter to decode: what the stdlib would find in these fields
    part = Message()
    part["Content-Type"] = _render_field(f"{leaf.maintype}/{leaf.subtype}", leaf.params, "name")
    if leaf.disposition is not None:
        part["Content-Disposition"] = _render_field(
            leaf.disposition, leaf.disposition_params, "filename"
        )
    return get_filename(part, defects)


def _render_field(value: str, params: list[tuple[str, str]], wanted: str) -> str:
    """``value; wanted="..."`` with the parameters named ``wanted`` (RFC 2231 forms included)."""
    rendered = [_clean(value)]
    for name, param in params:
        if name.partition("*")[0] == wanted and re.fullmatch(r"[\w*-]+", name, re.ASCII):
            rendered.append(f'{name}="{quote(_clean(param))}"')
    return "; ".join(rendered)


def _clean(text: str) -> str:
    """No line breaks inside a field built from server data."""
    return " ".join(text.splitlines())


def _is_not_a_file(leaf: _Leaf, filename: str | None) -> bool:
    """``mail.text.is_not_a_file`` of a leaf: a signature, or a text/enriched rendering not
    sent as a file."""
    content_type = f"{leaf.maintype}/{leaf.subtype}"
    if content_type in SIGNATURE_TYPES:
        return True
    return (
        content_type in TEXT_ALTERNATIVE_TYPES
        and leaf.disposition != "attachment"
        and filename is None
    )


def _choose_text(root: object, prefix: str, defects: list[str]) -> _Leaf | None:
    """The text leaf of the message ``root`` (the body of a message/rfc822 part numbered
    ``prefix``), by the rule of :func:`plan_text_fetch`; None when it has none."""
    plain: _Leaf | None = None
    html: _Leaf | None = None
    for leaf in _iter_leaves(root, defects, prefix):
        if leaf.maintype == "multipart" or leaf.disposition == "attachment":
            continue
        content_type = (leaf.maintype, leaf.subtype)
        if content_type not in _TEXT_TYPES or _get_filename(leaf, defects) is not None:
            continue
        if content_type == ("text", "plain"):
            plain = plain or leaf
        else:
            html = html or leaf
    return html if html is not None and (plain is None or _is_blank(plain)) else plain


def _is_multipart_report(root: object, defects: list[str]) -> bool:
    """Whether the message is a ``multipart/report`` of any report type."""
    split = _split_multipart(root) if _is_sequence(root) and root else None
    return split is not None and _get_atom(split[1], 0, defects).lower() == "report"


def _is_report_text(leaf: _Leaf, filename: str | None) -> bool:
    """``mail.text.is_report_text`` of a leaf."""
    return (
        f"{leaf.maintype}/{leaf.subtype}" in REPORT_TYPES
        and leaf.disposition != "attachment"
        and filename is None
    )


def _describe_attachment(leaf: _Leaf, filename: str | None, defects: list[str]) -> Attachment:
    if filename is None and leaf.envelope_subject is not None:
        filename = " ".join(decode_header_value(leaf.envelope_subject, defects).split()) or None
    return Attachment(
        filename=filename,
        content_type=f"{leaf.maintype}/{leaf.subtype}",
        size=_estimate_decoded_size(leaf),
        part=leaf.number,
    )


def _estimate_decoded_size(leaf: _Leaf) -> int:
    if leaf.encoding != "base64":
        return leaf.size
    lines = leaf.lines if leaf.lines is not None else -(-leaf.size // _MIME_LINE)
    return max(leaf.size - 2 * lines, 0) * 3 // 4


def _is_blank(leaf: _Leaf) -> bool:
    """Whether a text part is known from its size to hold nothing but line breaks: no octets,
    or no more than one CRLF per line (in any transfer encoding)."""
    return leaf.size == 0 or (leaf.lines is not None and leaf.size <= 2 * leaf.lines)


# --- atoms -------------------------------------------------------------------------------------


def _is_sequence(value: object) -> TypeGuard[Sequence[object]]:
    return isinstance(value, tuple | list)


def _is_envelope(value: object) -> TypeGuard[Sequence[object]]:
    return isinstance(value, tuple | list) and len(value) >= 10


def _is_disposition(value: object) -> bool:
    """``("attachment" ("filename" "x"))`` or ``("inline" NIL)``."""
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and isinstance(value[0], bytes | str)
        and (value[1] is None or isinstance(value[1], tuple | list))
    )


def _get(node: Sequence[object], index: int) -> object:
    return node[index] if 0 <= index < len(node) else None


def _get_atom(node: Sequence[object], index: int, defects: list[str]) -> str:
    value = _get(node, index)
    return _to_str(value, defects).strip() if isinstance(value, bytes | str) else ""


def _get_int(node: Sequence[object], index: int) -> int | None:
    value = _get(node, index)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(value, 0)
    if isinstance(value, bytes | str) and value.strip().isdigit():
        return int(value)
    return None


def _to_str(value: object, defects: list[str]) -> str:
    """An atom as text: raw 8-bit bytes as UTF-8, else cp1252 (as in header fields)."""
    if isinstance(value, bytes):
        return value.decode("ascii") if value.isascii() else decode_text(value, None, defects)
    return value if isinstance(value, str) else ""


def _read_params(value: object, defects: list[str]) -> list[tuple[str, str]]:
    """``("charset" "utf-8" "name" "x")`` as ``[("charset", "utf-8"), ...]``, names lower case.

    Pairs given as nested lists (``(("charset" "utf-8"))``) are accepted too; a value of NIL
    is an empty string.
    """
    if not isinstance(value, tuple | list):
        return []
    pairs: list[tuple[object, object]]
    if value and all(isinstance(item, tuple | list) and len(item) == 2 for item in value):
        pairs = [(item[0], item[1]) for item in value]
    else:
        pairs = list(zip(value[::2], value[1::2], strict=False))
    params = []
    for name, param in pairs:
        if isinstance(name, bytes | str):
            params.append((_to_str(name, defects).strip().lower(), _to_str(param, defects)))
    return params


def _get_param(params: list[tuple[str, str]], name: str) -> str | None:
    """The first value of a parameter, stripped and lower case; None when missing or blank."""
    value = next((param for key, param in params if key == name), "")
    return value.strip().strip('"').strip().lower() or None
