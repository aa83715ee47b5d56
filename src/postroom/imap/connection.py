"""The asyncio connection: one TCP (or TLS) stream, framed into responses, with tags.

This is the only module of ``postroom.imap`` that touches sockets. It knows framing
(``framing.ResponseFramer``) and command encoding (``commands.encode_command``), not IMAP
grammar: the client types the responses.

Invariants:

* One reader task per connection reads chunks (``StreamReader.read``, a large limit) and feeds
  the framer; there is no recursion, no rescanning and no change to response text.
* EVERY untagged response goes to the one ``on_untagged`` callback, in arrival order, whatever
  command is running; tagged responses complete the future of their tag (``A0001``, ``A0002``
  ...); a continuation request (``+``) completes the one waiting continuation future.
* Two clocks while a command runs. The inactivity timer (``watch(seconds)``): the connection
  is declared lost when NO byte arrived for that long; every received chunk resets it. The
  deadline (``limit_time(seconds)``): the command must complete within ``seconds`` plus one
  second per ``Limits.min_rate`` octets received meanwhile (at most
  ``Limits.max_command_seconds``), so a large FETCH gets the time its size needs, and a server
  trickling a byte now and then is cut off (``CommandTimedOut``).
* Connection loss is one event: the first error (EOF, reset, inactivity, framing failure) is
  stored, every pending future fails with it at once, the transport is aborted, and every later
  command raises the same error immediately. Cancelling a command while it runs also closes
  the connection (its state on the wire is unknown).
* TCP keepalive is on (idle 60 s, interval 15 s, 4 probes where the OS allows setting them).
* Wire log: logger ``postroom.imap.wire`` at DEBUG, ``C:`` lines sent and ``S:`` lines received.
  LOGIN/AUTHENTICATE arguments and SASL responses are written as ``[redacted]``; literals are
  logged by size only, so message bodies never reach a log.
* asyncio's private ``sslproto.SSLProtocol.max_size`` (256 KiB per TLS connection) is not
  touched (docs/sync.md, "Connections").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from postroom.imap.commands import Command, describe_command, encode_command
from postroom.imap.errors import (
    CommandTimedOut,
    ConnectFailed,
    ConnectFailure,
    ConnectionLost,
    ImapError,
    ProtocolError,
    TlsFailed,
)
from postroom.imap.framing import RawResponse, ResponseFramer, ResponseKind, describe
from postroom.imap.limits import DEFAULT_LIMITS, Limits

logger = logging.getLogger(__name__)
wire = logging.getLogger("postroom.imap.wire")

READ_CHUNK = 256 * 1024
STREAM_LIMIT = 4 * 1024 * 1024
KEEPALIVE = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 15, "TCP_KEEPCNT": 4}

UntaggedHandler = Callable[[RawResponse], None]


@dataclass(slots=True)
class Pending:
    """A command that was sent and waits for its tagged response."""

    tag: bytes
    done: asyncio.Future[RawResponse]
    continuation: RawResponse | None = None  # the "+" it got, when it asked for one


async def open_stream(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Resolve, connect (trying every address), set TCP keepalive, then do TLS if asked.

    Raises ConnectFailed (reason dns/refused/timeout/unreachable) or TlsFailed.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectFailed(f"cannot resolve {host}: {exc.strerror}", reason="dns") from exc
    except TimeoutError as exc:
        raise ConnectFailed(f"resolving {host} timed out", reason="timeout") from exc
    sock = await _connect_any(host, port, infos, timeout)
    try:
        return await asyncio.open_connection(
            sock=sock,
            ssl=ssl_context,
            server_hostname=host if ssl_context is not None else None,
            ssl_handshake_timeout=timeout if ssl_context is not None else None,
            limit=STREAM_LIMIT,
        )
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise TlsFailed(
            f"the certificate of {host} is not trusted: {exc.verify_message or exc.reason}"
        ) from exc
    except ssl.SSLError as exc:
        sock.close()
        if exc.reason == "WRONG_VERSION_NUMBER":  # the server's first bytes were not TLS
            raise TlsFailed(
                f"TLS handshake with {host}:{port} failed: the server did not answer in TLS "
                "(WRONG_VERSION_NUMBER)",
                advice="this port may speak plain IMAP or STARTTLS: try --tls starttls",
            ) from exc
        raise tls_failed(f"TLS handshake with {host}:{port} failed", exc) from exc
    except TimeoutError as exc:
        sock.close()
        raise ConnectFailed(
            f"TLS handshake with {host}:{port} timed out", reason="timeout"
        ) from exc
    except OSError as exc:
        sock.close()
        raise ConnectionLost(f"{host}:{port} closed the connection during TLS: {exc}") from exc


#: OpenSSL's reasons for "no TLS version both sides accept" (the server offers only TLS 1.1 or
#: older, or answers a TLS 1.2+ hello with an older record version).
OLD_TLS_REASONS = frozenset(
    {
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "UNSUPPORTED_PROTOCOL",
        "WRONG_VERSION_NUMBER",
        "NO_PROTOCOLS_AVAILABLE",
        "VERSION_TOO_LOW",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)
OLD_TLS_ADVICE = (
    "the server only offers an old TLS version (older than TLS 1.2), which Postroom refuses: "
    "ask the mail provider to enable TLS 1.2 or newer"
)


def tls_failed(message: str, exc: ssl.SSLError) -> TlsFailed:
    """The TlsFailed for a handshake that failed with ``exc``: a version mismatch (the server
    speaks only TLS 1.1 or older) gets its own advice; never retryable either way."""
    reason = exc.reason or ""
    if reason in OLD_TLS_REASONS:
        return TlsFailed(
            f"{message}: no TLS version in common with the server ({reason})",
            advice=OLD_TLS_ADVICE,
        )
    return TlsFailed(f"{message}: {reason or exc}")


async def _connect_any(
    host: str, port: int, infos: Sequence[tuple[Any, ...]], timeout: float
) -> socket.socket:
    loop = asyncio.get_running_loop()
    failures: list[ConnectFailure] = []
    details: list[str] = []
    deadline = loop.time() + timeout
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            _set_keepalive(sock)
            async with asyncio.timeout_at(deadline):
                await loop.sock_connect(sock, address)
            return sock
        except TimeoutError:
            sock.close()
            failures.append("timeout")
            details.append(f"{address[0]}: timed out")
            break
        except OSError as exc:
            sock.close()
            failures.append("refused" if isinstance(exc, ConnectionRefusedError) else "unreachable")
            details.append(f"{address[0]}: {exc.strerror or exc}")
        except BaseException:
            sock.close()
            raise
    reason: ConnectFailure = (
        "timeout"
        if "timeout" in failures
        else "refused"
        if failures and all(f == "refused" for f in failures)
        else "unreachable"
    )
    raise ConnectFailed(f"cannot connect to {host}:{port} ({'; '.join(details)})", reason=reason)


def _set_keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in KEEPALIVE.items():
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


class Connection:
    """An open IMAP stream: send commands, get tagged responses back, untagged ones to
    ``on_untagged``. One instance per TCP connection; see the module docstring."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_untagged: UntaggedHandler,
        on_lost: Callable[[ImapError], None] | None = None,
        label: str = "",
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_untagged = on_untagged
        self._on_lost = on_lost
        self._label = label
        self._loop = asyncio.get_running_loop()
        self.limits = limits
        self._framer = self._new_framer()
        self._pending: dict[bytes, asyncio.Future[RawResponse]] = {}
        self._continuation: asyncio.Future[RawResponse] | None = None
        self._tag_number = 0
        self._error: ImapError | None = None
        self._bye_text: str | None = None
        self._stop_after_tag: bytes | None = None
        self._watch_seconds: float | None = None
        self._watch_handle: asyncio.TimerHandle | None = None
        self._last_received = self._loop.time()
        self._deadline_handle: asyncio.TimerHandle | None = None
        self._deadline_start = 0.0
        self._deadline_seconds = 0.0
        self._deadline_what = ""
        self._received = 0  # octets received since limit_time() started the clock
        self._reader_task: asyncio.Task[None] | None = None
        self.literal_plus = False  # LITERAL+ advertised: every literal non-synchronising
        self.literal_minus = False  # LITERAL- advertised: literals up to 4096 octets are

    # --- state -------------------------------------------------------------------------------

    @property
    def error(self) -> ImapError | None:
        """The error that ended the connection, or None while it is usable."""
        return self._error

    def start_reading(self) -> None:
        """Start the reader task (after connecting, and again after STARTTLS)."""
        if self._reader_task is None or self._reader_task.done():
            self._reader_task = asyncio.create_task(
                self._read_loop(), name=f"imap-read{self._label}"
            )

    def is_closed(self) -> bool:
        return self._error is not None

    def raise_if_closed(self) -> None:
        if self._error is not None:
            raise self._error

    # --- sending -----------------------------------------------------------------------------

    def next_tag(self) -> bytes:
        self._tag_number += 1
        return b"A%04d" % self._tag_number

    async def send(
        self,
        command: Command,
        *,
        tag: bytes | None = None,
        want_continuation: bool = False,
        stop_reading_after: bool = False,
    ) -> Pending:
        """Send ``command``; return as soon as it is on the wire.

        Synchronising literals wait for the server's ``+`` between chunks; if the server
        answers with a tagged response instead (it refused the command), sending stops there.
        With ``want_continuation`` (IDLE, AUTHENTICATE without SASL-IR) it also waits for the
        ``+`` that follows the command, stored in ``Pending.continuation``.
        ``stop_reading_after`` stops the reader right after this command's tagged response
        (STARTTLS: nothing may be read in plain text after it). ``tag`` is one from
        ``next_tag()`` when the caller needs to know it before sending.
        """
        self.raise_if_closed()
        tag = tag or self.next_tag()
        done: asyncio.Future[RawResponse] = self._loop.create_future()
        self._pending[tag] = done
        if stop_reading_after:
            self._stop_after_tag = tag
        pending = Pending(tag, done)
        chunks = encode_command(
            tag, command, literal_plus=self.literal_plus, literal_minus=self.literal_minus
        )
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("C: %s", describe_command(tag, command))
        try:
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                if not last or want_continuation:
                    self._continuation = self._loop.create_future()
                self._writer.write(chunk)
                await self._drain()
                if not last or want_continuation:
                    continuation = await self._wait_continuation(done)
                    if continuation is None:
                        break  # the server answered with the tagged response instead
                    if last:
                        pending.continuation = continuation
        except asyncio.CancelledError:
            self.abort(ConnectionLost("a command was cancelled while it was being sent"))
            raise
        return pending

    async def _wait_continuation(self, done: asyncio.Future[RawResponse]) -> RawResponse | None:
        continuation = self._continuation
        assert continuation is not None
        try:
            await asyncio.wait({continuation, done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._continuation = None
        self.raise_if_closed()
        if continuation.done():
            return continuation.result()
        continuation.cancel()
        return None

    def write_line(self, line: bytes, *, shown: str | None = None) -> None:
        """Send one line (``DONE``, a SASL response). ``shown`` is what the wire log writes
        instead of the line (``"[redacted]"`` for credentials)."""
        self.raise_if_closed()
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("C: %s", shown if shown is not None else line.decode("ascii", "replace"))
        self._writer.write(line + b"\r\n")

    async def expect_continuation(self, pending: Pending) -> RawResponse | None:
        """Wait for the next ``+`` of ``pending``'s command (None: it completed instead)."""
        self._continuation = self._loop.create_future()
        return await self._wait_continuation(pending.done)

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            lost = ConnectionLost(f"connection lost while sending: {exc}")
            self.abort(lost)
            raise (self._error or lost) from exc

    async def wait(self, pending: Pending) -> RawResponse:
        """The tagged response of ``pending``. Cancelling this wait closes the connection."""
        try:
            return await pending.done
        except asyncio.CancelledError:
            self.abort(ConnectionLost("a command was cancelled while it ran"))
            raise
        finally:
            self._pending.pop(pending.tag, None)

    async def execute(self, command: Command) -> RawResponse:
        """Send ``command`` and return its tagged response."""
        return await self.wait(await self.send(command))

    # --- inactivity timer --------------------------------------------------------------------

    def watch(self, seconds: float | None) -> None:
        """While a command runs: fail the connection after ``seconds`` without a received byte
        (counted from now, reset by every chunk). None switches the timer off (between
        commands, and while IDLE waits)."""
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None
        self._watch_seconds = seconds
        self._last_received = self._loop.time()
        if seconds is not None and self._error is None:
            self._watch_handle = self._loop.call_later(seconds, self._check_watch)

    def _check_watch(self) -> None:
        self._watch_handle = None
        seconds = self._watch_seconds
        if seconds is None or self._error is not None:
            return
        quiet = self._loop.time() - self._last_received
        if quiet >= seconds * 0.999:
            self.abort(ConnectionLost(f"no data from the server for {seconds:g} s"))
        else:
            self._watch_handle = self._loop.call_later(seconds - quiet, self._check_watch)

    # --- overall deadline --------------------------------------------------------------------

    def limit_time(self, seconds: float | None, *, what: str = "the command") -> None:
        """Start (or with None stop) the overall deadline: the connection is ended with
        ``CommandTimedOut`` unless ``limit_time(None)`` comes within ``seconds`` from now plus
        one second per ``limits.min_rate`` octets received meanwhile (capped at
        ``limits.max_command_seconds``). Unlike ``watch``, received bytes do not restart it."""
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None
        if seconds is None or self._error is not None:
            return
        self._deadline_start = self._loop.time()
        self._deadline_seconds = seconds
        self._deadline_what = what
        self._received = 0
        self._deadline_handle = self._loop.call_later(seconds, self._check_deadline)

    def _allowed_seconds(self) -> float:
        limits = self.limits
        earned = self._received / limits.min_rate if limits.min_rate > 0 else 0.0
        return min(self._deadline_seconds + earned, max(limits.max_command_seconds, 0.0))

    def _check_deadline(self) -> None:
        self._deadline_handle = None
        if self._error is not None:
            return
        allowed = self._allowed_seconds()
        elapsed = self._loop.time() - self._deadline_start
        if elapsed >= allowed * 0.999:
            self.abort(
                CommandTimedOut(
                    f"{self._deadline_what} did not complete within {allowed:.3g} s "
                    f"({self._received} octets received meanwhile)"
                )
            )
        else:
            self._deadline_handle = self._loop.call_later(allowed - elapsed, self._check_deadline)

    # --- reading -----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        reader = self._reader
        try:
            while self._error is None:
                data = await reader.read(READ_CHUNK)
                if not data:
                    message = "the server closed the connection"
                    if self._bye_text is not None:
                        message += f" after BYE: {self._bye_text}"
                    self.abort(ConnectionLost(message))
                    return
                self._last_received = self._loop.time()
                self._received += len(data)
                responses = self._framer.feed(data)
                for index, response in enumerate(responses):
                    if response.tag == self._stop_after_tag:
                        if index < len(responses) - 1 or self._framer.in_response:
                            raise ProtocolError(
                                "the server sent data right after the STARTTLS answer "
                                "(a possible injection attack); the connection is closed"
                            )
                        self._stop_after_tag = None
                        self._dispatch(response)
                        return
                    self._dispatch(response)
                    if self.is_closed():
                        return
        except ImapError as exc:
            self.abort(exc)
        except OSError as exc:  # includes ssl.SSLError and ConnectionResetError
            self.abort(ConnectionLost(f"connection lost: {exc}"))
        except Exception as exc:
            logger.exception("the IMAP reader failed")
            self.abort(ProtocolError(f"internal error while reading: {exc!r}"))

    def _dispatch(self, response: RawResponse) -> None:
        if wire.isEnabledFor(logging.DEBUG):
            for line in describe(response):
                wire.debug("S: %s", line)
        if response.kind is ResponseKind.UNTAGGED:
            if response.keyword == "BYE":
                self._bye_text = response.text_after_keyword().decode("utf-8", "replace")
            self._on_untagged(response)
        elif response.kind is ResponseKind.CONTINUATION:
            continuation = self._continuation
            if continuation is not None and not continuation.done():
                continuation.set_result(response)
            else:
                logger.warning("ignoring a continuation request nobody waits for")
        else:
            done = self._pending.pop(response.tag, None)
            if done is None:
                logger.warning("ignoring a tagged response for unknown tag %r", response.tag)
            elif not done.done():
                done.set_result(response)

    # --- STARTTLS and closing ----------------------------------------------------------------

    async def start_tls(self, context: ssl.SSLContext, host: str, timeout: float) -> None:
        """Upgrade to TLS after a STARTTLS OK (sent with ``stop_reading_after``).
        Raises TlsFailed; the reader restarts on the TLS stream with a fresh framer."""
        if self._reader_task is not None:
            await self._reader_task
        self.raise_if_closed()
        if self._framer.in_response:
            self.abort(ProtocolError("data was buffered before the TLS handshake"))
            self.raise_if_closed()
        try:
            await self._writer.start_tls(
                context, server_hostname=host, ssl_handshake_timeout=timeout
            )
        except ssl.SSLCertVerificationError as exc:
            error = TlsFailed(
                f"the certificate of {host} is not trusted: {exc.verify_message or exc.reason}"
            )
            self.abort(error)
            raise error from exc
        except ssl.SSLError as exc:
            error = tls_failed(f"the STARTTLS handshake with {host} failed", exc)
            self.abort(error)
            raise error from exc
        except (OSError, TimeoutError) as exc:
            error = TlsFailed(f"the STARTTLS handshake with {host} failed: {exc}")
            self.abort(error)
            raise error from exc
        self._framer = self._new_framer()
        self.start_reading()

    def _new_framer(self) -> ResponseFramer:
        limits = self.limits
        return ResponseFramer(
            max_line=limits.max_line,
            max_literal=limits.max_literal,
            max_response_literals=limits.max_response_literals,
            max_response_literal_count=limits.max_response_literal_count,
        )

    def abort(self, error: ImapError) -> None:
        """End the connection with ``error``: every pending command fails with it now."""
        if self._error is not None:
            return
        self._error = error
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
            self._deadline_handle = None
        waiting = [*self._pending.values()]
        if self._continuation is not None:
            waiting.append(self._continuation)
        self._pending.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: its waiter, if any, still gets the error
        self._writer.transport.abort()
        if self._reader_task is not None and self._reader_task is not asyncio.current_task():
            self._reader_task.cancel()
        if self._on_lost is not None:
            self._on_lost(error)
        logger.debug("IMAP connection%s ended: %s", self._label, error)

    async def close(self) -> None:
        """Close now (no LOGOUT); pending commands fail with ConnectionLost."""
        self.abort(ConnectionLost("the connection was closed by the client"))
        task = self._reader_task
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self._writer.wait_closed()


__all__ = [
    "OLD_TLS_ADVICE",
    "OLD_TLS_REASONS",
    "Connection",
    "Pending",
    "UntaggedHandler",
    "open_stream",
    "tls_failed",
    "wire",
]
