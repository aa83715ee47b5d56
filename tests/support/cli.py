"""The real ``postroom`` command in a subprocess, against a test's database and Dovecot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from tests.support.dovecot import DovecotServer, MailUser

COMMAND = [sys.executable, "-m", "postroom.cli.main"]


def postroom_env(engine: Engine, home: Path) -> dict[str, str]:
    """The environment that points ``postroom`` at this test's database and data folder."""
    return {
        **os.environ,
        "POSTROOM_HOME": str(home),
        "POSTROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args],
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def attempt(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, whether it succeeds or not."""
    return subprocess.run(
        [*COMMAND, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run a command to its end; it must succeed. Returns its output."""
    result = attempt(env, *args, stdin=stdin)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def add_account(
    env: dict[str, str], server: DovecotServer, user: MailUser, owner: str, *, test: bool = True
) -> None:
    """``postroom account add`` for ``user`` on the test server (plain IMAP on loopback),
    connection tested first; ``test=False`` saves it untested (``--no-test``: a wrong password
    on purpose)."""
    run(
        env,
        "account",
        "add",
        "--user",
        owner,
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--tls",
        "plain",
        "--allow-plaintext",
        "--username",
        user.username,
        "--address",
        owner,
        "--password-stdin",
        *(() if test else ("--no-test",)),
        stdin=user.password + "\n",
    )
