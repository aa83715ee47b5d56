"""The command line, end to end, on SQLite and PostgreSQL: what a user types and sees."""

from __future__ import annotations

import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

ME = "robin@firm.example"


def write_mail(path: Path, *, sender: str, to: str, body: str, msgid: str) -> Path:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Interview on Tuesday"
    msg["Date"] = "Mon, 03 Mar 2025 10:00:00 +0000"
    msg["Message-ID"] = msgid
    msg.set_content(body)
    path.write_bytes(msg.as_bytes())
    return path


def test_init_makes_the_key_file_private(cli, tmp_path):
    code, out = cli("init")
    assert code == 0, out
    assert "ready" in out
    key = tmp_path / "home" / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_a_day_with_records_accounts_and_mail(cli, tmp_path):
    code, out = cli(
        "record",
        "add",
        "Anna Berg",
        "-e",
        "anna@acme.example",
        "-p",
        "+44 20 7946 0958",
        "--company",
        "Acme",
        "--tag",
        "python",
    )
    assert (code, out.strip()) == (0, "created record #1 Anna Berg")

    code, out = cli("record", "add", "Anna B.", "-e", "ANNA@acme.example")
    assert code == 1
    assert "record #1 (Anna Berg) already has the same email anna@acme.example" in out
    assert "Traceback" not in out

    code, out = cli(
        "account",
        "add",
        "--user",
        ME,
        "--host",
        "imap.firm.example",
        "--username",
        ME,
        "--password-stdin",
        "--no-test",  # no such server: mail comes from files here
        stdin="s3cret-pw\n",
    )
    assert code == 0, out
    code, out = cli("account", "list")
    assert ME in out
    assert "s3cret-pw" not in out

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_mail(
        inbox / "1.eml",
        sender="anna@acme.example",
        to=ME,
        msgid="<1@acme.example>",
        body="Tuesday at ten works.\n\nOn Mon, Robin wrote:\n> Does Tuesday work?\n",
    )
    write_mail(
        inbox / "2.eml",
        sender="carla@else.example",
        to=ME,
        msgid="<2@else.example>",
        body="Hi from Carla",
    )
    code, out = cli("message", "ingest", str(inbox))
    assert code == 0, out
    assert "2 files: 2 new messages, 0 already known, 1 activities created" in out

    code, out = cli("record", "show", "1")
    assert code == 0, out
    assert "Interview on Tuesday" in out
    assert "Tuesday at ten works." in out
    assert "Does Tuesday work?" not in out  # quoted history hidden unless --full

    # Carla becomes a record: her past mail appears on it
    code, out = cli("record", "add", "Carla", "-e", "carla@else.example")
    assert code == 0
    code, out = cli("record", "show", "2")
    assert "Hi from Carla" in out

    code, out = cli("record", "list", "--search", "anna")
    assert "Anna Berg" in out
    assert "Carla" not in out

    code, out = cli("status")
    assert code == 0
    assert "activities" in out


def test_csv_import_reports_each_row_that_needs_attention(cli, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text(
        "Name,Email,Phone,Company\n"
        "Anna Berg,anna@acme.example,+44 20 7946 0958,Acme\n"
        "Anna Berg,anna@acme.example,,Acme\n"
        "Bad Email,not-an-address,,\n"
        ",nobody@acme.example,,\n",
        encoding="utf-8",
    )
    code, out = cli("record", "import", str(csv))
    assert code == 1  # one row could not be imported: the user must know
    assert "4 lines: 2 created, 1 merged, 0 skipped, 1 error" in out
    assert "not-an-address" in out  # left out of its row, which is imported without it


def test_user_errors_are_one_line_without_traceback(cli, tmp_path):
    for args in (
        ("record", "show", "999"),
        ("record", "import", str(tmp_path / "missing.csv")),
        ("record", "import", str(tmp_path)),
        ("message", "ingest", str(tmp_path / "missing.eml")),
        ("message", "ingest", str(tmp_path)),  # no account yet
        ("record", "add", "X", "--on-duplicate", "maybe"),
        (
            "account",
            "add",
            "--user",
            ME,
            "--host",
            "imap.example",
            "--username",
            "u",
            "--tls",
            "plain",
            "--password-stdin",
        ),
    ):
        code, out = cli(*args, stdin="pw\n")
        assert code != 0, args
        assert "Traceback" not in out
        assert out.strip().startswith("error:"), (args, out)


def test_the_installed_command_runs_in_a_fresh_folder(tmp_path):
    """The README's first command: a fresh data folder on SQLite, no set-up."""
    env = {**os.environ, "POSTROOM_HOME": str(tmp_path / "fresh")}
    env.pop("POSTROOM_DATABASE_URL", None)
    command = [sys.executable, "-m", "postroom.cli.main"]
    result = subprocess.run(
        [*command, "status"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh" / "postroom.db").exists()
    bad = subprocess.run(
        [*command, "record", "show", "7"], env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert "record" in bad.stderr
