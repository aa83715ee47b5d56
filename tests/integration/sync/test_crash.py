"""A sync process killed with SIGKILL in the middle of a first sync, then restarted: no
duplicate and no loss, checked against the server."""

from __future__ import annotations

import signal
import time
from email.message import EmailMessage

from sqlalchemy import func, select
from tests.support import cli, mailbox, processes

from postroom.store.models import Activity, MailFolder, MailMessage, MessageLocation

ME = "robin@firm.example"


def _mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"person{i % 50}@candidates.example"
    msg["To"] = ME
    msg["Subject"] = f"message {i}"
    msg["Date"] = "Mon, 03 Mar 2025 10:00:00 +0000"
    msg["Message-ID"] = f"<crash-{i}@candidates.example>"
    msg.set_content(f"body {i}\n" + "text " * 200)
    return msg.as_bytes()


def test_sigkill_in_the_middle_of_a_first_sync_then_restart(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    total = 3000
    mailbox.fill_maildir(mail_user, "INBOX", (_mail(i) for i in range(total)))
    env = cli.postroom_env(engine, tmp_path / "home")
    cli.add_account(env, dovecot, mail_user, ME)
    people = tmp_path / "people.csv"
    people.write_text(
        "name,email\n" + "".join(f"Person {i},person{i}@candidates.example\n" for i in range(50))
    )
    cli.run(env, "record", "import", str(people))

    process = cli.start(env, "sync", "--once", "--batch-size", "100")
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and committed < 600 and process.poll() is None:
        with session_factory() as session:
            committed = int(session.scalar(select(func.count()).select_from(MessageLocation)) or 0)
        time.sleep(0.02)
    assert process.poll() is None, (
        "the sync ended before it could be killed",
        process.communicate(),
    )
    children = processes.children(process.pid)  # its reading workers (sync.pool), busy with batches
    assert children, "the first sync reads its batches in worker processes"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)  # reap it and close its pipes
    deadline = time.monotonic() + 10
    while any(map(processes.is_alive, children)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(processes.is_alive, children)), "a worker outlived the killed sync process"
    with session_factory() as session:
        killed_at = int(session.scalar(select(func.count()).select_from(MessageLocation)) or 0)
        inbox = session.scalars(select(MailFolder).where(MailFolder.role == "inbox")).one()
        assert 1 < (inbox.backfill_low or 0) <= (inbox.uidnext_seen or 0)  # really mid-backfill
    assert 0 < killed_at < total

    out = cli.run(env, "sync", "--once", "--batch-size", "100")
    assert "INBOX" in out

    server_uids = mailbox.list_uids(dovecot, mail_user, "INBOX")
    assert len(server_uids) == total
    with session_factory() as session:
        linked = sorted(
            session.scalars(
                select(MessageLocation.uid).where(
                    MessageLocation.unlinked_at.is_(None), MessageLocation.folder_id == inbox.id
                )
            )
        )
        assert linked == sorted(server_uids)  # every message on the server, exactly once
        assert session.scalar(select(func.count()).select_from(MailMessage)) == total
        assert session.scalar(select(func.count()).select_from(Activity)) == total
        assert (
            session.scalar(
                select(func.count(func.distinct(Activity.fingerprint))).select_from(Activity)
            )
            == total
        )
