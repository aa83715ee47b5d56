"""``imap.lexer`` gives exactly what imapclient's parser gives, or declines.

Every input goes through both: when the fast path answers, imapclient must answer the same
values (compared with their types too, so ``1`` and ``b"1"`` or two time zones never pass as equal);
when imapclient raises, the fast path must decline. Inputs: the shapes a sync sees (which must
take the fast path), hand-written odd cases, and random token soups (hypothesis).
tests/integration/imap/test_lexer.py does the same for a real Dovecot's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_response

from postroom.imap.lexer import Record, read_fetch, read_internaldate, read_values
from postroom.imap.responses import imapclient_fetch


def imapclient_values(records: list[Record]) -> tuple[str, Any]:
    try:
        return "ok", list(parse_response(list(records)))
    except Exception as exc:
        return "error", type(exc).__name__


def imapclient_outcome(seq: int, records: list[Record]) -> tuple[str, Any]:
    try:
        return "ok", (seq, imapclient_fetch(seq, records))
    except Exception as exc:
        return "error", type(exc).__name__


def canonical(value: Any) -> Any:
    """A value with its types spelled out (``1`` and ``b"1"`` differ, a datetime is its ISO
    text with its offset, a BodyData is marked as one), for comparing exactly."""
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, dict):
        return [(canonical(k), canonical(v)) for k, v in value.items()]
    if isinstance(value, tuple | list):
        return (type(value).__name__, [canonical(v) for v in value])
    return (type(value).__name__, value)


def assert_same_values(records: list[Record]) -> list[Any] | None:
    fast = read_values(records)
    if fast is not None:
        expected = imapclient_values(records)
        assert expected == ("ok", fast)
        assert canonical(expected[1]) == canonical(fast)
    return fast


def assert_same_fetch(seq: int, records: list[Record]) -> dict[bytes, Any] | None:
    fast = read_fetch(seq, records)
    if fast is not None:
        expected = imapclient_outcome(seq, records)
        assert expected == ("ok", (seq, fast))
        assert canonical(expected[1][1]) == canonical(fast)
    return fast


HEADER_FIELDS = b"BODY[HEADER.FIELDS (FROM TO CC SUBJECT MESSAGE-ID CONTENT-TYPE)]"
BODYSTRUCTURE = (
    b'(BODYSTRUCTURE ((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 120 4 NIL'
    b' NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "base64" 2048 27 NIL NIL NIL NIL)'
    b' "alternative" ("boundary" "b1") NIL NIL NIL)("application" "pdf" ("name" "cv.pdf") NIL'
    b' NIL "base64" 51200 NIL ("attachment" ("filename" "cv.pdf")) NIL NIL) "mixed"'
    b' ("boundary" "b0") NIL NIL NIL) UID 9)'
)

SYNC_SHAPES: list[tuple[int, list[Record]]] = [
    # the header batch of a first sync
    (
        12,
        [
            (
                b'(UID 7 INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 '
                + HEADER_FIELDS
                + b" {23}",
                b"From: a@example.com\r\n\r\n",
            ),
            b")",
        ],
    ),
    # a BODYSTRUCTURE (multipart, attachment, parameters)
    (3, [BODYSTRUCTURE]),
    # a text part, partial: only the origin is echoed
    (4, [(b"(UID 10 BODY[1]<0> {5}", b"Hello"), b")"]),
    # flags, MODSEQ, X-GUID, EMAILID
    (5, [b"(UID 11 FLAGS (\\Seen $Jobs) MODSEQ (12345) X-GUID 0a1b EMAILID (M6d99ac3275bb))"]),
    # a NIL section, a NIL date, the whole message
    (6, [b"(UID 12 BODY[1] NIL INTERNALDATE NIL)"]),
    (7, [(b"(UID 13 BODY[] {3}", b"abc"), b" RFC822.SIZE 3)"]),
    # an unsolicited FLAGS without UID
    (8, [b"(FLAGS ())"]),
]


@pytest.mark.parametrize(("seq", "records"), SYNC_SHAPES)
def test_the_shapes_of_a_sync_take_the_fast_path(seq: int, records: list[Record]) -> None:
    assert assert_same_fetch(seq, records) is not None


def test_values_are_built_as_imapclient_builds_them() -> None:
    records: list[Record] = [
        b'NIL nil 0 00 007 12 "12" "NIL" "" "a\\"b" "a\\\\b" "a\\qb" [X y] A[B (C)]<1> x} ]'
        b" (1 (2 (3)) ()) \\Seen $Forwarded x.y-z+1 \x80\xff\x7f"
    ]
    values = assert_same_values(records)
    assert values is not None
    assert values[:9] == [None, b"nil", 0, b"00", b"007", 12, b"12", b"NIL", b""]


def test_a_bodystructure_becomes_imapclient_bodydata() -> None:
    data = assert_same_fetch(3, [BODYSTRUCTURE])
    assert data is not None
    assert data[b"BODYSTRUCTURE"].is_multipart
    assert data[b"UID"] == 9


@pytest.mark.parametrize(
    "records",
    [
        [b"abc%def"],  # % is a token of its own to imapclient
        [b"a\x01b"],  # a control character
        [b'abc"def"'],  # a quote glued to an atom: imapclient rejects it
        [b"BODY[HEADER.FIELDS (A B)"],  # no closing bracket
        [b"(1 2"],  # no closing parenthesis
        [b"1 2)"],  # a stray one
        [b'"no end'],
        [b'"ends in a backslash\\"'],
        [(b"{3} x", b"abc")],  # a literal marker not at the end of its record
        [(b"x {3}", b"abcd")],  # the wrong length
        [(b"x {03}", b"abc")],
        [(b"x {3+}", b"abc")],
        [(b"x", b"abc")],  # a literal without its marker
        [b"x {3}"],  # a marker without its literal
    ],
)
def test_what_the_fast_path_declines(records: list[Record]) -> None:
    assert read_values(records) is None


@pytest.mark.parametrize(
    "records",
    [
        [b"(UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))"],  # imapclient converts it
        [b"(UID)"],  # uneven
        [b"(UID x)"],
        [b"(1 2)"],  # a number as a name
        [b"(UID 1) (UID 2)"],
        [b"UID 1"],
        [b"(BODYSTRUCTURE NIL)"],
        [b"(INTERNALDATE 5)"],
    ],
)
def test_what_the_fetch_fast_path_declines(records: list[Record]) -> None:
    assert read_fetch(1, records) is None


@pytest.mark.parametrize(
    "value",
    [
        b"17-Jul-1996 02:44:25 -0700",
        b" 7-Jul-1996 02:44:25 +0530",
        b"07-Dec-2024 23:59:59 +0000",
        b"29-Feb-2024 00:00:00 +2359",
        b"01-Jan-2000 00:00:00 -0000",  # no known offset: naive, as imapclient reads it
        b"17-jul-1996 02:44:25 -0700",  # the stdlib's forms go to imapclient
        b"17-Jul-0099 02:44:25 -0700",
        b"17 Jul 1996 02:44:25 -0700",
        b"Wed, 17 Jul 1996 02:44:25 -0700",
    ],
)
def test_internaldate_is_read_as_imapclient_reads_it(value: bytes) -> None:
    ours, theirs = read_internaldate(value), parse_to_datetime(value, normalise=False)
    assert ours is not None
    assert (ours.isoformat(), ours.utcoffset()) == (theirs.isoformat(), theirs.utcoffset())


@pytest.mark.parametrize(
    "value", [b"31-Feb-2024 00:00:00 +0000", b"17-Jul-1996 25:44:25 -0700", b"", b"soon"]
)
def test_an_impossible_internaldate_is_none_as_in_imapclient(value: bytes) -> None:
    with pytest.raises(ValueError, match=r"parse|range|must be"):
        parse_to_datetime(value, normalise=False)
    assert read_internaldate(value) is None


def test_a_bad_internaldate_is_none_as_in_imapclient() -> None:
    data = assert_same_fetch(1, [b'(UID 1 INTERNALDATE "not a date")'])
    assert data is not None
    assert data[b"INTERNALDATE"] is None


# --- random token soups -----------------------------------------------------------------------

_ATOM_CHARS = st.sampled_from(list(b"AZaz09.-+\\$*]{}<>:,\x7f\x80\xff"))
_atoms = st.one_of(
    st.lists(_ATOM_CHARS, min_size=1, max_size=6).map(bytes),
    st.sampled_from([b"NIL", b"0", b"00", b"12", b"007", b"{}", b"{5}", b"%", b"\x01"]),
    st.tuples(
        st.lists(_ATOM_CHARS, max_size=4).map(bytes),
        st.lists(st.sampled_from(list(b'AB ()"\\[')), max_size=6).map(bytes),
        st.sampled_from([b"]", b"]<0>", b""]),
    ).map(lambda parts: parts[0] + b"[" + parts[1] + parts[2]),
)
_quoted = st.lists(
    st.sampled_from([b"a", b" ", b"(", b"\\\\", b'\\"', b"\\q", b"\r\n"]), max_size=5
)
_tokens = st.one_of(
    _atoms,
    _quoted.map(lambda parts: b'"' + b"".join(parts) + b'"'),
    st.sampled_from([b"(", b")", b'"', b"\\"]),
)
_separators = st.sampled_from([b" ", b"", b"  ", b"\t", b"\r\n"])


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    records: list[Record] = []
    for _ in range(draw(st.integers(1, 3))):
        tokens = draw(st.lists(st.tuples(_tokens, _separators), max_size=12))
        text = b"".join(token + separator for token, separator in tokens)
        if draw(st.booleans()):
            literal = draw(st.binary(max_size=8))
            size = draw(st.sampled_from([len(literal), len(literal) + 1]))
            records.append((text + b"{%d}" % size, literal))
        else:
            records.append(text)
    return records


@settings(max_examples=1500, deadline=None)
@given(_records())
def test_random_token_soups_give_what_imapclient_gives(records: list[Record]) -> None:
    fast = assert_same_values(records)
    if fast is None and imapclient_values(records)[0] == "ok":
        # declining is allowed only for what the module docstring lists
        text = b"".join(r[0] if isinstance(r, tuple) else r for r in records)
        assert any(c in text for c in b'%\x01"[({)}\\') or any(
            isinstance(r, tuple) for r in records
        )


@settings(max_examples=500, deadline=None)
@given(_records(), st.integers(1, 99))
def test_random_fetch_soups_give_what_imapclient_gives(records: list[Record], seq: int) -> None:
    first = records[0]
    head = (b"(" + first[0], first[1]) if isinstance(first, tuple) else b"(UID 5 " + first
    assert_same_fetch(seq, [head, *records[1:], b")"])
