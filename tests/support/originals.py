"""A mailbox on the suite's Dovecot, synced into a web Runtime, for the Open original tests.

``MailWorld`` holds a web user (Robin) with a mail account on the test Dovecot, a record
(Anna) whose mail is logged, and a colleague (Cleo) with no account. ``deliver`` appends a
message as another client would and syncs; it returns the activity and the UID.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select

from postroom.domain.records import PersonDraft
from postroom.services.records import add_person
from postroom.services.runtime import Runtime
from postroom.services.secrets import load_or_create_key
from postroom.store.models import Activity, MailMessage
from postroom.sync.account import AccountLogin, AccountSyncer
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.dovecot import DovecotServer, MailUser
from tests.support.web import add_user

ROBIN = "robin@firm.example"
CLEO = "cleo@firm.example"
ANNA = "anna@acme.example"


def solid_png(red: int, green: int, blue: int) -> bytes:
    """A 1x1 PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = solid_png(0x43, 0x38, 0xCA)
"""The inline logo of ``html_mail``: one indigo pixel."""


@dataclass
class MailWorld:
    runtime: Runtime
    dovecot: DovecotServer
    mail_user: MailUser
    robin_id: int
    cleo_id: int
    account_id: int
    anna_id: int
    login: AccountLogin

    def sync(self) -> None:
        syncer = AccountSyncer(login=self.login, sessions=self.runtime.sessions)
        # in a thread of its own: Playwright's sync API keeps an event loop in this one
        with ThreadPoolExecutor(1) as pool:
            report = pool.submit(asyncio.run, syncer.sync_once()).result()
        assert report.error is None, report.error

    def deliver(self, raw: bytes, folder: str = "INBOX") -> tuple[int, int]:
        """Append ``raw`` to ``folder`` and sync; ``(activity id, uid)``."""
        uid = mailbox.append(self.dovecot, self.mail_user, folder, raw)
        self.sync()
        message_id = str(message_from_bytes(raw)["Message-ID"]).strip()
        with self.runtime.read() as session:
            activity = session.scalars(
                select(Activity)
                .join(MailMessage, MailMessage.fingerprint == Activity.fingerprint)
                .where(MailMessage.message_id_header == message_id)
            ).one()
            return activity.id, uid


def make_world(runtime: Runtime, dovecot: DovecotServer, mail_user: MailUser) -> MailWorld:
    robin = add_user(runtime, ROBIN, name="Robin Reeve")
    cleo = add_user(runtime, CLEO, name="Cleo Cole")
    keyring = load_or_create_key(runtime.settings)
    with runtime.write() as session:
        login = add_dovecot_account(
            session,
            keyring=keyring,
            dovecot=dovecot,
            mail_user=mail_user,
            owner=ROBIN,
            label="Robin at Firm",
        )
        anna = add_person(session=session, draft=PersonDraft("Anna Berg", emails=(ANNA,)))
        anna_id = anna.person.id
    return MailWorld(
        runtime, dovecot, mail_user, robin.id, cleo.id, login.account_id, anna_id, login
    )


def html_mail(
    subject: str = "Your interview on Thursday",
    html: str = '<p>Hello <b>Robin</b>,</p><p><img src="cid:logo@acme" alt="Acme"></p>',
    attachments: tuple[tuple[str, str, bytes], ...] = (
        ("Anna Berg CV.pdf", "application/pdf", b"%PDF-1.4 cv"),
    ),
    text: str = "Hello Robin, see you on Thursday.",
) -> bytes:
    """An HTML mail from Anna with a plain alternative, an inline logo and attachments."""
    msg = EmailMessage()
    msg["From"] = f"Anna Berg <{ANNA}>"
    msg["To"] = f"Robin Reeve <{ROBIN}>"
    msg["Cc"] = "Hiring <hiring@acme.example>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain="acme.example")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@acme>")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def plain_mail(
    subject: str = "Salary expectations",
    body: str = "Hi Robin,\n\n<b>not bold</b> & 'quoted'\n\nAnna",
) -> bytes:
    return mailbox.message(f"Anna Berg <{ANNA}>", ROBIN, subject, body)
