"""Tests for postroom.imap.framing: recorded server transcripts cut into responses (no sockets)."""

from __future__ import annotations

import doctest
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.imap.errors import LimitExceeded, ProtocolError
from postroom.imap.framing import (
    RawResponse,
    ResponseFramer,
    ResponseKind,
    classify_line,
    describe,
    frame,
    literal_marker,
)
from postroom.imap.responses import parse_fetch

# A UID FETCH as Dovecot sends it: header literal, a partial body literal, BODYSTRUCTURE, and an
# ENVELOPE whose subject is a literal and whose other strings hold "* ", parens and "{5}".
HEADER = b"From: Anna <anna@example.com>\r\nSubject: Hi {5}\r\n\r\n"
BODY = b"line one\r\n) {3}\r\n* 2 EXPUNGE\r\nA0001 OK not really\r\n"
SUBJECT = b'Re: "quoted" (parens) * star {9}'
TRANSCRIPT = (
    b"* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n%s"
    b" BODY[1]<0> {%d}\r\n%s"
    b' ENVELOPE ("Mon, 1 Jan 2026 10:00:00 +0000" {%d}\r\n%s'
    b' (("Anna (the {5} one) * x" NIL "anna" "example.com")) NIL NIL NIL NIL NIL NIL'
    b' "<m1@example.com>"))\r\n'
    b"* 3 FETCH (UID 9 FLAGS ())\r\n"
    b"A0005 OK Fetch completed.\r\n"
) % (len(HEADER), HEADER, len(BODY), BODY, len(SUBJECT), SUBJECT)


def test_a_fetch_with_several_literals_is_one_response_with_imapclient_records():
    first, second, done = frame(TRANSCRIPT)
    assert first.kind is ResponseKind.UNTAGGED
    assert (first.keyword, first.number) == ("FETCH", 1)
    assert first.literals == [HEADER, BODY, SUBJECT]
    assert first.parts[0] == (
        b"* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}" % len(HEADER),
        HEADER,
    )
    assert first.parts[1] == (b" BODY[1]<0> {%d}" % len(BODY), BODY)
    assert first.parts[-1].startswith(b' (("Anna (the {5} one) * x"')  # type: ignore[union-attr]
    assert (second.keyword, second.number) == ("FETCH", 3)
    assert done.kind is ResponseKind.TAGGED
    assert (done.tag, done.keyword) == (b"A0005", "OK")
    assert done.text_after_keyword() == b"Fetch completed."


def test_response_text_is_never_changed_envelope_strings_keep_stars_and_parens():
    item = parse_fetch(frame(TRANSCRIPT)[0])
    assert item.envelope is not None
    assert item.envelope.subject == SUBJECT
    assert item.envelope.from_ is not None
    assert item.envelope.from_[0].name == b"Anna (the {5} one) * x"
    assert item.section("BODY.PEEK[1]<0.100>") == BODY
    assert frame(TRANSCRIPT)[0].to_bytes().replace(b"\r\n", b"\n") == TRANSCRIPT.split(
        b"\r\n* 3 FETCH"
    )[0].replace(b"\r\n", b"\n")


def test_split_at_every_byte_boundary_gives_the_same_responses():
    expected = frame(TRANSCRIPT)
    for cut in range(len(TRANSCRIPT) + 1):
        framer = ResponseFramer()
        got = framer.feed(TRANSCRIPT[:cut]) + framer.feed(TRANSCRIPT[cut:])
        assert got == expected, cut
        assert not framer.in_response


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=len(TRANSCRIPT)), max_size=40))
def test_any_chunking_gives_the_same_responses(cuts):
    points = sorted({0, len(TRANSCRIPT), *cuts})
    framer = ResponseFramer()
    got: list[RawResponse] = []
    for start, end in itertools.pairwise(points):
        got += framer.feed(TRANSCRIPT[start:end])
    assert got == frame(TRANSCRIPT)


def test_one_byte_at_a_time():
    framer = ResponseFramer()
    got: list[RawResponse] = []
    for i in range(len(TRANSCRIPT)):
        got += framer.feed(TRANSCRIPT[i : i + 1])
    assert got == frame(TRANSCRIPT)


def test_literal8_marker_is_rewritten_for_the_parser():
    data = b"* 4 FETCH (UID 12 BINARY[1] ~{5}\r\nh\x00llo)\r\n"
    (response,) = frame(data)
    assert response.parts[0] == (b"* 4 FETCH (UID 12 BINARY[1] {5}", b"h\x00llo")
    assert parse_fetch(response).sections == {"BINARY[1]": b"h\x00llo"}


def test_non_synchronising_marker_from_a_server_is_framed_too():
    (response,) = frame(b"* 4 FETCH (UID 12 BODY[] {3+}\r\nabc)\r\n")
    assert response.parts == ((b"* 4 FETCH (UID 12 BODY[] {3}", b"abc"), b")")
    assert parse_fetch(response).section("BODY[]") == b"abc"


def test_an_empty_literal():
    (response,) = frame(b"* 1 FETCH (UID 3 BODY[1] {0}\r\n FLAGS ())\r\n")
    assert response.parts == ((b"* 1 FETCH (UID 3 BODY[1] {0}", b""), b" FLAGS ())")
    assert parse_fetch(response).sections == {"BODY[1]": b""}


def test_two_literals_back_to_back_and_a_line_ending_right_after_a_literal():
    data = b"* LIST () {1}\r\n/ {4}\r\nab c\r\n"
    (response,) = frame(data)
    assert response.parts == ((b"* LIST () {1}", b"/"), (b" {4}", b"ab c"))


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        (b"* 1 FETCH (BODY[] {5}", (5, 18)),
        (b"* 1 FETCH (BINARY[1] ~{12}", (12, 21)),
        (b"* 1 FETCH (BODY[] {0}", (0, 18)),
        (b"* 1 FETCH (BODY[] {5+}", (5, 18)),
        (b'* 1 FETCH (X "abc {5}', None),  # inside an open quoted string
        (b'* 1 FETCH (X "a\\"b {5}', None),  # the escaped quote does not close it
        (b'* 1 FETCH (X "a\\"b" {5}', (5, 20)),
        (b'* 1 FETCH (X "a\\\\" {5}', (5, 19)),  # escaped backslash, then the closing quote
        (b"* 1 FETCH (X {abc}", None),
        (b"* 1 FETCH (X {}", None),
        (b"* 1 FETCH (X 5}", None),
        (b"* 1 FETCH (X {5} Y", None),  # a marker only counts at the end of the line
    ],
)
def test_literal_marker(segment, expected):
    assert literal_marker(segment) == expected


def test_status_responses_and_continuations_never_carry_literals():
    data = (
        b"* OK [ALERT] your quota is at {90}\r\n"
        b"+ send the rest {3}\r\n"
        b"A0002 NO [LIMIT] too many {2}\r\n"
        b"* BYE going away {7}\r\n"
    )
    responses = frame(data)
    assert [r.kind for r in responses] == [
        ResponseKind.UNTAGGED,
        ResponseKind.CONTINUATION,
        ResponseKind.TAGGED,
        ResponseKind.UNTAGGED,
    ]
    assert all(not r.literals for r in responses)


def test_a_quoted_brace_that_is_not_a_literal_keeps_the_line_whole():
    data = b'* 2 FETCH (UID 5 X-GM-LABELS ("Jobs {2}" "\\\\Inbox"))\r\n* 3 EXISTS\r\n'
    first, second = frame(data)
    assert first.parts == (data.split(b"\r\n")[0],)
    assert (second.keyword, second.number) == ("EXISTS", 3)


def test_bare_lf_and_empty_lines_between_responses():
    responses = frame(b"* 3 EXISTS\n\r\n\n* 1 RECENT\r\n")
    assert [(r.keyword, r.number) for r in responses] == [("EXISTS", 3), ("RECENT", 1)]


def test_classify_line():
    untagged, tagged, continuation = (
        ResponseKind.UNTAGGED,
        ResponseKind.TAGGED,
        ResponseKind.CONTINUATION,
    )
    assert classify_line(b"* 12 FETCH (UID 1)") == (untagged, b"*", "FETCH", 12, 11)
    assert classify_line(b"* OK [UIDNEXT 4] x") == (untagged, b"*", "OK", None, 5)
    assert classify_line(b"* 3 exists") == (untagged, b"*", "EXISTS", 3, 10)
    assert classify_line(b"+ idling") == (continuation, b"+", "", None, 2)
    assert classify_line(b"+") == (continuation, b"+", "", None, 1)
    assert classify_line(b"A0001 ok done") == (tagged, b"A0001", "OK", None, 9)
    assert classify_line(b"A0001") == (tagged, b"A0001", "", None, 5)
    assert classify_line(b"* SEARCH") == (untagged, b"*", "SEARCH", None, 8)
    assert classify_line(b"* 3") == (untagged, b"*", "3", None, 3)


def test_text_after_keyword():
    tagged, untagged, numbered = frame(
        b"A0001 OK [READ-ONLY] done\r\n* OK [UIDNEXT 4] Predicted\r\n* 3 EXISTS\r\n"
    )
    assert tagged.text_after_keyword() == b"[READ-ONLY] done"
    assert untagged.text_after_keyword() == b"[UIDNEXT 4] Predicted"
    assert numbered.text_after_keyword() == b""


def test_a_line_over_the_limit_is_a_protocol_error_even_before_its_end_arrives():
    framer = ResponseFramer(max_line=100)
    framer.feed(b"* SEARCH " + b"1 " * 30)
    with pytest.raises(ProtocolError):
        framer.feed(b"1 " * 30)


def test_a_literal_over_the_limit_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        ResponseFramer(max_literal=10).feed(b"* 1 FETCH (BODY[] {11}\r\n")


def test_the_literals_of_one_response_are_bounded_together_before_they_arrive():
    framer = ResponseFramer(max_literal=100, max_response_literals=150)
    framer.feed(b"* 1 FETCH (BODY[1] {100}\r\n" + b"a" * 100)
    with pytest.raises(LimitExceeded, match="add up to more than 150"):
        framer.feed(b" BODY[2] {60}\r\n")  # refused on the marker, nothing of it read
    ok = ResponseFramer(max_literal=100, max_response_literals=150)
    two = b"* 1 FETCH (BODY[1] {100}\r\n%s)\r\n* 2 FETCH (BODY[1] {100}\r\n%s)\r\n"
    assert len(ok.feed(two % (b"a" * 100, b"b" * 100))) == 2  # the total is per response


def test_the_literal_count_and_text_of_one_response_are_bounded():
    framer = ResponseFramer(max_response_literal_count=3)
    with pytest.raises(LimitExceeded, match="more than 3 literals"):
        framer.feed(b"* 1 FETCH (A {0}\r\n B {0}\r\n C {0}\r\n D {0}\r\n")
    framer = ResponseFramer(max_line=50)
    with pytest.raises(LimitExceeded, match="longer than 50"):  # short lines, long response
        framer.feed(b"* 1 FETCH (A {1}\r\nx" + b" B {1}\r\nx" * 10)


@pytest.mark.parametrize(
    "data",
    [
        b"* 4294967296 EXISTS\r\n",
        b"* " + b"9" * 5000 + b" EXISTS\r\n",
        b"* 1 FETCH (A {4294967296}\r\n",
    ],
)
def test_numbers_beyond_32_bits_are_protocol_errors(data):
    with pytest.raises(ProtocolError, match="out of range"):
        ResponseFramer().feed(data)


def test_frame_refuses_a_transcript_that_stops_mid_response():
    with pytest.raises(ProtocolError):
        frame(b"* 1 FETCH (BODY[] {5}\r\nabc")


def test_large_responses_are_framed_in_linear_time():
    # 20,000 FETCH responses with a literal each, fed in 64 KiB chunks: fast, and no rescans
    one = b"* %d FETCH (UID %d BODY[HEADER] {40}\r\n" + b"x" * 38 + b"\r\n)\r\n"
    data = b"".join(one % (i, i) for i in range(1, 20_001))
    framer = ResponseFramer()
    count = 0
    for start in range(0, len(data), 65536):
        count += len(framer.feed(data[start : start + 65536]))
    assert count == 20_000
    assert framer.buffered == 0


def test_describe_shows_literal_sizes_not_their_content():
    (response,) = frame(b"* 1 FETCH (BODY[] {6}\r\nsecret)\r\n")
    lines = list(describe(response))
    assert lines == ["* 1 FETCH (BODY[] {6}", "[literal: 6 octets]", ")"]


def test_the_docstring_examples_run():
    from postroom.imap import framing

    assert doctest.testmod(framing).failed == 0
