"""Tests for postroom.imap.responses: recorded responses typed over imapclient's parser."""

from __future__ import annotations

import datetime as dt
import doctest

import pytest

from postroom.imap.errors import LimitExceeded, ProtocolError
from postroom.imap.framing import RawResponse, frame
from postroom.imap.responses import (
    Bye,
    Capabilities,
    Condition,
    Enabled,
    ESearchResult,
    Exists,
    Expunge,
    FetchItem,
    Flags,
    FlagsChanged,
    Folder,
    Recent,
    SearchResult,
    StatusUpdate,
    Unknown,
    Untagged,
    Vanished,
    is_folder_missing,
    is_selectable,
    parse_condition,
    parse_sequence_set,
    parse_tagged,
    parse_untagged,
    section_key,
    selected_folder,
    to_event,
)


def raw(data: bytes) -> RawResponse:
    (response,) = frame(data + b"\r\n")
    return response


def one(data: bytes) -> Untagged:
    return parse_untagged(raw(data))


# --- status responses and codes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "arguments", "rest"),
    [
        (b"[COPYUID 1 2 3] Moved", "COPYUID", (1, 2, 3), "Moved"),
        (b"[COPYUID 1795920524 20:22 3:5] Done", "COPYUID", (1795920524, b"20:22", b"3:5"), "Done"),
        (b"[HIGHESTMODSEQ 5] Highest", "HIGHESTMODSEQ", (5,), "Highest"),
        (b"[NOMODSEQ] Sorry", "NOMODSEQ", (), "Sorry"),
        (b"[UIDVALIDITY 3857529045] UIDs valid", "UIDVALIDITY", (3857529045,), "UIDs valid"),
        (b"[READ-ONLY] Examine completed", "READ-ONLY", (), "Examine completed"),
        (b"[PERMANENTFLAGS (\\Deleted \\*)] ok", "PERMANENTFLAGS", ((b"\\Deleted", b"\\*"),), "ok"),
        (b"[nonexistent] Mailbox doesn't exist", "NONEXISTENT", (), "Mailbox doesn't exist"),
        (b"[ALERT] Read this {5}", "ALERT", (), "Read this {5}"),
    ],
)
def test_response_codes_are_cut_out_and_parsed_on_their_own(text, name, arguments, rest):
    condition = parse_condition("OK", text)
    assert condition.code is not None
    assert (condition.code.name, condition.code.arguments, condition.text) == (
        name,
        arguments,
        rest,
    )


def test_a_code_imapclient_cannot_parse_keeps_its_raw_text():
    condition = parse_condition("NO", b'[BADCHARSET (UTF-8 "x] text')
    assert condition.code is not None
    assert condition.code.name == "BADCHARSET"


def test_capability_code_atoms_and_numbers():
    condition = parse_condition("OK", b"[CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN literal+] hi")
    assert condition.code is not None
    assert condition.code.atoms() == ["IMAP4REV1", "SASL-IR", "AUTH=PLAIN", "LITERAL+"]
    assert parse_condition("OK", b"no code at all") == Condition("OK", None, "no code at all")


def test_parse_tagged():
    (response,) = frame(b"A0003 NO [UNAVAILABLE] Try later\r\n")
    condition = parse_tagged(response)
    assert (condition.status, condition.code_name, condition.text) == (
        "NO",
        "UNAVAILABLE",
        "Try later",
    )
    with pytest.raises(ProtocolError):
        parse_tagged(frame(b"* 3 EXISTS\r\n")[0])


# --- simple untagged data -------------------------------------------------------------------


def test_simple_untagged_responses():
    assert one(b"* 23 EXISTS") == Exists(23)
    assert one(b"* 5 EXPUNGE") == Expunge(5)
    assert one(b"* 1 RECENT") == Recent(1)
    assert one(b"* CAPABILITY IMAP4rev1 IDLE condstore") == Capabilities(
        frozenset({"IMAP4REV1", "IDLE", "CONDSTORE"})
    )
    assert one(b"* ENABLED QRESYNC") == Enabled(frozenset({"QRESYNC"}))
    assert one(b"* FLAGS (\\Answered \\Seen $Forwarded 1234)") == Flags(
        ("\\Answered", "\\Seen", "$Forwarded", "1234")
    )
    assert one(b"* BYE Logging out") == Condition("BYE", None, "Logging out")
    assert one(b'* ID ("name" "Dovecot")') == Unknown(b'* ID ("name" "Dovecot")', "ID")


@pytest.mark.parametrize(
    ("data", "ranges", "earlier"),
    [
        (
            b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540",
            ((41, 41), (43, 116), (118, 118), (120, 211), (214, 540)),
            True,
        ),
        (b"* VANISHED 405,407,410,425", ((405, 405), (407, 407), (410, 410), (425, 425)), False),
        (b"* VANISHED 5", ((5, 5),), False),  # imapclient gives an int for one number
        (b"* VANISHED (EARLIER) 300:310", ((300, 310),), True),
        (b"* VANISHED (EARLIER) 9:7", ((7, 9),), True),
    ],
)
def test_vanished(data, ranges, earlier):
    vanished = one(data)
    assert vanished == Vanished(ranges, earlier)
    assert ranges[0][0] in vanished
    assert 1 not in vanished


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'* ESEARCH (TAG "A0006") UID ALL 1:3,5,7:8',
            ESearchResult(b"A0006", True, ((1, 3), (5, 5), (7, 8))),
        ),
        (b'* ESEARCH (TAG "A0006") UID ALL 7', ESearchResult(b"A0006", True, ((7, 7),))),
        (b'* ESEARCH (TAG "A0006") UID', ESearchResult(b"A0006", True)),
        (
            b'* ESEARCH (TAG "A1") UID MIN 2 MAX 99 COUNT 4',
            ESearchResult(b"A1", True, min=2, max=99, count=4),
        ),
        (b"* ESEARCH COUNT 0", ESearchResult(None, False, count=0)),
    ],
)
def test_esearch(data, expected):
    assert one(data) == expected


def test_esearch_keeps_the_ranges_as_sent():
    result = one(b'* ESEARCH (TAG "A6") UID ALL 10:12,2,5:6')
    assert isinstance(result, ESearchResult)
    assert result.all == ((10, 12), (2, 2), (5, 6))


def test_a_whole_uid_space_esearch_stays_one_range():
    # 60 bytes on the wire; expanded it was 3.7 GB (issue 11, item 2)
    result = one(b'* ESEARCH (TAG "x") UID ALL 1:4294967295')
    assert isinstance(result, ESearchResult)
    assert result.all == ((1, 4294967295),)


def test_search():
    assert one(b"* SEARCH 2 84 882") == SearchResult(((2, 2), (84, 84), (882, 882)))
    assert one(b"* SEARCH") == SearchResult(())
    assert one(b"* SEARCH ") == SearchResult(())
    assert one(b"* SEARCH 2 5 (MODSEQ 917162500)") == SearchResult(((2, 2), (5, 5)), 917162500)


def test_search_numbers_become_ranges_in_any_order():
    assert one(b"* SEARCH 7 3 1 2 8 9 4") == SearchResult(((1, 4), (7, 9)))


def test_a_long_search_answer_is_read_as_ranges():
    numbers = b" ".join(b"%d" % n for n in range(1, 200_001))
    assert one(b"* SEARCH " + numbers) == SearchResult(((1, 200_000),))


@pytest.mark.parametrize(
    "data",
    [
        b"* SEARCH 0",
        b"* SEARCH 4294967296",
        b"* SEARCH 1 99999999999999999999999",
        b"* SEARCH 1 x",
        b"* SEARCH 1 (MODSEQ 9223372036854775808)",
        b'* ESEARCH (TAG "x") UID ALL 0:5',
        b'* ESEARCH (TAG "x") UID ALL 1:4294967296',
        b'* ESEARCH (TAG "x") UID ALL 1,,2',
        b'* ESEARCH (TAG "x") UID MAX 4294967296',
        b'* ESEARCH (TAG "x") UID MODSEQ 9223372036854775808',
        b"* VANISHED (EARLIER) 1:4294967296",
        b"* VANISHED 0",
        b"* 1 FETCH (UID 4294967296 FLAGS ())",
        b"* 1 FETCH (UID 1 MODSEQ (9223372036854775808))",
        b"* 0 EXPUNGE",
        b"* 4294967296 EXISTS",
        b'* STATUS "INBOX" (UIDVALIDITY 0)',
        b'* STATUS "INBOX" (UIDNEXT 4294967296)',
        b'* STATUS "INBOX" (HIGHESTMODSEQ 9223372036854775808)',
    ],
)
def test_numbers_out_of_their_rfc_range_are_protocol_errors(data):
    with pytest.raises(ProtocolError):
        one(data)


def test_the_largest_numbers_in_range_are_taken():
    assert one(b"* SEARCH 4294967295 1 (MODSEQ 9223372036854775807)") == SearchResult(
        ((1, 1), (4294967295, 4294967295)), 2**63 - 1
    )
    item = one(b"* 4294967295 FETCH (UID 4294967295 MODSEQ (9223372036854775807))")
    assert isinstance(item, FetchItem)
    assert (item.uid, item.modseq, item.seq) == (2**32 - 1, 2**63 - 1, 2**32 - 1)


def test_a_set_with_too_many_ranges_is_a_limit_error():
    text = b",".join(b"%d" % n for n in range(1, 200, 2))
    assert len(parse_sequence_set(text, max_ranges=100)) == 100
    with pytest.raises(LimitExceeded):
        parse_sequence_set(text + b",1000", max_ranges=100)
    with pytest.raises(LimitExceeded):
        parse_untagged(raw(b"* SEARCH " + text.replace(b",", b" ") + b" 1000"), max_set_ranges=100)
    with pytest.raises(LimitExceeded):
        parse_untagged(raw(b'* ESEARCH (TAG "x") UID ALL ' + text + b",1000"), max_set_ranges=100)


def test_status():
    assert one(b'* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4 HIGHESTMODSEQ 7)') == StatusUpdate(
        "INBOX", {"MESSAGES": 3, "UIDNEXT": 4, "HIGHESTMODSEQ": 7}, b"INBOX"
    )
    assert one(b"* STATUS 2024 (MESSAGES 1)") == StatusUpdate("2024", {"MESSAGES": 1}, b"2024")
    assert one(b'* STATUS "Entw&APw-rfe" (UIDVALIDITY 9 MAILBOXID (F1))') == StatusUpdate(
        "Entwürfe", {"UIDVALIDITY": 9}, b"Entw&APw-rfe"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b'* LIST (\\HasNoChildren \\Sent) "/" Sent',
            Folder("Sent", b"Sent", "/", frozenset({"\\HasNoChildren", "\\Sent"})),
        ),
        (  # lower-case attributes as some servers send them, spelled as in the RFC
            b'* LIST (\\hasnochildren \\sent \\NOSELECT \\X-Custom) "." "INBOX.Sent Items"',
            Folder(
                "INBOX.Sent Items",
                b"INBOX.Sent Items",
                ".",
                frozenset({"\\HasNoChildren", "\\Sent", "\\Noselect", "\\X-Custom"}),
            ),
        ),
        (b"* LIST () NIL Flat", Folder("Flat", b"Flat", None, frozenset())),
        (b'* LIST () "/" 2024', Folder("2024", b"2024", "/", frozenset())),
        (
            b'* LIST (\\Marked) "/" "[Gmail]/Entw&APw-rfe"',
            Folder("[Gmail]/Entwürfe", b"[Gmail]/Entw&APw-rfe", "/", frozenset({"\\Marked"})),
        ),
        (
            b'* LIST () "\\\\" {8}\r\nwe"ird\\x',
            Folder('we"ird\\x', b'we"ird\\x', "\\", frozenset()),
        ),
        (
            b'* LIST (\\All) "/" "[Gmail]/All Mail" ("CHILDINFO" ("SUBSCRIBED"))',
            Folder("[Gmail]/All Mail", b"[Gmail]/All Mail", "/", frozenset({"\\All"})),
        ),
    ],
)
def test_list(data, expected):
    folder = one(data)
    assert folder == expected
    assert isinstance(folder, Folder)
    assert folder.is_selectable is ("\\Noselect" not in expected.flags)


@pytest.mark.parametrize(
    ("flags", "selectable"),
    [
        (set(), True),
        ({"\\HasNoChildren", "\\Sent"}, True),
        ({"\\Noselect", "\\HasChildren"}, False),
        ({"\\NonExistent"}, False),  # RFC 5258: implies \Noselect
        ({"\\Noinferiors"}, True),
    ],
)
def test_a_folder_is_selectable_unless_noselect_or_nonexistent(flags, selectable):
    assert is_selectable(flags) is selectable
    listed = one(f'* LIST ({" ".join(sorted(flags))}) "/" "X"'.encode())
    assert isinstance(listed, Folder)
    assert listed.is_selectable is selectable


def test_sequence_sets():
    assert parse_sequence_set(5) == ((5, 5),)
    assert parse_sequence_set(b"1:3,5") == ((1, 3), (5, 5))
    assert parse_sequence_set("7:4") == ((4, 7),)
    with pytest.raises(ProtocolError):
        parse_sequence_set(b"1:*")
    with pytest.raises(ProtocolError):
        parse_sequence_set(None)


# --- FETCH ----------------------------------------------------------------------------------

HEADER = b"From: Anna <anna@example.com>\r\nTo: me@example.test\r\n\r\n"
FETCH = (
    b"* 12 FETCH (UID 4827313 FLAGS (\\Seen $Label1 1234) MODSEQ (20010715194045007)"
    b' INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 X-GUID 1234567'
    b" EMAILID (M6d99ac3275bb4e) THREADID NIL X-GM-MSGID 1278455344230334865"
    b' X-GM-THRID 1266894439832287888 X-GM-LABELS ("\\\\Inbox" "Jobs" 2024)'
    b' BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)'
    b' ("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 40 2 NIL NIL NIL NIL)'
    b' "alternative" ("boundary" "b1") NIL NIL NIL)'
    b" BODY[HEADER.FIELDS (FROM TO)] {%d}\r\n%s BODY[1]<0> {4}\r\nHi!\n BODY[2] NIL)"
) % (len(HEADER), HEADER)


def test_a_fetch_response_is_typed():
    item = one(FETCH)
    assert isinstance(item, FetchItem)
    assert (item.uid, item.seq, item.size) == (4827313, 12, 4286)
    assert item.flags == ("\\Seen", "$Label1", "1234")
    assert item.modseq == 20010715194045007
    assert item.internaldate == dt.datetime(
        1996, 7, 17, 2, 44, 25, tzinfo=dt.timezone(dt.timedelta(hours=-7))
    )
    assert item.internaldate.tzinfo == dt.timezone(dt.timedelta(hours=-7))
    assert (item.x_guid, item.emailid, item.threadid) == ("1234567", "M6d99ac3275bb4e", None)
    assert (item.gm_msgid, item.gm_thrid) == (1278455344230334865, 1266894439832287888)
    assert item.gm_labels == ("\\Inbox", "Jobs", "2024")
    assert item.bodystructure is not None
    assert item.bodystructure.is_multipart
    assert item.sections == {"BODY[HEADER.FIELDS (FROM TO)]": HEADER, "BODY[1]<0>": b"Hi!\n"}
    assert item.raw[b"RFC822.SIZE"] == 4286


@pytest.mark.parametrize(
    ("requested", "found"),
    [
        ("BODY.PEEK[HEADER.FIELDS (FROM TO)]", HEADER),
        ("body.peek[header.fields (from to)]", HEADER),
        ('BODY.PEEK[HEADER.FIELDS ("From" "To")]', HEADER),
        ("BODY.PEEK[1]<0.262144>", b"Hi!\n"),
        ("BODY[1]<0>", b"Hi!\n"),
        ("BODY.PEEK[2]", None),  # NIL: left out
        ("BODY.PEEK[1]", None),  # not partial: another item
    ],
)
def test_find_a_section_by_what_was_requested(requested, found):
    item = one(FETCH)
    assert isinstance(item, FetchItem)
    assert item.section(requested) == found


def test_section_key():
    assert section_key("BODY.PEEK[HEADER.FIELDS (From  To)]<0.100>") == (
        "BODY[HEADER.FIELDS (FROM TO)]<0>"
    )
    assert section_key("BINARY.PEEK[1.2]") == "BINARY[1.2]"
    assert section_key("RFC822.HEADER") == "RFC822.HEADER"


def test_an_unsolicited_fetch_without_uid_has_uid_zero():
    item = one(b"* 3 FETCH (FLAGS (\\Seen \\Flagged))")
    assert isinstance(item, FetchItem)
    assert (item.uid, item.seq, item.flags, item.modseq) == (0, 3, ("\\Seen", "\\Flagged"), None)
    assert item.sections == {}


def test_envelope_with_a_literal_subject():
    subject = b'Re: (parens) * star "quotes" {5}'
    data = (
        b'* 2 FETCH (UID 9 ENVELOPE ("Mon, 1 Jan 2026 10:00:00 +0000" {%d}\r\n%s'
        b' (("Anna" NIL "anna" "example.com")) NIL NIL ((NIL NIL "me" "example.test"))'
        b' NIL NIL NIL "<m1@example.com>"))'
    ) % (len(subject), subject)
    item = one(data)
    assert isinstance(item, FetchItem)
    assert item.envelope is not None
    assert item.envelope.subject == subject
    assert item.envelope.message_id == b"<m1@example.com>"


@pytest.mark.parametrize(
    "data",
    [
        b"* 2 FETCH (UID)",
        b"* 2 FETCH (UID 9 FLAGS (\\Seen)",
        b"* 2 FETCH UID 9",
        b'* 2 FETCH (UID 9 BODY[] "unterminated)',
    ],
)
def test_broken_fetch_responses_raise_protocol_error(data):
    with pytest.raises(ProtocolError):
        one(data)


# --- EXAMINE --------------------------------------------------------------------------------

QRESYNC_EXAMINE = b"""\
* OK [CLOSED] Previous mailbox closed.
* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
* OK [PERMANENTFLAGS ()] Read-only mailbox.
* 314 EXISTS
* 0 RECENT
* OK [UIDVALIDITY 3857529045] UIDs valid
* OK [UIDNEXT 550] Predicted next UID
* OK [HIGHESTMODSEQ 90060128194045007] Highest mailbox mod-sequence
* VANISHED (EARLIER) 41,43:116,118,120:211,214:540
* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))
* 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045308))
A0004 OK [READ-ONLY] Examine completed.
""".replace(b"\n", b"\r\n")


def test_a_recorded_qresync_examine_becomes_a_selected_folder():
    *untagged, done = frame(QRESYNC_EXAMINE)
    selected = selected_folder([parse_untagged(r) for r in untagged], parse_tagged(done))
    assert selected.uidvalidity == 3857529045
    assert selected.uidnext == 550
    assert selected.exists == 314
    assert selected.highestmodseq == 90060128194045007
    assert selected.vanished == [(41, 41), (43, 116), (118, 118), (120, 211), (214, 540)]
    assert [(i.uid, i.flags, i.modseq) for i in selected.changed] == [
        (117, ("\\Seen", "\\Answered"), 90060115194045001),
        (119, ("\\Draft", "$MDNSent"), 90060115194045308),
    ]
    assert selected.read_only


def test_nomodseq_and_the_responses_before_closed():
    data = b"""\
* 99 EXISTS
* OK [UIDVALIDITY 1] old folder
* OK [CLOSED] Previous mailbox closed.
* 2 EXISTS
* OK [UIDVALIDITY 7] UIDs valid
* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences
A0002 OK [READ-ONLY] done
""".replace(b"\n", b"\r\n")
    *untagged, done = frame(data)
    selected = selected_folder([parse_untagged(r) for r in untagged], parse_tagged(done))
    assert (selected.exists, selected.uidvalidity, selected.uidnext) == (2, 7, None)
    assert selected.highestmodseq is None


def test_no_uidvalidity_is_a_protocol_error():
    *untagged, done = frame(b"* 2 EXISTS\r\nA0002 OK done\r\n")
    with pytest.raises(ProtocolError, match="UIDVALIDITY"):
        selected_folder([parse_untagged(r) for r in untagged], parse_tagged(done))


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        (b"A1 NO [NONEXISTENT] Unknown Mailbox: Foo", True),
        (b"A1 NO Mailbox doesn't exist: Foo", True),
        (b"A1 NO [TRYCREATE] Mailbox does not exist", True),
        (b"A1 NO [TRYCREATE] Quota exceeded", False),
        (b"A1 NO Folder not found", True),
        (b"A1 NO No such mailbox", True),
        (b"A1 NO [UNAVAILABLE] Try later", False),
        (b"A1 BAD Mailbox doesn't exist", False),
        (b"A1 NO Permission denied", False),
    ],
)
def test_is_folder_missing(data, missing):
    assert is_folder_missing(parse_tagged(frame(data + b"\r\n")[0])) is missing


# --- events ---------------------------------------------------------------------------------


def test_unclaimed_responses_become_events():
    cases = [
        (b"* 4 EXISTS", Exists(4)),
        (b"* 2 EXPUNGE", Expunge(2)),
        (b"* VANISHED 7", Vanished(((7, 7),), False)),
        (b"* BYE Server shutting down", Bye("Server shutting down")),
        (b"* STATUS Sent (MESSAGES 1)", StatusUpdate("Sent", {"MESSAGES": 1}, b"Sent")),
        (b"* 3 RECENT", Unknown(b"* 3 RECENT", "RECENT")),
        (b"* OK Still here", Unknown(b"* OK Still here", "OK")),
    ]
    for data, event in cases:
        (response,) = frame(data + b"\r\n")
        assert to_event(response, parse_untagged(response)) == event
    (response,) = frame(b"* 5 FETCH (UID 8 FLAGS (\\Seen))\r\n")
    event = to_event(response, parse_untagged(response))
    assert isinstance(event, FlagsChanged)
    assert (event.item.uid, event.item.flags) == (8, ("\\Seen",))
    (response,) = frame(b"* OK [HIGHESTMODSEQ 12] Highest\r\n")
    event = to_event(response, parse_untagged(response))
    assert isinstance(event, Unknown)
    assert event.code is not None
    assert (event.code.name, event.code.number()) == ("HIGHESTMODSEQ", 12)


def test_the_docstring_examples_run():
    from postroom.imap import responses

    assert doctest.testmod(responses).failed == 0


@pytest.mark.parametrize(
    "code",
    [
        b"UIDVALIDITY 0",
        b"UIDVALIDITY 4294967296",
        b"UIDVALIDITY 18446744073709551617",
        b"UIDNEXT 0",
        b"UIDNEXT 4294967296",
        b"HIGHESTMODSEQ 9223372036854775808",
    ],
)
def test_an_examine_with_a_number_out_of_range_is_a_protocol_error(code):
    # beyond 2^63 they overflowed the database's integer later (issue 11, item 3)
    data = b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [%s] ok\r\nA1 OK done\r\n" % code
    *untagged, done = frame(data)
    with pytest.raises(ProtocolError, match="out of range"):
        selected_folder([parse_untagged(r) for r in untagged], parse_tagged(done))


def test_an_examine_at_the_top_of_every_range_is_taken():
    data = (
        b"* 4294967295 EXISTS\r\n* OK [UIDVALIDITY 4294967295] ok\r\n"
        b"* OK [UIDNEXT 4294967295] ok\r\nA1 OK [HIGHESTMODSEQ 9223372036854775807] done\r\n"
    )
    *untagged, done = frame(data)
    selected = selected_folder([parse_untagged(r) for r in untagged], parse_tagged(done))
    assert (selected.uidvalidity, selected.uidnext, selected.highestmodseq) == (
        2**32 - 1,
        2**32 - 1,
        2**63 - 1,
    )
