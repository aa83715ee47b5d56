"""``postroom status`` says whether a worker runs; ``postroom worker`` says what it does."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.support import cli, mailbox

ME = "robin@firm.example"
ANNA = "anna@acme.example"
NO_WORKER = "no worker running: start `postroom worker` or `postroom serve`"


def _wait_for(condition, seconds: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_status_says_whether_a_worker_runs_and_the_worker_says_when_an_account_is_live(
    engine, tmp_path, dovecot, mail_user
):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}
    cli.add_account(env, dovecot, mail_user, ME)
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "hello"))
    assert NO_WORKER in cli.run(env, "status")

    worker = cli.start(env, "worker", "--refresh", "1")
    try:
        _wait_for(lambda: "worker: running on " in cli.run(env, "status"), 30, worker)
        status = cli.run(env, "status")
        line = next(line for line in status.splitlines() if line.startswith("worker: "))
        assert f"(pid {worker.pid}) since " in line
        assert line.endswith(" UTC")
        assert NO_WORKER not in status
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "worker stopped" in out
    assert "Traceback" not in err
    # without --verbose, the worker still says what it does: the account connected and live
    who = f"account #1 {mail_user.username}"  # the label: the user name unless given
    assert f"{who}: connected" in err
    assert f"{who}: INBOX first sync done (1 message)" in err
    assert f"{who}: live, 2 folders up to date" in err  # INBOX and Sent
    # stopped cleanly: no worker is claimed a second later
    assert NO_WORKER in cli.run(env, "status")
