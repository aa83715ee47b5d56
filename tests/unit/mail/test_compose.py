"""Writing mail (mail/compose.py): typed addresses, replies and forwards, the bytes sent."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default

import pytest

from postroom.errors import InputError
from postroom.mail.compose import (
    Draft,
    FileToSend,
    build_message,
    forward_draft,
    new_message_id,
    parse_recipients,
    reply_draft,
    reply_subject,
    signed,
)
from postroom.mail.parse import parse_headers
from postroom.mail.types import Mailbox

ROBIN = Mailbox("Robin Reeve", "robin@firm.example")
WHEN = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
ORIGINAL = parse_headers(
    b"From: Anna Berg <anna@acme.example>\r\n"
    b"Reply-To: Anna (private) <anna.berg@home.example>\r\n"
    b"To: Robin Reeve <robin@firm.example>, Lena <lena@contoso.example>\r\n"
    b"Cc: hiring@acme.example, ROBIN@firm.example\r\n"
    b"Subject: AW: Re: Interview on Thursday\r\n"
    b"Date: Fri, 4 Dec 2026 16:05:00 +0100\r\n"
    b"Message-ID: <m2@acme.example>\r\n"
    b"References: <m0@firm.example> <m1@acme.example>\r\n\r\n"
)


def test_typed_addresses_with_names_commas_and_semicolons():
    got = parse_recipients('"Berg, Anna" <anna@acme.example>; lena@contoso.example,\n  ')
    assert got == (Mailbox("Berg, Anna", "anna@acme.example"), Mailbox("", "lena@contoso.example"))
    assert parse_recipients("") == ()


@pytest.mark.parametrize(
    "typed",
    [
        "anna",
        "anna@",
        "@acme.example",
        "anna@acme",
        "a\u200b@x.example",
        "anna@acme.example <lena>",
    ],
)
def test_what_is_not_an_address_is_named(typed):
    with pytest.raises(InputError, match="is not an email address"):
        parse_recipients(f"lena@contoso.example, {typed}", "Cc")


def test_too_many_recipients():
    with pytest.raises(InputError, match="more than the 100"):
        parse_recipients(",".join(f"p{n}@x.example" for n in range(101)))


def test_reply_goes_to_reply_to_and_threads():
    draft = reply_draft(
        ORIGINAL, "See you then.\n\nAnna", sender=ROBIN, own_addresses=[], reply_all=False
    )

    assert draft.to == (Mailbox("Anna (private)", "anna.berg@home.example"),)
    assert draft.cc == ()
    assert draft.subject == "Re: Interview on Thursday"
    assert draft.in_reply_to == "<m2@acme.example>"
    assert draft.references == ("<m0@firm.example>", "<m1@acme.example>", "<m2@acme.example>")
    assert (
        "On Fri, 04 Dec 2026 at 16:05, Anna Berg <anna@acme.example> wrote:\n"
        "> See you then.\n>\n> Anna" in draft.text
    )
    assert draft.text.startswith("\n\n")


def test_reply_all_adds_to_and_cc_without_the_user():
    draft = reply_draft(
        ORIGINAL, "x", sender=ROBIN, own_addresses=["robin@firm.example"], reply_all=True
    )

    assert [m.address for m in draft.to] == ["anna.berg@home.example"]
    assert [m.address for m in draft.cc] == ["lena@contoso.example", "hiring@acme.example"]


def test_a_reply_to_ones_own_sent_mail_goes_to_its_recipients():
    sent = parse_headers(
        b"From: Robin <robin@firm.example>\r\nTo: anna@acme.example\r\nSubject: Offer\r\n\r\n"
    )
    draft = reply_draft(sent, "x", sender=ROBIN, own_addresses=[], reply_all=False)
    assert [m.address for m in draft.to] == ["anna@acme.example"]


def test_reply_subject_in_other_languages():
    assert reply_subject("SV: Re: RE: Möte") == "Re: Möte"
    assert reply_subject("Re[2]: Interview") == "Re: Interview"
    assert reply_subject("Reunion") == "Re: Reunion"


def test_forward_carries_the_header_block_the_text_and_the_files():
    cv = FileToSend("Anna Berg CV.pdf", "application/pdf", b"%PDF-1.4")
    draft = forward_draft(ORIGINAL, "Hello Robin", sender=ROBIN, files=[cv])
    assert draft.subject == "Fwd: AW: Re: Interview on Thursday"  # as Gmail and Outlook do
    assert draft.to == ()
    assert (
        "---------- Forwarded message ----------\nFrom: Anna Berg <anna@acme.example>" in draft.text
    )
    assert "Subject: AW: Re: Interview on Thursday" in draft.text
    assert draft.text.rstrip().endswith("Hello Robin")
    assert draft.files == (cv,)


def test_the_bytes_sent_read_back_as_written():
    draft = Draft(
        sender=ROBIN,
        to=(Mailbox("Jörg Müller", "joerg@example.de"),),
        cc=(Mailbox("", "lena@contoso.example"),),
        bcc=(Mailbox("", "boss@firm.example"),),
        subject="Entretien: café à 10h ✓",
        text="Bonjour Jörg,\n\nÀ bientôt.\n",
        in_reply_to="<m2@acme.example>",
        references=("<m1@acme.example>", "<m2@acme.example>"),
        files=(FileToSend("Offre résumé.pdf", "application/pdf", b"%PDF-1.4 x"),),
    )
    raw = build_message(draft, date=WHEN, message_id="<one@firm.example>")
    copy = build_message(draft, date=WHEN, message_id="<one@firm.example>", bcc=True)

    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"Bcc" not in raw
    assert b"boss@firm.example" not in raw
    msg = email.message_from_bytes(raw, policy=default)
    assert msg["Subject"] == "Entretien: café à 10h ✓"
    assert msg["To"] == "Jörg Müller <joerg@example.de>"
    assert msg["In-Reply-To"] == "<m2@acme.example>"
    assert msg["References"] == "<m1@acme.example> <m2@acme.example>"
    assert msg["Message-ID"] == "<one@firm.example>"
    kept = email.message_from_bytes(copy, policy=default)
    assert kept["Bcc"] == "boss@firm.example"
    assert kept["Message-ID"] == msg["Message-ID"]
    assert new_message_id(ROBIN).endswith("@firm.example>")
    assert (
        msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        == "Bonjour Jörg,\n\nÀ bientôt.\n"
    )
    files = list(msg.iter_attachments())
    assert [f.get_filename() for f in files] == ["Offre résumé.pdf"]
    assert files[0].get_content() == b"%PDF-1.4 x"
    assert draft.recipients == ("joerg@example.de", "lena@contoso.example", "boss@firm.example")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": ()}, "nobody to send to"),
        ({"subject": "Hi\r\nBcc: evil@x.example"}, "line break"),
        ({"text": "x" * 2_000_001}, "too long"),
    ],
)
def test_a_draft_that_cannot_be_sent_says_why(change, message):
    fields = {
        "sender": ROBIN,
        "to": (Mailbox("", "anna@acme.example"),),
        "subject": "Hi",
        "text": "x",
    }
    with pytest.raises(InputError, match=message):
        build_message(Draft(**(fields | change)), date=WHEN, message_id="<x@firm.example>")


def test_the_signature_goes_between_the_room_to_write_and_the_quote():
    reply = reply_draft(ORIGINAL, "Hi", sender=ROBIN, own_addresses=[], reply_all=False)
    text = signed(reply.text, "Robin Reeve\nFirm Recruiting")
    assert text.startswith("\n\n-- \nRobin Reeve\nFirm Recruiting\n\nOn Fri, 04 Dec 2026")
    assert signed("", "") == ""
    assert signed("", "Robin") == "\n\n-- \nRobin"


def test_a_files_name_and_type_as_the_browser_sent_them_are_not_trusted():
    files = (
        FileToSend("../../cv\r\nBcc: x@evil.example.pdf", "application/pdf", b"%PDF"),
        FileToSend("notes.txt", "text/html; charset=x\r\nX: y", b"hi"),
    )
    draft = Draft(ROBIN, (Mailbox("", "anna@acme.example"),), "Hi", "x", files=files)
    raw = build_message(draft, date=WHEN, message_id="<f@firm.example>")
    msg = email.message_from_bytes(raw, policy=default)
    parts = list(msg.iter_attachments())
    assert [p.get_content_type() for p in parts] == ["application/pdf", "application/octet-stream"]
    assert "\n" not in parts[0].get_filename()
    assert "/" not in parts[0].get_filename()
    assert b"Bcc: x@evil" not in raw.split(b"\r\n\r\n")[0]
