"""``postroom worker`` as a user runs it: push-driven, stops cleanly on SIGTERM, resumes."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import replace

from sqlalchemy import func, select
from tests.support import cli, mailbox

from postroom.store.models import Activity, MailAccount

ME = "robin@firm.example"
ANNA = "anna@acme.example"


def _activities(session_factory) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(Activity)) or 0)


def _wait_for(condition, seconds: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def test_worker_logs_pushed_mail_stops_on_sigterm_and_resumes(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    env = cli.postroom_env(engine, tmp_path / "home")
    cli.add_account(env, dovecot, mail_user, ME)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "before the worker"))

    def start() -> subprocess.Popen[str]:
        return cli.start(env, "worker", "--refresh", "1")

    worker = start()
    _wait_for(lambda: _activities(session_factory) == 1, 30, worker)
    time.sleep(1.0)  # into IDLE
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "pushed"))
    _wait_for(lambda: _activities(session_factory) == 2, 10, worker)

    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "worker stopped" in out
    assert "Traceback" not in err

    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "while stopped"))
    worker = start()
    _wait_for(lambda: _activities(session_factory) == 3, 30, worker)
    worker.send_signal(signal.SIGINT)
    worker.communicate(timeout=20)
    assert worker.returncode == 0
    assert _activities(session_factory) == 3

    status = cli.run({**env, "COLUMNS": "200"}, "status")
    inbox = next(line for line in status.splitlines() if "INBOX" in line)
    assert [cell.strip() for cell in inbox.strip("│ ").split("│")][:6] == [
        "INBOX",
        "inbox",
        "live",
        "3",
        "3",
        "3",  # on server, synced, matched
    ]
    assert "ok" in status


def test_a_refused_login_is_shown_with_what_to_do_and_a_new_password_resumes_the_worker(
    engine, session_factory, tmp_path, dovecot, mail_user
):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}
    cli.add_account(env, dovecot, replace(mail_user, password="not-the-password"), ME, test=False)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "waiting"))

    worker = cli.start(env, "worker", "--refresh", "1")
    try:
        _wait_for(lambda: _needs_reauth(session_factory), 30, worker)
        status = cli.run(env, "status")
        assert "login refused: needs a new password" in status
        assert "check the user name and password" in status  # the server's refusal, advised
        assert "postroom account password 1" in status
        assert "not-the-password" not in status

        cli.run(env, "account", "password", "1", "--password-stdin", stdin=mail_user.password)
        _wait_for(lambda: _activities(session_factory) == 1, 15, worker)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "not-the-password" not in out + err
    status = cli.run(env, "status")
    assert "ok" in status
    assert "last error:" not in status


def _needs_reauth(session_factory) -> bool:
    with session_factory() as session:
        return bool(session.scalar(select(MailAccount.needs_reauth)))
