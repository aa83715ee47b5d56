"""Tests for postroom.mail.bounce: non-standard bounces read from their text, and the guards."""

from __future__ import annotations

import doctest
import email
import importlib
from email.message import Message
from email.policy import compat32

import pytest

from postroom.mail.bounce import (
    find_recipients,
    is_from_mail_system,
    is_valid_address,
    might_be_bounce,
    read_notice,
    split_notice,
)
from postroom.mail.bounce_detectors import get_flufl_failures
from postroom.mail.parse import read_headers
from postroom.mail.types import Headers, Mailbox

ANNA = (Mailbox("Anna Berg", "anna.berg@example.com"),)


def parse(raw: str) -> tuple[Headers, Message]:
    msg = email.message_from_bytes(raw.replace("\n", "\r\n").encode(), policy=compat32)
    return read_headers(msg, []), msg


def test_doctests():
    module = importlib.import_module("postroom.mail.bounce")
    assert doctest.testmod(module).failed == 0


# --- the header-level test ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (Headers(content_type="multipart/report", report_type="delivery-status", from_=ANNA), True),
        (Headers(from_=(Mailbox("", "MAILER-DAEMON@mx.example"),)), True),
        (Headers(from_=(Mailbox("", "Mailer-Daemon@mx.example"),)), True),
        (Headers(from_=(Mailbox("Mail Delivery System", "bounces@mx.example"),)), True),
        (Headers(from_=(Mailbox("Mail Delivery Subsystem", "root@mx.example"),)), True),
        (Headers(from_=(Mailbox("Microsoft Outlook", "x@firm.onmicrosoft.com"),)), True),
        (Headers(from_=(Mailbox("システム管理者", "admin@example.jp"),)), True),
        (Headers(subject="Undelivered Mail Returned to Sender"), True),  # null sender
        (Headers(subject="Unzustellbar: Bewerbung", from_=ANNA), True),
        (Headers(subject="Non remis : Votre candidature", from_=ANNA), True),
        (Headers(subject="No se puede entregar: Su solicitud", from_=ANNA), True),
        (Headers(subject="配信不能: ご応募", from_=ANNA), True),
        (Headers(subject="系统退信", from_=ANNA), True),
        (Headers(subject="Недоставленное сообщение", from_=ANNA), True),
        (Headers(subject="Re: Undeliverable: Your application", from_=ANNA), False),
        (Headers(subject="AW: Unzustellbar: Bewerbung", from_=ANNA), False),
        (Headers(subject="Your application", from_=ANNA), False),
        (
            Headers(
                content_type="multipart/report",
                report_type="disposition-notification",
                subject="Read: Your application",
                from_=ANNA,
            ),
            False,
        ),
    ],
)
def test_might_be_bounce(headers: Headers, expected: bool):
    assert might_be_bounce(headers) is expected


def test_is_from_mail_system():
    assert is_from_mail_system(Headers())  # From: <> or no From at all
    assert is_from_mail_system(Headers(from_=(Mailbox("", "postmaster@firm.example"),)))
    assert not is_from_mail_system(Headers(from_=ANNA))


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("anna.berg+jobs@example.co.uk", True),
        ("o'brien@example.ie", True),
        ("david...@gmail.com", False),
        (".anna@example.com", False),
        ("anna@example", False),
        ("dylan", False),
        ("W32.Netsky.P@mm", False),
        ("anna@example.c0m", False),
    ],
)
def test_is_valid_address(address: str, valid: bool):
    assert is_valid_address(address) is valid


# --- reading the notice -------------------------------------------------------------------

NOTICE = """From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: jobs@firm.example
Subject: Mail delivery failed: returning message to sender
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  anna.berg@example.com
    SMTP error from remote mail server after RCPT TO:<anna.berg@example.com>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

To: carl@example.net
<dave@example.org>: a line of the returned message
--b
Content-Type: message/rfc822

From: jobs@firm.example
To: anna.berg@example.com, eve@example.org
Message-ID: <sent-42@firm.example>
Subject: Your application

Please also write to frank@example.org.
--b--
"""


def test_split_notice_keeps_the_returned_message_apart():
    _, msg = parse(NOTICE)
    notice, returned = split_notice(msg)
    assert "anna.berg@example.com" in notice
    assert "carl@example.net" not in notice
    assert "eve@example.org" not in notice
    assert "carl@example.net" in returned
    assert "eve@example.org" in returned


def test_read_notice_takes_only_the_notice_s_recipients():
    headers, msg = parse(NOTICE)
    notice = read_notice(headers, msg)
    assert notice.failed_recipients == ("anna.berg@example.com",)
    assert not notice.is_delay


def test_an_address_only_in_the_returned_message_is_never_taken():
    raw = NOTICE.replace("  anna.berg@example.com\n", "").replace("<anna.berg@example.com>", "")
    headers, msg = parse(raw)
    assert read_notice(headers, msg).failed_recipients == ()


def test_flufl_finds_an_address_in_the_returned_message_that_the_guard_drops():
    """flufl.bounce reads every line, the attached original's too; the guard keeps it out."""
    raw = """From: MAILER-DAEMON@mx.example.net
To: jobs@firm.example
Subject: failure notice
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.


--b
Content-Type: message/rfc822

From: jobs@firm.example
To: bogus@example.org

<bogus@example.org>: a line of the original
--b--
"""
    headers, msg = parse(raw)
    _, permanent = get_flufl_failures(msg)
    assert permanent == ["bogus@example.org"]  # qmail's detector read the attached original
    assert read_notice(headers, msg).failed_recipients == ()


def test_a_delay_warning_reports_no_failure():
    raw = """From: MAILER-DAEMON@mx.firm.example
To: jobs@firm.example
Subject: Delayed Mail (still being retried)

# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #

<anna.berg@example.com>: connect to mx.example.com[192.0.2.1]:25: Connection timed out
"""
    headers, msg = parse(raw)
    notice = read_notice(headers, msg)
    assert notice.is_delay
    assert notice.failed_recipients == ()


def test_a_person_s_text_is_read_by_no_pattern_of_ours():
    raw = """From: Carl Dahl <carl@example.net>
To: jobs@firm.example
Subject: Delivery failed - your parcel

The following recipients could not be reached:

anna.berg@example.com
"""
    headers, msg = parse(raw)
    assert find_recipients(split_notice(msg)[0]) == ["anna.berg@example.com"]
    assert read_notice(headers, msg).failed_recipients == ()


def test_a_message_without_from_and_without_a_bounce_word_is_no_bounce():
    raw = """To: jobs@firm.example
Subject: Meeting notes

Sent to anna@example.com, carl@example.net, dave@example.org, and others. It failed.
"""
    headers, msg = parse(raw)
    assert read_notice(headers, msg).failed_recipients == ()


def test_flufl_runs_on_a_message_without_from():
    """One of its detectors fails on a message with no From field: a twin with ``From: <>`` is
    read instead, and the message itself is left unchanged."""
    raw = """To: jobs@firm.example
Subject: Undelivered Mail Returned to Sender

I'm sorry to have to inform you that your message could not be delivered.

<anna.berg@example.com>: host mx.example.com said: 550 5.1.1 User unknown
"""
    headers, msg = parse(raw)
    assert read_notice(headers, msg).failed_recipients == ("anna.berg@example.com",)
    assert msg.get("from") is None


def test_an_address_cut_at_the_end_of_a_short_text_is_not_taken():
    raw = """From: MAILER-DAEMON@mx.example.org
To: jobs@firm.example
Subject: Undelivered Mail Returned to Sender

The following recipients failed:

  anna.berg@example.c"""
    headers, msg = parse(raw)
    assert read_notice(headers, msg).failed_recipients == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "did not reach the following recipient(s):\n\nanna@example.com on 4.3.2024\n",
            ["anna@example.com"],
        ),
        (
            "The following\naddress(es) failed:\n\n  anna@example.com\n    host x\n"
            "  bob@example.org\n",
            ["anna@example.com", "bob@example.org"],
        ),
        (
            "----- The following addresses had permanent fatal errors -----\n<anna@example.com>\n",
            ["anna@example.com"],
        ),
        (
            "I wasn't able to deliver your message to the following addresses.\n\n"
            "<anna@example.com>:\n",
            ["anna@example.com"],
        ),
        ("Your message to anna@example.com couldn't be delivered.\n", ["anna@example.com"]),
        (
            "Ihre Nachricht an anna@example.de konnte nicht zugestellt werden.\n",
            ["anna@example.de"],
        ),
        ("Recipient: anna@example.com\n", ["anna@example.com"]),
        ("Please write to anna@example.com.\n", []),
    ],
)
def test_find_recipients(text: str, expected: list[str]):
    assert list(dict.fromkeys(find_recipients(text))) == expected
