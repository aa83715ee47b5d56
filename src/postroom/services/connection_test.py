"""The account test (docs/concepts.md, "Mail accounts"): DNS, TCP connection, TLS
certificate, login, INBOX and Sent, each step ok or failed with what happened and what to do;
then, for an account with an SMTP server, the same for sending: DNS, connection, TLS
certificate and login (AUTH with the account's username and password). Nothing is sent.

It works before an account is saved (``try_server`` with the settings from a form) and for a
saved one (``try_saved_login``, owner checked). The CLI (``postroom account test``), the
page ``/accounts/new`` and the API call the same functions and render the typed steps.

Invariants:

* The steps run in order and stop at the first failure; the steps after it are ``SKIPPED``,
  so a report always has every step that applies (``IMAP_STEPS``, then ``SMTP_STEPS`` when
  there is an SMTP server), each with one outcome.
* SMTP is held to the IMAP rules: implicit TLS or STARTTLS, the certificate checked against
  the same trust (the system's CAs plus ``POSTROOM_IMAP_CA_FILE``); a server that does not
  offer STARTTLS when it is asked for fails, never a fallback to plain text.
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
import ssl
from dataclasses import dataclass

import aiosmtplib
from sqlalchemy.orm import Session

from postroom.config import Settings
from postroom.domain.accounts import TlsMode, is_loopback_host
from postroom.imap import (
    AuthFailed,
    ConnectFailed,
    ImapClient,
    ImapError,
    PlaintextRefused,
    ServerAddress,
    TlsFailed,
)
from postroom.imap.connection import OLD_TLS_ADVICE, OLD_TLS_REASONS
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
    SMTP_DNS = "smtp_dns"
    SMTP_TCP = "smtp_tcp"
    SMTP_TLS = "smtp_tls"
    SMTP_LOGIN = "smtp_login"


IMAP_STEPS = (Step.DNS, Step.TCP, Step.TLS, Step.LOGIN, Step.INBOX, Step.SENT)
SMTP_STEPS = (Step.SMTP_DNS, Step.SMTP_TCP, Step.SMTP_TLS, Step.SMTP_LOGIN)
"""The steps of sending, in a report only for an account with an SMTP server."""

STEP_TITLES = {
    Step.DNS: "Server name (DNS)",
    Step.TCP: "Connection (TCP)",
    Step.TLS: "TLS certificate",
    Step.LOGIN: "Login",
    Step.INBOX: "INBOX folder",
    Step.SENT: "Sent folder",
    Step.SMTP_DNS: "SMTP server name (DNS)",
    Step.SMTP_TCP: "SMTP connection (TCP)",
    Step.SMTP_TLS: "SMTP TLS certificate",
    Step.SMTP_LOGIN: "SMTP login",
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
    """Every step of one test, in order, and what the server offers (when it was reached).
    ``smtp_host``, ``smtp_port`` and ``smtp_tls`` are the SMTP server tested (None: none, and
    the report has no SMTP step)."""

    host: str
    port: int
    tls: TlsMode
    username: str
    steps: tuple[ConnectionStep, ...]
    extensions: tuple[str, ...] = ()
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_tls: TlsMode | None = None

    @property
    def ok(self) -> bool:
        return all(s.outcome is not Outcome.FAILED for s in self.steps)

    @property
    def failed(self) -> ConnectionStep | None:
        return next((s for s in self.steps if s.outcome is Outcome.FAILED), None)

    def step(self, step: Step) -> ConnectionStep:
        return next(s for s in self.steps if s.step is step)


class _Steps:
    """Collects the steps; after a failure the rest of ``expected`` are skipped."""

    def __init__(self, expected: tuple[Step, ...]) -> None:
        self.expected = expected
        self.done: list[ConnectionStep] = []

    def add(self, step: Step, outcome: Outcome, message: str, advice: str | None = None) -> None:
        self.done.append(ConnectionStep(step, outcome, message, advice))

    def fail(self, step: Step, message: str, advice: str | None) -> None:
        self.add(step, Outcome.FAILED, message, advice)

    @property
    def has_failed(self) -> bool:
        return any(s.outcome is Outcome.FAILED for s in self.done)

    def finish(self) -> tuple[ConnectionStep, ...]:
        seen = {s.step for s in self.done}
        skipped = [
            ConnectionStep(step, Outcome.SKIPPED, "not tried: an earlier step failed")
            for step in self.expected
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


async def _resolve(
    host: str, port: int, steps: _Steps, timeout: float, step: Step = Step.DNS
) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        steps.add(step, Outcome.OK, f"{host} is an IP address: nothing to look up")
        return True
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (OSError, TimeoutError) as exc:
        steps.fail(
            step,
            f"{host} could not be found in DNS ({exc.strerror or 'no answer'})"
            if isinstance(exc, OSError)
            else f"{host}: DNS did not answer within {timeout:.0f} s",
            ConnectFailed("", reason="dns").advice,
        )
        return False
    addresses = sorted({str(info[4][0]) for info in found})
    steps.add(step, Outcome.OK, f"{host} is {', '.join(addresses[:3])}")
    return True


async def try_server(
    *,
    address: ServerAddress,
    username: str,
    password: Secret,
    timeout: float = TIMEOUT,
    smtp: ServerAddress | None = None,
) -> ConnectionReport:
    """Try ``address`` with this login, step by step, then the SMTP server ``smtp`` (when
    given) with the same login; never raises for what the servers or the network do (each
    failure is a step)."""
    steps = _Steps(IMAP_STEPS + (SMTP_STEPS if smtp is not None else ()))
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
    if smtp is not None and not steps.has_failed:
        await _try_smtp(smtp, username, password, steps, timeout)
    return ConnectionReport(
        host=address.host,
        port=address.port,
        tls=tls,
        username=username,
        steps=steps.finish(),
        extensions=extensions,
        smtp_host=smtp.host if smtp is not None else None,
        smtp_port=smtp.port if smtp is not None else None,
        smtp_tls=smtp.tls if smtp is not None else None,
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


# --- SMTP ----------------------------------------------------------------------------------


def smtp_client(address: ServerAddress, *, timeout: float = TIMEOUT) -> aiosmtplib.SMTP:
    """An aiosmtplib client for the SMTP server ``address``, not connected yet.

    Implicit TLS, or STARTTLS as a requirement (``connect()`` fails when the server does not
    offer it: never plain text), the certificate checked against ``address.context()`` (the
    system's CAs plus ``POSTROOM_IMAP_CA_FILE``); plain text only for ``TlsMode.PLAIN``, which
    the settings allow only to a loopback host. ``timeout`` bounds the connection and each
    command."""
    return aiosmtplib.SMTP(
        hostname=address.host,
        port=address.port,
        use_tls=address.tls is TlsMode.IMPLICIT,
        start_tls=address.tls is TlsMode.STARTTLS,
        tls_context=address.context() if address.tls is not TlsMode.PLAIN else None,
        timeout=timeout,
    )


_SMTP_LOGIN_ADVICE = (
    "check the user name and password: Postroom sends with the account's IMAP login; "
    "providers with two-step sign-in need an app password, and some need sending with a "
    "login (SMTP AUTH) switched on for the mailbox"
)
_SENDING_PORTS = "most providers take mail to send on 465 (implicit TLS) or 587 (STARTTLS)"
_SMTP_PORT_ADVICE = f"check the SMTP server and port: {_SENDING_PORTS}"


def _smtp_tls_failure(address: ServerAddress, exc: ssl.SSLError) -> tuple[str, str]:
    """What failed in an SMTP TLS handshake, and what to do."""
    where = f"{address.host}:{address.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {address.host} is not trusted: {exc.verify_message or exc.reason}",
            TlsFailed.advice,
        )
    reason = exc.reason or str(exc)
    if reason == "WRONG_VERSION_NUMBER":  # the server's first bytes were not TLS
        return (
            f"TLS handshake with {where} failed: the server did not answer in TLS "
            "(WRONG_VERSION_NUMBER)",
            "this port may speak STARTTLS (as 587 does): choose STARTTLS, or implicit TLS "
            "on port 465",
        )
    if reason in OLD_TLS_REASONS:
        return (
            f"TLS handshake with {where} failed: no TLS version in common ({reason})",
            OLD_TLS_ADVICE,
        )
    return f"TLS handshake with {where} failed: {reason}", TlsFailed.advice


async def _try_smtp(
    address: ServerAddress, username: str, password: Secret, steps: _Steps, timeout: float
) -> None:
    """The SMTP steps: DNS, connection, TLS, login; the connection ends with QUIT."""
    if not await _resolve(address.host, address.port, steps, timeout, Step.SMTP_DNS):
        return
    if address.tls is TlsMode.PLAIN and not (
        address.allow_plaintext and is_loopback_host(address.host)
    ):
        steps.add(Step.SMTP_TCP, Outcome.SKIPPED, "not tried: the settings are not allowed")
        steps.fail(
            Step.SMTP_TLS,
            f"plain-text SMTP is only allowed to a server on this machine, not {address.host}",
            "use implicit TLS (port 465) or STARTTLS (port 587)",
        )
        return
    client = smtp_client(address, timeout=timeout)
    try:
        if await _smtp_connect(client, address, steps, timeout) and await _smtp_tls(
            client, address, steps
        ):
            await _smtp_login(client, username, password, steps)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def _smtp_connect(
    client: aiosmtplib.SMTP, address: ServerAddress, steps: _Steps, timeout: float
) -> bool:
    """Connect and read the greeting (with implicit TLS: after the handshake)."""
    where = f"{address.host}:{address.port}"
    try:
        # STARTTLS comes in its own step, so that a failure there is named as such.
        await client.connect(start_tls=False)
    except aiosmtplib.SMTPConnectResponseError as exc:
        steps.fail(
            Step.SMTP_TCP,
            f"the server turned the connection away: {exc.code} {exc.message}",
            f"try again later (the server may be busy), or check the port: {_SENDING_PORTS}",
        )
    except aiosmtplib.SMTPConnectTimeoutError:
        steps.fail(
            Step.SMTP_TCP,
            f"timed out: {where} did not answer within {timeout:g} s",
            ConnectFailed("", reason="timeout").advice,
        )
    except aiosmtplib.SMTPConnectError as exc:
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError):
            steps.add(Step.SMTP_TCP, Outcome.OK, f"connected to port {address.port}")
            steps.fail(Step.SMTP_TLS, *_smtp_tls_failure(address, cause))
        elif isinstance(cause, ConnectionRefusedError):
            steps.fail(
                Step.SMTP_TCP,
                f"connection refused: nothing accepts connections on {where}",
                _SMTP_PORT_ADVICE,
            )
        elif isinstance(cause, aiosmtplib.SMTPServerDisconnected):
            steps.fail(
                Step.SMTP_TCP,
                f"{where} closed the connection before greeting",
                _SMTP_PORT_ADVICE,
            )
        else:
            steps.fail(
                Step.SMTP_TCP,
                f"cannot connect to {where}: {cause or _message(exc)}",
                ConnectFailed("", reason="unreachable").advice,
            )
    else:
        steps.add(Step.SMTP_TCP, Outcome.OK, f"connected to port {address.port}")
        return True
    return False


async def _smtp_tls(client: aiosmtplib.SMTP, address: ServerAddress, steps: _Steps) -> bool:
    """Implicit TLS is done by now; STARTTLS is done here, and only if the server offers it."""
    if address.tls is TlsMode.PLAIN:
        steps.add(
            Step.SMTP_TLS,
            Outcome.WARNING,
            "no TLS: plain text, allowed only to a server on this machine",
        )
        return True
    if address.tls is TlsMode.IMPLICIT:
        steps.add(Step.SMTP_TLS, Outcome.OK, "implicit TLS, certificate checked")
        return True
    try:
        await client.ehlo()
        if not client.supports_extension("starttls"):
            steps.fail(
                Step.SMTP_TLS,
                f"{address.host} does not offer STARTTLS on port {address.port}; Postroom "
                "never sends in plain text",
                "choose implicit TLS (port 465), or check the port: 587 offers STARTTLS on "
                "most servers",
            )
            return False
        await client.starttls()
    except ssl.SSLError as exc:
        steps.fail(Step.SMTP_TLS, *_smtp_tls_failure(address, exc))
        return False
    except aiosmtplib.SMTPHeloError as exc:
        steps.fail(
            Step.SMTP_TLS, f"the server refused EHLO: {exc.code} {exc.message}", _SMTP_PORT_ADVICE
        )
        return False
    except aiosmtplib.SMTPResponseException as exc:
        steps.fail(
            Step.SMTP_TLS,
            f"the server refused STARTTLS: {exc.code} {exc.message}",
            TlsFailed.advice,
        )
        return False
    except (aiosmtplib.SMTPException, OSError) as exc:
        steps.fail(Step.SMTP_TLS, f"STARTTLS failed: {_message(exc)}", TlsFailed.advice)
        return False
    steps.add(Step.SMTP_TLS, Outcome.OK, "STARTTLS, certificate checked")
    return True


async def _smtp_login(
    client: aiosmtplib.SMTP, username: str, password: Secret, steps: _Steps
) -> None:
    """AUTH with the account's login; nothing is sent."""
    try:
        await client.ehlo()
        if not client.supports_extension("auth"):
            steps.fail(
                Step.SMTP_LOGIN,
                "the server offers no login (no SMTP AUTH) on this port",
                f"check the port: {_SENDING_PORTS}, with a login; port 25 is for servers "
                "passing mail on",
            )
            return
        await client.login(username, password.reveal())
    except aiosmtplib.SMTPAuthenticationError as exc:
        steps.fail(
            Step.SMTP_LOGIN,
            f"the server refused the login as {username} ({exc.code} {exc.message})",
            _SMTP_LOGIN_ADVICE,
        )
        return
    except (aiosmtplib.SMTPException, OSError) as exc:
        steps.fail(Step.SMTP_LOGIN, f"the login failed: {_message(exc)}", _SMTP_LOGIN_ADVICE)
        return
    steps.add(Step.SMTP_LOGIN, Outcome.OK, f"logged in as {username}; nothing was sent")


def smtp_address(*, settings: Settings, smtp: account_service.SmtpSettings) -> ServerAddress:
    """The SMTP server ``smtp`` (checked settings: a saved account's ``AccountView.smtp``, or
    ``check_smtp_server``'s) to connect to, trusting what IMAP trusts (``build_ssl_context``).
    Plain text is allowed by the settings themselves: only to a loopback host."""
    return ServerAddress(
        host=smtp.host,
        port=smtp.port,
        tls=smtp.tls,
        ssl_context=build_ssl_context(settings),
        allow_plaintext=smtp.tls is TlsMode.PLAIN,
    )


# --- settings not saved yet, and saved ones --------------------------------------------------


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
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_tls: TlsMode | None = None,
) -> ConnectionReport:
    """Test settings before they are saved, the SMTP server too when ``smtp_host`` is given
    (not blank; defaults as ``check_smtp_server``'s, and choosing plain text is the explicit
    permission, for a loopback host only); blocks (runs its own event loop): call it from a
    thread without one (a CLI command, a sync route). Raises ``InputError`` for bad values."""
    address = address_for(settings=settings, imap_host=imap_host, imap_port=imap_port, tls=tls)
    smtp = account_service.check_smtp_server(
        smtp_host=smtp_host, smtp_port=smtp_port, smtp_tls=smtp_tls, allow_plaintext=True
    )
    return asyncio.run(
        try_server(
            address=address,
            username=username.strip(),
            password=password,
            timeout=timeout,
            smtp=smtp_address(settings=settings, smtp=smtp) if smtp is not None else None,
        )
    )


@dataclass(frozen=True, slots=True)
class SavedLogin:
    """What testing a saved account needs, read in one short transaction: the IMAP server,
    the login, and the SMTP server (None: the account has none, and cannot send)."""

    address: ServerAddress
    username: str
    password: Secret
    smtp: ServerAddress | None = None


def saved_login(
    *,
    session: Session,
    keyring: Keyring,
    settings: Settings,
    account_id: int,
    owner_id: int | None,
) -> SavedLogin:
    """The saved account's servers and login (``NotFound`` unless ``owner_id`` owns it)."""
    account = account_service.owned_account(
        session=session, account_id=account_id, owner_id=owner_id
    )
    smtp = account_service.account_view(account).smtp
    return SavedLogin(
        address=server_address(account, build_ssl_context(settings)),
        username=account.username,
        password=account_service.reveal_password(keyring=keyring, account=account),
        smtp=smtp_address(settings=settings, smtp=smtp) if smtp is not None else None,
    )


def try_saved_login(login: SavedLogin, *, timeout: float = TIMEOUT) -> ConnectionReport:
    """Test a saved account, its SMTP server too (blocks, like ``try_new_server``)."""
    return asyncio.run(
        try_server(
            address=login.address,
            username=login.username,
            password=login.password,
            timeout=timeout,
            smtp=login.smtp,
        )
    )
