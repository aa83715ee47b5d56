"""``postroom account add|edit|remove``: nothing entered is stuck (issue 12, item 1).

``add`` and ``edit`` test the connection against the suite's real Dovecot before they save,
and refuse failing settings naming the step and the fix; ``remove`` keeps the activities on the
records and takes the account's folders and sync state away.
"""

from __future__ import annotations

import subprocess

from sqlalchemy import func, select

from postroom.store.models import Activity, MailAccount, MailFolder, MailMessage
from tests.support import cli as command
from tests.support import mailbox
from tests.support.smtp import SmtpServer

ME = "robin@firm.example"
ANNA = "anna@acme.example"


def _add(cli, dovecot, user, password: str, *extra: str) -> tuple[int, str]:
    return cli(
        "account",
        "add",
        "--user",
        ME,
        "--host",
        "127.0.0.1",
        "--port",
        str(dovecot.port),
        "--username",
        user.username,
        "--address",
        ME,
        "--password-stdin",
        *extra,
        stdin=password + "\n",
    )


def _sync(engine, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command.COMMAND, "sync", "--once"],
        env={**command.postroom_env(engine, tmp_path / "home"), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _count(session_factory, model, *where) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_add_tests_the_connection_and_saves_only_what_works(
    cli,
    session_factory,
    dovecot,
    mail_user,
):
    plain = ("--tls", "plain", "--allow-plaintext")
    code, out = _add(cli, dovecot, mail_user, "not-the-password", *plain)
    assert code == 1, out
    assert "✗ Login: the server refused the login" in out
    assert "error: account not saved: the Login step failed" in out
    assert "--no-test" in out  # the way out, named
    assert "not-the-password" not in out

    code, out = _add(cli, dovecot, mail_user, mail_user.password)  # implicit TLS on a plain port
    assert code == 1, out
    assert "account not saved" in out
    assert "TLS" in out
    assert _count(session_factory, MailAccount) == 0

    code, out = _add(cli, dovecot, mail_user, mail_user.password, *plain)
    assert code == 0, out
    assert "✓ Login: logged in as" in out
    assert "✓ INBOX folder: INBOX" in out
    assert "added account #1" in out

    other = dovecot.add_user()
    code, out = _add(cli, dovecot, other, "wrong", *plain, "--no-test")
    assert code == 0, out
    assert "Login" not in out  # not tried
    assert _count(session_factory, MailAccount) == 2


def test_an_account_with_the_wrong_tls_mode_is_fixed_by_edit(
    cli,
    engine,
    session_factory,
    tmp_path,
    dovecot,
    mail_user,
):
    code, out = _add(cli, dovecot, mail_user, mail_user.password, "--no-test")  # implicit TLS
    assert code == 0, out
    code, out = cli("record", "add", "Anna", "-e", ANNA)
    assert code == 0, out
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "Interview slot"))
    assert _sync(engine, tmp_path).returncode == 1  # the wrong TLS mode: every sync fails

    code, out = cli("account", "edit", "1", "--tls", "plain")
    assert code == 1
    assert out.strip().startswith("error:"), out
    assert "plain" in out.lower()

    code, out = cli("account", "edit", "1", "--tls", "implicit", "--port", "1")
    assert code == 1, out
    assert "error: account #1 not saved: the Connection (TCP) step failed" in out
    with session_factory() as session:
        account = session.get(MailAccount, 1)
        assert account is not None
        assert (account.imap_port, account.imap_tls.value) == (dovecot.port, "implicit")

    code, out = cli(
        "account",
        "edit",
        "1",
        "--tls",
        "plain",
        "--allow-plaintext",
        "--port",
        str(dovecot.port),
    )
    assert code == 0, out
    assert "✓ Login: logged in as" in out  # tested with the stored password
    assert f"account #1 saved: {mail_user.username}, 127.0.0.1:{dovecot.port} (plain)" in out

    synced = _sync(engine, tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    code, out = cli("record", "show", "1")
    assert "Interview slot" in out

    code, out = cli("account", "edit", "1", "--password-stdin", stdin="not-the-password\n")
    assert code == 1, out
    assert "account #1 not saved: the Login step failed" in out
    assert _sync(engine, tmp_path).returncode == 0  # the stored password still works


def test_edit_changes_label_addresses_and_visibility_without_a_server(
    cli,
    session_factory,
):
    code, out = cli(
        "account",
        "add",
        "--user",
        ME,
        "--host",
        "imap.firm.example",
        "--username",
        "robin",
        "--address",
        ME,
        "--password-stdin",
        "--no-test",
        stdin="pw\n",
    )
    assert code == 0, out
    code, out = cli(
        "account",
        "edit",
        "1",
        "--label",
        "Work",
        "--add-address",
        "r.lee@firm.example",
        "--remove-address",
        ME.upper(),
        "--visibility",
        "metadata",
    )
    assert code == 0, out
    assert "Work" in out
    code, out = cli("account", "list")
    assert "│ r.lee@firm.example │ metadata" in out  # ME, the owner, is no own address now

    code, out = cli("account", "edit", "1", "--remove-address", "nobody@firm.example")
    assert code == 1
    assert "'nobody@firm.example' is not an own address of account #1" in out
    code, out = cli("account", "edit", "1")
    assert code == 1
    assert "error: nothing to change" in out
    code, out = cli("account", "edit", "7", "--label", "x")
    assert code == 1
    assert "mail account #7 does not exist" in out

    code, out = cli("account", "edit", "1", "--host", "imap2.firm.example", "--no-test")
    assert code == 0, out
    with session_factory() as session:
        account = session.get(MailAccount, 1)
        assert account is not None
        assert account.imap_host == "imap2.firm.example"


def test_remove_asks_first_and_keeps_the_activities(
    cli,
    engine,
    session_factory,
    tmp_path,
    dovecot,
    mail_user,
):
    code, out = _add(cli, dovecot, mail_user, mail_user.password, "--tls", "plain")
    assert code == 1  # plain text was not explicitly allowed
    code, out = _add(
        cli, dovecot, mail_user, mail_user.password, "--tls", "plain", "--allow-plaintext"
    )
    assert code == 0, out
    cli("record", "add", "Anna", "-e", ANNA)
    mailbox.append(dovecot, mail_user, "INBOX", mailbox.message(ANNA, ME, "Interview slot"))
    assert _sync(engine, tmp_path).returncode == 0
    assert _count(session_factory, MailFolder, MailFolder.account_id == 1) > 0

    code, out = cli("account", "remove", "1", stdin="n\n")
    assert code == 1
    assert "nothing removed" in out
    assert "internal error" not in out
    assert _count(session_factory, MailAccount) == 1

    code, out = cli("account", "remove", "1", stdin="y\n")
    assert code == 0, out
    assert "removed account #1; the activities it logged stay on the records" in out
    assert _count(session_factory, MailAccount) == 0
    assert _count(session_factory, MailFolder) == 0  # its sync state went with it
    assert _count(session_factory, MailMessage) == 0
    assert _count(session_factory, Activity) == 1
    code, out = cli("record", "show", "1")
    assert "Interview slot" in out

    code, out = cli("account", "remove", "1", "--yes")
    assert code == 1
    assert "mail account #1 does not exist" in out


def test_edit_sets_tests_and_removes_the_smtp_server(cli, session_factory, dovecot, mail_user):
    plain = ("--tls", "plain", "--allow-plaintext")
    code, out = _add(cli, dovecot, mail_user, mail_user.password, *plain)
    assert code == 0, out
    assert "sending: no SMTP server (cannot send)" in out
    code, out = cli("account", "list")
    assert "no SMTP server (cannot send)" in out

    with SmtpServer(mail_user.username, mail_user.password) as smtp:
        port = str(smtp.port)
        code, out = cli(
            "account", "edit", "1", "--smtp-host", "127.0.0.1", "--smtp-port", port,
            "--smtp-tls", "starttls",
        )  # fmt: skip
        assert code == 1, out  # the server offers no STARTTLS: never plain text instead
        assert "✗ SMTP TLS certificate: 127.0.0.1 does not offer STARTTLS" in out
        assert "error: account #1 not saved: the SMTP TLS certificate step failed" in out
        with session_factory() as session:
            assert session.get(MailAccount, 1).smtp_host is None

        code, out = cli(
            "account", "edit", "1", "--smtp-host", "127.0.0.1", "--smtp-port", port,
            "--smtp-tls", "plain",
        )  # fmt: skip
        assert code == 1, out
        assert "SMTP without TLS was not explicitly allowed" in out

        code, out = cli(
            "account", "edit", "1", "--smtp-host", "127.0.0.1", "--smtp-port", port,
            "--smtp-tls", "plain", "--allow-plaintext",
        )  # fmt: skip
        assert code == 0, out  # tested with the stored password: no password asked for
        assert f"and sending through 127.0.0.1:{port} (plain)" in out
        assert f"✓ SMTP login: logged in as {mail_user.username}; nothing was sent" in out
        assert f"sending: 127.0.0.1:{port} (plain)" in out
        assert smtp.received == []
    code, out = cli("account", "list")
    assert f"│ 127.0.0.1:{port} (plain)" in out

    code, out = cli("account", "edit", "1", "--smtp-host", "")
    assert code == 0, out
    assert "sending: no SMTP server (cannot send)" in out
    with session_factory() as session:
        account = session.get(MailAccount, 1)
        assert (account.smtp_host, account.smtp_port, account.smtp_tls) == (None, None, None)


def test_add_and_edit_take_smtp_settings_without_a_server(cli, session_factory):
    code, out = cli(
        "account", "add", "--user", ME, "--host", "imap.firm.example", "--username", "robin",
        "--smtp-host", "SMTP.firm.example", "--smtp-port", "587", "--password-stdin",
        "--no-test", stdin="pw\n",
    )  # fmt: skip
    assert code == 0, out
    assert "sending: smtp.firm.example:587 (starttls)" in out  # 587 means STARTTLS

    code, out = cli("account", "edit", "1", "--smtp-tls", "implicit", "--no-test")
    assert code == 0, out
    assert "sending: smtp.firm.example:465 (implicit)" in out  # the mode's own port
    code, out = cli("account", "edit", "1", "--smtp-tls", "ssl")
    assert code == 1
    assert "--smtp-tls 'ssl'" in out
    assert "use one of implicit, starttls, plain" in out
    code, out = cli("account", "edit", "1", "--smtp-host", "", "--smtp-port", "25")
    assert code == 1
    assert "an SMTP port or TLS mode was given without an SMTP host" in out
    with session_factory() as session:
        account = session.get(MailAccount, 1)
        assert (account.smtp_host, account.smtp_port, account.smtp_tls.value) == (
            "smtp.firm.example",
            465,
            "implicit",
        )
