"""mail/render.py: what Open original shows of a message, and the HTML sanitiser (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from postroom.mail.render import get_part_data, read_original, sanitize_html


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
    assert [(p.number, p.content_type, p.is_body) for p in message.parts] == [
        (1, "text/plain", True),
        (2, "text/html", True),
        (3, "image/png", False),
        (4, "application/pdf", False),
        (5, "message/rfc822", False),
    ]
    # the logo is shown inline, so it is not listed; the forwarded mail is named by its subject
    assert [a.filename for a in message.attachments] == ["cv.pdf", "Forwarded offer.eml"]
    assert message.find_content_id("<LOGO@acme>").number == 3


def test_parts_are_given_by_number():
    raw = mixed_message()

    part, data = get_part_data(raw, 4)
    assert (part.filename, data) == ("cv.pdf", b"%PDF")
    part, data = get_part_data(raw, 5)
    assert data.startswith(b"Subject: Forwarded offer")
    assert get_part_data(raw, 6) is None
    assert get_part_data(raw, 0) is None


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
        image_url=lambda cid: "https://app.example/inline/3" if cid == "logo@acme" else None,
        allow_remote_images=False,
    )
    assert result.html == '<img src="https://app.example/inline/3" alt="logo"><img>'


def test_safe_inline_styles_stay():
    assert clean('<p style="color: red; font-weight: bold; position: fixed">x</p>') == (
        '<p style="color:red;font-weight:bold">x</p>'
    )
