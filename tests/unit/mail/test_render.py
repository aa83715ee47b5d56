"""mail/render.py: what Open original shows of a message, and the HTML sanitiser (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from postroom.mail.parse import parse_message_head
from postroom.mail.render import get_part_data, is_part_number, read_original, sanitize_html
from postroom.mail.text import extract_body


def clean(html: str, *, remote: bool = False) -> str:
    return sanitize_html(
        html, image_url=lambda cid: f"https://app.example/inline/{cid}", allow_remote_images=remote
    ).html


def mixed_message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna@acme.example>"
    msg["To"] = "robin@firm.example, =?utf-8?q?J=C3=BCrgen?= <j@firm.example>"
    msg["Subject"] = "=?utf-8?q?Caf=C3=A9?= meeting"
    msg["Date"] = "Sun, 06 Dec 2026 10:00:00 +0100"
    msg.set_content("plain body")
    msg.add_alternative('<p>html <img src="cid:logo@acme"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"PNGDATA", "image", "png", cid="<logo@acme>")
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="cv.pdf")
    inner = EmailMessage()
    inner["Subject"] = "Forwarded offer"
    inner.set_content("inner text")
    msg.add_attachment(inner)
    return msg.as_bytes()


def test_headers_body_and_parts_of_a_mixed_message():
    message = read_original(mixed_message())

    assert message.subject == "Café meeting"
    assert message.sender == (("Anna Berg", "anna@acme.example"),)
    assert message.to == (("", "robin@firm.example"), ("Jürgen", "j@firm.example"))
    assert message.date == datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert message.text == "plain body\n"
    assert "cid:logo@acme" in message.html
    # IMAP part numbers (RFC 9051 section 6.4.5): mixed(alternative(plain, related(html,
    # png)), pdf, message/rfc822)
    assert [(p.number, p.content_type, p.is_body) for p in message.parts] == [
        ("1.1", "text/plain", True),
        ("1.2.1", "text/html", True),
        ("1.2.2", "image/png", False),
        ("2", "application/pdf", False),
        ("3", "message/rfc822", False),
    ]
    # the logo is shown inline, so it is not listed; the forwarded mail is named by its subject
    assert [a.filename for a in message.attachments] == ["cv.pdf", "Forwarded offer.eml"]
    assert message.find_content_id("<LOGO@acme>").number == "1.2.2"


def test_the_part_numbers_are_those_the_ingest_keeps():
    """One scheme: the numbers the view shows are the ``part`` of the ingest's attachments."""
    raw = mixed_message()

    kept = extract_body(parse_message_head(raw).mime).attachments
    shown = read_original(raw).attachments
    assert [(a.part, a.content_type) for a in kept] == [
        ("1.2.2", "image/png"),
        ("2", "application/pdf"),
        ("3", "message/rfc822"),
    ]
    assert {(a.part, a.content_type) for a in kept} >= {(p.number, p.content_type) for p in shown}


def test_parts_are_given_by_their_imap_part_number():
    raw = mixed_message()

    part, data = get_part_data(raw, "2")
    assert (part.number, part.filename, data) == ("2", "cv.pdf", b"%PDF")
    part, data = get_part_data(raw, "3")
    assert data.startswith(b"Subject: Forwarded offer")
    part, data = get_part_data(raw, "1.2.2")
    assert (part.content_type, data) == ("image/png", b"PNGDATA")
    assert get_part_data(raw, "1.1")[1] == b"plain body\n"
    for missing in ("4", "1", "1.2", "1.3", "2.1", "0", "", "1.", ".1", "1..2", "x", "1/2"):
        assert get_part_data(raw, missing) is None, missing


def test_a_single_part_message_is_part_1():
    raw = b"Content-Type: application/pdf; name=cv.pdf\r\n\r\n%PDF"

    [part] = read_original(raw).parts
    assert (part.number, part.filename) == ("1", "cv.pdf")
    assert get_part_data(raw, "1")[1] == b"%PDF"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("2.10.3", True),
        ("1" * 9, True),
        (".".join(["1"] * 32), True),
        ("", False),
        ("0", False),
        ("01", False),
        ("1" * 10, False),
        ("1.", False),
        ("1..2", False),
        ("1.2a", False),
        ("-1", False),
        ("1 ", False),
        ("١", False),  # an Arabic-Indic digit is no ASCII digit
        (".".join(["1"] * 33), False),  # longer than MAX_PART_NUMBER_LENGTH
    ],
)
def test_what_a_part_number_may_be(value, expected):
    assert is_part_number(value) is expected


def test_a_broken_message_is_read_as_well_as_it_can_be():
    raw = (
        b"From: \xff\xfe broken\r\nDate: yesterday\r\nContent-Type: text/plain; charset=x-nope\r\n"
        b"\r\ncaf\xe9"
    )
    message = read_original(raw)

    assert message.date is None
    assert message.text == "café"


@pytest.mark.parametrize(
    ("html", "absent"),
    [
        ("<p>a</p><script>alert(1)</script>", "script"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href="data:text/html,x">x</a>', "data:"),
        ("<svg><script>alert(1)</script></svg>", "svg"),
        ('<form action="http://x.example"><input name="a"></form>', "form"),
        ('<meta http-equiv="refresh" content="0;url=http://x.example">', "refresh"),
        ('<base href="http://x.example/">', "base"),
        ('<iframe src="http://x.example"></iframe>', "iframe"),
        ('<object data="http://x.example"></object>', "object"),
        ('<link rel="stylesheet" href="http://x.example/s.css">', "stylesheet"),
        ("<style>@import url(http://x.example/i.css);</style>", "import"),
        ('<p style="background: url(http://x.example/b.png)">x</p>', "url("),
        ('<p style="width: expression(alert(1))">x</p>', "expression"),
        ('<img srcset="http://x.example/a.png 1x">', "srcset"),
        ('<table background="http://x.example/b.png"><tr><td>x</td></tr></table>', "background"),
        ('<a href="/settings">relative</a>', "href"),
    ],
)
def test_the_sanitiser_keeps_nothing_that_runs_or_loads(html, absent):
    assert absent not in clean(html).lower()


def test_links_open_in_a_new_tab_without_a_referrer():
    assert clean('<a href="https://acme.example/jobs">jobs</a>') == (
        '<a href="https://acme.example/jobs" target="_blank" rel="noopener noreferrer">jobs</a>'
    )


def test_remote_images_are_counted_and_dropped_unless_allowed():
    html = '<img src="http://x.example/t.png" alt="t"><img src="https://x.example/u.png">'

    blocked = sanitize_html(html, image_url=lambda cid: None, allow_remote_images=False)
    assert blocked.blocked_images == 2
    assert "x.example" not in blocked.html
    allowed = sanitize_html(html, image_url=lambda cid: None, allow_remote_images=True)
    assert allowed.blocked_images == 0
    assert 'src="http://x.example/t.png"' in allowed.html


def test_cid_images_are_rewritten_and_unknown_ones_dropped():
    html = '<img src="cid:Logo@Acme" alt="logo"><img src="cid:%3Cother%3E">'

    result = sanitize_html(
        html,
        image_url=lambda cid: "https://app.example/inline/1.2.2" if cid == "logo@acme" else None,
        allow_remote_images=False,
    )
    assert result.html == '<img src="https://app.example/inline/1.2.2" alt="logo"><img>'


def test_safe_inline_styles_stay():
    assert clean('<p style="color: red; font-weight: bold; position: fixed">x</p>') == (
        '<p style="color:red;font-weight:bold">x</p>'
    )
