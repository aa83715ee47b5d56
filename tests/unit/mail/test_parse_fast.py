"""The fast paths of postroom.mail.parse give exactly what the stdlib path gave.

``parse_headers`` reads plain header blocks, the common shapes of address fields, texts of
encoded words and the usual date form without the stdlib's general parsers, and caches the
parse of address fields (see ``_split_header_block``, ``_split_simple_addresses``,
``_decode_words``, ``_parse_date`` and ``_parse_address_texts`` in parse.py). The functions
``old_*`` below are the implementation before that change, kept here only as the oracle: every
input goes through both, and the Headers (compared by ``repr`` too, so time zones count), the
defects and the exception raised must be the same.

Inputs: generated mail (benchmarks/mailgen.py) as IMAP ``HEADER.FIELDS`` blocks, every file of
the shared corpus, hand-written nasty cases, and random ones (hypothesis).
"""

from __future__ import annotations

import base64
import email
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from pathlib import Path

import pytest
from benchmarks import mailgen
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.domain.addresses import has_invisible_characters
from postroom.errors import MessageParseError
from postroom.mail import parse
from postroom.mail.text import decode_words, list_message_ids, to_unicode
from postroom.mail.types import Headers, Mailbox

# --- the oracle: parse_headers and read_headers before the fast paths (commit 9975e52) ----------

_OLD_ADDRESS_FIELDS = ("from", "sender", "reply-to", "to", "cc", "bcc")
_OLD_HEADER_PARSER = BytesHeaderParser(policy=compat32)


def old_parse_headers(raw: bytes) -> Headers:
    try:
        return old_read_headers(_OLD_HEADER_PARSER.parsebytes(raw), [])
    except Exception as exc:
        raise MessageParseError(f"cannot read the header block: {exc!r}") from exc


def old_read_headers(msg: Message, defects: list[str]) -> Headers:
    fields: dict[str, list[str | Header]] = {}
    for name, value in msg.items():
        fields.setdefault(name.lower(), []).append(value)
    date_raw = _old_get_text(fields, "date", defects).strip() or None
    content_type = msg.get_content_type()
    report_type = None
    if content_type == "multipart/report":
        param = msg.get_param("report-type")
        if param:
            report_type = collapse_rfc2231_value(param).strip().lower() or None
    addresses = {
        name: old_parse_mailboxes(fields.get(name, []), defects) for name in _OLD_ADDRESS_FIELDS
    }
    return Headers(
        subject=" ".join(decode_words(_old_get_text(fields, "subject", defects), defects).split()),
        date=old_parse_date(date_raw, defects),
        date_raw=date_raw,
        message_id=_old_get_message_id(fields, "message-id", defects),
        in_reply_to=_old_get_message_id(fields, "in-reply-to", defects),
        references=tuple(list_message_ids(_old_get_text(fields, "references", defects))),
        from_=addresses["from"],
        sender=addresses["sender"],
        reply_to=addresses["reply-to"],
        to=addresses["to"],
        cc=addresses["cc"],
        bcc=addresses["bcc"],
        list_id=_old_get_text(fields, "list-id", defects).strip() or None,
        list_unsubscribe=_old_get_text(fields, "list-unsubscribe", defects).strip() or None,
        precedence=_old_get_text(fields, "precedence", defects).strip() or None,
        auto_submitted=_old_get_text(fields, "auto-submitted", defects).strip() or None,
        content_type=content_type,
        report_type=report_type,
    )


def _old_get_text(fields: dict[str, list[str | Header]], name: str, defects: list[str]) -> str:
    values = fields.get(name)
    return to_unicode(values[0], defects) if values else ""


def _old_get_message_id(
    fields: dict[str, list[str | Header]], name: str, defects: list[str]
) -> str | None:
    text = _old_get_text(fields, name, defects)
    ids = list_message_ids(text)
    return ids[0] if ids else (text.strip() or None)


def old_parse_mailboxes(values: list[str | Header], defects: list[str]) -> tuple[Mailbox, ...]:
    if not values:
        return ()
    texts = [to_unicode(value, defects) for value in values]
    mailboxes = []
    for name, address in getaddresses(texts):
        local, _, domain = address.rpartition("@")
        if not local.strip() or not domain.strip():
            continue
        if has_invisible_characters(address.strip()):  # addresses are taken as written
            defects.append("InvalidAddressDefect")
            continue
        mailboxes.append(
            Mailbox(name=" ".join(decode_words(name, defects).split()), address=address.strip())
        )
    return tuple(mailboxes)


def old_parse_date(date_raw: str | None, defects: list[str]) -> datetime | None:
    if date_raw is None:
        return None
    try:
        date = parsedate_to_datetime(date_raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("InvalidDateDefect")
        return None
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)


# --- helpers -----------------------------------------------------------------------------------

FETCHED_FIELDS = [
    "FROM", "TO", "CC", "BCC", "SENDER", "REPLY-TO", "DATE", "SUBJECT", "MESSAGE-ID",
    "IN-REPLY-TO", "REFERENCES", "LIST-ID", "LIST-UNSUBSCRIBE", "PRECEDENCE", "AUTO-SUBMITTED",
    "CONTENT-TYPE",
]  # fmt: skip
"""The fields the first sync fetches with ``BODY.PEEK[HEADER.FIELDS (...)]``."""


def header_section(raw: bytes) -> bytes:
    """The bytes of a message up to and including the blank line after its header."""
    match = re.search(rb"\r?\n\r?\n", raw)
    return raw[: match.end()] if match else raw


def header_fields_block(raw: bytes, names: list[str] = FETCHED_FIELDS) -> bytes:
    """What an IMAP server returns for ``BODY.PEEK[HEADER.FIELDS (names)]`` of ``raw``: the
    fields with those names in order, folded lines kept, CRLF line ends, then a blank line."""
    wanted = {name.lower() for name in names}
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    kept: list[bytes] = []
    keep = False
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        name, colon, _ = line.partition(b":")
        keep = bool(colon) and name.strip().decode("latin-1").lower() in wanted
        if keep:
            kept.append(line)
    return b"".join(line + b"\r\n" for line in kept) + b"\r\n"


def outcome(parser: Callable[[bytes], Headers], raw: bytes) -> tuple[str, str]:
    """``("ok", repr(headers))`` or ``("error", exception type)`` of ``parser(raw)``."""
    try:
        headers = parser(raw)
    except Exception as exc:  # the contract: the same exception, or the same Headers
        return "error", type(exc).__name__
    return "ok", repr(headers)


def assert_parses_as_before(raw: bytes) -> None:
    assert outcome(parse.parse_headers, raw) == outcome(old_parse_headers, raw), raw[:500]


def assert_reads_as_before(raw: bytes) -> None:
    """``read_headers`` of the whole message, as ``parse_message_head`` calls it."""
    msg = email.message_from_bytes(raw, policy=compat32)
    old_defects: list[str] = []
    new_defects: list[str] = []
    old = old_read_headers(msg, old_defects)
    new = parse.read_headers(msg, new_defects)
    assert (repr(new), new_defects) == (repr(old), old_defects), raw[:500]


@pytest.fixture(autouse=True)
def _empty_address_cache() -> None:
    parse._parse_address_texts.cache_clear()


# --- generated mail and the corpus -------------------------------------------------------------


def test_generated_header_blocks_parse_as_before():
    messages = [g.raw for g in mailgen.generate(1200, seed=11)]
    blocks = [header_fields_block(raw) for raw in messages]
    blocks += [block.replace(b"\r\n", b"\n") for block in blocks[:600]]
    blocks += [header_section(raw) for raw in messages[600:]]  # every field, LF line ends
    taken = sum(parse._split_header_block(block) is not None for block in blocks)
    assert taken == len(blocks)  # mailgen writes plain ASCII blocks: all on the fast path
    for block in blocks:
        assert_parses_as_before(block)
    for block in blocks[:200]:  # again, from the address cache
        assert_parses_as_before(block)


def test_corpus_files_parse_as_before(corpus_dir: Path):
    files = sorted(p for p in (corpus_dir / "mail").rglob("*") if p.suffix in (".eml", ".txt"))
    assert len(files) > 250
    for path in files:
        raw = path.read_bytes()
        for block in (header_section(raw), header_fields_block(raw), raw):
            assert_parses_as_before(block)
        if raw.strip():
            assert_reads_as_before(raw)


# --- hand-written nasty cases ------------------------------------------------------------------

NASTY_BLOCKS = [
    b"",
    b"\r\n",
    b"\n\n",
    b"From: a@example.com",  # no line end at all
    b"From: a@example.com\r\nTo: b@example.com\r\n",  # no blank line
    b"From: a@example.com\r\nbody text without a blank line\r\nTo: b@example.com\r\n",
    b"From: a@example.com\n\nTo: b@example.com\n",  # LF only, a field after the blank line
    # groups, comments, quoted names with commas, escapes
    b'To: team: a@example.com, "B, b" <b@example.com>;, undisclosed-recipients:;\r\n\r\n',
    b"To: a@example.com (Anna Berg), (lead) b@example.com, c@(x)example.com\r\n\r\n",
    b'From: "Doe, John" <john@example.com>, "Smith, J." <js@example.com>\r\n\r\n',
    b'From: "Doe \\"JD\\" John" <john@example.com>\r\n\r\n',
    b'From: "a@b" <nodomain>, Name Only, <>, "" <e@example.com>\r\n\r\n',
    b'From: "unterminated <a@example.com>\r\n\r\n',
    b"From: Anna Berg <anna@example.com> trailing words, b@example.com\r\n\r\n",
    b"From: Anna  \t Berg<anna@example.com>,b@example.com ,  c@example.com\r\n\r\n",
    b"From: J. R. R. Tolkien <jrr@example.com>, .dot <d@example.com>\r\n\r\n",
    b'From: "A"B <ab@example.com>, A"B" <ab2@example.com>\r\n\r\n',
    # encoded words in names and subjects
    b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\r\n\r\n",
    b"From: =?utf-8?q?Doe=2C_J=C3=B6rg?= <j@example.com>, x@example.com\r\n\r\n",
    b'From: "=?utf-8?b?SsO2cmc=?=" <j@example.com>\r\n\r\n',
    b"From: =?utf-8?b?SsO2cmc?= <j@example.com>\r\n\r\n",  # base64 without padding
    b"From: =?utf-8?b?S?= <j@example.com>\r\nSubject: =?utf-8?b?S?=\r\n\r\n",  # bad base64
    b"Subject: =?iso-8859-1?q?Bewerbung_f=FCr?= die\r\n Stelle\r\n\r\n",
    b"Subject: Re: =?utf-8?q?caf=C3=A9?= =?iso-8859-1?q?caf=E9?=  \r\n\r\n",
    b"Subject: =?utf-8?q?a?==?utf-8?q?b?= =?UTF-8?Q?c?=\t=?utf-8?b?w6k=?=\r\n\r\n",
    b"Subject: =?utf-8?q?caf=C3?= =?utf-8?q?=A9_split_character?=\r\n\r\n",
    b"Subject: =?x-unknown?q?abc?= =?utf-8*en?q?lang?= =?koi8-r?b?8NLJ18XU?=\r\n\r\n",
    b"Subject: =?utf-8?q?bad_=ZZ_escape_and_end=?=\r\n\r\n",
    b"Subject: =?utf-8?q?caf=E9?= (latin-1 bytes labelled utf-8)\r\n\r\n",
    b"Subject: \\u0041 literal backslash =?utf-8?q?x?=\r\n\r\n",
    b"Subject: =?utf-8?q??= empty =? and ?= alone\r\n\r\n",
    b"Subject:\r\n =?utf-8?b?UmU6IE9mZmVy?=\r\n =?utf-8?b?IGjDpHQ=?=\r\n\r\n",
    # 8-bit bytes, IDN domains
    b"From: J\xc3\xb6rg <joerg@example.com>\r\nSubject: Gr\xfc\xdfe\r\n\r\n",
    b"From: =?utf-8?q?J=C3=B6rg?= <j\xc3\xb6rg@b\xc3\xbccher.example>\r\n\r\n",
    b'To: info@xn--bcher-kva.example, "B\xfccher" <info@b\xfccher.example>\r\n\r\n',
    b"To: info@\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\r\n\r\n",
    b"Subject: \xff\xfe broken \x80 bytes\r\nFrom: \xe9t\xe9 <e@example.com>\r\n\r\n",
    # missing @, empty and whitespace fields, duplicate fields
    b"To: nobody, @example.com, local@, @, a@b@c.example\r\n\r\n",
    b"To:\r\nCc: \r\nBcc:   \t \r\nSubject:\r\nDate:\r\nMessage-ID:\r\n\r\n",
    b"To: a@example.com,\r\nCc: ,b@example.com,, ,c@example.com, \r\n\r\n",
    b"From: a@example.com\r\nFrom: b@example.com\r\nTo: c@example.com\r\nto: d@example.com\r\n"
    b"Subject: first\r\nSubject: second\r\nDate: Mon, 4 Mar 2024 10:00:00 +0100\r\n"
    b"Date: Tue, 5 Mar 2024 10:00:00 +0100\r\n\r\n",
    # obsolete route addresses, domain literals, quoted local parts
    b"To: <@route.example,@other.example:a@example.com>, Name <@r.example:b@example.com>\r\n\r\n",
    b'To: a@[192.0.2.1], "john doe"@example.com, john.@example.com, .a@example.com\r\n\r\n',
    b"To: a @ example . com, b@example. com, c@example.com.\r\n\r\n",
    b"To: <a@example.com> <b@example.com>, a@example.com <b@example.com>\r\n\r\n",
    # folding and odd line structure
    b'To: Anna Berg\r\n <anna@example.com>,\r\n\t"Doe, J" <j@example.com>\r\n\r\n',
    b" leading continuation\r\nFrom: a@example.com\r\n\r\n",
    b"From a@example.com Mon Mar  4 10:00:00 2024\r\nFrom: b@example.com\r\n\r\n",
    b"From: a@example.com\r\nFrom b@example.com Mon Mar  4 10:00:00 2024\r\nTo: c@example.com\r\n",
    b"From: a@example.com\r\nFrom the desk of the recruiter\r\n",
    b": no name\r\nFrom: a@example.com\r\n\r\n",
    b"X Bad Name: x\r\nFrom: a@example.com\r\n\r\n",
    b"From: a@example.com\rTo: b@example.com\r\r\n",  # lone CR
    b"From: a@example.com\r\n\rTo: b@example.com\r\n",
    b"Subject: a\x0cb\x0bc\x1cd\x00e\r\n\r\n",
    b"Subject: trailing blanks \t \r\n \r\n\r\n",
    b"From:a@example.com\r\nTo:\tb@example.com\r\nCc:  \r\n c@example.com\r\n\r\n",
    b"Subject: x\r\n\r\nFrom: body@example.com\r\n",
    # dates
    b"Date: Mon, 4 Mar 2024 10:00:00 -0000\r\n\r\n",
    b"Date: Wed, 01 Jan 2025 08:07:00 +0000\r\n\r\n",
    b"Date: Mon, 4 Mar 2024 10:00:00 +9999\r\n\r\n",
    b"Date: Mon, 31 Feb 2024 25:61:00 +0100\r\n\r\n",
    b"Date: 4 Mar 2024 10:00 EST\r\n\r\n",
    b"Date: Mon, 4 Mar 24 10:00:00 +0100\r\n\r\n",
    b"Date: Mon, 4 Mar 0024 10:00:00 +0100\r\n\r\n",
    b"Date: Mon,  4 Mar 2024 10:00:00 +0100 (CET)\r\n\r\n",
    b"Date: mon, 4 mar 2024 10:00:00 +0130\r\n\r\n",
    b"Date: next tuesday\r\n\r\n",
    # content types, message ids, list fields
    b"Content-Type: multipart/report; report-type=Delivery-Status; boundary=x\r\n\r\n",
    b'Content-Type: Multipart/Alternative;\r\n boundary="b"\r\n\r\n',
    b"Content-Type: text\r\n\r\n",
    b"Content-Type: a/b/c\r\nContent-Type: text/html\r\n\r\n",
    b"Content-Type: multipart/\r\n mixed; boundary=x\r\n\r\n",
    b"Message-ID:  <abc@Example.COM> \r\nIn-Reply-To: <p@x> (earlier) <q@y>\r\n"
    b"References: <a@x>\r\n <b @ y>\r\n\r\n",
    b"Message-ID: abc@example.com \r\nIn-Reply-To: \r\n\r\n",
    b"List-Id: Jobs <jobs.example.org>\r\nList-Unsubscribe: <mailto:u@example.org>\r\n"
    b"Precedence: Bulk\r\nAuto-Submitted: auto-generated\r\n\r\n",
]


@pytest.mark.parametrize("raw", NASTY_BLOCKS, ids=range(len(NASTY_BLOCKS)))
def test_nasty_header_blocks_parse_as_before(raw: bytes):
    assert_parses_as_before(raw)
    assert_parses_as_before(raw)  # from the address cache
    assert_parses_as_before(raw.replace(b"\r\n", b"\n"))
    if raw.strip():
        assert_reads_as_before(raw + b"body\r\n")


def test_a_line_break_cut_by_the_stdlib_read_buffer_parses_as_before():
    # the stdlib feeds 8192 characters at a time: a CR at the end of one and the LF at the
    # start of the next, and a long folded line across the cut
    for pad in range(8150, 8200):
        raw = b"To: " + b"a" * pad + b"@example.com\r\n From: x\r\nCc: b@example.com\r\n\r\n"
        assert_parses_as_before(raw)
    long_to = b", ".join(b'"N%d" <n%d@example.com>' % (i, i) for i in range(500))
    assert_parses_as_before(b"Cc: " + long_to + b"\r\nTo: c@example.com\r\n\r\n")


def test_defects_of_a_cached_address_field_are_reported_each_time():
    raw = b"From: =?utf-8?q?caf=E9?= <a@example.com>\r\n\r\nbody"
    for _ in range(2):
        old_defects: list[str] = []
        new_defects: list[str] = []
        msg = email.message_from_bytes(raw, policy=compat32)
        assert parse.read_headers(msg, new_defects) == old_read_headers(msg, old_defects)
        assert new_defects == old_defects == ["CharsetMismatchDefect"]


# --- the fast paths are taken for the common shapes --------------------------------------------


def test_common_shapes_take_the_fast_paths():
    block = (
        b"From: Anna Berg <anna@example.com>\r\nTo: b@example.com\r\n"
        b"Subject:\r\n =?utf-8?b?UmU6IE9mZmVy?=\r\n\r\n"
    )
    assert parse._split_header_block(block) is not None
    assert parse._split_simple_addresses(
        'Anna Berg <anna@example.com>, "Doe, J" <j@example.com>, b@example.com'
    ) == [("Anna Berg", "anna@example.com"), ("Doe, J", "j@example.com"), ("", "b@example.com")]
    assert parse._WORDS_AND_TEXT.fullmatch("Re: =?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?= x")
    assert parse._PLAIN_DATE.fullmatch("Wed, 01 Jan 2025 08:07:00 +0000")


# --- random inputs -----------------------------------------------------------------------------

BLOCK_FRAGMENTS = [
    *(f"{name}: ".encode() for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID")),
    b"Content-Type: ",
    b"References: ",
    b"X-Other: ",
    b"From ",
    b":",
    b" :",
    b"a@b.example",
    b"Name <x@y.example>",
    b'"Doe, J" <j@x.example>',
    b"<a@b>",
    b"(c)",
    b"g: a@b.example;",
    b"<@r.example:a@b.example>",
    b"=?utf-8?q?J=C3=B6rg?=",
    b"=?utf-8?b?SsO2cmc=?=",
    b"=?iso-8859-1?q?caf=E9?=",
    b"=?x?q?a?=",
    b"=?",
    b"?=",
    b",",
    b" ",
    b"\t",
    b'"',
    b"\\",
    b"@",
    b"<",
    b">",
    b".",
    b"\xc3\xa9",
    b"\xff",
    b"\x00",
    b"\x0c",
    b"Mon, 4 Mar 2024 10:00:00 +0100",
    b"Wed, 01 Jan 2025 08:07:00 -0000",
    b"multipart/report; report-type=delivery-status",
    b"text/html; charset=x",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n ",
    b"\r\n\t",
    b"\r\n\r\n",
]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(BLOCK_FRAGMENTS), max_size=40))
def test_random_header_blocks_parse_as_before(chunks: list[bytes]):
    assert_parses_as_before(b"".join(chunks))


_atoms = st.text(alphabet="abXZ09!#$%&*+=?^_{|}~-é.\U0001f600", min_size=1, max_size=5)
_quoted = st.text(alphabet='ab ,<>@()\t;:.[]é\\"', max_size=6).map(lambda s: f'"{s}"')
_words = st.lists(
    st.tuples(st.one_of(_atoms, _quoted), st.sampled_from(["", " ", "  ", "\t"])), max_size=4
).map(lambda pairs: "".join(word + blank for word, blank in pairs))
_addr_specs = st.builds(lambda local, domain: f"{local}@{domain}", _atoms, _atoms)
_mailboxes = st.one_of(
    _addr_specs, st.builds(lambda phrase, spec: f"{phrase}<{spec}>", _words, _addr_specs), _words
)
_entries = st.builds(
    lambda before, mailbox, after: before + mailbox + after,
    st.sampled_from(["", " ", "\t"]),
    _mailboxes,
    st.sampled_from(["", " ", "\t"]),
)
_address_texts = st.one_of(
    st.lists(_entries, max_size=4).map(",".join),
    st.text(alphabet='ab.@<>" ,\t()\\:;[]=?é\xa0\x1c', max_size=25),
)


@settings(max_examples=300)
@given(st.lists(_address_texts, min_size=1, max_size=3))
def test_simple_addresses_are_what_getaddresses_gives(texts: list[str]):
    fast = parse._split_simple_addresses(", ".join(texts))
    if fast is not None:
        assert fast == getaddresses(texts)
    old_defects: list[str] = []
    new_defects: list[str] = []
    old = old_parse_mailboxes(list(texts), old_defects)
    assert parse._parse_mailboxes(list(texts), new_defects) == old
    assert new_defects == old_defects


_charsets = st.sampled_from(
    ["utf-8", "UTF-8", "iso-8859-1", "windows-1252", "koi8-r", "x-bad", "utf-8*en", "utf-16"]
)
_encoded_words = st.one_of(
    st.builds(
        lambda charset, encoding, text: f"=?{charset}?{encoding}?{text}?=",
        _charsets,
        st.sampled_from("qQbB"),
        st.text(alphabet='abAZ09+/=_-.!~"é?', max_size=12),
    ),
    st.builds(
        lambda charset, data: f"=?{charset}?q?{''.join(f'={byte:02X}' for byte in data)}?=",
        _charsets,
        st.binary(max_size=8),
    ),
    st.builds(
        lambda charset, data: f"=?{charset}?b?{base64.b64encode(data).decode().rstrip('=')}?=",
        _charsets,
        st.binary(max_size=12),
    ),
)


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            _encoded_words,
            st.sampled_from([" ", "\t", "Re: ", " Silva", "e aus ", "\xa0", "=", "é", "\\u0041"]),
            st.sampled_from(["x=?", "?", "\u3000", "\x85", "\U0001f600"]),
        ),
        max_size=6,
    ).map("".join)
)
def test_encoded_word_texts_decode_as_decode_words(text: str):
    old_defects: list[str] = []
    new_defects: list[str] = []
    assert parse._decode_words(text, new_defects) == decode_words(text, old_defects)
    assert new_defects == old_defects


_two_digits = st.integers(0, 99).map(lambda number: f"{number:02d}")


@settings(max_examples=300)
@given(
    st.builds(
        lambda day_name, day, month, year, hour, minute, second, sign, zone: (
            f"{day_name}, {day} {month} {year} {hour}:{minute}:{second} {sign}{zone}"
        ),
        st.sampled_from(["Mon", "Sun", "Xyz"]),
        st.integers(0, 40),
        st.sampled_from(["Jan", "Feb", "Dec", "jan"]),
        st.integers(0, 10_000),
        _two_digits,
        _two_digits,
        _two_digits,
        st.sampled_from("+-"),
        st.integers(0, 9999).map(lambda number: f"{number:04d}"),
    )
)
def test_dates_parse_as_before(text: str):
    old_defects: list[str] = []
    new_defects: list[str] = []
    old = old_parse_date(text, old_defects)
    assert repr(parse._parse_date(text, new_defects)) == repr(old)
    assert new_defects == old_defects
