"""The account test (docs/concepts.md, "Mail accounts"): DNS, TCP connection, TLS
certificate, login, INBOX and Sent, each step ok or failed with what happened and what to do.

It works before an account is saved (``try_server`` with the settings from a form) and for a
saved one (``try_saved_login``, owner checked). The CLI (``postroom account test``), the
page ``/accounts/new`` and the API call the same functions and render the typed steps.

Invariants:

* The steps run in order and stop at the first failure; the steps after it are ``SKIPPED``,
  so a report always has every step, each with one outcome.
* A missing Sent folder is a ``WARNING``, not a failure: mail still syncs, but mail sent
  from other clients is logged only once a Sent folder exists. A missing INBOX fails.
* The password is only handed to the server: no step's message or advice contains it.
* Plain-text connections are allowed only to a loopback host (``services.accounts``).
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
from dataclasses import dataclass

from sqlalchemy.orm import Session

from postroom.config import Settings
from postroom.domain.accounts import TlsMode
from postroom.imap import (
    AuthFailed,
    ConnectFailed,
    ImapClient,
    ImapError,
    PlaintextRefused,
    ServerAddress,
    TlsFailed,
)
from postroom.services import accounts as account_service
from postroom.services.secrets import Keyring, Secret
from postroom.services.syncing import build_ssl_context, server_address
from postroom.sync.account import find_role

TIMEOUT = 15.0
"""Seconds for each of DNS, connection, TLS handshake and greeting, and each command."""

EXTENSIONS = ("IDLE", "QRESYNC", "CONDSTORE", "ESEARCH", "SPECIAL-USE")


class Step(enum.Enum):
    DNS = "dns"
    TCP = "tcp"
    TLS = "tls"
    LOGIN = "login"
    INBOX = "inbox"
    SENT = "sent"


STEP_TITLES = {
    Step.DNS: "Server name (DNS)",
    Step.TCP: "Connection (TCP)",
    Step.TLS: "TLS certificate",
    Step.LOGIN: "Login",
    Step.INBOX: "INBOX folder",
    Step.SENT: "Sent folder",
}


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ConnectionStep:
    step: Step
    outcome: Outcome
    message: str
    advice: str | None = None

    @property
    def title(self) -> str:
        return STEP_TITLES[self.step]


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """Every step of one test, in order, and what the server offers (when it was reached)."""

    host: str
    port: int
    tls: TlsMode
    username: str
    steps: tuple[ConnectionStep, ...]
    extensions: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(s.outcome is not Outcome.FAILED for s in self.steps)

    @property
    def failed(self) -> ConnectionStep | None:
        return next((s for s in self.steps if s.outcome is Outcome.FAILED), None)

    def step(self, step: Step) -> ConnectionStep:
        return next(s for s in self.steps if s.step is step)


class _Steps:
    """Collects the steps; after a failure the rest are skipped."""

    def __init__(self) -> None:
        self.done: list[ConnectionStep] = []

    def add(self, step: Step, outcome: Outcome, message: str, advice: str | None = None) -> None:
        self.done.append(ConnectionStep(step, outcome, message, advice))

    def fail(self, step: Step, message: str, advice: str | None) -> None:
        self.add(step, Outcome.FAILED, message, advice)

    def finish(self) -> tuple[ConnectionStep, ...]:
        seen = {s.step for s in self.done}
        skipped = [
            ConnectionStep(step, Outcome.SKIPPED, "not tried: an earlier step failed")
            for step in Step
            if step not in seen
        ]
        return (*self.done, *skipped)


_REASONS = {
    "dns": "not found in DNS",
    "refused": "connection refused",
    "timeout": "timed out",
    "unreachable": "network unreachable",
}


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


async def _resolve(host: str, port: int, steps: _Steps, timeout: float) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        steps.add(Step.DNS, Outcome.OK, f"{host} is an IP address: nothing to look up")
        return True
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        steps.fail(
            Step.DNS,
            f"{host} could not be found in DNS ({exc.strerror or 'no answer'})"
            if isinstance(exc, OSError)
            else f"{host}: DNS did not answer within {timeout:.0f} s",
            ConnectFailed("", reason="dns").advice,
        )
        return False
    addresses = sorted({str(info[4][0]) for info in found})
    steps.add(Step.DNS, Outcome.OK, f"{host} is {', '.join(addresses[:3])}")
    return True


async def try_server(
    *, address: ServerAddress, username: str, password: Secret, timeout: float = TIMEOUT
) -> ConnectionReport:
    """Try ``address`` with this login, step by step; never raises for what the server or
    the network does (each failure is a step)."""
    steps = _Steps()
    extensions: tuple[str, ...] = ()
    tls = address.tls
    if await _resolve(address.host, address.port, steps, timeout):
        try:
            client = await ImapClient.connect(address, timeout=timeout, command_timeout=timeout)
        except PlaintextRefused as exc:
            steps.add(Step.TCP, Outcome.SKIPPED, "not tried: the settings are not allowed")
            steps.fail(Step.TLS, _message(exc), exc.advice)
        except TlsFailed as exc:
            steps.add(Step.TCP, Outcome.OK, f"connected to port {address.port}")
            steps.fail(Step.TLS, _message(exc), exc.advice)
        except ConnectFailed as exc:
            steps.fail(Step.TCP, f"{_REASONS[exc.reason]}: {_message(exc)}", exc.advice)
        except ImapError as exc:
            steps.fail(Step.TCP, _message(exc), exc.advice)
        else:
            try:
                steps.add(Step.TCP, Outcome.OK, f"connected to port {address.port}")
                if tls is TlsMode.PLAIN:
                    steps.add(
                        Step.TLS,
                        Outcome.WARNING,
                        "no TLS: plain text, allowed only to a server on this machine",
                    )
                else:
                    how = "implicit TLS" if tls is TlsMode.IMPLICIT else "STARTTLS"
                    steps.add(Step.TLS, Outcome.OK, f"{how}, certificate checked")
                extensions = await _login_and_folders(client, username, password, steps)
            finally:
                await client.logout()
    return ConnectionReport(
        host=address.host,
        port=address.port,
        tls=tls,
        username=username,
        steps=steps.finish(),
        extensions=extensions,
    )


async def _login_and_folders(
    client: ImapClient, username: str, password: Secret, steps: _Steps
) -> tuple[str, ...]:
    try:
        await client.login(username, password.reveal())
    except AuthFailed as exc:
        steps.fail(Step.LOGIN, f"the server refused the login as {username}", exc.advice)
        return ()
    except ImapError as exc:
        steps.fail(Step.LOGIN, _message(exc), exc.advice)
        return ()
    steps.add(Step.LOGIN, Outcome.OK, f"logged in as {username}")
    try:
        listed = await client.list_folders()
    except ImapError as exc:
        steps.fail(Step.INBOX, f"the folders could not be listed: {_message(exc)}", exc.advice)
        return ()
    roles: dict[str, str] = {}
    for folder in listed:
        role = find_role(folder.name, folder.flags, folder.delimiter)
        if role and role not in roles:
            roles[role] = folder.name
    if "inbox" in roles:
        steps.add(Step.INBOX, Outcome.OK, roles["inbox"])
    else:
        steps.fail(
            Step.INBOX,
            "the server lists no INBOX",
            "check that the login is for a mailbox (not an admin or shared login)",
        )
    if "sent" in roles:
        steps.add(Step.SENT, Outcome.OK, roles["sent"])
    else:
        steps.add(
            Step.SENT,
            Outcome.WARNING,
            "no Sent folder found",
            "mail you send from other clients is only logged once a Sent folder exists "
            "(mark it \\Sent, or name it Sent)",
        )
    return tuple(c for c in EXTENSIONS if client.has(c))


def address_for(
    *, settings: Settings, imap_host: str, imap_port: int | None, tls: TlsMode
) -> ServerAddress:
    """The server of settings not saved yet (a form), checked as ``add_account`` checks them.

    Choosing plain text is the explicit permission, and only for a loopback host. Raises
    ``InputError`` with advice for a bad value.
    """
    host, port = account_service.check_imap_server(
        imap_host=imap_host, imap_port=imap_port, tls=tls, allow_plaintext=True
    )
    return ServerAddress(
        host=host,
        port=port,
        tls=tls,
        ssl_context=build_ssl_context(settings),
        allow_plaintext=tls is TlsMode.PLAIN,
    )


def try_new_server(
    *,
    settings: Settings,
    imap_host: str,
    imap_port: int | None,
    tls: TlsMode,
    username: str,
    password: Secret,
    timeout: float = TIMEOUT,
) -> ConnectionReport:
    """Test settings before they are saved; blocks (runs its own event loop): call it from a
    thread without one (a CLI command, a sync route). Raises ``InputError`` for bad values."""
    address = address_for(settings=settings, imap_host=imap_host, imap_port=imap_port, tls=tls)
    return asyncio.run(
        try_server(address=address, username=username.strip(), password=password, timeout=timeout)
    )


@dataclass(frozen=True, slots=True)
class SavedLogin:
    """What testing a saved account needs, read in one short transaction."""

    address: ServerAddress
    username: str
    password: Secret


def saved_login(
    *,
    session: Session,
    keyring: Keyring,
    settings: Settings,
    account_id: int,
    owner_id: int | None,
) -> SavedLogin:
    """The saved account's server and login (``NotFound`` unless ``owner_id`` owns it)."""
    account = account_service.owned_account(
        session=session, account_id=account_id, owner_id=owner_id
    )
    return SavedLogin(
        address=server_address(account, build_ssl_context(settings)),
        username=account.username,
        password=account_service.reveal_password(keyring=keyring, account=account),
    )


def try_saved_login(login: SavedLogin, *, timeout: float = TIMEOUT) -> ConnectionReport:
    """Test a saved account (blocks, like ``try_new_server``)."""
    return asyncio.run(
        try_server(
            address=login.address,
            username=login.username,
            password=login.password,
            timeout=timeout,
        )
    )
