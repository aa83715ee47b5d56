"""Mail for record tests: a mail account, .eml files written in the test, ingested by the real
pipeline (``pipeline.ingest_files``), so activities carry real participants, reply splits,
attachments and bounces."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from postroom.pipeline import ingest_files, load_context
from postroom.services.accounts import add_account
from postroom.services.secrets import Keyring, Secret

ME = "robin@firm.example"
WHEN = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def add_mail_account(sessions: sessionmaker[Session], user_email: str = ME) -> int:
    """A mail account of ``user_email`` (made a user when it is none); returns its id."""
    with sessions.begin() as session:
        account = add_account(
            session=session,
            keyring=Keyring(Keyring.generate_key()),
            user_email=user_email,
            label="work",
            imap_host="imap.firm.example",
            username=user_email,
            password=Secret("pw"),
        )
        return account.id


def mail(
    *,
    sender: str,
    to: str,
    subject: str = "The Python role",
    body: str = "Hello there",
    msgid: str = "<m1@example.com>",
    cc: str | None = None,
    when: datetime = WHEN,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = msgid
    msg.set_content(body)
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg.as_bytes()


def bounce(*, failed: str, when: datetime = WHEN, msgid: str = "<dsn1@mx.firm.example>") -> bytes:
    """A delivery status notification (RFC 3464) saying mail to ``failed`` could not go."""
    original = mail(sender=ME, to=failed, msgid="<orig@firm.example>", when=when)
    return (
        (
            "From: Mail Delivery System <MAILER-DAEMON@mx.firm.example>\r\n"
            f"To: {ME}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Date: {format_datetime(when)}\r\n"
            f"Message-ID: {msgid}\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.firm.example\r\n\r\n"
            f"Final-Recipient: rfc822; {failed}\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            "--B\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + original
        + b"\r\n--B--\r\n"
    )


def ingest(
    sessions: sessionmaker[Session], account_id: int, folder: Path, *messages: bytes
) -> None:
    """Write ``messages`` as .eml files under ``folder`` and run them through the pipeline."""
    folder.mkdir(parents=True, exist_ok=True)
    start = len(list(folder.glob("*.eml")))
    paths = []
    for i, data in enumerate(messages, start=start):
        path = folder / f"m{i}.eml"
        path.write_bytes(data)
        paths.append(path)
    with sessions.begin() as session:
        context = load_context(session=session, account_id=account_id)
        ingest_files(session=session, context=context, paths=paths)
