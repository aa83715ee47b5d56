"""Tests for postroom.mail.parse: header blocks and whole messages from bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.errors import MessageParseError
from postroom.mail import parse
from postroom.mail.parse import parse_headers, parse_message, parse_message_head
from postroom.mail.text import extract_body
from postroom.mail.types import Headers, Mailbox, MessageKind


def make_message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna@example.com>"
    msg["To"] = "jobs@example.org"
    msg["Subject"] = "Application"
    msg["Date"] = "Mon, 04 Mar 2024 10:00:00 +0100"
    msg["Message-ID"] = "<m1@example.com>"
    for name, value in headers.items():
        del msg[name.replace("_", "-")]
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello\n")
    return msg


# --- parse_headers -----------------------------------------------------------------------------


def test_parse_headers_reads_an_imap_header_fields_block():
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\r\n"
        b'To: Anna Berg <anna@example.com>, "Doe, John" <john@example.com>\r\n'
        b"Cc: team: a@example.com, b@example.com;, undisclosed-recipients:;\r\n"
        b"Subject: =?iso-8859-1?q?Bewerbung_f=FCr?= die\r\n Stelle\r\n"
        b"Date: Mon, 4 Mar 2024 10:00:00 +0100\r\n"
        b"Message-ID:  <abc@Example.COM> \r\n"
        b"In-Reply-To: <prev@example.com> (earlier)\r\n"
        b"References: <first@example.com>\r\n <prev@example.com>\r\n"
        b"\r\n"
    )
    headers = parse_headers(raw)
    assert headers.from_ == (Mailbox("Jörg Müller", "joerg@example.com"),)
    assert headers.to == (
        Mailbox("Anna Berg", "anna@example.com"),
        Mailbox("Doe, John", "john@example.com"),
    )
    assert headers.cc == (Mailbox("", "a@example.com"), Mailbox("", "b@example.com"))
    assert headers.subject == "Bewerbung für die Stelle"
    assert headers.date == datetime(2024, 3, 4, 10, tzinfo=timezone(timedelta(hours=1)))
    assert headers.message_id == "<abc@Example.COM>"
    assert headers.in_reply_to == "<prev@example.com>"
    assert headers.references == ("<first@example.com>", "<prev@example.com>")
    assert headers.content_type == "text/plain"


def test_parse_headers_of_an_empty_block_gives_defaults():
    assert parse_headers(b"") == Headers()
    assert parse_headers(b"\r\n") == Headers()


def test_parse_headers_decodes_raw_utf8_and_latin1_bytes():
    headers = parse_headers(
        b"From: J\xc3\xb6rg <joerg@example.com>\r\nSubject: Gr\xfc\xdfe\r\n\r\n"
    )
    assert headers.from_ == (Mailbox("Jörg", "joerg@example.com"),)
    assert headers.subject == "Grüße"


def test_parse_headers_decodes_encoded_word_display_name_with_comma():
    headers = parse_headers(b"To: =?utf-8?q?Doe=2C_J=C3=B6rg?= <j@example.com>, x@example.com\r\n")
    assert headers.to == (Mailbox("Doe, Jörg", "j@example.com"), Mailbox("", "x@example.com"))


def test_parse_headers_keeps_only_mailboxes_with_local_part_and_domain():
    headers = parse_headers(
        b'To: <Undisclosed-Recipient:@example.com;>, "a@b" <nodomain>, Name Only,'
        b" ok@example.com\r\n"
    )
    assert headers.to == (Mailbox("", "ok@example.com"),)


def test_parse_headers_survives_an_11_kb_header_line_and_garbage():
    long_to = b", ".join(b'"N%d" <n%d@example.com>' % (i, i) for i in range(500))
    garbage = b'To: <<<>>> ,,, "unterminated \x00\xff =?x?q?' + b"=" * 11_000
    headers = parse_headers(b"Cc: " + long_to + b"\r\n" + garbage + b"\r\n\r\n")
    assert len(headers.cc) == 500
    assert headers.cc[-1] == Mailbox("N499", "n499@example.com")
    assert headers.to == ()


def test_parse_headers_takes_zone_less_date_as_utc():
    headers = parse_headers(b"Date: Mon, 4 Mar 2024 10:00:00 -0000\r\n\r\n")
    assert headers.date == datetime(2024, 3, 4, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [b"next tuesday", b"Mon, 99 Foo 2024 99:99:99 +0100", b"Mon, 4 Mar 2024 10:00:00 +9999"],
)
def test_parse_headers_keeps_unreadable_date_raw(value: bytes):
    headers = parse_headers(b"Date: " + value + b"\r\n\r\n")
    assert headers.date is None
    assert headers.date_raw == value.decode()


def test_parse_headers_without_date_or_message_id():
    headers = parse_headers(b"From: a@example.com\r\n\r\n")
    assert (headers.date, headers.date_raw, headers.message_id, headers.in_reply_to) == (
        None,
        None,
        None,
        None,
    )


def test_parse_headers_keeps_a_message_id_without_brackets():
    assert parse_headers(b"Message-ID: abc@example.com \r\n\r\n").message_id == "abc@example.com"
    assert parse_headers(b"In-Reply-To: \r\n\r\n").in_reply_to is None


def test_parse_headers_reads_list_and_automation_fields():
    headers = parse_headers(
        b"List-Id: Jobs <jobs.example.org>\r\nList-Unsubscribe: <mailto:u@example.org>\r\n"
        b"Precedence: Bulk\r\nAuto-Submitted: auto-generated\r\n"
        b"Content-Type: multipart/report; report-type=Delivery-Status; boundary=x\r\n\r\n"
    )
    assert headers.list_id == "Jobs <jobs.example.org>"
    assert headers.list_unsubscribe == "<mailto:u@example.org>"
    assert headers.precedence == "Bulk"
    assert headers.auto_submitted == "auto-generated"
    assert headers.content_type == "multipart/report"
    assert headers.report_type == "delivery-status"


# --- parse_message -----------------------------------------------------------------------------


def test_parse_message_reads_headers_body_and_size():
    raw = make_message().as_bytes()
    parsed = parse_message(raw)
    assert parsed.headers.subject == "Application"
    assert parsed.headers.from_ == (Mailbox("Anna Berg", "anna@example.com"),)
    assert parsed.body.text == "Hello\n"
    assert parsed.classification.kind is MessageKind.CONVERSATION
    assert parsed.size == len(raw)
    assert parsed.defects == ()


def test_parse_message_without_date_and_message_id():
    msg = make_message()
    del msg["Date"]
    del msg["Message-ID"]
    parsed = parse_message(msg.as_bytes())
    assert parsed.headers.date is None
    assert parsed.headers.message_id is None


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n\t"], ids=["empty", "whitespace"])
def test_parse_message_rejects_empty_bytes(raw: bytes):
    with pytest.raises(MessageParseError, match="empty"):
        parse_message(raw)


def test_parse_message_wraps_unexpected_errors(monkeypatch: pytest.MonkeyPatch):
    def fail(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parse, "classify", fail)
    with pytest.raises(MessageParseError, match="boom") as caught:
        parse_message(make_message().as_bytes())
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_parse_message_lists_tolerated_defects():
    raw = (
        b"From: a@example.com\r\nDate: someday\r\n"
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\nno boundary here\r\n"
    )
    parsed = parse_message(raw)
    assert "StartBoundaryNotFoundDefect" in parsed.defects
    assert "InvalidDateDefect" in parsed.defects


def test_parse_message_of_text_without_header_degrades():
    parsed = parse_message(b"just some words, no header at all")
    assert parsed.headers.from_ == ()
    assert "MissingHeaderBodySeparatorDefect" in parsed.defects


def test_parse_message_head_leaves_the_body_for_later():
    msg = make_message()
    msg.add_attachment(b"\x00" * 100, maintype="application", subtype="pdf", filename="cv.pdf")
    raw = msg.as_bytes()
    head = parse_message_head(raw)
    parsed = parse_message(raw)
    assert head.headers == parsed.headers
    assert head.classification == parsed.classification
    assert head.size == parsed.size
    assert extract_body(head.mime) == parsed.body


@given(st.binary(max_size=3000))
def test_parse_message_raises_only_message_parse_error(raw: bytes):
    try:
        parse_message(raw)
    except MessageParseError:
        assert not raw.strip()


MIME_FRAGMENTS = [
    b"From: ",
    b"To: ",
    b"Subject: ",
    b"Date: ",
    b"Content-Type: ",
    b"Content-Transfer-Encoding: base64",
    b"=?utf-8?b?",
    b"?=",
    b"multipart/mixed; boundary=b",
    b"message/rfc822",
    b"\r\n",
    b"\r\n\r\n",
    b"--b\r\n",
    b"--b--",
    b"<a@b>",
    b'"',
    b"\xc3\xa9",
    b"\xff",
    b"text/html",
    b";",
    b",",
    b" ",
]


@given(st.lists(st.sampled_from(MIME_FRAGMENTS), max_size=60))
def test_parse_message_survives_random_mime_fragments(chunks: list[bytes]):
    raw = b"".join(chunks)
    if raw.strip():
        parse_message(raw)


# --- addresses as written (issue 11 item 10) ---------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        b"<=?utf-8?q?anna?=@acme.example>",
        b"Anna <=?utf-8?q?anna?=@acme.example>",
        b"=?utf-8?b?YW5uYQ==?=@acme.example",
        b"Anna <=?utf-8?q?anna?=@acme.example>, bob@acme.example",  # the stdlib's path
    ],
)
def test_encoded_words_inside_an_addr_spec_are_not_decoded(field: bytes):
    headers = parse_headers(b"From: " + field + b"\r\n\r\n")
    assert headers.from_[0].address.startswith("=?utf-8?")
    assert all(box.address != "anna@acme.example" for box in headers.from_)


def test_encoded_words_in_the_display_name_are_still_decoded():
    headers = parse_headers(b"From: =?utf-8?q?J=C3=B6rg?= <joerg@acme.example>\r\n\r\n")
    assert headers.from_ == (Mailbox(name="Jörg", address="joerg@acme.example"),)


@pytest.mark.parametrize(
    "address",
    [
        "anna@acme.example\u200b",  # zero-width space after it
        "anna\u200d@acme.example",  # zero-width joiner
        "anna@acme\u202e.example",  # right-to-left override
        "\u2066anna@acme.example",  # left-to-right isolate
        "anna@acme.example\ufeff",  # byte order mark
        "anna@acme.exam\u00adple",  # soft hyphen
        "anna@acme.example\u3164",  # Hangul filler
    ],
)
def test_an_address_with_an_invisible_character_is_not_taken(address: str):
    raw = f"From: Anna <{address}>\r\nTo: bob@acme.example, {address}\r\n\r\n".encode()
    head = parse_message_head(raw + b"Hello\r\n")
    assert head.headers.from_ == ()
    assert head.headers.to == (Mailbox(name="", address="bob@acme.example"),)
    assert "InvalidAddressDefect" in head.defects
    # the message itself still parses whole
    assert parse_message(raw + b"Hello\r\n").body.text == "Hello\r\n".replace("\r\n", "\n")


def test_a_control_character_in_an_address_is_not_taken():
    headers = parse_headers(b"From: Anna <anna@acme.example\x01>\r\n\r\n")
    assert headers.from_ == ()


# --- a boundary folded inside its quoted parameter (issue 10 item 3) ---------------------------


def folded_boundary_mail(fold: bytes, delimiter: bytes) -> bytes:
    return (
        b"From: anna@acme.example\r\nSubject: CV\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="----=_Part_123' + fold + b'_456"\r\n\r\n'
        b"--" + delimiter + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Here is my CV.\r\n"
        b"--" + delimiter + b'\r\nContent-Type: application/pdf; name="cv.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
        b"--" + delimiter + b"--\r\n"
    )


@pytest.mark.parametrize(
    ("fold", "delimiter"),
    [
        (b"\r\n\t", b"----=_Part_123_456"),  # the mailer broke the boundary to fold it
        (b"\r\n ", b"----=_Part_123_456"),
        (b"\n\t", b"----=_Part_123_456"),  # LF line ends
        (b"\r\n\t", b"----=_Part_123\t_456"),  # unfolded as RFC 5322 says: the tab stays
    ],
)
def test_a_boundary_folded_inside_its_quoted_parameter_is_unfolded(fold: bytes, delimiter: bytes):
    raw = folded_boundary_mail(fold, delimiter)
    if fold.startswith(b"\n"):
        raw = raw.replace(b"\r\n", b"\n")
    parsed = parse_message(raw)
    assert parsed.body.text.strip() == "Here is my CV."
    assert [(a.filename, a.size, a.part) for a in parsed.body.attachments] == [("cv.pdf", 8, "2")]
    assert "FoldedBoundaryDefect" in parsed.defects
    assert "StartBoundaryNotFoundDefect" not in parsed.defects


def test_a_folded_boundary_of_a_nested_multipart_is_unfolded():
    raw = (
        b"From: anna@acme.example\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
        b'--outer\r\nContent-Type: multipart/alternative; boundary="in\r\n\tner"\r\n\r\n'
        b"--inner\r\nContent-Type: text/plain\r\n\r\nPlain words\r\n"
        b"--inner\r\nContent-Type: text/html\r\n\r\n<p>HTML words</p>\r\n--inner--\r\n"
        b'--outer\r\nContent-Type: image/png; name="a.png"\r\n\r\nPNG\r\n--outer--\r\n'
    )
    parsed = parse_message(raw)
    assert parsed.body.text.strip() == "Plain words"
    assert [a.part for a in parsed.body.attachments] == ["2"]


def test_a_boundary_that_delimits_nothing_is_left_as_it_is():
    raw = (
        b"From: anna@acme.example\r\n"
        b'Content-Type: multipart/mixed; boundary="abc\r\n\tdef"\r\n\r\n'
        b"no delimiter here\r\n"
    )
    parsed = parse_message(raw)
    assert "FoldedBoundaryDefect" not in parsed.defects
    assert parsed.body.attachments == ()
