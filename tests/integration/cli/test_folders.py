"""``postroom account folders|track|untrack``: the folders a user adds to INBOX and Sent."""

from __future__ import annotations

import signal
import subprocess
import time

from sqlalchemy import select

from postroom.store.models import Activity
from tests.support import cli, mailbox

ME = "robin@firm.example"
ANNA = "anna@acme.example"
FOLDER = 'Projects/Acme "Q" ü'  # nested, quoted, not ASCII: modified UTF-7 on the wire


def _subjects(session_factory) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(select(Activity.subject)))


def _fails(env, *args: str) -> str:
    result = subprocess.run(
        [*cli.COMMAND, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def _row(listing: str, name: str) -> list[str]:
    line = next(line for line in listing.splitlines() if f" {name} " in line)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_a_chosen_folder_is_synced_and_can_be_dropped(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}
    cli.add_account(env, dovecot, mail_user, ME)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.create_folder(dovecot, mail_user, FOLDER)
    mailbox.append(dovecot, mail_user, FOLDER, mailbox.message(ANNA, ME, "filed by a rule"))
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "in the inbox"))

    listing = cli.run(env, "account", "folders", "1")
    assert _row(listing, "INBOX")[:3] == ["INBOX", "inbox", "yes"]
    assert _row(listing, "Sent")[:3] == ["Sent", "sent", "yes"]
    assert _row(listing, FOLDER)[:3] == [FOLDER, "", "no"]

    missing = _fails(env, "account", "track", "1", "Nowhere")
    assert "no folder 'Nowhere'" in missing
    assert "postroom account folders 1" in missing

    cli.run(env, "account", "track", "1", FOLDER)
    cli.run(env, "sync", "--once")
    assert _subjects(session_factory) == {"filed by a rule", "in the inbox"}
    assert _row(cli.run(env, "account", "folders", "1"), FOLDER)[2:4] == ["yes", "live"]
    again = cli.run(env, "sync", "--once")  # Frappe #23242: a quoted name restarted every time
    assert f"#1 {FOLDER}: 0 fetched, 0 new" in again

    refused = _fails(env, "account", "untrack", "1", "inbox")
    assert "INBOX is always synced" in refused
    cli.run(env, "account", "untrack", "1", FOLDER)
    mailbox.append(dovecot, mail_user, FOLDER, mailbox.message(ANNA, ME, "after it was dropped"))
    cli.run(env, "sync", "--once")
    assert "after it was dropped" not in _subjects(session_factory)
    assert "filed by a rule" in _subjects(session_factory)  # what it brought stays
    assert _row(cli.run(env, "account", "folders", "1"), FOLDER)[2] == "no"
    assert _row(cli.run(env, "status"), FOLDER)[2] == "not synced"


def test_the_worker_takes_a_chosen_folders_new_mail_at_each_reconcile(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    env = cli.postroom_env(engine, tmp_path / "home")
    cli.add_account(env, dovecot, mail_user, ME)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.create_folder(dovecot, mail_user, FOLDER)
    for i in range(3):
        mailbox.append(dovecot, mail_user, FOLDER, mailbox.message(ANNA, ME, f"old {i}"))
    cli.run(env, "account", "track", "1", FOLDER)

    worker = cli.start(env, "worker", "--refresh", "1", "--reconcile", "2")
    try:
        deadline = time.monotonic() + 30
        while len(_subjects(session_factory)) < 3 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.communicate()
            time.sleep(0.1)
        assert len(_subjects(session_factory)) == 3
        time.sleep(0.5)  # INBOX in IDLE: a chosen folder is not pushed, only reconciled
        mailbox.append(dovecot, mail_user, FOLDER, mailbox.message(ANNA, ME, "new in the folder"))
        deadline = time.monotonic() + 10
        while "new in the folder" not in _subjects(session_factory):
            assert time.monotonic() < deadline, "not taken by a reconcile within 10 s"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "Traceback" not in err
