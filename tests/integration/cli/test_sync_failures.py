"""``postroom sync --once`` when a folder fails, and ``postroom message quarantine``."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from postroom.store import messages as message_store
from postroom.store.models import MailAccount, MailFolder, Quarantine, utcnow
from tests.support import cli, mailbox
from tests.support.hostile import HostileProxy

ME = "robin@firm.example"
ANNA = "anna@acme.example"


def test_a_failed_folder_is_named_and_makes_the_exit_code_non_zero_while_others_sync(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    other = dovecot.add_user()
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}
    cli.add_account(env, dovecot, mail_user, ME)
    cli.add_account(env, dovecot, other, ME)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, other, "INBOX", mailbox.message(ANNA, ME, "to the second"))
    with HostileProxy(dovecot.port) as proxy:
        proxy.rewrite = lambda line: re.sub(
            rb"\[UIDVALIDITY \d+\]", b"[UIDVALIDITY 18446744073709551615]", line
        )
        with session_factory.begin() as session:
            session.execute(
                update(MailAccount).where(MailAccount.id == 1).values(imap_port=proxy.port)
            )
        done = cli.attempt(env, "sync", "--once")
    assert done.returncode == 1, done.stdout
    assert "#2 INBOX: 1 fetched, 1 new, 1 activities" in done.stdout
    assert re.search(r"#1 INBOX: 0 fetched.*\S", done.stdout)  # by name, with its error
    assert "#1 1:" not in done.stdout
    status = cli.run(env, "status")
    assert "INBOX" in status


def _quarantine(session_factory) -> list[int]:
    """Two messages of INBOX quarantined by the sync (UIDs 6 and 7), and a file."""
    with session_factory.begin() as session:
        folder = session.scalars(select(MailFolder).where(MailFolder.role == "inbox")).one()
        for uid in (6, 7):
            message_store.quarantine_message(
                session=session,
                error=f"ProtocolError: a literal of 10000000000 octets [/b] (UID {uid})",
                account_id=folder.account_id,
                folder_id=folder.id,
                uidvalidity=folder.uidvalidity or 1,
                uid=uid,
            )
        message_store.quarantine_message(
            session=session, error="MessageParseError: empty", source_path="/tmp/broken.eml"
        )
    with session_factory() as session:
        return list(session.scalars(select(Quarantine.id).order_by(Quarantine.id)))


def test_quarantine_list_retry_and_release(engine, session_factory, tmp_path, dovecot, mail_user):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "250"}
    cli.add_account(env, dovecot, mail_user, ME)
    cli.run(env, "sync", "--once")
    six, seven, file = _quarantine(session_factory)

    listed = cli.run(env, "message", "quarantine", "list")
    assert re.search(rf"{six} +│ #1 \S+ +│ INBOX UID 6 +│ ProtocolError.*\[/b\]", listed)
    assert "retry at" in listed
    assert "/tmp/broken.eml" in listed

    # retry: due now, so the next sync tries it (and, the server reading it, clears it)
    with session_factory.begin() as session:
        session.execute(update(Quarantine).values(retry_at=None))  # as if given up
    assert "given up" in cli.run(env, "message", "quarantine", "list")
    assert "1 to be tried again" in cli.run(env, "message", "quarantine", "retry", str(six))
    with session_factory() as session:
        assert session.get(Quarantine, six).retry_at <= utcnow()

    # release: skipped for good, listed only with --released, gone from status
    assert "1 released" in cli.run(env, "message", "quarantine", "release", str(seven))
    listed = cli.run(env, "message", "quarantine", "list")
    assert "INBOX UID 7" not in listed
    assert "INBOX UID 7" in cli.run(env, "message", "quarantine", "list", "--released")
    assert "UID 7" not in cli.run(env, "status")

    # a file is never retried by the sync; an unknown id is said so
    refused = cli.attempt(env, "message", "quarantine", "retry", str(file))
    assert refused.returncode == 1
    assert "ingest it again" in refused.stderr
    unknown = cli.attempt(env, "message", "quarantine", "release", "999")
    assert unknown.returncode == 1
    assert "nothing quarantined has the id 999" in unknown.stderr


HOSTILE_REFUSAL = "refused [/oops] [link=http://x]y[/link] \x1b[31mred"


def _refuse_login(tag: bytes, line: bytes) -> bytes | None:
    verb = line.split(b" ", 2)[1].upper() if line.count(b" ") >= 1 else b""
    if verb in (b"LOGIN", b"AUTHENTICATE"):
        return tag + b" NO [AUTHENTICATIONFAILED] " + HOSTILE_REFUSAL.encode() + b"\r\n"
    return None


def test_a_login_refusal_with_markup_and_escapes_prints_as_it_is(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    """Issue 11 item 4: ``[/oops]`` in a server's refusal once crashed ``sync --once`` and then
    the error printer; ``[link=...]`` made a terminal link and escape sequences reached the
    terminal."""
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "300"}
    cli.add_account(env, dovecot, mail_user, ME)
    with HostileProxy(dovecot.port) as proxy:
        proxy.answer = _refuse_login
        with session_factory.begin() as session:
            session.execute(
                update(MailAccount).where(MailAccount.id == 1).values(imap_port=proxy.port)
            )
        runs = [cli.attempt(env, "sync", "--once"), cli.attempt(env, "account", "test", "1")]
    outputs = [done.stdout + done.stderr for done in runs]
    assert [done.returncode for done in runs] == [1, 1], outputs
    assert "refused [/oops] [link=http://x]y[/link] [31mred" in outputs[0]
    assert "refused the login" in outputs[1]
    for out in outputs:
        assert "Traceback" not in out
        assert "\x1b" not in out  # no escape sequence, so no colour and no terminal link
