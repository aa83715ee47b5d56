"""Tests for postroom.imap.commands: quoting, mailbox names, UID sets, command lines."""

from __future__ import annotations

import base64
import datetime as dt
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
    build_uid_copy,
    build_uid_expunge,
    build_uid_fetch,
    build_uid_move,
    build_uid_store,
    check_fetch_items,
    check_flags,
    compress_uids,
    describe_command,
    encode_command,
    encode_mailbox,
    format_internaldate,
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


# --- commands that change a mailbox (imap.writing) ------------------------------------------


def lines(built: list[Command]) -> list[bytes]:
    return [b"".join(encode_command(b"A1", command, literal_plus=True)) for command in built]


def test_select_is_read_write_with_the_name_quoted_in_modified_utf7():
    assert lines([commands.select("inbox")]) == [b'A1 SELECT "INBOX"\r\n']
    assert lines([commands.select("Entwürfe")]) == [b'A1 SELECT "Entw&APw-rfe"\r\n']
    assert lines([commands.select('Say "hi" \\o/')]) == [b'A1 SELECT "Say \\"hi\\" \\\\o/"\r\n']
    assert encode_command(b"A1", commands.select(b"K\xc3\xb6ln"), literal_plus=False) == [
        b"A1 SELECT {5}\r\n",
        b"K\xc3\xb6ln\r\n",
    ]


def test_check_flags_spells_system_flags_as_the_rfc_and_keeps_keywords():
    assert check_flags(["\\seen", "\\FLAGGED", "\\Answered", "\\deleted", "\\draft"]) == [
        "\\Seen",
        "\\Flagged",
        "\\Answered",
        "\\Deleted",
        "\\Draft",
    ]
    assert check_flags(["$Forwarded", "$MDNSent", "NonJunk", "$label1", "$LABEL1"]) == [
        "$Forwarded",
        "$MDNSent",
        "NonJunk",
        "$label1",
    ]
    assert check_flags([]) == []


@pytest.mark.parametrize(
    "flag",
    [
        "\\Recent",  # the server's own
        "\\*",  # PERMANENTFLAGS only
        "\\Important",
        "\\",
        "",
        "two words",
        "a(b",
        "a)b",
        "a{5}",
        'a"b',
        "a\\b",
        "a]b",
        "a%b",
        "a*b",
        "Köln",
        "a\r\nA2 LOGOUT",
        "tab\there",
    ],
)
def test_check_flags_refuses_what_is_neither_a_system_flag_nor_a_keyword(flag):
    with pytest.raises(ValueError, match=r"flag|keyword"):
        check_flags([flag])


def test_uid_store_adds_then_removes_silently():
    built = build_uid_store([5, 1, 2, 3], add=["\\Seen", "\\flagged"], remove=["$Junk"])
    assert lines(built) == [
        b"A1 UID STORE 1:3,5 +FLAGS.SILENT (\\Seen \\Flagged)\r\n",
        b"A1 UID STORE 1:3,5 -FLAGS.SILENT ($Junk)\r\n",
    ]
    assert lines(build_uid_store([9], remove=["\\Seen"])) == [
        b"A1 UID STORE 9 -FLAGS.SILENT (\\Seen)\r\n"
    ]


def test_uid_store_with_nothing_to_do_builds_nothing():
    assert build_uid_store([], add=["\\Seen"]) == []
    assert build_uid_store([1, 2]) == []


def test_uid_store_refuses_a_flag_both_added_and_removed_and_bad_flags():
    with pytest.raises(ValueError, match="both added and removed"):
        build_uid_store([1], add=["\\Seen"], remove=["\\SEEN"])
    with pytest.raises(ValueError, match="flag"):
        build_uid_store([1], add=["\\Recent"])
    with pytest.raises(ValueError, match="UIDs"):
        build_uid_store([0], add=["\\Seen"])


def test_copy_move_expunge_lines():
    assert lines(build_uid_copy([7, 8, 9], "Archive")) == [b'A1 UID COPY 7:9 "Archive"\r\n']
    assert lines(build_uid_move([3, 1], "Entwürfe/Köln & Co")) == [
        b'A1 UID MOVE 1,3 "Entw&APw-rfe/K&APY-ln &- Co"\r\n'
    ]
    assert lines(build_uid_move([4], "inbox")) == [b'A1 UID MOVE 4 "INBOX"\r\n']
    assert lines(build_uid_expunge([4, 5, 6, 10])) == [b"A1 UID EXPUNGE 4:6,10\r\n"]
    assert build_uid_copy([], "Archive") == build_uid_move([], "Archive") == []
    assert build_uid_expunge([]) == []
    (raw_name,) = build_uid_copy([1], b"K\xc3\xb6ln")
    assert encode_command(b"A1", raw_name, literal_plus=False) == [
        b"A1 UID COPY 1 {5}\r\n",
        b"K\xc3\xb6ln\r\n",
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda uids: build_uid_store(uids, add=["\\Seen", "$Forwarded"], remove=["\\Flagged"]),
        lambda uids: build_uid_copy(uids, "Bewerbungen/Entwürfe"),
        lambda uids: build_uid_move(uids, "Bewerbungen/Entwürfe"),
        build_uid_expunge,
    ],
    ids=["store", "copy", "move", "expunge"],
)
def test_a_long_scattered_uid_list_is_split_into_write_commands_of_at_most_8k(build):
    uids = list(range(1, 100_000, 2))  # nothing to compress
    built = build(uids)
    assert len(built) > 10
    sent: dict[bytes, list[int]] = {}
    for command in built:
        (line,) = encode_command(b"A99999", command, literal_plus=False)
        assert len(line) <= MAX_LINE
        key = b" ".join(command.arguments[1:])  # type: ignore[arg-type]
        sent.setdefault(key, []).extend(expand(command.arguments[0].decode()))  # type: ignore[union-attr]
    assert all(every == uids for every in sent.values())  # each operation covers every UID once
    assert len(sent) == (2 if built[0].name == "UID STORE" else 1)


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (dt.datetime(2026, 3, 7, 9, 5, 1, tzinfo=dt.UTC), b'" 7-Mar-2026 09:05:01 +0000"'),
        (
            dt.datetime(
                2025, 12, 24, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=1))
            ),
            b'"24-Dec-2025 23:59:59 +0100"',
        ),
        (
            dt.datetime(2026, 1, 10, 8, 0, tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30))),
            b'"10-Jan-2026 08:00:00 -0330"',
        ),
        (
            dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))),
            b'" 1-Jul-2026 12:00:00 +0545"',
        ),
    ],
)
def test_format_internaldate(when, text):
    assert format_internaldate(when) == text


def test_format_internaldate_refuses_naive_times_and_odd_offsets():
    with pytest.raises(ValueError, match="timezone"):
        format_internaldate(dt.datetime(2026, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="whole minutes"):
        format_internaldate(
            dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=5, seconds=30)))
        )


MESSAGE = b"From: a@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"


def test_append_sends_the_message_as_a_literal():
    command = commands.append("Entwürfe", MESSAGE)
    assert encode_command(b"A1", command, literal_plus=False) == [
        b'A1 APPEND "Entw&APw-rfe" {%d}\r\n' % len(MESSAGE),
        MESSAGE + b"\r\n",
    ]
    assert encode_command(b"A1", command, literal_plus=True) == [
        b'A1 APPEND "Entw&APw-rfe" {%d+}\r\n' % len(MESSAGE) + MESSAGE + b"\r\n"
    ]


def test_append_with_flags_and_internaldate():
    when = dt.datetime(2026, 2, 3, 14, 15, 16, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    command = commands.append("Drafts", MESSAGE, flags=["\\draft", "\\Seen"], internaldate=when)
    (line,) = encode_command(b"A1", command, literal_plus=True)
    assert line == (
        b'A1 APPEND "Drafts" (\\Draft \\Seen) " 3-Feb-2026 14:15:16 +0100" {%d+}\r\n' % len(MESSAGE)
        + MESSAGE
        + b"\r\n"
    )


def test_append_with_literal_minus_is_non_synchronising_up_to_4096_octets():
    small = commands.append("Drafts", b"x" * 4096)
    large = commands.append("Drafts", b"y" * 4097)
    assert len(encode_command(b"A1", small, literal_plus=False, literal_minus=True)) == 1
    assert encode_command(b"A1", large, literal_plus=False, literal_minus=True)[0] == (
        b'A1 APPEND "Drafts" {4097}\r\n'
    )


def test_append_is_checked_and_its_body_never_logged():
    with pytest.raises(ValueError, match="empty"):
        commands.append("Drafts", b"")
    with pytest.raises(ValueError, match="NUL"):
        commands.append("Drafts", b"a\x00b")
    with pytest.raises(ValueError, match="flag"):
        commands.append("Drafts", MESSAGE, flags=["\\Recent"])
    with pytest.raises(ValueError, match="timezone"):
        commands.append("Drafts", MESSAGE, internaldate=dt.datetime(2026, 1, 1))
    shown = describe_command(b"A1", commands.append("Drafts", MESSAGE))
    assert shown == f'A1 APPEND "Drafts" {{{len(MESSAGE)}}} [literal: {len(MESSAGE)} octets]'


def test_the_docstring_examples_run():
    from postroom.imap import commands

    assert doctest.testmod(commands).failed == 0


def test_list_asks_for_special_use_and_status_in_one_return():
    assert commands.list_folders(special_use=False).arguments == (b'""', b'"*"')
    assert commands.list_folders(special_use=True).arguments[-1] == b"RETURN (SPECIAL-USE)"
    command = commands.list_folders(special_use=False, status=["messages", "UNSEEN"])
    assert command.arguments[-1] == b"RETURN (STATUS (MESSAGES UNSEEN))"
    with pytest.raises(ValueError, match="not an atom"):
        commands.list_folders(special_use=False, status=["MESSAGES)"])


def test_search_words_are_anded_each_ored_over_the_fields():
    command = commands.uid_search_words(["anna", "Müller"], ["FROM", "TO"], esearch=True)
    lines = commands.encode_command(b"A1", command, literal_plus=True)
    wire = b"".join(lines)
    assert wire.startswith(b'A1 UID SEARCH RETURN (ALL) CHARSET UTF-8 OR FROM "anna" TO "anna"')
    assert b"OR FROM {7+}\r\nM\xc3\xbcller TO {7+}\r\nM\xc3\xbcller\r\n" in wire
    ascii_only = commands.uid_search_words(['say "hi"'], ["SUBJECT"], esearch=False)
    assert b"CHARSET" not in b"".join(commands.encode_command(b"A2", ascii_only, literal_plus=True))
    for words, fields in (([], ["FROM"]), (["x"], []), (["x"], ["HEADER"]), (["a\r\nb"], ["TO"])):
        with pytest.raises(ValueError, match="search"):
            commands.uid_search_words(words, fields, esearch=False)
