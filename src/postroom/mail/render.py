"""A message as the "Open original" view shows it: headers, the body, the parts; HTML made safe.

Pure: bytes and strings in, frozen dataclasses and strings out (docs/architecture.md, the
``mail`` layer). The message is parsed with the stdlib ``email`` package (``policy.default``);
the HTML body is cleaned by ``nh3`` (the ammonia sanitiser) with a conservative allow-list.

Invariants:

* **Part numbers are the IMAP part numbers** (RFC 9051 section 6.4.5: ``"1"``, ``"1.2"``,
  ``"2"``), given by ``mail.text.iter_numbered_leaf_parts`` to the leaves of the MIME tree, a
  nested ``message/*`` counting as one leaf. They are the numbers ``mail.structure`` reads
  from the server's BODYSTRUCTURE and that ``activity.attachments`` keeps as ``"part"``
  (docs/concepts.md), so one number names one part everywhere: on the page, in its download
  link and on a record's timeline. The same bytes always give the same numbers.
* **Nothing raises on bad input.** Unknown charsets, broken headers and broken MIME are read
  as well as they can be (``mail.text.decode_text``'s fallback chain).
* **The sanitised HTML cannot act or fetch on its own.** ``sanitize_html`` keeps no element
  that runs or loads anything (script, style, link, meta, base, form controls, iframe, object,
  embed, svg, math), no event handler, no ``srcset`` or ``background`` attribute, no CSS
  ``url()``, ``expression()`` or escape, and no URL but ``http``, ``https``, ``mailto`` and
  ``tel`` links (opened in a new tab, ``rel="noopener noreferrer"``). Images: a ``cid:`` image
  becomes the URL the caller gives for that part; a remote image is kept only when the caller
  allows remote images, else dropped and counted. The page that serves the result adds a
  Content-Security-Policy of its own as a second wall (docs/web.md).
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

import nh3

from postroom.mail.text import (
    decode_text,
    get_filename,
    is_attachment,
    is_report_text,
    iter_numbered_leaf_parts,
    read_report_text,
)

MAX_HTML_BYTES = 2 * 1024 * 1024
"""Only this much of an HTML body is decoded and sanitised (a bound on the work)."""
MAX_PLAIN_BYTES = 1024 * 1024
"""Only this much of a plain-text body is shown."""

INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Images a ``cid:`` reference may show inline (raster only: never SVG, which can script)."""

MAX_PART_NUMBER_LENGTH = 64
"""A part number longer than this names no part Postroom will look for."""

_PART_NUMBER = re.compile(r"[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,8})*")


def is_part_number(value: str) -> bool:
    """Whether ``value`` has the form of an IMAP part number (RFC 9051 section 6.4.5):
    positive integers joined by dots, at most ``MAX_PART_NUMBER_LENGTH`` characters.

    >>> [is_part_number(v) for v in ("2", "1.2.10", "0", "1.", "1..2", "x", "1/2")]
    [True, True, False, False, False, False, False]
    """
    return len(value) <= MAX_PART_NUMBER_LENGTH and _PART_NUMBER.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class OriginalPart:
    """One leaf of the message: ``number`` is its IMAP part number (``"1.2"``)."""

    number: str
    content_type: str
    filename: str | None
    size: int
    content_id: str | None
    is_body: bool
    """The part shown as the message's text (its HTML or plain-text body)."""


@dataclass(frozen=True, slots=True)
class OriginalMessage:
    """What the view shows of a message. ``html`` is the raw (unsanitised) HTML body, or None;
    ``text`` is the plain-text body, or None. ``attachments`` are the parts a user may
    download: every leaf but the body parts and the inline images the HTML refers to."""

    subject: str
    sender: tuple[tuple[str, str], ...]
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    date: datetime | None
    html: str | None
    text: str | None
    parts: tuple[OriginalPart, ...]
    attachments: tuple[OriginalPart, ...]

    def find_content_id(self, content_id: str) -> OriginalPart | None:
        """The inline image part with this Content-ID (without ``<>``), or None."""
        wanted = content_id.strip().strip("<>").lower()
        for part in self.parts:
            if part.content_id == wanted and part.content_type in INLINE_IMAGE_TYPES:
                return part
        return None


@dataclass(frozen=True, slots=True)
class SanitizedHtml:
    html: str
    blocked_images: int
    """Remote images left out (0 when remote images were allowed)."""


def parse_original(raw: bytes) -> Message:
    """The message tree (``policy.default``); ``raw`` may also be a header block alone."""
    return email.message_from_bytes(raw, policy=email.policy.default)


def read_original(raw: bytes) -> OriginalMessage:
    """Headers, body and parts of ``raw`` (a whole message, or only its header block).

    >>> m = read_original(b"From: Ann <ann@x.example>\\r\\nSubject: Hi\\r\\n\\r\\nHello")
    >>> m.sender, m.subject, m.text, m.html
    ((('Ann', 'ann@x.example'),), 'Hi', 'Hello', None)
    """
    msg = parse_original(raw)
    defects: list[str] = []
    numbered = list(iter_numbered_leaf_parts(msg))
    leaves = [part for _, part in numbered]
    plain_index = html_index = None
    for index, part in enumerate(leaves):
        if part.get_content_maintype() == "multipart" or is_attachment(part):
            continue
        if part.get_content_type() == "text/html":
            html_index = html_index if html_index is not None else index
        else:
            plain_index = plain_index if plain_index is not None else index
    html = text = None
    if html_index is not None:
        html = _decode_part(leaves[html_index], defects, MAX_HTML_BYTES)
    if plain_index is not None:
        text = _decode_part(leaves[plain_index], defects, MAX_PLAIN_BYTES)
    if html is None and text is None:
        # no text but a delivery report: it holds the text (``mail.text.is_report_text``)
        plain_index = next((i for i, part in enumerate(leaves) if is_report_text(part)), None)
        if plain_index is not None:
            text = read_report_text(leaves[plain_index], defects)[:MAX_PLAIN_BYTES]
    if html is None and text is None and not msg.is_multipart() and not leaves[1:]:
        text = ""
    body_indexes = {i for i in (html_index, plain_index) if i is not None}
    parts = tuple(
        _describe(number, part, index in body_indexes, defects)
        for index, (number, part) in enumerate(numbered)
        if part.get_content_maintype() != "multipart"
    )
    referenced = _referenced_content_ids(html or "")
    attachments = tuple(
        part
        for part in parts
        if not part.is_body
        and not (part.content_id in referenced and part.content_type in INLINE_IMAGE_TYPES)
    )
    return OriginalMessage(
        subject=_header_text(msg, "subject"),
        sender=_addresses(msg, "from"),
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        date=_date(msg),
        html=html,
        text=text,
        parts=parts,
        attachments=attachments,
    )


def get_part_data(raw: bytes, number: str) -> tuple[OriginalPart, bytes] | None:
    """The leaf whose IMAP part number is ``number`` (see the module's invariants) and its
    decoded bytes, or None. A nested message is given whole, as an ``.eml`` file would hold
    it.

    >>> raw = b"Content-Type: text/plain\\r\\n\\r\\nHello"
    >>> get_part_data(raw, "1")[1], get_part_data(raw, "2")
    (b'Hello', None)
    """
    if not is_part_number(number):
        return None
    msg = parse_original(raw)
    for found, part in iter_numbered_leaf_parts(msg):
        if found != number or part.get_content_maintype() == "multipart":
            continue
        defects: list[str] = []
        described = _describe(found, part, False, defects)
        if part.get_content_maintype() == "message":
            # one message (message/rfc822), or the field blocks of a delivery report
            payload = part.get_payload()
            blocks = payload if isinstance(payload, list) else []
            data = b"".join(block.as_bytes() for block in blocks if isinstance(block, Message))
        else:
            decoded = part.get_payload(decode=True)
            data = decoded if isinstance(decoded, bytes) else b""
        return described, data
    return None


# --- sanitising --------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
        "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
        "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "tt", "u", "ul",
    }
)  # fmt: skip
"""Text, lists, tables and images: what mail is written with. Nothing that runs or loads."""

REMOVED_WITH_CONTENT = frozenset(
    {
        "script", "style", "title", "template", "noscript", "svg", "math", "iframe", "object",
        "embed", "applet", "textarea", "select", "button", "head", "audio", "video", "canvas",
    }
)  # fmt: skip
"""Elements dropped with everything inside them (their content is code or a widget)."""

_COMMON_ATTRIBUTES = {"align", "valign", "dir", "lang", "title", "width", "height", "style"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": _COMMON_ATTRIBUTES,
    "a": {"href"},
    "img": {"src", "alt", "border"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor"},
    "td": {"colspan", "rowspan", "bgcolor", "nowrap"},
    "th": {"colspan", "rowspan", "bgcolor", "nowrap", "scope"},
    "tr": {"bgcolor"},
    "font": {"color", "face", "size"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"cite"},
}
"""No ``background``, ``srcset``, ``on*``, ``id``/``name`` or ``class`` anywhere."""

STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style",
        "font-weight", "line-height", "letter-spacing", "text-align", "text-decoration",
        "text-indent", "text-transform", "vertical-align", "white-space", "word-break",
        "margin", "margin-top", "margin-right", "margin-bottom", "margin-left", "padding",
        "padding-top", "padding-right", "padding-bottom", "padding-left", "border",
        "border-top", "border-right", "border-bottom", "border-left", "border-color",
        "border-style", "border-width", "border-collapse", "border-spacing", "border-radius",
        "width", "max-width", "min-width", "height", "display", "list-style-type",
    }
)  # fmt: skip
"""CSS properties an inline ``style`` may keep (no position, no background images)."""

LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
"""``cid`` passes the sanitiser only to reach the image rewrite; a ``cid:`` link is dropped."""

_UNSAFE_CSS = re.compile(r"url\s*\(|expression|image-set|@import|\\|javascript:|behavior", re.I)
_CID_REFERENCE = re.compile(r"""cid:([^"'\s>)]+)""", re.I)


def sanitize_html(
    html: str, *, image_url: Callable[[str], str | None], allow_remote_images: bool
) -> SanitizedHtml:
    """``html`` with only the safe subset kept (see the module's invariants).

    ``image_url(content_id)`` gives the URL of the inline image part with that Content-ID
    (without ``<>``), or None to drop it.

    >>> sanitize_html('<p onclick="x()">Hi<script>alert(1)</script>', image_url=lambda c: None,
    ...               allow_remote_images=False).html
    '<p>Hi</p>'
    """
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if attribute == "style":
            return _clean_style(value) or None
        if tag == "img" and attribute == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                return image_url(_unquote_cid(value.strip()[4:]))
            if lowered.startswith(("http://", "https://")):
                if allow_remote_images:
                    return value
                blocked += 1
            return None
        if tag == "a" and attribute == "href" and value.strip().lower().startswith("cid:"):
            return None
        return value

    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(REMOVED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=keep,
        strip_comments=True,
        link_rel="noopener noreferrer",
        url_schemes=set(LINK_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_relative="deny",
    )
    return SanitizedHtml(html=cleaned, blocked_images=blocked)


def _clean_style(value: str) -> str:
    """Only the declarations that fetch and run nothing."""
    kept = [d.strip() for d in value.split(";") if d.strip() and not _UNSAFE_CSS.search(d)]
    return "; ".join(kept)


def _unquote_cid(value: str) -> str:
    return unquote(value).strip("<>").lower()


def _referenced_content_ids(html: str) -> set[str]:
    return {_unquote_cid(found) for found in _CID_REFERENCE.findall(html)}


# --- reading parts and headers -------------------------------------------------------------


def _decode_part(part: Message, defects: list[str], limit: int) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    text = decode_text(data, part.get_content_charset(), defects, limit=limit)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _describe(number: str, part: Message, is_body: bool, defects: list[str]) -> OriginalPart:
    content_type = part.get_content_type()
    if part.get_content_maintype() == "message":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        size = len(inner.as_bytes()) if isinstance(inner, Message) else 0
        filename = get_filename(part, defects)
        if filename is None and isinstance(inner, Message):
            filename = (_header_text(inner, "subject") or "message") + ".eml"
    else:
        try:
            data = part.get_payload(decode=True)
        except Exception:
            data = None
        size = len(data) if isinstance(data, bytes) else 0
        filename = get_filename(part, defects)
    raw_id = part.get("content-id")
    content_id = str(raw_id).strip().strip("<>").lower() if raw_id else None
    return OriginalPart(number, content_type, filename, size, content_id or None, is_body)


def _header_text(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(msg: Message, name: str) -> tuple[tuple[str, str], ...]:
    try:
        header = msg.get(name)
        if header is None:
            return ()
        found = tuple(
            (address.display_name, address.addr_spec)
            for address in getattr(header, "addresses", ())
            if address.addr_spec and address.addr_spec != "<>"
        )
        return found or (("", " ".join(str(header).split())),)
    except Exception:
        return (("", _header_text(msg, name)),) if _header_text(msg, name) else ()


def _date(msg: Message) -> datetime | None:
    text = _header_text(msg, "date")
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
