"""Tests for postroom.imap.commands: quoting, mailbox names, UID sets, command lines."""

from __future__ import annotations

import base64
import doctest
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.imap import commands
from postroom.imap.commands import (
    MAX_LINE,
    Command,
    Literal,
    build_uid_fetch,
    check_fetch_items,
    compress_uids,
    describe_command,
    encode_command,
    encode_mailbox,
    format_uid_set,
    is_inbox,
    mailbox_argument,
    quote,
    split_uid_set,
    string_argument,
)

# --- strings and names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inbox"),
    [
        ("INBOX", True),
        ("inbox", True),
        ("InBoX", True),
        (b"Inbox", True),
        ("INBOX.Sent", False),  # only INBOX itself is case-insensitive (RFC 9051 section 5.1)
        ("inbox/Jobs", False),
        ("Inbox ", False),
        ("Posteingang", False),
        (b"", False),
    ],
)
def test_inbox_is_inbox_in_any_case_and_nothing_else_is(name: str | bytes, inbox: bool) -> None:
    assert is_inbox(name) is inbox
    assert (encode_mailbox(name) == b"INBOX") is inbox


def test_quote_escapes_backslash_and_double_quote():
    assert quote('a "b" \\c') == b'"a \\"b\\" \\\\c"'
    assert quote("") == b'""'


@pytest.mark.parametrize("value", ["line\r\nbreak", "pässword", "a\x00b"])
def test_quote_refuses_what_needs_a_literal(value):
    with pytest.raises(ValueError, match="literal"):
        quote(value)


def test_string_argument_uses_a_literal_for_8bit_and_line_breaks():
    assert string_argument("plain") == b'"plain"'
    assert string_argument("pässword") == Literal("pässword".encode())
    assert string_argument(b"two\r\nlines") == Literal(b"two\r\nlines")
    with pytest.raises(ValueError, match="NUL"):
        string_argument("a\x00b")


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", b"INBOX"),
        ("inbox", b"INBOX"),
        ("Sent Items", b"Sent Items"),
        ("Entwürfe", b"Entw&APw-rfe"),
        ("Tom & Jerry", b"Tom &- Jerry"),
        ("日本語", b"&ZeVnLIqe-"),
        ("INBOX/Bewerbungen/Köln", b"INBOX/Bewerbungen/K&APY-ln"),
        (b"Already&AOQ-encoded", b"Already&AOQ-encoded"),
    ],
)
def test_encode_mailbox_modified_utf7(name, wire):
    assert encode_mailbox(name) == wire


def test_mailbox_argument_quotes_and_falls_back_to_a_literal_for_raw_8bit_names():
    assert mailbox_argument('My "Box"') == b'"My \\"Box\\""'
    assert mailbox_argument("Entwürfe") == b'"Entw&APw-rfe"'
    assert mailbox_argument(b"Bewerbungen" + b"\xc3\xa4") == Literal(b"Bewerbungen\xc3\xa4")


# --- encoding whole commands ----------------------------------------------------------------


def test_synchronising_literals_split_the_command_into_chunks():
    command = commands.login("anna", "pässword")
    chunks = encode_command(b"A0001", command, literal_plus=False)
    assert chunks == [b'A0001 LOGIN "anna" {9}\r\n', "pässword".encode() + b"\r\n"]


def test_literal_plus_sends_one_chunk():
    command = commands.login("anna", "pässword")
    assert encode_command(b"A0001", command, literal_plus=True) == [
        b'A0001 LOGIN "anna" {9+}\r\n' + "pässword".encode() + b"\r\n"
    ]


def test_literal_minus_only_up_to_4096_octets():
    small, large = Literal(b"x" * 4096), Literal(b"y" * 4097)
    chunks = encode_command(
        b"A1", Command("X", (small, large)), literal_plus=False, literal_minus=True
    )
    assert chunks[0].startswith(b"A1 X {4096+}\r\n" + b"x" * 4096 + b" {4097}\r\n")
    assert chunks[1] == b"y" * 4097 + b"\r\n"


def test_describe_command_redacts_credentials_and_shows_literal_sizes():
    assert describe_command(b"A1", commands.login("anna", "secret")) == "A1 LOGIN [redacted]"
    assert describe_command(
        b"A2", commands.authenticate_plain("a", "s", initial_response=True)
    ) == ("A2 AUTHENTICATE [redacted]")
    shown = describe_command(b"A3", commands.examine(b"Caf\xc3\xa9"))
    assert shown == "A3 EXAMINE {5} [literal: 5 octets]"


def test_sasl_plain_is_nul_separated_utf8():
    decoded = base64.b64decode(commands.sasl_plain("anna@example.com", "pässwörd"))
    assert decoded == b"\x00anna@example.com\x00" + "pässwörd".encode()


def test_authenticate_plain_with_and_without_initial_response():
    with_ir = commands.authenticate_plain("u", "p", initial_response=True)
    assert with_ir.arguments == (b"PLAIN", base64.b64encode(b"\x00u\x00p"))
    assert commands.authenticate_plain("u", "p", initial_response=False).arguments == (b"PLAIN",)


def test_id_has_no_spaces_inside_the_parentheses():
    command = commands.id_command({"name": "postroom", "version": "0.1.0"})
    assert encode_command(b"A1", command, literal_plus=False) == [
        b'A1 ID ("name" "postroom" "version" "0.1.0")\r\n'
    ]
    assert encode_command(b"A1", commands.id_command({}), literal_plus=False) == [b"A1 ID NIL\r\n"]


def test_examine_parameters():
    def line(command: Command) -> bytes:
        return encode_command(b"A1", command, literal_plus=True)[0]

    assert line(commands.examine("INBOX")) == b'A1 EXAMINE "INBOX"\r\n'
    assert line(commands.examine("Sent", condstore=True)) == b'A1 EXAMINE "Sent" (CONDSTORE)\r\n'
    assert line(commands.examine("Sent", qresync=(3857529045, 20010715194045007))) == (
        b'A1 EXAMINE "Sent" (QRESYNC (3857529045 20010715194045007))\r\n'
    )
    with pytest.raises(ValueError, match="QRESYNC"):
        commands.examine("Sent", qresync=(0, 5))


def test_list_status_enable_search():
    def line(command: Command) -> bytes:
        return encode_command(b"A1", command, literal_plus=True)[0]

    assert line(commands.list_folders(special_use=False)) == b'A1 LIST "" "*"\r\n'
    assert line(commands.list_folders(special_use=True)) == (
        b'A1 LIST "" "*" RETURN (SPECIAL-USE)\r\n'
    )
    assert line(commands.status("Entwürfe", ["messages", "UIDNEXT"])) == (
        b'A1 STATUS "Entw&APw-rfe" (MESSAGES UIDNEXT)\r\n'
    )
    assert line(commands.enable(["QRESYNC"])) == b"A1 ENABLE QRESYNC\r\n"
    assert line(commands.uid_search("UID 5:4294967295", esearch=True)) == (
        b"A1 UID SEARCH RETURN (ALL) UID 5:4294967295\r\n"
    )
    assert line(commands.uid_search("SINCE 1-Jan-2026", esearch=False)) == (
        b"A1 UID SEARCH SINCE 1-Jan-2026\r\n"
    )


@pytest.mark.parametrize("criteria", ["", "ALL\r\nA2 LOGOUT", "SUBJECT Köln", "   "])
def test_search_criteria_must_be_one_line_of_ascii(criteria):
    with pytest.raises(ValueError, match="criteria"):
        commands.uid_search(criteria, esearch=True)


@pytest.mark.parametrize("items", [["BOGUS"], []])
def test_status_items_are_checked(items):
    with pytest.raises(ValueError, match="STATUS"):
        commands.status("INBOX", items)


@pytest.mark.parametrize("word", ["QRESYNC (x)", "", 'A"B'])
def test_enable_takes_atoms_only(word):
    with pytest.raises(ValueError, match="atom"):
        commands.enable([word])


# --- UID sets -------------------------------------------------------------------------------


def test_compress_uids():
    assert compress_uids([]) == []
    assert compress_uids([5]) == ["5"]
    assert compress_uids([3, 1, 2, 2, 7, 9, 8, 20]) == ["1:3", "7:9", "20"]
    assert format_uid_set([4294967295, 4294967294]) == "4294967294:4294967295"
    with pytest.raises(ValueError, match="empty"):
        format_uid_set([])
    with pytest.raises(ValueError, match="UIDs"):
        compress_uids([0, 1])


def expand(uid_set: str) -> list[int]:
    out: list[int] = []
    for token in uid_set.split(","):
        low, _, high = token.partition(":")
        out += range(int(low), int(high or low) + 1)
    return out


@given(st.sets(st.integers(min_value=1, max_value=5000), max_size=400), st.integers(10, 200))
def test_split_uid_set_covers_every_uid_once_within_the_length(uids, max_length):
    chunks = split_uid_set(uids, max_length)
    assert all(len(chunk) <= max_length for chunk in chunks)
    assert [uid for chunk in chunks for uid in expand(chunk)] == sorted(uids)


def test_a_long_scattered_uid_list_is_split_into_lines_of_at_most_8k():
    uids = list(range(1, 200_000, 2))  # nothing to compress
    items = ["UID", "FLAGS", "BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)]"]
    built = build_uid_fetch(uids, items, changedsince=17)
    assert len(built) > 10
    sent: list[int] = []
    for command in built:
        (line,) = encode_command(b"A99999", command, literal_plus=False)
        assert len(line) <= MAX_LINE
        assert line.endswith(b" (CHANGEDSINCE 17)\r\n")
        sent += expand(command.arguments[0].decode())  # type: ignore[union-attr]
    assert sent == uids
    assert len(encode_command(b"A99999", built[0], literal_plus=False)[0]) > MAX_LINE - 40


def test_uid_fetch_line_format():
    (command,) = build_uid_fetch(
        [1, 2, 3, 9], ["UID", "FLAGS", "MODSEQ"], changedsince=5, vanished=True
    )
    assert encode_command(b"A7", command, literal_plus=False) == [
        b"A7 UID FETCH 1:3,9 (UID FLAGS MODSEQ) (CHANGEDSINCE 5 VANISHED)\r\n"
    ]
    assert build_uid_fetch([], ["FLAGS"]) == []
    (text_set,) = build_uid_fetch("1:*", ["FLAGS"])
    assert text_set.arguments[0] == b"1:*"
    with pytest.raises(ValueError, match="UID set"):
        build_uid_fetch("1:5 (X)", ["FLAGS"])
    with pytest.raises(ValueError, match="CHANGEDSINCE"):
        build_uid_fetch([1], ["FLAGS"], vanished=True)


# --- FETCH items ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item", ["BODY[]", "body[header]", "BODY[1.2]<0.100>", "RFC822", "rfc822.text", "BINARY[1]"]
)
def test_items_that_would_set_seen_are_refused(item):
    with pytest.raises(ValueError, match=re.escape("\\Seen")):
        check_fetch_items(["UID", item])


@pytest.mark.parametrize(
    "item",
    [
        "BODY.PEEK[]",
        "BODY.PEEK[HEADER.FIELDS (FROM TO)]",
        "BODY.PEEK[1.2]<0.262144>",
        "BINARY.PEEK[1]",
        "RFC822.SIZE",
        "RFC822.HEADER",
        "BODY",
        "BODYSTRUCTURE",
        "ENVELOPE",
    ],
)
def test_peeking_items_are_allowed(item):
    assert check_fetch_items([item]) == [item]


@pytest.mark.parametrize("items", [[], ["FLAGS\r\nA2 LOGOUT"], ["BODY.PEEK[HEADER.FIELDS (Köln)]"]])
def test_malformed_items_are_refused(items):
    with pytest.raises(ValueError, match="FETCH item"):
        check_fetch_items(items)


def test_required_capabilities():
    assert commands.required_capabilities(
        ["UID", "MODSEQ", "emailid", "X-GM-MSGID", "BINARY.PEEK[1]", "PREVIEW", "X-GUID"]
    ) == {"CONDSTORE", "OBJECTID", "X-GM-EXT-1", "BINARY", "PREVIEW"}
    assert commands.required_capabilities(["UID", "FLAGS", "BODY.PEEK[]"]) == set()


def test_the_docstring_examples_run():
    from postroom.imap import commands

    assert doctest.testmod(commands).failed == 0
