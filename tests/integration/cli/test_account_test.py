"""``postroom account test``: says exactly what failed and what to do."""

from __future__ import annotations

import subprocess

from tests.support import cli
from tests.support.smtp import SmtpServer

ME = "robin@firm.example"


def _add(env, host: str, port: int, username: str, password: str, *extra: str) -> None:
    cli.run(
        env,
        "account",
        "add",
        "--user",
        ME,
        "--host",
        host,
        "--port",
        str(port),
        "--username",
        username,
        "--address",
        ME,
        "--password-stdin",
        "--no-test",  # saved as given: `account test` is what these tests try
        *extra,
        stdin=password + "\n",
    )


def _test(env, account: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli.COMMAND, "account", "test", str(account)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_account_test_checks_each_step(engine, tmp_path, dovecot, mail_user):
    env = cli.postroom_env(engine, tmp_path / "home")
    env["POSTROOM_IMAP_CA_FILE"] = str(dovecot.ca_pem_path)
    _add(env, "127.0.0.1", dovecot.tls_port, mail_user.username, mail_user.password)  # TLS
    _add(
        env,
        "localhost",
        dovecot.port,
        mail_user.username,
        "wrong",
        "--tls",
        "plain",
        "--allow-plaintext",
    )
    _add(env, "localhost", 1, "nobody@x.example", "x", "--tls", "plain", "--allow-plaintext")

    good = _test(env, 1)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "certificate checked" in good.stdout
    assert "inbox folder: INBOX" in good.stdout
    assert "sent folder: Sent" in good.stdout
    assert "sending  no SMTP server (cannot send)" in good.stdout
    assert "SMTP" not in good.stdout.replace("no SMTP server", "").replace("--smtp-host", "")

    refused_login = _test(env, 2)
    assert refused_login.returncode == 1
    assert "login" in refused_login.stdout
    assert "what to do" in refused_login.stdout
    assert "wrong" not in refused_login.stdout + refused_login.stderr  # never the password

    no_server = _test(env, 3)
    assert no_server.returncode == 1
    assert "refused" in no_server.stdout.lower()
    assert "Traceback" not in no_server.stdout + no_server.stderr


def test_an_untrusted_certificate_is_named_as_such(engine, tmp_path, dovecot, mail_user):
    env = cli.postroom_env(engine, tmp_path / "home")
    env.pop("POSTROOM_IMAP_CA_FILE", None)
    _add(env, "127.0.0.1", dovecot.tls_port, mail_user.username, mail_user.password)
    result = _test(env, 1)
    assert result.returncode == 1
    assert "certificate" in result.stdout.lower()


def test_an_unknown_host_is_named_a_dns_failure(engine, tmp_path, mail_user):
    env = cli.postroom_env(engine, tmp_path / "home")
    _add(env, "no-such-host.invalid", 993, mail_user.username, mail_user.password)
    result = _test(env, 1)
    assert result.returncode == 1
    assert "connect (DNS)" in result.stdout
    assert "what to do" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_account_test_tries_the_smtp_server_with_the_same_login(
    engine, tmp_path, dovecot, mail_user
):
    env = cli.postroom_env(engine, tmp_path / "home")
    plain = ("--tls", "plain", "--allow-plaintext", "--smtp-tls", "plain")
    with SmtpServer(mail_user.username, "not-the-imap-password") as smtp:
        smtp_at = ("--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port))
        _add(
            env, "localhost", dovecot.port, mail_user.username, mail_user.password, *plain, *smtp_at
        )
        refused = _test(env, 1)
    with SmtpServer(mail_user.username, mail_user.password) as smtp:
        smtp_at = ("--smtp-host", "127.0.0.1", "--smtp-port", str(smtp.port))
        _add(
            env, "127.0.0.1", dovecot.port, mail_user.username, mail_user.password, *plain, *smtp_at
        )
        good = _test(env, 2)
        assert smtp.received == []  # a test sends nothing

    assert refused.returncode == 1
    assert "sending  127.0.0.1:" in refused.stdout
    assert "login: logged in as" in refused.stdout  # IMAP took the password ...
    assert "SMTP login: the server refused the login" in refused.stdout  # ... SMTP did not
    assert "what to do: check the user name and password" in refused.stdout
    assert mail_user.password not in refused.stdout + refused.stderr

    assert good.returncode == 0, good.stdout + good.stderr
    assert f"sending  127.0.0.1:{smtp.port} (plain)" in good.stdout
    assert f"SMTP connect: connected to port {smtp.port}" in good.stdout
    assert "SMTP TLS certificate: no TLS: plain text" in good.stdout
    assert "SMTP login: logged in as" in good.stdout
