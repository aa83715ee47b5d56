"""pytest fixtures for real IMAP: private Dovecot servers, fresh mail users, a fault proxy.

Registered from tests/conftest.py with ``pytest_plugins``. Each pytest-xdist worker starts its own
servers once (about 0.1 s each) and stops them at the end; each test gets a fresh user, so tests
never see each other's mail. The helpers that change mailboxes from outside are in
``tests.support.mailbox``; the servers and users in ``tests.support.dovecot``.

When a test that used a server fails, the end of that server's log is added to the report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.support.dovecot import DovecotServer, MailUser
from tests.support.tcpproxy import TcpProxy


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A full-featured Dovecot 2.3 for this worker: CONDSTORE, QRESYNC, ESEARCH, MOVE, UIDPLUS,
    SPECIAL-USE, NOTIFY, IDLE; folders Sent/Drafts/Trash/Junk/Archive with special-use
    attributes; plain IMAP on ``.port`` and implicit TLS on ``.tls_port`` (trust
    ``.ca_pem_path``). Shared by the worker's tests: use a fresh ``mail_user`` per test.
    A test that calls ``restart()`` on it leaves it running on the same ports."""
    server = DovecotServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_basic() -> Iterator[DovecotServer]:
    """A plain IMAP4rev1 Dovecot for this worker: advertises only ``IMAP4rev1 SASL-IR
    LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS NAMESPACE CHILDREN`` (no CONDSTORE, QRESYNC,
    ESEARCH, SPECIAL-USE, MOVE) and its folders carry no special-use attributes. Dovecot still
    accepts the extensions if a client sends them anyway: check the wire with a ``TcpProxy``."""
    server = DovecotServer(basic=True)
    yield server
    server.stop()


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> MailUser:
    """A fresh, empty mailbox user on ``dovecot`` (INBOX plus the special folders)."""
    return dovecot.add_user()


@pytest.fixture
def basic_mail_user(dovecot_basic: DovecotServer) -> MailUser:
    """A fresh, empty mailbox user on ``dovecot_basic``."""
    return dovecot_basic.add_user()


@pytest.fixture
def dovecot_proxy(dovecot: DovecotServer) -> Iterator[TcpProxy]:
    """A ``TcpProxy`` in front of ``dovecot``'s plain IMAP port, for fault injection: connect the
    client to ``proxy.host``/``proxy.port``. Stopped (every connection closed) after the test."""
    with TcpProxy(dovecot.host, dovecot.port) as proxy:
        yield proxy


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("dovecot", "dovecot_basic"):
            server = funcargs.get(name)
            if isinstance(server, DovecotServer) and server.running:
                tail = "\n".join(server.read_log().splitlines()[-40:])
                report.sections.append((f"{name} log (last 40 lines)", tail))
