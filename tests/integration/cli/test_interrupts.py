"""A user's own doing is never "a bug in Postroom": Ctrl-C or end of input at a prompt, Ctrl-C
during a sync, and a data folder that is a file each end with one line that says what happened
and what to do (README.md: "Every error a user can cause ends with one line")."""

from __future__ import annotations

import os
import select
import signal
import time

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from postroom.store.models import Activity
from tests.support import cli, mailbox

ME = "robin@firm.example"
ANNA = "anna@acme.example"


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_end_of_input_at_the_password_prompt_names_password_stdin(run_cli):
    code, out = run_cli(
        "account", "add", "--user", ME, "--host", "127.0.0.1", "--username", "robin", stdin=""
    )

    assert code == 1
    [line] = error_lines(out)
    assert line.startswith("error: no password was given (Ctrl-C or end of input at the prompt)")
    assert "--password-stdin" in line
    assert "bug" not in out
    assert "Traceback" not in out
    assert "no mail accounts" in run_cli("account", "list")[1]


def test_end_of_input_at_a_confirmation_changes_nothing(run_cli, dovecot, mail_user):
    code, out = run_cli(
        "account",
        "add",
        "--user",
        ME,
        "--host",
        dovecot.host,
        "--port",
        str(dovecot.port),
        "--tls",
        "plain",
        "--allow-plaintext",
        "--username",
        mail_user.username,
        "--password-stdin",
        stdin=mail_user.password + "\n",
    )
    assert code == 0, out

    code, out = run_cli("account", "remove", "1", stdin="")

    assert code == 1
    [line] = error_lines(out)
    assert line == (
        "error: stopped at a prompt (Ctrl-C or end of input); nothing was changed "
        "(run the command again and answer the prompt)"
    )
    assert mail_user.username in run_cli("account", "list")[1]


def _read_until(stream: int, marker: bytes, timeout: float = 60.0) -> bytes:
    """Bytes from a pipe's file descriptor until ``marker`` (a prompt ends without a newline)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, seen
        ready, _, _ = select.select([stream], [], [], remaining)
        if ready:
            chunk = os.read(stream, 4096)
            assert chunk, seen  # the process ended before the marker
            seen += chunk
    return seen


def test_ctrl_c_at_the_password_prompt_is_one_line(tmp_path):
    env = {**os.environ, "POSTROOM_HOME": str(tmp_path / "home")}
    env.pop("POSTROOM_DATABASE_URL", None)
    proc = cli.start(env, "account", "add", "--user", ME, "--host", "h", "--username", "robin")
    assert proc.stdout is not None
    _read_until(proc.stdout.fileno(), b"IMAP password:")

    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 1
    [line] = error_lines(stderr)
    assert "no password was given (Ctrl-C or end of input at the prompt)" in line
    assert "--password-stdin" in line
    assert "Traceback" not in stderr
    assert "bug" not in stderr


@pytest.mark.parametrize("where", ["home", "home/postroom"])
def test_a_data_folder_that_is_a_file_names_postroom_home(run_cli, tmp_path, monkeypatch, where):
    (tmp_path / "home").write_text("not a folder")
    monkeypatch.setenv("POSTROOM_HOME", str(tmp_path / where))

    code, out = run_cli("status")

    assert code == 1
    [line] = error_lines(out)
    assert line == (
        f"error: the data folder {tmp_path / where} cannot be made: {tmp_path / 'home'} is a "
        "file, not a folder (set POSTROOM_HOME to a folder, unset it for the default, or move "
        "that file away)"
    )


def test_ctrl_c_during_a_sync_says_it_is_safe_to_run_again(
    engine, session_factory, tmp_path, dovecot, mail_user, dovecot_proxy
):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"}
    cli.run(
        env,
        "account",
        "add",
        "--user",
        ME,
        "--host",
        dovecot_proxy.host,
        "--port",
        str(dovecot_proxy.port),
        "--tls",
        "plain",
        "--allow-plaintext",
        "--username",
        mail_user.username,
        "--address",
        ME,
        "--password-stdin",
        stdin=mail_user.password + "\n",
    )
    cli.run(env, "record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "hello"))
    dovecot_proxy.stall()  # the sync waits on the server: a user's Ctrl-C comes mid-sync
    accepted = dovecot_proxy.connections_accepted
    proc = cli.start(env, "sync", "--once")
    dovecot_proxy.wait_for_connections(accepted + 1, timeout=60)

    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 1
    [line] = error_lines(stderr)
    assert line == (
        "error: sync interrupted (Ctrl-C); every batch committed before it is kept (it is safe "
        "to run `postroom sync --once` again: it goes on where this one stopped)"
    )
    assert "Traceback" not in stderr

    dovecot_proxy.resume()
    out = cli.run(env, "sync", "--once")
    assert "#1 INBOX: 1 fetched, 1 new, 1 activities" in out
    with session_factory() as session:
        assert session.scalar(sql_select(func.count()).select_from(Activity)) == 1
