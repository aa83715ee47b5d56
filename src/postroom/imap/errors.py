"""The errors of the IMAP layer: one subtree of ``postroom.errors.PostroomError``.

::

    ImapError                   any IMAP failure; also a refused insecure configuration
     +-- PlaintextRefused       TlsMode.PLAIN for a host that is not loopback, or not allowed
     +-- ConnectFailed          no TCP connection (.reason: dns | refused | timeout | unreachable)
     +-- TlsFailed              certificate not trusted, wrong host name, handshake, no STARTTLS
     +-- ConnectionLost         EOF, reset, BYE, inactivity timeout, a missed DONE -> OK
     |    +-- CommandTimedOut   a command went over its overall deadline (limits.Limits)
     +-- AuthFailed             NO/BAD to LOGIN or AUTHENTICATE
     +-- ProtocolError          the server sent something we cannot frame or parse
     |    +-- LimitExceeded     a response, or the responses kept for a command, over a bound
     +-- CapabilityMissing      the command needs a capability the server did not advertise
     +-- CommandFailed          a tagged NO/BAD (.status, .code, .text)
          +-- FolderMissing     SELECT/EXAMINE/STATUS of a folder that does not exist

Invariants:

* ``retryable`` says whether doing the same thing again later may succeed. It is a class
  attribute, except on ``CommandFailed`` where it follows the response code (RFC 5530):
  ``UNAVAILABLE``, ``LIMIT``, ``INUSE`` and ``SERVERBUG`` are temporary, every other NO/BAD
  is not. Auth failures are never retryable: retrying bad credentials gets accounts locked.
* Server response codes are fields (``CommandFailed.code``), never substrings to search for.
* No message carries a password: commands with credentials are never quoted in errors.
* ``CommandTimedOut`` and ``LimitExceeded`` always end the connection (every pending and later
  command fails with the same error): callers treat them like a lost connection and connect
  again; ``LimitExceeded`` is not retryable, since the same data would go over it again.
"""

from __future__ import annotations

from typing import Literal

from postroom.errors import PostroomError

ConnectFailure = Literal["dns", "refused", "timeout", "unreachable"]

#: Response codes (RFC 5530) after which the same command may succeed later.
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "LIMIT", "INUSE", "SERVERBUG"})


def is_retryable_code(code: str | None) -> bool:
    """Whether a NO/BAD with response code ``code`` (upper case, or None) is temporary: the
    one test of ``RETRYABLE_CODES`` (``CommandFailed.retryable``, ``ImapClient.login``)."""
    return code is not None and code in RETRYABLE_CODES


_CONNECT_ADVICE: dict[str, str] = {
    "dns": "check the server name: it could not be found in DNS",
    "refused": "check the server name and port: nothing accepts connections there",
    "timeout": "check the server name, the port and any firewall: the server did not answer",
    "unreachable": "check the network connection and the server name: the host is unreachable",
}


class ImapError(PostroomError):
    """Raised for any IMAP failure that has no more specific class below.

    Also raised before connecting when the ``ServerAddress`` asks for something insecure.
    """

    advice = "see the error text; the IMAP server or its configuration is the cause"


class PlaintextRefused(ImapError):
    """Raised before connecting when ``TlsMode.PLAIN`` is asked for without
    ``allow_plaintext=True``, or for a host that is not a loopback address."""

    advice = "use TLS (port 993) or STARTTLS; plain text is only for a local test server"


class ConnectFailed(ImapError):
    """Raised when no TCP connection could be made to the server.

    ``reason`` is ``"dns"`` (the name does not resolve), ``"refused"`` (nothing listens on the
    port), ``"timeout"`` (no answer within the connect timeout, or no greeting) or
    ``"unreachable"`` (no route, network down, any other socket error).
    """

    retryable = True

    def __init__(self, message: str, *, reason: ConnectFailure, advice: str | None = None) -> None:
        super().__init__(message, advice=advice or _CONNECT_ADVICE[reason])
        self.reason: ConnectFailure = reason


class TlsFailed(ImapError):
    """Raised when TLS cannot be set up: the certificate is not trusted or does not name the
    host, the handshake fails, or (for STARTTLS) the server does not offer STARTTLS or refuses
    it. The client never falls back to plain text."""

    retryable = False
    advice = (
        "check the server name and port, and that the server's certificate is valid for it; "
        "never switch to plain text to work around this"
    )


class ConnectionLost(ImapError):
    """Raised when an open connection ends: EOF, a reset, the server's BYE, no data from the
    server for the inactivity timeout while a command runs, or no tagged OK within 30 s after
    IDLE's DONE. Every command pending on the connection fails with it at the same moment."""

    retryable = True
    advice = "the connection to the mail server dropped; it will be retried"


class CommandTimedOut(ConnectionLost):
    """Raised when a command did not complete within its overall deadline
    (``Limits.command_seconds`` plus the time its data needs at ``Limits.min_rate``), however
    steadily the server trickled bytes: the connection is closed."""

    advice = (
        "the mail server is answering far too slowly; the connection was closed and will be retried"
    )


class AuthFailed(ImapError):
    """Raised when the server answers NO or BAD to LOGIN or AUTHENTICATE.

    ``code`` is the response code (e.g. ``"AUTHENTICATIONFAILED"``) or None; ``text`` is the
    server's human text. Never retryable: retrying bad credentials gets accounts locked.
    """

    retryable = False
    advice = (
        "check the user name and password; providers with two-step sign-in need an app "
        "password, and some need IMAP access switched on in their settings"
    )

    def __init__(
        self, message: str, *, code: str | None = None, text: str = "", advice: str | None = None
    ) -> None:
        super().__init__(message, advice=advice)
        self.code = code
        self.text = text


class ProtocolError(ImapError):
    """Raised when the server sends something we cannot frame or parse: a malformed literal,
    an over-long line, data after the STARTTLS OK, a response imapclient cannot parse, or a
    required item missing (e.g. no UIDVALIDITY after EXAMINE)."""

    retryable = False
    advice = (
        "the mail server sent a response Postroom cannot read; run the command again with"
        " `postroom -vv ...` or `postroom --wire-log FILE ...` and report it with that wire log"
    )


class LimitExceeded(ProtocolError):
    """Raised when the server sends more than ``limits.Limits`` allows: a line, a literal or
    a response's literals too long, too many untagged responses kept during one command, a
    UID set with too many ranges. The connection is closed (nothing is kept of it)."""

    advice = (
        "the mail server sent far more data than a mail client needs; the connection was "
        "closed. If this repeats, report it to the mail provider"
    )


class CapabilityMissing(ImapError):
    """Raised *before anything is sent* when a command or option needs a capability that the
    server did not advertise (e.g. ``changedsince`` without CONDSTORE, ``qresync`` without
    ``ENABLE QRESYNC``, IDLE without IDLE)."""

    retryable = False
    advice = "the mail server does not support this feature"

    def __init__(self, capability: str, message: str | None = None) -> None:
        super().__init__(message or f"the server does not advertise {capability}")
        self.capability = capability


class CommandFailed(ImapError):
    """Raised when the server answers a command with a tagged NO or BAD.

    ``status`` is ``"NO"`` or ``"BAD"``; ``code`` the response code name in upper case (e.g.
    ``"NONEXISTENT"``, ``"UNAVAILABLE"``, ``"LIMIT"``, ``"CLIENTBUG"``) or None; ``text`` the
    server's human text. ``retryable`` is True only for UNAVAILABLE, LIMIT, INUSE, SERVERBUG.
    """

    advice = "the mail server refused the command"

    def __init__(
        self,
        message: str,
        *,
        status: str,
        code: str | None = None,
        text: str = "",
        advice: str | None = None,
    ) -> None:
        super().__init__(message, advice=advice)
        self.status = status
        self.code = code
        self.text = text
        self.retryable = is_retryable_code(code)


class FolderMissing(CommandFailed):
    """Raised when SELECT, EXAMINE or STATUS names a folder that does not exist (the server
    answered NO with ``[NONEXISTENT]`` (RFC 5530) or with the usual "does not exist" text),
    or COPY, MOVE or APPEND one to put messages in (``[TRYCREATE]``, RFC 9051 section 7.1)."""

    advice = "the folder no longer exists on the server; list the folders again"


__all__ = [
    "RETRYABLE_CODES",
    "AuthFailed",
    "CapabilityMissing",
    "CommandFailed",
    "CommandTimedOut",
    "ConnectFailed",
    "ConnectFailure",
    "ConnectionLost",
    "FolderMissing",
    "ImapError",
    "LimitExceeded",
    "PlaintextRefused",
    "ProtocolError",
    "TlsFailed",
    "is_retryable_code",
]
