"""Tests for postroom.mail.text: charsets, header words, HTML, body choice."""

from __future__ import annotations

import base64
import email
from email.message import EmailMessage
from email.policy import compat32

import pytest

from postroom.mail.text import (
    MAX_TEXT_BYTES,
    decode_text,
    decode_words,
    extract_body,
    html_to_text,
    list_message_ids,
)
from postroom.mail.types import Attachment


def reparse(msg: EmailMessage) -> email.message.Message:
    """What the parser builds from the bytes of ``msg`` (as parse_message does)."""
    return email.message_from_bytes(msg.as_bytes(), policy=compat32)


def make_message(subject: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna@example.com>"
    msg["To"] = "jobs@example.org"
    msg["Subject"] = subject
    return msg


# --- decode_text -------------------------------------------------------------------------------


def test_decode_text_uses_declared_charset():
    defects: list[str] = []
    assert decode_text("Grüße".encode("iso-8859-15"), "iso-8859-15", defects) == "Grüße"
    assert defects == []


def test_decode_text_falls_back_from_wrong_utf8_label_to_cp1252():
    defects: list[str] = []
    assert decode_text("café".encode("latin-1"), "utf-8", defects) == "café"
    assert defects == ["CharsetMismatchDefect"]


def test_decode_text_reads_utf8_labelled_as_ascii_without_defect():
    defects: list[str] = []
    assert decode_text("café".encode(), "us-ascii", defects) == "café"
    assert defects == []


def test_decode_text_unknown_charset_falls_back_to_utf8():
    defects: list[str] = []
    assert decode_text("Jörg".encode(), "x-no-such-charset", defects) == "Jörg"
    assert defects == ["UnknownCharsetDefect"]


def test_decode_text_refuses_bytes_to_bytes_codec_as_charset():
    defects: list[str] = []
    assert decode_text(b"plain words", "zlib", defects) == "plain words"
    assert defects == ["UnknownCharsetDefect"]


def test_decode_text_reads_latin1_label_as_cp1252():
    assert decode_text(b"\x93quoted\x94", "iso-8859-1", []) == "\u201cquoted\u201d"


def test_decode_text_keeps_declared_multibyte_charset_when_one_byte_is_bad():
    data = "中文".encode("big5") + b"\xff" + "測試".encode("big5")
    defects: list[str] = []
    assert decode_text(data, "big5", defects) == "中文\ufffd測試"
    assert defects == ["CharsetMismatchDefect"]


def test_decode_text_without_charset_falls_back_to_cp1252_with_replacement():
    assert decode_text(b"caf\xe9 \x81", None, []) == "café \ufffd"


def test_decode_text_limit_drops_a_character_cut_in_half():
    assert decode_text("aé".encode(), "utf-8", [], limit=2) == "a"


# --- header words ------------------------------------------------------------------------------


def test_decode_words_decodes_encoded_words_and_keeps_plain_text():
    assert decode_words("Re: =?utf-8?q?Bewerbung_J=C3=B6rg?= (2)", []) == "Re: Bewerbung Jörg (2)"


def test_decode_words_joins_adjacent_encoded_words():
    assert decode_words("=?utf-8?q?Gr=C3=BC?= =?utf-8?q?=C3=9Fe?=", []) == "Grüße"


def test_decode_words_with_broken_base64_keeps_the_raw_text():
    defects: list[str] = []
    assert decode_words("=?utf-8?b?abcde?=", defects) == "=?utf-8?b?abcde?="
    assert defects == ["HeaderDecodeDefect"]


def test_decode_words_with_wrong_charset_falls_back():
    defects: list[str] = []
    assert decode_words("=?us-ascii?q?Caf=C3=A9?=", defects) == "Café"


def test_list_message_ids_finds_tokens_in_order():
    assert list_message_ids("<a@x>\r\n (comment) <b@y>") == ["<a@x>", "<b@y>"]
    assert list_message_ids("no brackets") == []


# --- html_to_text ------------------------------------------------------------------------------


def test_html_to_text_drops_style_script_and_head():
    html = (
        "<html><head><title>T</title><style>p { color: red }</style></head>"
        "<body><script>alert('x')</script><p>Hello <b>Anna</b>,</p><p>see you&nbsp;soon.</p>"
        "</body></html>"
    )
    assert html_to_text(html).split() == ["Hello", "Anna,", "see", "you", "soon."]


def test_html_to_text_of_empty_document_is_empty():
    assert html_to_text("") == ""
    assert html_to_text("<!-- nothing -->") == ""


def test_html_to_text_converts_only_the_first_part_of_a_huge_document():
    html = "<p>start</p>" + "<p>filler</p>" * (MAX_TEXT_BYTES // 13) + "<p>THE-END</p>"
    text = html_to_text(html)
    assert text.startswith("start")
    assert "THE-END" not in text


# --- extract_body ------------------------------------------------------------------------------


def test_extract_body_prefers_plain_text_of_alternative():
    msg = make_message()
    msg.set_content("Plain version\n")
    msg.add_alternative("<p>HTML version</p>", subtype="html")
    body = extract_body(reparse(msg))
    assert body.text == "Plain version\n"
    assert body.is_from_html is False
    assert body.attachments == ()


def test_extract_body_turns_html_only_message_into_text():
    msg = make_message()
    msg.set_content("<html><body><p>Dear Anna,</p><p>welcome!</p></body></html>", subtype="html")
    body = extract_body(reparse(msg))
    assert body.text.split() == ["Dear", "Anna,", "welcome!"]
    assert body.is_from_html is True


def test_extract_body_uses_html_when_plain_part_is_blank():
    msg = make_message()
    msg.set_content("  \n")
    msg.add_alternative("<p>The real text</p>", subtype="html")
    body = extract_body(reparse(msg))
    assert body.text == "The real text"
    assert body.is_from_html is True


def test_extract_body_lists_attachments_with_decoded_non_ascii_names():
    msg = make_message()
    msg.set_content("See attached.\n")
    pdf = b"%PDF-1.4 data"
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="Lebenslauf Jörg.pdf")
    msg.add_attachment("Notizen\n", filename="notizen.txt")
    body = extract_body(reparse(msg))
    assert body.text == "See attached.\n"
    assert body.attachments == (
        Attachment("Lebenslauf Jörg.pdf", "application/pdf", 13, part="2"),
        Attachment("notizen.txt", "text/plain", 8, part="3"),
    )


def test_extract_body_decodes_encoded_word_and_raw_utf8_file_names():
    raw = (
        b"From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="=?koi8-r?b?8NLJzcXS?=.doc"\r\n\r\nxx\r\n'
        b'--b\r\nContent-Type: text/plain; name="ci\xc3\xable.txt"\r\n'
        b'Content-Disposition: attachment; filename="ci\xc3\xable.txt"\r\n\r\nyy\r\n'
        b"--b--\r\n"
    )
    body = extract_body(email.message_from_bytes(raw, policy=compat32))
    assert [a.filename for a in body.attachments] == ["Пример.doc", "ciële.txt"]
    assert body.text == "Hi"


def test_extract_body_treats_nested_message_as_one_attachment_named_by_subject():
    inner = make_message("Forwarded: Stelle 42")
    inner.set_content("Inner text that is not the body.\n")
    outer = make_message("Fwd")
    outer.set_content("Cover note\n")
    outer.add_attachment(inner)
    body = extract_body(reparse(outer))
    assert body.text == "Cover note\n"
    [attachment] = body.attachments
    assert attachment.filename == "Forwarded: Stelle 42"
    assert attachment.content_type == "message/rfc822"
    assert attachment.size > 0


def test_extract_body_does_not_take_text_attachment_as_body():
    msg = make_message()
    msg.add_attachment("I am a file\n", filename="file.txt")
    body = extract_body(reparse(msg))
    assert body.text == ""
    assert [a.filename for a in body.attachments] == ["file.txt"]


def test_extract_body_records_wrong_charset():
    raw = (
        b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe\r\n"
    )
    body = extract_body(email.message_from_bytes(raw, policy=compat32))
    assert body.text == "Grüße\n"
    assert body.defects == ("CharsetMismatchDefect",)


def test_extract_body_caps_a_huge_text_part():
    msg = make_message()
    msg.set_content("word " * (MAX_TEXT_BYTES // 2), cte="8bit")
    body = extract_body(reparse(msg))
    assert len(body.text) == MAX_TEXT_BYTES


def test_extract_body_splits_the_reply():
    msg = make_message("Re: Interview")
    msg.set_content("Tuesday is fine.\n\nOn Mon, 4 Mar 2024, Jobs wrote:\n> Tuesday?\n")
    body = extract_body(reparse(msg))
    assert body.reply_text == "Tuesday is fine."


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n",
        b'Content-Type: text/plain; charset="\xff\xfe"\r\n\r\nbody',
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
    ],
    ids=["multipart-without-boundary", "truncated-multipart", "8bit-charset-name", "b64-rfc822"],
)
def test_extract_body_never_raises_on_malformed_structure(raw: bytes):
    body = extract_body(email.message_from_bytes(raw, policy=compat32))
    assert isinstance(body.text, str)


def test_utf16_without_a_bom_that_is_not_utf8_falls_back_without_raising():
    from postroom.mail.text import decode_text

    defects: list[str] = []
    assert decode_text(b"A\x80", "utf-16", defects) == "A€"
    assert "CharsetMismatchDefect" in defects


# --- UTF-7 in headers (issue 10 item 3) --------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    ["utf-7", "UTF-7", "unicode-1-1-utf-7", "x-utf-7", "x-unicode-2-0-utf-7", "unicode-2-0-utf-7"],
)
def test_utf7_encoded_words_decode(label: str):
    from postroom.mail.parse import parse_headers

    q_word = "Gr+APwA3w-e_aus_K+APY-ln"
    b_word = base64.b64encode("Grüße aus Köln".encode("utf-7")).decode()
    raw = (
        f"Subject: =?{label}?Q?{q_word}?=\r\n"
        f"From: =?{label}?B?{base64.b64encode('Jörg'.encode('utf-7')).decode()}?= <j@x.example>\r\n"
        f"Comments: =?{label}?B?{b_word}?=\r\n\r\n"
    ).encode()
    headers = parse_headers(raw)
    assert headers.subject == "Grüße aus Köln"
    assert headers.from_[0].name == "Jörg"
    assert decode_words(f"=?{label}?B?{b_word}?=", defects := []) == "Grüße aus Köln"
    assert defects == []


def test_a_utf7_file_name_decodes():
    msg = make_message()
    msg.set_content("See the file.")
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="x.pdf")
    raw = msg.as_bytes().replace(b'filename="x.pdf"', b'filename="=?x-utf-7?Q?K+APY-ln.pdf?="')
    (attachment,) = extract_body(email.message_from_bytes(raw, policy=compat32)).attachments
    assert attachment.filename == "Köln.pdf"


# --- no image alt text or file names in the text made from HTML (issue 10 item 3) -------------


@pytest.mark.parametrize(
    "html",
    [
        '<p>Hi</p><img src="cid:image001.png@01D9" alt="image001.png"><p>Bye</p>',
        '<p>Hi</p><a href="https://x.example"><img alt="CV.pdf" src="a.png"></a><p>Bye</p>',
        '<p>Hi</p><img src="logo.png" title="logo.png" alt="[image: logo.png]"><p>Bye</p>',
        '<table><tr><td><img alt="photo.jpg"></td><td>Hi</td></tr></table><p>Bye</p>',
        '<p>Hi</p><![if !vml]><img src="cid:image002.jpg" alt="image002.jpg"><![endif]><p>Bye</p>',
        '<p>Hi</p><!--[if gte vml 1]><v:imagedata src="image003.png" o:title="image003.png"/>'
        "<![endif]--><p>Bye</p>",
        '<p>Hi</p><picture><source srcset="a.webp"><img alt="a.webp"></picture><p>Bye</p>',
        '<p>Hi</p><input type="image" alt="go.png"><map><area alt="map.png"></map><p>Bye</p>',
    ],
)
def test_image_alt_text_and_file_names_are_not_in_the_text(html: str):
    text = html_to_text(html)
    assert text.split() == ["Hi", "Bye"]
