"""services.connection_test's SMTP steps against a real SMTP server (``tests.support.smtp``,
aiosmtpd) after the IMAP steps against the suite's Dovecot: DNS, connection, TLS certificate
(trusted through the same ``POSTROOM_IMAP_CA_FILE`` as IMAP) and login, each failure named
with what to do; STARTTLS is required when chosen, and nothing is ever sent."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from postroom.config import Settings
from postroom.domain.accounts import TlsMode
from postroom.errors import InputError
from postroom.services import connection_test
from postroom.services.connection_test import (
    IMAP_STEPS,
    SMTP_STEPS,
    ConnectionReport,
    Outcome,
    Step,
)
from postroom.services.secrets import Secret
from tests.support import tls
from tests.support.dovecot import free_port
from tests.support.smtp import SmtpServer


def _settings(tmp_path: Path, ca_file: Path | None = None) -> Settings:
    return Settings(home=tmp_path, database_url="sqlite://", secret_key=None, imap_ca_file=ca_file)


def _smtp_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 from a new trustme CA, and that CA's
    certificate (what a client must trust)."""
    ca = tls.new_ca()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*tls.DEFAULT_HOSTNAMES).configure_cert(context)
    return context, tls.write_ca_pem(ca, tmp_path / "smtp-ca.pem")


def _test(
    settings: Settings,
    dovecot,
    mail_user,
    *,
    smtp_port: int | None,
    smtp_tls: TlsMode | None,
    password: str | None = None,
) -> ConnectionReport:
    """IMAP in plain text to the suite's Dovecot (it works), then SMTP on 127.0.0.1."""
    return connection_test.try_new_server(
        settings=settings,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        tls=TlsMode.PLAIN,
        username=mail_user.username,
        password=Secret(password or mail_user.password),
        smtp_host="127.0.0.1" if smtp_port is not None else None,
        smtp_port=smtp_port,
        smtp_tls=smtp_tls,
        timeout=10,
    )


def _outcomes(report: ConnectionReport) -> dict[Step, Outcome]:
    return {s.step: s.outcome for s in report.steps}


def _smtp_server(mail_user, **kwargs) -> SmtpServer:
    return SmtpServer(mail_user.username, mail_user.password, **kwargs)


def test_without_an_smtp_server_the_report_has_no_smtp_step(tmp_path, dovecot, mail_user):
    report = _test(_settings(tmp_path), dovecot, mail_user, smtp_port=None, smtp_tls=None)
    assert report.ok
    assert tuple(s.step for s in report.steps) == IMAP_STEPS
    assert report.smtp_host is None


def test_starttls_with_a_trusted_certificate_and_the_imap_login(tmp_path, dovecot, mail_user):
    server_context, ca_pem = _smtp_tls(tmp_path)
    with _smtp_server(mail_user, tls_context=server_context) as smtp:
        report = _test(
            _settings(tmp_path, ca_pem),  # the one extra CA file, trusted for SMTP too
            dovecot,
            mail_user,
            smtp_port=smtp.port,
            smtp_tls=TlsMode.STARTTLS,
        )
        assert smtp.received == []  # nothing is ever sent
    assert report.ok, report.failed
    assert tuple(s.step for s in report.steps) == IMAP_STEPS + SMTP_STEPS
    assert (report.smtp_host, report.smtp_port, report.smtp_tls) == (
        "127.0.0.1",
        smtp.port,
        TlsMode.STARTTLS,
    )
    assert {step: _outcomes(report)[step] for step in SMTP_STEPS} == dict.fromkeys(
        SMTP_STEPS, Outcome.OK
    )
    assert report.step(Step.SMTP_TCP).message == f"connected to port {smtp.port}"
    assert report.step(Step.SMTP_TLS).message == "STARTTLS, certificate checked"
    assert report.step(Step.SMTP_LOGIN).message == (
        f"logged in as {mail_user.username}; nothing was sent"
    )


def test_an_untrusted_certificate_fails_the_smtp_tls_step(tmp_path, dovecot, mail_user):
    server_context, _ = _smtp_tls(tmp_path)
    with _smtp_server(mail_user, tls_context=server_context) as smtp:
        for ca_file in (None, tls.untrusted_ca_pem(tmp_path)):  # system CAs; a CA that signed none
            report = _test(
                _settings(tmp_path, ca_file),
                dovecot,
                mail_user,
                smtp_port=smtp.port,
                smtp_tls=TlsMode.STARTTLS,
            )
            failed = report.failed
            assert failed is not None
            assert failed.step is Step.SMTP_TLS
            assert failed.message.startswith("the certificate of 127.0.0.1 is not trusted")
            assert failed.advice is not None
            assert "never switch to plain text" in failed.advice
            assert report.step(Step.SMTP_LOGIN).outcome is Outcome.SKIPPED


def test_starttls_not_offered_fails_and_never_falls_back_to_plain_text(
    tmp_path, dovecot, mail_user
):
    with _smtp_server(mail_user) as smtp:  # no tls_context: no STARTTLS on offer
        report = _test(
            _settings(tmp_path), dovecot, mail_user, smtp_port=smtp.port, smtp_tls=TlsMode.STARTTLS
        )
    failed = report.failed
    assert failed is not None
    assert failed.step is Step.SMTP_TLS
    assert failed.message == (
        f"127.0.0.1 does not offer STARTTLS on port {smtp.port}; Postroom never sends in plain text"
    )
    assert failed.advice is not None
    assert "implicit TLS (port 465)" in failed.advice
    assert report.step(Step.SMTP_LOGIN).outcome is Outcome.SKIPPED  # the login never went out


def test_implicit_tls_to_a_plain_port_fails_the_tls_step(tmp_path, dovecot, mail_user):
    with _smtp_server(mail_user) as smtp:
        report = _test(
            _settings(tmp_path), dovecot, mail_user, smtp_port=smtp.port, smtp_tls=TlsMode.IMPLICIT
        )
    assert _outcomes(report)[Step.SMTP_TCP] is Outcome.OK
    failed = report.failed
    assert failed is not None
    assert failed.step is Step.SMTP_TLS
    assert "did not answer in TLS" in failed.message
    assert failed.advice is not None
    assert "choose STARTTLS" in failed.advice


def test_a_refused_smtp_login_says_what_to_do(tmp_path, dovecot, mail_user):
    """IMAP takes the password, the SMTP server does not (a separate SMTP password, or SMTP
    AUTH switched off): the login step says so, and never shows the password."""
    with SmtpServer(mail_user.username, "another-password") as smtp:
        report = _test(
            _settings(tmp_path), dovecot, mail_user, smtp_port=smtp.port, smtp_tls=TlsMode.PLAIN
        )
    assert _outcomes(report)[Step.LOGIN] is Outcome.OK
    assert _outcomes(report)[Step.SMTP_TLS] is Outcome.WARNING  # plain text, to loopback only
    failed = report.failed
    assert failed is not None
    assert failed.step is Step.SMTP_LOGIN
    assert failed.message.startswith(f"the server refused the login as {mail_user.username} (535")
    assert failed.advice is not None
    assert "app password" in failed.advice
    assert "IMAP login" in failed.advice
    for step in report.steps:
        assert mail_user.password not in step.message + (step.advice or "")
        assert "another-password" not in step.message + (step.advice or "")


def test_nothing_listening_fails_the_smtp_connect_step(tmp_path, dovecot, mail_user):
    report = _test(
        _settings(tmp_path), dovecot, mail_user, smtp_port=free_port(), smtp_tls=TlsMode.PLAIN
    )
    failed = report.failed
    assert failed is not None
    assert failed.step is Step.SMTP_TCP
    assert failed.message.startswith("connection refused")
    assert failed.advice is not None
    assert "465" in failed.advice
    assert _outcomes(report)[Step.SMTP_TLS] is Outcome.SKIPPED
    assert _outcomes(report)[Step.SMTP_LOGIN] is Outcome.SKIPPED


def test_an_imap_failure_skips_the_smtp_steps(tmp_path, dovecot, mail_user):
    with _smtp_server(mail_user) as smtp:
        report = _test(
            _settings(tmp_path),
            dovecot,
            mail_user,
            smtp_port=smtp.port,
            smtp_tls=TlsMode.PLAIN,
            password="not-the-password",
        )
    assert report.failed is not None
    assert report.failed.step is Step.LOGIN
    assert {_outcomes(report)[step] for step in SMTP_STEPS} == {Outcome.SKIPPED}


def test_bad_smtp_settings_are_refused_before_connecting(tmp_path, dovecot, mail_user):
    with pytest.raises(InputError, match="SMTP without TLS is allowed only to a loopback host"):
        connection_test.try_new_server(
            settings=_settings(tmp_path),
            imap_host="127.0.0.1",
            imap_port=dovecot.port,
            tls=TlsMode.PLAIN,
            username=mail_user.username,
            password=Secret(mail_user.password),
            smtp_host="smtp.example.com",
            smtp_tls=TlsMode.PLAIN,
        )
