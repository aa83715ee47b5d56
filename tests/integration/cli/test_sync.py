"""``postroom sync --once``: every account, or the one asked for, with a progress bar."""

from __future__ import annotations

import subprocess

from sqlalchemy import delete, select

from postroom.store.models import Activity, MessageLocation
from tests.support import cli, mailbox

ME = "robin@firm.example"
ANNA = "anna@acme.example"


def test_sync_once_takes_only_the_account_asked_for(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    other = dovecot.add_user()
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "120"}
    cli.add_account(env, dovecot, mail_user, ME)
    cli.add_account(env, dovecot, other, ME)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "to the first"))
    mailbox.append(dovecot, other, "INBOX", mailbox.message(ANNA, ME, "to the second"))

    out = cli.run(env, "sync", "--once", "--account", "2")

    with session_factory() as session:
        assert list(session.scalars(select(Activity.subject))) == ["to the second"]
    assert "#2 INBOX: 1 fetched, 1 new, 1 activities" in out
    assert "#1" not in out
    bar = next(line for line in out.splitlines() if line.startswith("#2 INBOX") and "1/1" in line)
    assert "━" in bar  # the progress bar, complete

    unknown = subprocess.run(
        [*cli.COMMAND, "sync", "--once", "--account", "9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 1
    assert "mail account 9 does not exist" in unknown.stderr


def test_status_shows_a_folder_behind_the_server(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}
    cli.add_account(env, dovecot, mail_user, ME)
    for i in range(3):
        mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, f"m {i}"))
    cli.run(env, "sync", "--once")
    with session_factory.begin() as session:  # a message the sync missed (Twenty #25193)
        session.execute(delete(MessageLocation).where(MessageLocation.uid == 2))

    status = cli.run(env, "status")

    inbox = next(line for line in status.splitlines() if " INBOX " in line)
    cells = [cell.strip() for cell in inbox.strip("│ ").split("│")]
    assert cells[:5] == ["INBOX", "inbox", "behind by 1", "3", "2"]
