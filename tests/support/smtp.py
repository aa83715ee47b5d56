"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, a free port, in its own thread.

``SmtpServer`` accepts mail after ``AUTH PLAIN``/``LOGIN`` with its one user and password
(plain text is allowed: the server is on loopback), keeps every message it received
(``received``: envelope sender, recipients and the bytes as sent) and can be told to refuse
recipients (``refuse``). With ``tls_context`` it offers STARTTLS with that certificate.

    with SmtpServer() as smtp:
        ... send to 127.0.0.1:smtp.port as smtp.username / smtp.password ...
        assert smtp.received[0].recipients == ["anna@acme.example"]
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.dovecot import free_port


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd with one login, in a thread; a context manager."""

    def __init__(
        self,
        username: str = "robin@firm.example",
        password: str = "smtp-secret",  # noqa: S107 (a test server's)
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _Handler()

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == self.username
                and auth_data.password.decode() == self.password
            )
            return AuthResult(success=ok, handled=False)

        self._controller = Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            authenticator=authenticate,
            auth_require_tls=False,
            auth_required=True,
            tls_context=tls_context,
            require_starttls=False,
        )

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def refuse(self, *addresses: str) -> None:
        """Answer 550 to RCPT TO for these addresses."""
        self._handler.refused.update(a.lower() for a in addresses)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
