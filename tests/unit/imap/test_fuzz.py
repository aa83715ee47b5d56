"""Fuzz tests of the framing and the response parser under small limits (issue 11, item 12).

Whatever a server sends, ``ResponseFramer`` and ``parse_untagged`` raise nothing but
``ProtocolError`` (``LimitExceeded`` is one), hold no more than the limits allow, give numbers
only within their RFC ranges, and frame the same way however the bytes are cut into chunks;
valid responses come back as they were sent. Three kinds of input: arbitrary bytes,
near-valid responses (real shapes with numbers at and beyond their ranges, then damaged), and
valid responses.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.imap.errors import ProtocolError
from postroom.imap.framing import RawResponse, ResponseFramer, ResponseKind
from postroom.imap.limits import MODSEQ_MAX, NUMBER_MAX, Limits
from postroom.imap.responses import (
    ESearchResult,
    Exists,
    Expunge,
    FetchItem,
    SearchResult,
    StatusUpdate,
    Untagged,
    Vanished,
    merge_ranges,
    parse_tagged,
    parse_untagged,
    selected_folder,
    to_event,
)

LIMITS = Limits(
    max_line=3000,
    max_literal=600,
    max_response_literals=1000,
    max_response_literal_count=6,
    max_set_ranges=40,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def new_framer() -> ResponseFramer:
    return ResponseFramer(
        max_line=LIMITS.max_line,
        max_literal=LIMITS.max_literal,
        max_response_literals=LIMITS.max_response_literals,
        max_response_literal_count=LIMITS.max_response_literal_count,
    )


def feed(data: bytes, cuts: list[int]) -> tuple[list[RawResponse], ProtocolError | None]:
    """Feed ``data`` cut at ``cuts``; check the memory bound after every chunk."""
    framer = new_framer()
    responses: list[RawResponse] = []
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    try:
        for start, end in itertools.pairwise(bounds):
            responses += framer.feed(data[start:end])
            assert framer.buffered <= LIMITS.max_line + LIMITS.max_response_literals
    except ProtocolError as exc:
        return responses, exc
    return responses, None


def check_response(response: RawResponse) -> None:
    """The bounds of one framed response, and its parse: ProtocolError or values in range."""
    literals = response.literals
    assert len(literals) <= LIMITS.max_response_literal_count
    assert sum(map(len, literals)) <= LIMITS.max_response_literals
    assert all(len(literal) <= LIMITS.max_literal for literal in literals)
    text = sum(len(p) if isinstance(p, bytes) else len(p[0]) for p in response.parts)
    assert text <= LIMITS.max_line
    if response.kind is ResponseKind.TAGGED:
        with contextlib.suppress(ProtocolError):
            parse_tagged(response)
        return
    if response.kind is not ResponseKind.UNTAGGED:
        return
    try:
        typed = parse_untagged(response, max_set_ranges=LIMITS.max_set_ranges)
    except ProtocolError:
        return
    check_values(typed)
    to_event(response, typed)


def in_set_range(ranges: Any) -> bool:
    return len(ranges) <= LIMITS.max_set_ranges and all(
        1 <= low <= high <= NUMBER_MAX for low, high in ranges
    )


def check_values(typed: Untagged) -> None:
    if isinstance(typed, Exists):
        assert 0 <= typed.count <= NUMBER_MAX
    elif isinstance(typed, Expunge):
        assert 1 <= typed.seq <= NUMBER_MAX
    elif isinstance(typed, FetchItem):
        assert 0 <= typed.uid <= NUMBER_MAX
        assert typed.modseq is None or 0 <= typed.modseq <= MODSEQ_MAX
        assert typed.size is None or 0 <= typed.size <= NUMBER_MAX
    elif isinstance(typed, SearchResult):
        assert in_set_range(typed.ranges)
        assert typed.modseq is None or 0 <= typed.modseq <= MODSEQ_MAX
    elif isinstance(typed, ESearchResult):
        assert in_set_range(typed.all)
        assert typed.modseq is None or 0 <= typed.modseq <= MODSEQ_MAX
    elif isinstance(typed, Vanished):
        assert in_set_range(typed.ranges)
    elif isinstance(typed, StatusUpdate):
        assert all(0 <= value <= MODSEQ_MAX for value in typed.values.values())


def check_all(data: bytes, cuts: list[int]) -> list[RawResponse]:
    responses, error = feed(data, cuts)
    whole, whole_error = feed(data, [])
    # chunking changes nothing (a chunk that fails loses the responses it completed)
    assert [r.parts for r in whole] == [r.parts for r in responses[: len(whole)]]
    assert (error is None) == (whole_error is None)
    if error is None:
        assert len(whole) == len(responses)
    for response in responses:
        check_response(response)
    untagged = []
    for response in responses:
        if response.kind is ResponseKind.UNTAGGED:
            with contextlib.suppress(ProtocolError):
                untagged.append(parse_untagged(response, max_set_ranges=LIMITS.max_set_ranges))
    completion = parse_tagged(RawResponse((b"A1 OK done",), ResponseKind.TAGGED, b"A1", "OK"))
    try:
        selected = selected_folder(untagged, completion)
    except ProtocolError:
        return responses
    assert 1 <= selected.uidvalidity <= NUMBER_MAX
    assert selected.uidnext is None or 1 <= selected.uidnext <= NUMBER_MAX
    assert selected.highestmodseq is None or 0 <= selected.highestmodseq <= MODSEQ_MAX
    return responses


cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)


# --- arbitrary bytes ------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4000), cuts)
def test_arbitrary_bytes_raise_only_protocol_errors_and_stay_within_the_limits(data, cuts):
    check_all(data, cuts)


TOKENS = b'* |A1 |+ |{|}|~{|+}|0|1|5|9|\r\n|\n| |"|\\|(|)|[|]|x|FETCH|EXISTS|OK|BYE'.split(b"|")
alphabet = st.sampled_from(TOKENS)


@FUZZ
@given(st.lists(alphabet, max_size=300).map(b"".join), cuts)
def test_bytes_from_imap_tokens_raise_only_protocol_errors(data, cuts):
    check_all(data, cuts)


# --- near-valid responses -------------------------------------------------------------------

EDGES = [0, 1, 2, NUMBER_MAX, NUMBER_MAX + 1, MODSEQ_MAX, MODSEQ_MAX + 1, 2**64, 10**30]
number = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=2**70))
small = st.integers(min_value=1, max_value=300)


def uid_set(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(st.tuples(number, st.none() | number), min_size=1, max_size=60))
    return b",".join(b"%d" % a if b is None else b"%d:%d" % (a, b) for a, b in items)


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    literal = draw(st.binary(max_size=700))
    announced = draw(st.sampled_from([len(literal), len(literal) + 1, max(len(literal) - 1, 0)]))
    marker = draw(st.sampled_from([b"{%d}", b"{%d+}", b"~{%d}"])) % announced
    shapes = [
        b"* %d EXISTS" % draw(number),
        b"* %d EXPUNGE" % draw(number),
        b"* %d RECENT" % draw(number),
        b"* %d FETCH (UID %d MODSEQ (%d) FLAGS (\\Seen) RFC822.SIZE %d BODY[] %s\r\n%s)"
        % (draw(small), draw(number), draw(number), draw(number), marker, literal),
        b"* %d FETCH (UID %d BODY[1] %s\r\n%s BODY[2] %s\r\n%s)"
        % (draw(small), draw(number), marker, literal, marker, literal),
        b"* SEARCH " + b" ".join(b"%d" % n for n in draw(st.lists(number, max_size=60))),
        b"* SEARCH %d (MODSEQ %d)" % (draw(number), draw(number)),
        b'* ESEARCH (TAG "A1") UID ALL ' + uid_set(draw),
        b'* ESEARCH (TAG "A1") UID MIN %d MAX %d COUNT %d MODSEQ %d'
        % (draw(number), draw(number), draw(number), draw(number)),
        b"* VANISHED (EARLIER) " + uid_set(draw),
        b"* OK [UIDVALIDITY %d] ok" % draw(number),
        b"* OK [UIDNEXT %d] ok" % draw(number),
        b"* OK [HIGHESTMODSEQ %d] ok" % draw(number),
        b'* STATUS "INBOX" (MESSAGES %d UIDNEXT %d UIDVALIDITY %d HIGHESTMODSEQ %d)'
        % (draw(number), draw(number), draw(number), draw(number)),
        b'* LIST (\\HasNoChildren) "/" %s\r\n%s' % (marker, literal),
        b"A1 OK [HIGHESTMODSEQ %d] done" % draw(number),
    ]
    chosen = draw(st.lists(st.sampled_from(shapes), min_size=1, max_size=6))
    data = bytearray(b"\r\n".join(chosen) + b"\r\n")
    for _ in range(draw(st.integers(min_value=0, max_value=3))):  # damage it
        at = draw(st.integers(min_value=0, max_value=len(data)))
        if draw(st.booleans()):
            del data[at : at + draw(st.integers(min_value=1, max_value=8))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@settings(FUZZ, max_examples=150)
@given(near_valid(), cuts)
def test_near_valid_responses_raise_only_protocol_errors_and_keep_numbers_in_range(data, cuts):
    check_all(data, cuts)


# --- valid responses round-trip -------------------------------------------------------------

uid = st.integers(min_value=1, max_value=NUMBER_MAX)
modseq = st.integers(min_value=0, max_value=MODSEQ_MAX)


@st.composite
def valid(draw: st.DrawFn) -> tuple[bytes, Any]:
    kind = draw(st.sampled_from(["fetch", "search", "esearch", "exists", "vanished"]))
    if kind == "fetch":
        values = (draw(uid), draw(modseq), draw(st.binary(max_size=LIMITS.max_literal)))
        data = b"* 1 FETCH (UID %d MODSEQ (%d) BODY[] {%d}\r\n%s)" % (
            values[0],
            values[1],
            len(values[2]),
            values[2],
        )
        return data, ("fetch", values)
    if kind == "search":
        numbers = draw(st.lists(uid, max_size=30))
        data = b"* SEARCH" + b"".join(b" %d" % n for n in numbers)
        return data, ("search", tuple(merge_ranges((n, n) for n in numbers)))
    if kind == "esearch" or kind == "vanished":
        pairs = draw(st.lists(st.tuples(uid, uid), min_size=1, max_size=LIMITS.max_set_ranges))
        ranges = tuple((min(a, b), max(a, b)) for a, b in pairs)
        text = b",".join(b"%d" % a if a == b else b"%d:%d" % (a, b) for a, b in ranges)
        head = b'* ESEARCH (TAG "A7") UID ALL ' if kind == "esearch" else b"* VANISHED "
        return head + text, (kind, ranges)
    count = draw(st.integers(min_value=0, max_value=NUMBER_MAX))
    return b"* %d EXISTS" % count, ("exists", count)


@settings(FUZZ, max_examples=100)
@given(st.lists(valid(), min_size=1, max_size=5), cuts)
def test_valid_responses_round_trip(cases, cuts):
    data = b"".join(wire + b"\r\n" for wire, _ in cases)
    responses, error = feed(data, cuts)
    assert error is None
    assert [r.to_bytes() for r in responses] == [wire for wire, _ in cases]
    for response, (_, (kind, expected)) in zip(responses, cases, strict=True):
        typed = parse_untagged(response, max_set_ranges=LIMITS.max_set_ranges)
        if kind == "fetch":
            assert isinstance(typed, FetchItem)
            assert (typed.uid, typed.modseq, typed.section("BODY.PEEK[]")) == expected
        elif kind == "search":
            assert typed == SearchResult(expected)
        elif kind == "esearch":
            assert isinstance(typed, ESearchResult)
            assert (typed.tag, typed.uid, typed.all) == (b"A7", True, expected)
        elif kind == "vanished":
            assert typed == Vanished(expected, earlier=False)
        else:
            assert typed == Exists(expected)
