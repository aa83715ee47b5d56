"""The MIME corners of issue 10 item 3, on both paths: the whole message
(``parse_message``) and the IMAP path (BODYSTRUCTURE, then the text part:
``tests.unit.mail.test_structure.read_via_imap``). The messages are in tests/data/mime/."""

from __future__ import annotations

import binascii
from pathlib import Path

import pytest

from postroom.mail import parse_message
from postroom.mail.types import Body
from tests.unit.mail.test_structure import read_via_imap

MIME = Path(__file__).parents[2] / "data" / "mime"


def read(name: str) -> bytes:
    return (MIME / name).read_bytes()


def both_paths(raw: bytes) -> list[Body]:
    """The body of ``raw`` from the whole message and from the IMAP path."""
    return [parse_message(raw).body, read_via_imap(raw)[1]]


def described(body: Body) -> list[tuple[str | None, str, str | None]]:
    return [(a.filename, a.content_type, a.part) for a in body.attachments]


# --- signatures and text/enriched are not files -----------------------------------------------


def test_a_text_enriched_alternative_is_not_an_attachment():
    for body in both_paths(read("enriched_alternative.eml")):
        assert body.text.strip() == "Please find my application below."
        assert body.attachments == ()


def test_a_pgp_signature_is_not_an_attachment():
    for body in both_paths(read("pgp_signed.eml")):
        assert body.text.strip() == "My CV is attached."
        assert [(a.filename, a.content_type, a.part) for a in body.attachments] == [
            ("cv.pdf", "application/pdf", "1.2")
        ]


def test_an_smime_signature_is_not_an_attachment():
    for body in both_paths(read("smime_signed.eml")):
        assert body.text.strip() == "Signed words."
        assert body.attachments == ()


def test_a_text_enriched_file_is_still_an_attachment():
    raw = read("enriched_alternative.eml").replace(
        b"Content-Type: text/enriched; charset=us-ascii\r\n",
        b"Content-Type: text/enriched; charset=us-ascii\r\nContent-Disposition: attachment;"
        b' filename="notes.etx"\r\n',
    )
    for body in both_paths(raw):
        assert [a.filename for a in body.attachments] == ["notes.etx"]


@pytest.mark.parametrize("name", ["enriched_alternative.eml", "pgp_signed.eml", "smime_signed.eml"])
def test_the_two_paths_agree(name: str):
    whole, imap = both_paths(read(name))
    assert whole.text.strip() == imap.text.strip()
    assert described(whole) == described(imap)  # sizes: the IMAP path estimates them


# --- files uuencoded inside a plain text -----------------------------------------------------


def test_uuencoded_files_in_a_plain_text_are_attachments_and_not_text():
    for body in both_paths(read("uuencoded_in_text.eml")):
        assert " ".join(body.text.split()) == (
            "Hello, my CV and a photo are attached. Best regards, Anna"
        )
        assert "begin 644" not in body.text
        assert "M)5!$" not in body.text  # the first data line of the PDF
        assert [(a.filename, a.content_type, a.size, a.part) for a in body.attachments] == [
            ("Anna Berg CV.pdf", "application/pdf", 784, None),
            ("photo.jpg", "image/jpeg", 104, None),
        ]
        assert body.reply_text.startswith("Hello,")


def test_a_uuencoded_file_in_a_text_part_of_a_multipart_is_listed_after_the_mime_files():
    uu = binascii.b2a_uu(b"hello world").decode()
    raw = (
        "From: anna@acme.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\n"
        f"Notes:\r\nbegin 644 notes.txt\r\n{uu}`\r\nend\r\n"
        '--b\r\nContent-Type: application/pdf; name="cv.pdf"\r\n\r\n%PDF\r\n--b--\r\n'
    ).encode()
    for body in both_paths(raw):
        assert body.text.strip() == "Notes:"
        assert [(a.filename, a.size) for a in body.attachments][1:] == [("notes.txt", 11)]


@pytest.mark.parametrize(
    "text",
    [
        "We begin 644 interviews next week.\nend of story\n",
        "begin 644 cv.pdf\nthis is not uuencoded data, just prose.\nend\n",
        "begin 644 cv.pdf\nend\n",  # nothing inside
    ],
)
def test_text_that_only_looks_like_uuencoding_stays_text(text: str):
    raw = b"From: anna@acme.example\r\n\r\n" + text.replace("\n", "\r\n").encode()
    for body in both_paths(raw):
        assert body.text.split() == text.split()
        assert body.attachments == ()


def test_a_uuencoded_file_cut_by_the_end_of_the_text_is_taken_out():
    data = bytes(range(200))
    uu = "".join(binascii.b2a_uu(data[i : i + 45]).decode() for i in range(0, 200, 45))
    raw = f"From: a@acme.example\r\n\r\nHere:\r\nbegin 644 a.bin\r\n{uu}".encode()
    for body in both_paths(raw):
        assert body.text.strip() == "Here:"
        assert [(a.filename, a.size) for a in body.attachments] == [("a.bin", 200)]


# --- prose in a part labelled as a delivery report ---------------------------------------------

PROSE = (
    "Dear Robin,\n\nthank you for the invitation. Thursday at 10:00 suits me.\n"
    "Note: I will bring my portfolio and the references.\n\nGrüße,\nAnna"
)


def test_prose_labelled_as_a_delivery_report_is_the_text():
    for body in both_paths(read("delivery_status_prose.eml")):
        assert body.text.strip() == PROSE
        assert body.reply_text.startswith("Dear Robin,")
        assert body.attachments == ()


def test_prose_in_a_delivery_report_part_beside_a_blank_text_is_the_text():
    raw = (
        b"From: anna@acme.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Hello Robin,\r\nyes, Thursday works.\r\n\r\nAnna\r\n"
        b'--b\r\nContent-Type: application/pdf; name="cv.pdf"\r\n\r\n%PDF\r\n--b--\r\n'
    )
    for body in both_paths(raw):
        assert body.text.strip() == "Hello Robin,\nyes, Thursday works.\n\nAnna"
        assert described(body) == [("cv.pdf", "application/pdf", "3")]


def test_a_delivery_report_beside_a_text_stays_a_report():
    raw = (
        b"From: mailer-daemon@firm.example\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.firm.example\r\n\r\n"
        b"Final-Recipient: rfc822; anna@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b--\r\n"
    )
    for body in both_paths(raw):
        assert body.text.strip() == "Your message could not be delivered."
        assert described(body) == [(None, "message/delivery-status", "2")]


def test_open_original_shows_prose_labelled_as_a_delivery_report():
    from postroom.mail.render import read_original

    shown = read_original(read("delivery_status_prose.eml"))
    assert shown.text is not None
    assert shown.text.strip() == PROSE
    assert shown.attachments == ()


# --- a forward with an empty cover note --------------------------------------------------------


def test_a_forward_attached_with_an_empty_cover_note_reads_the_forwarded_text():
    whole, imap = both_paths(read("forward_attached_empty_cover.eml"))
    for body in (whole, imap):
        assert body.text.strip() == "Hello Robin,\n\nhere is my CV.\n\nAnna"
        assert body.reply_text.startswith("Hello Robin,")
        assert not body.is_from_html
        assert described(body) == [("My application", "message/rfc822", "2")]
    plan = read_via_imap(read("forward_attached_empty_cover.eml"))[0]
    assert plan.part == "2.1.1"  # the forwarded message's own text part


def test_a_forward_with_a_cover_note_keeps_the_cover_note():
    raw = read("forward_attached_empty_cover.eml").replace(
        b"charset=utf-8\r\n\r\n\r\n--outer", b"charset=utf-8\r\n\r\nSam, see below.\r\n--outer"
    )
    for body in both_paths(raw):
        assert body.text.strip() == "Sam, see below."


FORWARDED_BODY = "Hello Robin,\n\nhere is my CV.\n\nAnna"


@pytest.mark.parametrize(
    "head",
    [
        # Gmail
        "---------- Forwarded message ---------\nFrom: Anna Berg <anna@acme.example>\n"
        "Date: Mon, 3 Jun 2024 at 10:00\nSubject: My application\nTo: <robin@firm.example>\n",
        # Thunderbird
        "-------- Forwarded Message --------\nSubject: \tMy application\n"
        "Date: \tMon, 3 Jun 2024 10:00:00 +0200\nFrom: \tAnna Berg <anna@acme.example>\n"
        "To: \trobin@firm.example\n",
        # Thunderbird (older), Outlook Express
        "-------- Original Message --------\nSubject: My application\nFrom: anna@acme.example\n",
        # Apple Mail
        "Begin forwarded message:\n\nFrom: Anna Berg <anna@acme.example>\n"
        "Subject: My application\nDate: 3 June 2024 at 10:00:00 CEST\n"
        "To: robin@firm.example\n",
        # Outlook
        "________________________________\nFrom: Anna Berg <anna@acme.example>\n"
        "Sent: Monday, June 3, 2024 10:00 AM\nTo: Robin Reeve <robin@firm.example>\n"
        "Subject: My application\n",
        # Outlook, from HTML
        "________________________________\n*From:* Anna Berg <anna@acme.example>\n"
        "*Sent:* Monday, June 3, 2024 10:00 AM\n*Subject:* My application\n",
        # German Gmail
        "---------- Weitergeleitete Nachricht ---------\nVon: Anna Berg <anna@acme.example>\n"
        "Betreff: Bewerbung\n",
    ],
)
def test_a_forward_inline_with_an_empty_cover_note_gives_the_forwarded_text(head: str):
    text = f"\n{head}\n{FORWARDED_BODY}\n"
    raw = b"From: robin@firm.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    raw += text.replace("\n", "\r\n").encode()
    for body in both_paths(raw):
        assert body.reply_text == FORWARDED_BODY
        assert body.text.strip() == text.strip()  # the whole text keeps the forward header


def test_a_forward_of_a_reply_gives_the_reply_only():
    text = (
        "---------- Forwarded message ---------\nFrom: Anna <anna@acme.example>\n"
        "Subject: Re: Interview\n\nYes, Thursday works.\n\n"
        "On Mon, 3 Jun 2024 at 10:00, Robin <robin@firm.example> wrote:\n> Does Thursday work?\n"
    )
    raw = b"From: robin@firm.example\r\n\r\n" + text.replace("\n", "\r\n").encode()
    for body in both_paths(raw):
        assert body.reply_text == "Yes, Thursday works."


@pytest.mark.parametrize(
    "text",
    [
        "Thanks!\n\n---------- Forwarded message ---------\nFrom: a@acme.example\n\nHello",
        "________________________________\nThis line of underscores is only a divider.\n",
        "-------- Original Message --------\n",
    ],
)
def test_a_text_that_is_not_a_bare_forward_is_split_as_before(text: str):
    from postroom.mail.reply import split_reply
    from postroom.mail.text import read_reply

    assert read_reply(text) == split_reply(text)
