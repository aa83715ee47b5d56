"""Tests for postroom.mail.filenames: a sender's file name made safe to show and download
(issue 11 item 10)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.mail.filenames import MAX_DISPLAY_NAME, display_filename, unnamed_label
from postroom.mail.parse import parse_message
from postroom.mail.types import Attachment


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("Anna Berg CV.pdf", "Anna Berg CV.pdf"),
        ("../../.ssh/authorized_keys", "authorized_keys"),
        ("C:\\Users\\anna\\cv.pdf", "cv.pdf"),
        ("/etc/passwd", "passwd"),
        ("cv.pdf\x00.exe", "cv.pdf.exe"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # shown as "invoiceexe.pdf" when kept
        ("\u2067cv\u2069.pdf", "cv.pdf"),
        ("cv\u200b.pdf\ufeff", "cv.pdf"),
        ("Anna\tBerg\r\n  CV.pdf", "Anna Berg CV.pdf"),
        ("<img src=x onerror=alert(1)>.pdf", "_img src=x onerror=alert(1)_.pdf"),
        ('say "hi".txt', "say _hi_.txt"),
        ("..", "unnamed"),
        ("...", "unnamed"),
        ("dir/", "unnamed"),
        (" .bashrc ", "bashrc"),
        ("\x00\x01", "unnamed"),
        ("", "unnamed"),
        (None, "unnamed"),
        ("Lebenslauf Jörg.pdf", "Lebenslauf Jörg.pdf"),
        ("Lebenslauf Jo\u0308rg.pdf", "Lebenslauf Jörg.pdf"),  # NFC
        ("履歴書.pdf", "履歴書.pdf"),
    ],
)
def test_display_filename(sent: str | None, shown: str):
    assert display_filename(sent, "unnamed") == shown


def test_a_long_name_is_cut_and_keeps_its_extension():
    shown = display_filename("a" * 5000 + ".pdf", "unnamed")
    assert len(shown) == MAX_DISPLAY_NAME
    assert shown.endswith("….pdf")
    no_extension = display_filename("b" * 5000, "unnamed")
    assert len(no_extension) == MAX_DISPLAY_NAME
    assert no_extension.endswith("b…")


@given(st.text())
def test_every_display_name_is_safe(sent: str):
    shown = display_filename(sent, "unnamed")
    assert shown
    assert len(shown) <= MAX_DISPLAY_NAME
    assert not any(c in shown for c in '/\\<>"\x00')
    assert shown.isprintable()
    assert shown == shown.strip(" .")
    assert display_filename(shown, "unnamed") == shown  # a safe name stays as it is


def test_unnamed_label():
    assert unnamed_label("image/gif") == "inline image"
    assert unnamed_label("application/pdf") == unnamed_label(None) == "unnamed file"


def test_an_attachment_keeps_the_name_as_sent_and_shows_a_safe_one():
    raw = (
        b"From: anna@acme.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment;"
        b" filename*=utf-8''..%2F..%2Fcv%E2%80%AE%00fdp.exe\r\n\r\n%PDF\r\n"
        b"--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n"
    )
    cv, logo = parse_message(raw).body.attachments
    assert cv.filename == "../../cv\u202e\x00fdp.exe"
    assert cv.display_name == "cvfdp.exe"
    assert (logo.filename, logo.display_name) == (None, "inline image")
    assert Attachment("x/", "application/pdf", 1).display_name == "unnamed file"
