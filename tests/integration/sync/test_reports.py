"""Delivery reports, and mail that only claims to be one, cost a bounded read (issue 11,
item 6): a sender writing "From: MAILER-DAEMON@anything" used to make the sync fetch each of
its messages whole, all in one command, and parse them on the event loop."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import select
from tests.support import mailbox
from tests.support.accounts import add_dovecot_account
from tests.support.tcpproxy import TcpProxy

from postroom.domain.records import PersonDraft
from postroom.imap import ServerAddress
from postroom.services.records import add_person
from postroom.services.secrets import Keyring
from postroom.store.models import Activity, ActivityKind, TlsMode
from postroom.sync import reading
from postroom.sync.account import AccountLogin, AccountSyncer
from postroom.sync.reading import REPORT_BATCH_BYTES, REPORT_FETCH_BYTES

ME = "robin@firm.example"
ANNA = "anna@acme.example"
FAKES = 20
FAKE_SIZE = 600_000
RETURNED = 3_000_000
FAKE_SENDER = "MAILER-DAEMON@anything.example"
CAPPED = f"BODY.PEEK[]<0.{REPORT_FETCH_BYTES}>".encode()


def delivery_report() -> bytes:
    """An RFC 3464 report of a failed delivery to Anna, returning a 3 MB original."""
    boundary = "report-boundary"
    original = (
        f"From: {ME}\r\nTo: {ANNA}\r\nSubject: Our offer\r\nMessage-ID: <offer-1@firm.example>\r\n"
        "\r\n" + ("the attached offer, line after line\r\n" * (RETURNED // 38))
    )
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.firm.example>\r\n"
        f"To: {ME}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.firm.example>\r\n"
        "Date: Sun, 06 Dec 2026 08:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Your message could not be delivered to one or more recipients.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.firm.example\r\n\r\n"
        f"Final-Recipient: rfc822; {ANNA}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        f"{original}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def test_reports_are_read_capped_in_bounded_batches_off_the_event_loop_and_still_bounce(
    session_factory, dovecot, mail_user, monkeypatch
):
    keyring = Keyring(Keyring.generate_key())
    with session_factory.begin() as session:
        login = add_dovecot_account(
            session, keyring=keyring, dovecot=dovecot, mail_user=mail_user, owner=ME, label="robin"
        )
        anna = add_person(session=session, draft=PersonDraft("Anna", emails=(ANNA,))).person.id
    mailbox.append(dovecot, mail_user, "INBOX", delivery_report())
    for i in range(FAKES):
        mailbox.append(
            dovecot,
            mail_user,
            "INBOX",
            mailbox.message(
                "MAILER-DAEMON@anything.example", ME, f"not a bounce {i}", "y" * FAKE_SIZE
            ),
        )
    threads: list[bool] = []
    parse = reading.parse_message

    def spied(raw: bytes):
        threads.append(threading.current_thread() is threading.main_thread())
        return parse(raw)

    monkeypatch.setattr(reading, "parse_message", spied)

    with TcpProxy("127.0.0.1", dovecot.port) as proxy:
        address = ServerAddress("127.0.0.1", proxy.port, TlsMode.PLAIN, allow_plaintext=True)
        proxied = AccountLogin(login.account_id, "robin", address, login.username, login.password)
        report = asyncio.run(AccountSyncer(login=proxied, sessions=session_factory).sync_once())
        received = proxy.bytes_to_client
        sent = b"".join(proxy.client_bytes())

    assert report.error is None
    whole = RETURNED + FAKES * FAKE_SIZE
    assert received < (FAKES + 1) * REPORT_FETCH_BYTES + 1_000_000 < whole / 2
    report_fetches = [
        line
        for line in sent.split(b"\r\n")
        if f"BODY.PEEK[]<0.{REPORT_FETCH_BYTES}>".encode() in line
    ]
    per_batch = REPORT_BATCH_BYTES // REPORT_FETCH_BYTES
    assert len(report_fetches) == -(-(FAKES + 1) // per_batch)  # bounded batches
    assert b"BODY.PEEK[]" not in sent.replace(CAPPED, b"")  # never a whole message
    assert threads
    assert not any(threads)  # parsed in a thread, never on the event loop
    with session_factory() as session:
        [bounce] = session.scalars(select(Activity).where(Activity.person_id == anna)).all()
    assert bounce.kind is ActivityKind.BOUNCE
    assert "5.1.1" in (bounce.detail or "")
