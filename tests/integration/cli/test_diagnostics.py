"""What a user can turn on to report a problem, and errors that say which problem it is
(issue 11, item 11): ``-vv`` and ``--wire-log FILE`` (the IMAP wire log, passwords redacted);
a locked database and a full disk each named as such, not as a database out of reach."""

from __future__ import annotations

import sqlite3
import stat
import subprocess

import pytest
from sqlalchemy import create_engine, text

from postroom.cli.runtime import err_console, user_errors
from tests.support import cli

ME = "robin@firm.example"


def _account_test(env, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli.COMMAND, *options, "account", "test", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_wire_log_goes_to_a_private_file_with_the_password_redacted(
    engine, tmp_path, dovecot, mail_user
):
    env = cli.postroom_env(engine, tmp_path / "home")
    cli.add_account(env, dovecot, mail_user, ME, test=False)
    wire_log = tmp_path / "wire.log"

    result = _account_test(env, "--wire-log", str(wire_log))

    assert result.returncode == 0, result.stderr
    logged = wire_log.read_text()
    assert " C: " in logged
    assert " S: " in logged
    assert "LOGIN" in logged
    assert mail_user.password not in logged
    assert stat.S_IMODE(wire_log.stat().st_mode) == 0o600
    assert " C: " not in result.stderr  # only with -vv


def test_vv_logs_debug_with_the_wire_log_on_stderr(engine, tmp_path, dovecot, mail_user):
    env = cli.postroom_env(engine, tmp_path / "home")
    cli.add_account(env, dovecot, mail_user, ME, test=False)

    result = _account_test(env, "-vv")

    assert result.returncode == 0, result.stderr
    assert "postroom.imap.wire:C: " in result.stderr
    assert mail_user.password not in result.stderr
    quiet = _account_test(env, "-v")
    assert "postroom.imap.wire" not in quiet.stderr


@pytest.fixture
def error_line(capsys, monkeypatch):
    monkeypatch.setattr(err_console, "width", 1000)

    def run(command) -> str:
        with pytest.raises(SystemExit) as exit_:
            user_errors(command)()
        assert exit_.value.code == 1
        [line] = capsys.readouterr().err.splitlines()
        return line

    return run


def test_a_locked_database_is_said_to_be_locked(tmp_path, error_line):
    path = tmp_path / "postroom.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")  # another process writing
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))

    try:
        line = error_line(write)
    finally:
        holder.close()
        engine.dispose()
    assert line.startswith(
        "error: the database is locked: another process is writing to it (database is locked)"
    )
    assert "try again in a moment" in line
    assert "POSTROOM_DATABASE_URL" not in line


def test_a_full_disk_is_said_to_be_full(tmp_path, error_line):
    engine = create_engine(f"sqlite:///{tmp_path / 'postroom.db'}")

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x BLOB)"))
            connection.execute(text("PRAGMA max_page_count = 10"))  # SQLITE_FULL, as on a full disk
            connection.execute(text("INSERT INTO t VALUES (zeroblob(100000))"))

    try:
        line = error_line(write)
    finally:
        engine.dispose()
    assert line.startswith("error: the disk is full: the database cannot write")
    assert "free disk space" in line


def test_a_database_out_of_reach_still_names_the_setting(tmp_path, error_line):
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'postroom.db'}")

    def connect() -> None:
        with engine.connect():
            pass

    line = error_line(connect)
    assert line.startswith("error: the database cannot be reached: unable to open database file")
    assert "check POSTROOM_DATABASE_URL" in line


def test_a_full_disk_outside_the_database_is_said_to_be_full(error_line):
    def write() -> None:
        raise OSError(28, "No space left on device", "/data/secret.key")

    assert error_line(write) == (
        "error: the disk is full: /data/secret.key (free disk space there and run the command "
        "again)"
    )
