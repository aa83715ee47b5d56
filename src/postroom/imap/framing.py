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
* Limits (``limits.Limits``): the text of one response (its lines, without the literals)
  longer than ``max_line``, a literal larger than ``max_literal``, the literals of one
  response adding up to more than ``max_response_literals`` octets or numbering more than
  ``max_response_literal_count`` is a ``LimitExceeded`` (a ``ProtocolError``), raised as soon
  as the marker or the line says so, before the octets are received; a response number or
  literal size beyond 2^32-1 is a ``ProtocolError``. The connection cannot be used any more
  after either. Nothing else is kept, so a framer holds at most one response.
* Lines end in CRLF; a bare LF is accepted too (the CR, if any, is dropped).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

from postroom.imap.errors import LimitExceeded, ProtocolError
from postroom.imap.limits import DEFAULT_LIMITS, NUMBER_MAX

Part = bytes | tuple[bytes, bytes]
"""One record of a response: text without a literal, or (text ending in ``{n}``, the literal)."""

DEFAULT_MAX_LINE = DEFAULT_LIMITS.max_line
DEFAULT_MAX_LITERAL = DEFAULT_LIMITS.max_literal
DEFAULT_MAX_RESPONSE_LITERALS = DEFAULT_LIMITS.max_response_literals
DEFAULT_MAX_RESPONSE_LITERAL_COUNT = DEFAULT_LIMITS.max_response_literal_count
_NUMBER_DIGITS = len(str(NUMBER_MAX))

#: Untagged responses whose text is free text (resp-text), never holding a literal.
_STATUS_KEYWORDS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class ResponseKind(enum.Enum):
    """What the first segment of a response says it is (RFC 9051 §7)."""

    TAGGED = "tagged"  # A0001 OK ...: completes the command with that tag
    UNTAGGED = "untagged"  # * ...: data or status, solicited or not
    CONTINUATION = "continuation"  # + ...: the server waits for more of the command


class RawResponse(NamedTuple):
    """One complete server response, framed but not parsed (an immutable named tuple: cheap
    to make, one per response).

    ``tag`` is the command tag of a tagged response (``b"A0001"``), ``b"*"`` or ``b"+"``.
    ``keyword`` is the response's type word in upper case: ``"OK"``/``"NO"``/``"BAD"`` for
    tagged and status responses, ``"FETCH"``, ``"EXISTS"``, ``"LIST"``, ``"VANISHED"``... for
    untagged data, ``""`` for a continuation request. ``number`` is the leading number of
    ``* 12 FETCH``/``* 3 EXISTS``/``* 4 EXPUNGE`` and None otherwise. ``data_start`` is where
    the first segment's text after the keyword begins.
    """

    parts: tuple[Part, ...]
    kind: ResponseKind
    tag: bytes
    keyword: str
    number: int | None = None
    data_start: int = 0

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
        return self.first_segment[self.data_start :]


_Head = tuple[ResponseKind, bytes, str, int | None, int]
_KEYWORDS: dict[bytes, str] = {}


def classify_line(line: bytes) -> _Head:
    """(kind, tag, keyword, number, data_start) of a response from its first line."""
    if line[:1] == b"+":
        return ResponseKind.CONTINUATION, b"+", "", None, min(2, len(line))
    first_space = line.find(b" ")
    if first_space < 0:
        return ResponseKind.TAGGED, line, "", None, len(line)
    start = first_space + 1
    end = line.find(b" ", start)
    word = line[start:] if end < 0 else line[start:end]
    after = len(line) if end < 0 else end + 1
    if first_space == 1 and line[0] == 42:  # "*"
        if word.isdigit() and end >= 0:
            if len(word) > _NUMBER_DIGITS or int(word) > NUMBER_MAX:
                raise ProtocolError(f"a response number is out of range: {word[:40]!r}")
            number_end = line.find(b" ", after)
            keyword = line[after:] if number_end < 0 else line[after:number_end]
            data_start = len(line) if number_end < 0 else number_end + 1
            return ResponseKind.UNTAGGED, b"*", _keyword(keyword), int(word), data_start
        return ResponseKind.UNTAGGED, b"*", _keyword(word), None, after
    return ResponseKind.TAGGED, line[:first_space], _keyword(word), None, after


def _keyword(word: bytes) -> str:
    known = _KEYWORDS.get(word)
    if known is None:
        known = word.decode("ascii", "replace").upper()
        if len(_KEYWORDS) < 256:  # response type words are few; never grow without bound
            _KEYWORDS[word] = known
    return known


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
    if len(digits) > _NUMBER_DIGITS or int(digits) > NUMBER_MAX:  # RFC 9051: number
        raise ProtocolError(f"a literal size is out of range: {digits[:40]!r}")
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
        self,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        max_literal: int = DEFAULT_MAX_LITERAL,
        max_response_literals: int = DEFAULT_MAX_RESPONSE_LITERALS,
        max_response_literal_count: int = DEFAULT_MAX_RESPONSE_LITERAL_COUNT,
    ) -> None:
        self._max_line = max_line
        self._max_literal = max_literal
        self._max_response_literals = max_response_literals
        self._max_literal_count = max_response_literal_count
        self._response_literals = 0  # octets announced by the literals of this response
        self._response_text = 0  # octets of its completed segments
        self._line: list[bytes] = []  # the start of a line that has not ended yet
        self._line_length = 0
        self._parts: list[Part] = []
        self._literal_size: int | None = None  # size of the literal being received
        self._literal: list[bytes] = []  # its chunks so far
        self._literal_length = 0
        self._literal_text = b""  # the segment that announced it
        self._head: _Head | None = None

    @property
    def buffered(self) -> int:
        """Octets received that are not part of a complete response yet."""
        return (
            self._line_length
            + self._literal_length
            + sum(len(p[0]) + len(p[1]) if isinstance(p, tuple) else len(p) for p in self._parts)
        )

    @property
    def in_response(self) -> bool:
        """Whether a response has started but not completed."""
        return bool(self._parts or self._line or self._literal_size is not None)

    def feed(self, data: bytes) -> list[RawResponse]:
        """Add received bytes; return the responses they complete, in arrival order.

        Each byte is searched once for a line end; a literal is counted and sliced, never
        searched; a line or literal spread over many chunks is joined once, when complete.
        """
        completed: list[RawResponse] = []
        position, size = 0, len(data)
        while position < size:
            literal_size = self._literal_size
            if literal_size is not None:
                take = min(literal_size - self._literal_length, size - position)
                self._literal.append(data[position : position + take])
                self._literal_length += take
                position += take
                if self._literal_length == literal_size:
                    chunks = self._literal
                    literal = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    self._parts.append((self._literal_text, literal))
                    self._literal, self._literal_length, self._literal_size = [], 0, None
                continue
            end = data.find(b"\n", position)
            if end < 0:
                self._line.append(data[position:])
                self._line_length += size - position
                if self._response_text + self._line_length > self._max_line:
                    raise LimitExceeded(f"a response line is longer than {self._max_line} octets")
                break
            line = data[position:end]
            position = end + 1
            if self._line:
                self._line.append(line)
                line = b"".join(self._line)
                self._line, self._line_length = [], 0
            if line[-1:] == b"\r":
                line = line[:-1]
            self._response_text += len(line)
            if self._response_text > self._max_line:
                raise LimitExceeded(f"a response line is longer than {self._max_line} octets")
            response = self._add_segment(line)
            if response is not None:
                completed.append(response)
        return completed

    def _add_segment(self, segment: bytes) -> RawResponse | None:
        head = self._head
        if head is None:
            if not segment:
                self._response_text = 0
                return None  # a stray empty line between responses carries nothing
            head = self._head = classify_line(segment)
        if segment[-1:] == b"}" and head[0] is ResponseKind.UNTAGGED:
            marker = None if head[2] in _STATUS_KEYWORDS else literal_marker(segment)
            if marker is not None:
                size, start = marker
                if size > self._max_literal:
                    raise LimitExceeded(
                        f"a literal of {size} octets is over the limit of {self._max_literal}"
                    )
                self._response_literals += size
                if len(self._parts) >= self._max_literal_count:
                    raise LimitExceeded(
                        f"a response has more than {self._max_literal_count} literals"
                    )
                if self._response_literals > self._max_response_literals:
                    raise LimitExceeded(
                        f"the literals of one response add up to more than "
                        f"{self._max_response_literals} octets"
                    )
                if segment[start] != 123 or segment[-2] == 43:  # "~{n}" or "{n+}"
                    segment = segment[:start] + b"{%d}" % size  # see the module invariants
                self._literal_text = segment
                self._literal_size = size
                if size == 0:  # nothing to wait for
                    self._parts.append((segment, b""))
                    self._literal_size = None
                return None
        if segment or not self._parts:
            self._parts.append(segment)
        response = RawResponse(tuple(self._parts), *head)
        self._parts = []
        self._head = None
        self._response_literals = self._response_text = 0
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
    "DEFAULT_MAX_RESPONSE_LITERALS",
    "DEFAULT_MAX_RESPONSE_LITERAL_COUNT",
    "Part",
    "RawResponse",
    "ResponseFramer",
    "ResponseKind",
    "classify_line",
    "describe",
    "frame",
    "literal_marker",
]
