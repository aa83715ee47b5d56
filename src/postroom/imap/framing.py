r"""Framing: the bytes a server sends, cut into complete responses. Pure: no I/O, no asyncio.

This is framing, not grammar: all structured parsing is ``imapclient.response_parser``'s (see
``postroom.imap.responses``). A response is one or more text *segments* joined by literals
(RFC 9051 §4.3): a segment that ends in ``{n}``, ``{n+}`` or ``~{n}`` (literal8, RFC 3516) is
followed by exactly ``n`` octets, after which the line continues. So::

    * 12 FETCH (UID 7 BODY[] {5}\r\nhello BODY[1] {3}\r\nabc)\r\n

is framed as a ``RawResponse`` whose ``parts`` are::

    ((b"* 12 FETCH (UID 7 BODY[] {5}", b"hello"), (b" BODY[1] {3}", b"abc"), b")")

which is the record list ``imapclient.response_parser`` expects (its imaplib heritage: a tuple
is "text ending in a literal marker, the literal"; bytes is text without a literal).

Invariants:

* A literal marker is recognised only at the very end of a segment and only outside a quoted
  string (quotes and backslash escapes are tracked over the segment, which always starts outside
  a quote). Status responses (tagged lines, ``* OK/NO/BAD/BYE/PREAUTH``) and continuation
  requests carry free text, never literals, so a ``{5}`` at the end of their text is text.
* Response text is never changed, with one exception that the parser needs: a ``~{n}`` or
  ``{n+}`` marker is rewritten to ``{n}`` in the segment that carries it (imapclient's lexer
  does not know literal8 and would lose the data).
* Work is linear in the input: each received byte is looked at once when searching for the
  line end (the search resumes where it stopped), a literal is counted, not scanned, and no
  earlier line is ever scanned again. There is no recursion.
* Limits: a line longer than ``max_line`` or a literal larger than ``max_literal`` is a
  ``ProtocolError`` (the connection cannot be used any more after one).
* Lines end in CRLF; a bare LF is accepted too (the CR, if any, is dropped).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from postroom.imap.errors import ProtocolError

Part = bytes | tuple[bytes, bytes]
"""One record of a response: text without a literal, or (text ending in ``{n}``, the literal)."""

DEFAULT_MAX_LINE = 64 * 1024 * 1024
DEFAULT_MAX_LITERAL = 256 * 1024 * 1024

#: Untagged responses whose text is free text (resp-text), never holding a literal.
_STATUS_KEYWORDS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class ResponseKind(enum.Enum):
    """What the first segment of a response says it is (RFC 9051 §7)."""

    TAGGED = "tagged"  # A0001 OK ...: completes the command with that tag
    UNTAGGED = "untagged"  # * ...: data or status, solicited or not
    CONTINUATION = "continuation"  # + ...: the server waits for more of the command


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One complete server response, framed but not parsed.

    ``tag`` is the command tag of a tagged response (``b"A0001"``), ``b"*"`` or ``b"+"``.
    ``keyword`` is the response's type word in upper case: ``"OK"``/``"NO"``/``"BAD"`` for
    tagged and status responses, ``"FETCH"``, ``"EXISTS"``, ``"LIST"``, ``"VANISHED"``... for
    untagged data, ``""`` for a continuation request. ``number`` is the leading number of
    ``* 12 FETCH``/``* 3 EXISTS``/``* 4 EXPUNGE`` and None otherwise.
    """

    parts: tuple[Part, ...]
    kind: ResponseKind
    tag: bytes
    keyword: str
    number: int | None = None

    @property
    def first_segment(self) -> bytes:
        """The text of the first line, up to its literal marker if it has one."""
        first = self.parts[0]
        return first[0] if isinstance(first, tuple) else first

    @property
    def literals(self) -> list[bytes]:
        """The literals of the response, in order."""
        return [part[1] for part in self.parts if isinstance(part, tuple)]

    def to_bytes(self) -> bytes:
        """The response as it would be on the wire (without the final CRLF; literal8 and
        non-synchronising markers appear as ``{n}``)."""
        pieces: list[bytes] = []
        for part in self.parts:
            if isinstance(part, tuple):
                pieces += (part[0], b"\r\n", part[1])
            else:
                pieces.append(part)
        return b"".join(pieces)

    def text_after_keyword(self) -> bytes:
        """The first segment after the tag, the number and the keyword (for tagged and status
        responses: the optional ``[code]`` and the human text)."""
        segment = self.first_segment
        words = 3 if self.number is not None else 2
        pieces = segment.split(b" ", words)
        return pieces[words] if len(pieces) > words else b""


def classify_line(line: bytes) -> tuple[ResponseKind, bytes, str, int | None]:
    """(kind, tag, keyword, number) of a response from its first line."""
    if line[:1] == b"+":
        return ResponseKind.CONTINUATION, b"+", "", None
    words = line.split(b" ", 3)
    if words[0] == b"*":
        first = words[1] if len(words) > 1 else b""
        if first.isdigit() and len(words) > 2:
            return ResponseKind.UNTAGGED, b"*", _keyword(words[2]), int(first)
        return ResponseKind.UNTAGGED, b"*", _keyword(first), None
    keyword = _keyword(words[1]) if len(words) > 1 else ""
    return ResponseKind.TAGGED, words[0], keyword, None


def _keyword(word: bytes) -> str:
    return word.decode("ascii", "replace").upper()


def literal_marker(segment: bytes) -> tuple[int, int] | None:
    """``(size, start)`` if ``segment`` ends in a literal marker outside a quoted string.

    ``start`` is where the marker (``{``, or the ``~`` of literal8) begins. Returns None for a
    segment without one, including ``"... {5}"`` where the braces are inside a quoted string.
    """
    if not segment.endswith(b"}"):
        return None
    opening = segment.rfind(b"{")
    if opening < 0:
        return None
    digits = segment[opening + 1 : -1]
    if digits.endswith(b"+"):
        digits = digits[:-1]
    if not digits or not digits.isdigit():
        return None
    if _ends_inside_quote(segment, opening):
        return None
    start = opening - 1 if opening > 0 and segment[opening - 1] == ord("~") else opening
    return int(digits), start


def _ends_inside_quote(segment: bytes, end: int) -> bool:
    """Whether position ``end`` of ``segment`` lies inside a quoted string (RFC 9051 quoted:
    ``"`` ... ``"`` with ``\\"`` and ``\\\\`` escapes). Jumps between quote characters with
    ``bytes.find`` rather than walking every byte."""
    position = 0
    while True:
        opening = segment.find(b'"', position, end)
        if opening < 0:
            return False
        position = opening + 1
        while True:  # inside the quoted string: find its closing quote
            closing = segment.find(b'"', position, end)
            escape = segment.find(b"\\", position, end)
            if closing < 0:
                return True
            if 0 <= escape < closing:
                position = escape + 2
                continue
            position = closing + 1
            break


class ResponseFramer:
    """Incremental framer: ``feed`` it chunks as they arrive, get complete responses back.

    >>> framer = ResponseFramer()
    >>> framer.feed(b"* 1 FETCH (UID 7 BODY[] {5}\\r\\nhel")
    []
    >>> [r.parts for r in framer.feed(b"lo)\\r\\nA0001 OK done\\r\\n")]
    [((b'* 1 FETCH (UID 7 BODY[] {5}', b'hello'), b')'), (b'A0001 OK done',)]
    """

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, max_literal: int = DEFAULT_MAX_LITERAL
    ) -> None:
        self._max_line = max_line
        self._max_literal = max_literal
        self._buffer = bytearray()
        self._search_from = 0  # the line-end search resumes here: no byte is searched twice
        self._parts: list[Part] = []
        self._literal_size: int | None = None  # octets still to come for the pending literal
        self._literal_text = b""  # the segment that announced the pending literal
        self._head: tuple[ResponseKind, bytes, str, int | None] | None = None

    @property
    def buffered(self) -> int:
        """Octets received that are not part of a complete response yet."""
        return len(self._buffer) + sum(
            len(p[0]) + len(p[1]) if isinstance(p, tuple) else len(p) for p in self._parts
        )

    @property
    def in_response(self) -> bool:
        """Whether a response has started but not completed."""
        return bool(self._parts) or self._literal_size is not None or bool(self._buffer)

    def feed(self, data: bytes) -> list[RawResponse]:
        """Add received bytes; return the responses they complete, in arrival order."""
        buffer = self._buffer
        buffer += data
        completed: list[RawResponse] = []
        while True:
            size = self._literal_size
            if size is not None:
                if len(buffer) < size:
                    return completed
                with memoryview(buffer) as view:
                    literal = bytes(view[:size])
                del buffer[:size]
                self._parts.append((self._literal_text, literal))
                self._literal_size = None
                self._literal_text = b""
                continue
            end = buffer.find(b"\n", self._search_from)
            if end < 0:
                if len(buffer) > self._max_line:
                    raise ProtocolError(f"a response line is longer than {self._max_line} octets")
                self._search_from = len(buffer)
                return completed
            stop = end - 1 if end and buffer[end - 1] == 13 else end  # drop the CR of CRLF
            with memoryview(buffer) as view:
                line = bytes(view[:stop])
            del buffer[: end + 1]
            self._search_from = 0
            if len(line) > self._max_line:
                raise ProtocolError(f"a response line is longer than {self._max_line} octets")
            response = self._add_segment(line)
            if response is not None:
                completed.append(response)

    def _add_segment(self, segment: bytes) -> RawResponse | None:
        head = self._head
        if head is None:
            if not segment:
                return None  # a stray empty line between responses carries nothing
            head = self._head = classify_line(segment)
        kind, _tag, keyword, _number = head
        marker = None
        if kind is ResponseKind.UNTAGGED and keyword not in _STATUS_KEYWORDS:
            marker = literal_marker(segment)
        if marker is not None:
            size, start = marker
            if size > self._max_literal:
                raise ProtocolError(f"a literal of {size} octets is over the limit")
            if segment[start] != ord("{") or segment[-2] == ord("+"):
                segment = segment[:start] + b"{%d}" % size  # literal8 / {n+}: see invariants
            self._literal_text = segment
            self._literal_size = size
            return None
        if segment or not self._parts:
            self._parts.append(segment)
        response = RawResponse(tuple(self._parts), *head)
        self._parts = []
        self._head = None
        return response


def frame(data: bytes) -> list[RawResponse]:
    """Frame a complete transcript (for tests and tools); ProtocolError if it ends mid-response."""
    framer = ResponseFramer()
    responses = framer.feed(data)
    if framer.in_response:
        raise ProtocolError("the data ends in the middle of a response")
    return responses


def describe(response: RawResponse, *, limit: int = 2000) -> Iterable[str]:
    """Lines for the wire log: text segments as text, literals as ``{n octets}`` only, so that
    message bodies never reach a log. Long segments are cut at ``limit`` characters."""
    for part in response.parts:
        text, literal = part if isinstance(part, tuple) else (part, None)
        shown = text[:limit].decode("utf-8", "replace")
        if len(text) > limit:
            shown += f"... ({len(text)} octets)"
        yield shown
        if literal is not None:
            yield f"[literal: {len(literal)} octets]"


__all__ = [
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_LITERAL",
    "Part",
    "RawResponse",
    "ResponseFramer",
    "ResponseKind",
    "classify_line",
    "describe",
    "frame",
    "literal_marker",
]
