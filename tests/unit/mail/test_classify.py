"""Tests for postroom.mail.classify: conversation, bulk, bounce (RFC 3464 and unstructured)."""

from __future__ import annotations

import email
from email.message import EmailMessage, Message
from email.policy import compat32

import pytest

from postroom.mail.classify import (
    classify,
    get_bulk_reason,
    get_dsn,
    get_unstructured_bounce,
    is_bounce_sender,
)
from postroom.mail.parse import parse_message, read_headers
from postroom.mail.types import Bounce, Headers, MessageKind

STATUS = (
    "Reporting-MTA: dns; mx.example.org\n"
    "Arrival-Date: Mon, 4 Mar 2024 10:00:00 +0100\n"
    "\n"
    "Final-Recipient: rfc822; anna@example.com\n"
    "Original-Recipient: rfc822;<Anna.Berg@example.com>\n"
    "Action: failed\n"
    "Status: 5.1.1 (user unknown)\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <anna@example.com>:\n"
    "    Recipient address rejected\n"
    "\n"
    "Final-Recipient: rfc822; ok@example.com\n"
    "Action: delivered\n"
    "Status: 2.0.0\n"
)


def make_message(subject: str = "Hello", sender: str = "Anna <anna@example.com>") -> EmailMessage:
    """A small message without body; callers add one."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "jobs@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@example.com>"
    return msg


def make_dsn(
    status: str = STATUS,
    *,
    report_type: str | None = "delivery-status",
    returned: str = "message",
    status_cte: str = "7bit",
    extra: dict[str, str] | None = None,
) -> bytes:
    """A multipart/report as Postfix writes it: notice, delivery-status, returned message.

    The stdlib generator cannot write a message/delivery-status part from text, so that part is
    built as ``text/x-status`` and renamed in the bytes.
    """
    dsn = make_message("Undelivered Mail Returned to Sender", "MAILER-DAEMON@mx.example.org")
    dsn["Auto-Submitted"] = "auto-replied"
    for name, value in (extra or {}).items():
        dsn[name] = value
    dsn.set_content("I'm sorry to have to inform you that your message could not be delivered.\n")
    dsn.make_mixed()
    dsn.replace_header("Content-Type", dsn["Content-Type"].replace("mixed", "report", 1))
    if report_type is not None:
        dsn.set_param("report-type", report_type)
    status_part = EmailMessage()
    status_part.set_content(status, subtype="x-status", cte=status_cte)
    del status_part["MIME-Version"]
    dsn.attach(status_part)
    original = make_message("Your application", "jobs@example.org")
    original.replace_header("Message-ID", "<sent-42@example.org>")
    original.set_content("Dear Anna, ...\n")
    if returned == "message":
        dsn.attach(_as_part(original))
    else:
        headers_part = EmailMessage()
        headers_part.set_content(str(original).split("\n\n", 1)[0] + "\n", subtype="rfc822-headers")
        dsn.attach(headers_part)
    return dsn.as_bytes().replace(b"text/x-status", b"message/delivery-status")


def _as_part(original: EmailMessage) -> EmailMessage:
    part = EmailMessage()
    part.set_content(original)
    return part


def reparse(msg: EmailMessage | bytes) -> tuple[Headers, Message]:
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=compat32)
    return read_headers(parsed, []), parsed


# --- conversation and bulk ---------------------------------------------------------------------


def test_classify_plain_mail_as_conversation():
    msg = make_message()
    msg.set_content("Hi\n")
    classification = classify(*reparse(msg))
    assert classification.kind is MessageKind.CONVERSATION
    assert classification.reason is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("List-Id", "Jobs <jobs.example.org>", "List-Id"),
        ("List-Unsubscribe", "<mailto:leave@example.org>", "List-Unsubscribe"),
        ("Precedence", "bulk", "Precedence: bulk"),
        ("Precedence", "List", "Precedence: list"),
        ("Precedence", "junk", "Precedence: junk"),
        ("Auto-Submitted", "auto-replied (vacation)", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted", "auto-generated", "Auto-Submitted: auto-generated"),
    ],
)
def test_classify_bulk_mail(field: str, value: str, reason: str):
    msg = make_message()
    msg[field] = value
    msg.set_content("Newsletter\n")
    classification = classify(*reparse(msg))
    assert classification.kind is MessageKind.BULK
    assert classification.reason == reason


@pytest.mark.parametrize(
    ("field", "value"), [("Auto-Submitted", "no"), ("Precedence", "first-class")]
)
def test_classify_does_not_take_these_as_bulk(field: str, value: str):
    msg = make_message()
    msg[field] = value
    msg.set_content("Hi\n")
    assert classify(*reparse(msg)).kind is MessageKind.CONVERSATION


def test_get_bulk_reason_checks_list_id_first():
    assert get_bulk_reason(Headers(list_id="x", precedence="bulk")) == "List-Id"
    assert get_bulk_reason(Headers()) is None


# --- RFC 3464 delivery status notifications ----------------------------------------------------


def test_get_dsn_reads_failed_recipients_status_diagnostic_and_original_id():
    _, msg = reparse(make_dsn())
    assert get_dsn(msg) == Bounce(
        failed_recipients=("Anna.Berg@example.com",),
        status="5.1.1",
        diagnostic="550 5.1.1 <anna@example.com>: Recipient address rejected",
        original_message_id="<sent-42@example.org>",
    )


def test_get_dsn_reads_original_id_from_text_rfc822_headers():
    _, msg = reparse(make_dsn(returned="headers"))
    bounce = get_dsn(msg)
    assert bounce is not None
    assert bounce.original_message_id == "<sent-42@example.org>"


def test_get_dsn_reads_a_base64_encoded_status_part():
    raw = make_dsn(status_cte="base64")
    assert b"Content-Transfer-Encoding: base64" in raw
    _, msg = reparse(raw)
    bounce = get_dsn(msg)
    assert bounce is not None
    assert bounce.failed_recipients == ("Anna.Berg@example.com",)


def test_get_dsn_accepts_a_report_without_report_type():
    _, msg = reparse(make_dsn(report_type=None))
    assert get_dsn(msg) is not None


def test_get_dsn_ignores_other_reports_and_plain_mail():
    _, report = reparse(make_dsn(report_type="disposition-notification"))
    assert get_dsn(report) is None
    plain = make_message()
    plain.set_content("Hi\n")
    assert get_dsn(reparse(plain)[1]) is None


def test_a_delay_report_is_bulk_not_a_bounce():
    delayed = STATUS.replace("Action: failed", "Action: delayed")
    headers, msg = reparse(make_dsn(delayed))
    assert get_dsn(msg) is None
    classification = classify(headers, msg)
    assert classification.kind is MessageKind.BULK


def test_a_bounce_wins_over_bulk():
    dsn = make_dsn(extra={"List-Id": "Jobs <jobs.example.org>"})
    classification = parse_message(dsn).classification
    assert classification.kind is MessageKind.BOUNCE
    assert classification.reason == "multipart/report delivery-status"
    assert classification.bounce is not None
    assert classification.bounce.status == "5.1.1"


# --- unstructured bounces ----------------------------------------------------------------------

POSTFIX_TEXT = """This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

<anna@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1
    <anna@example.com>: Recipient address rejected (in reply to RCPT TO command)
"""

EXIM_TEXT = """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  anna@example.com
    SMTP error from remote mail server after RCPT TO:<anna@example.com>:
    550 No such user

------ This is a copy of the message, including all the headers. ------

Message-ID: <sent-42@example.org>
Subject: Your application
"""

GMAIL_TEXT = """** Address not found **

Your message wasn't delivered to anna@example.com because the address couldn't be found,
or is unable to receive mail.
"""


@pytest.mark.parametrize(
    ("subject", "text", "message_id"),
    [
        ("Undelivered Mail Returned to Sender", POSTFIX_TEXT, None),
        ("Mail delivery failed: returning message to sender", EXIM_TEXT, "<sent-42@example.org>"),
        ("Delivery Status Notification (Failure)", GMAIL_TEXT, None),
    ],
    ids=["postfix", "exim", "gmail"],
)
def test_unstructured_bounce_from_mailer_daemon(subject: str, text: str, message_id: str | None):
    msg = make_message(subject, "Mail Delivery System <MAILER-DAEMON@mx.example.org>")
    msg.set_content(text)
    classification = classify(*reparse(msg))
    assert classification.kind is MessageKind.BOUNCE
    assert classification.bounce == Bounce(
        failed_recipients=("anna@example.com",), original_message_id=message_id
    )


def test_unstructured_bounce_from_postmaster():
    msg = make_message("Undeliverable: Your application", "postmaster@example.com")
    msg.set_content("Your message to anna@example.com couldn't be delivered.\n")
    headers, parsed = reparse(msg)
    bounce = get_unstructured_bounce(headers, parsed)
    assert bounce is not None
    assert bounce.failed_recipients == ("anna@example.com",)


def test_mailer_daemon_message_without_a_recipient_is_not_a_bounce():
    msg = make_message("Undelivered Mail Returned to Sender", "MAILER-DAEMON@mx.example.org")
    msg.set_content("Something went wrong, please contact postmaster.\n")
    assert classify(*reparse(msg)).kind is MessageKind.CONVERSATION


def test_a_person_writing_about_undelivered_mail_is_not_a_bounce():
    msg = make_message("Undelivered Mail Returned to Sender")
    msg.set_content("<anna@example.com>: this looks like a bounce, but I wrote it.\n")
    assert classify(*reparse(msg)).kind is MessageKind.CONVERSATION


def test_a_delay_notice_from_mailer_daemon_is_not_a_bounce():
    msg = make_message("Delivery Status Notification (Delay)", "mailer-daemon@googlemail.com")
    msg.set_content("Delivery to anna@example.com has been delayed.\n")
    assert classify(*reparse(msg)).kind is MessageKind.CONVERSATION


@pytest.mark.parametrize(
    ("address", "bounce"),
    [
        ("MAILER-DAEMON@mx.example.org", True),
        ("mailer-daemon@googlemail.com", True),
        ("Postmaster@firm.example", True),
        ("postmaster.jobs@firm.example", False),
        ("noreply@firm.example", False),
        ("anna@mailer-daemon.example", False),
        ("mailer-daemon", False),  # not an address
        ("", False),
    ],
)
def test_bounce_senders(address: str, bounce: bool) -> None:
    assert is_bounce_sender(address) is bounce


# --- DSN corners (issue 10) --------------------------------------------------------------------


@pytest.mark.parametrize("action", ["Failure", "failed (bad destination)", "ERROR", "bounced"])
def test_get_dsn_accepts_non_standard_failed_actions(action: str):
    _, msg = reparse(make_dsn(STATUS.replace("Action: failed", f"Action: {action}")))
    bounce = get_dsn(msg)
    assert bounce is not None
    assert bounce.failed_recipients == ("Anna.Berg@example.com",)


def test_get_dsn_reads_a_block_without_action_by_its_status():
    status = STATUS.replace("Action: failed\n", "").replace("Action: delivered\n", "")
    _, msg = reparse(make_dsn(status))
    bounce = get_dsn(msg)
    assert bounce is not None
    assert bounce.failed_recipients == ("Anna.Berg@example.com",)  # 2.0.0 is no failure


def test_get_dsn_skips_an_invalid_address():
    status = STATUS.replace("Original-Recipient: rfc822;<Anna.Berg@example.com>\n", "")
    status = status.replace("anna@example.com\n", "anna...@example.com\n", 1)
    _, msg = reparse(make_dsn(status))
    assert get_dsn(msg) is None


def test_a_dsn_without_a_per_recipient_block_is_read_by_its_text():
    status = "Reporting-MTA: dns; mx.example.org\nArrival-Date: Mon, 4 Mar 2024 10:00:00 +0100\n"
    raw = make_dsn(status).replace(
        b"your message could not be delivered.",
        b"your message could not be delivered.\n\n<carl@example.net>: 550 5.1.1 User unknown",
    )
    headers, msg = reparse(raw)
    assert get_dsn(msg) is None
    classification = classify(headers, msg)
    assert classification.kind is MessageKind.BOUNCE
    assert classification.reason == "delivery failure notice"
    assert classification.bounce == Bounce(
        failed_recipients=("carl@example.net",), original_message_id="<sent-42@example.org>"
    )


def test_a_dsn_a_gateway_attached_to_its_own_notice_is_read():
    wrapper = make_message("Delivery Status Notification (Failure)", "postmaster@gw.example.org")
    wrapper.set_content("This e-mail is confidential.\n")
    wrapper.add_attachment(email.message_from_bytes(make_dsn(), policy=compat32))
    classification = classify(*reparse(wrapper))
    assert classification.kind is MessageKind.BOUNCE
    assert classification.bounce is not None
    assert classification.bounce.failed_recipients == ("Anna.Berg@example.com",)


def test_a_delay_report_is_not_read_by_its_text():
    delayed = STATUS.replace("Action: failed", "Action: delayed")
    raw = make_dsn(delayed).replace(
        b"your message could not be delivered.",
        b"your message could not be delivered.\n\n<anna@example.com>: connection timed out",
    )
    assert classify(*reparse(raw)).kind is MessageKind.BULK


def test_a_notice_from_a_null_sender_is_a_bounce():
    msg = make_message("Undelivered Mail Returned to Sender", "<>")
    msg.set_content("<anna@example.com>: host mx.example.com said: 550 5.1.1 User unknown\n")
    headers, parsed = reparse(msg)
    assert headers.from_ == ()
    classification = classify(headers, parsed)
    assert classification.kind is MessageKind.BOUNCE
    assert classification.bounce is not None
    assert classification.bounce.failed_recipients == ("anna@example.com",)
