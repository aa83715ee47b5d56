"""The IMAP client the sync engine uses: connect, log in, list, EXAMINE, search, fetch, IDLE.

Built on ``connection.Connection`` (asyncio framing, tags) and ``responses`` (typed results
over ``imapclient.response_parser``). Async only; one command at a time per client (a lock).

Invariants:

* Read-only by construction: folders are opened with EXAMINE, never SELECT, and ``uid_fetch``
  refuses items that would set ``\\Seen`` (``BODY[``, ``BINARY[``, ``RFC822``, ``RFC822.TEXT``)
  with ValueError. There is no STORE, EXPUNGE, COPY or MOVE here.
* Nothing is sent that the server did not advertise: each method checks its capability and
  raises ``CapabilityMissing`` before sending (CONDSTORE for ``condstore``/``changedsince``/
  MODSEQ, ``ENABLE QRESYNC`` done for ``qresync``/``vanished``, IDLE, ENABLE...). ``uid_search``
  uses ESEARCH only when advertised, ``list_folders`` RETURN (SPECIAL-USE) only when
  advertised, ``send_id`` does nothing without ID, ``enable`` sends only advertised extensions.
* ``capabilities`` are read again after STARTTLS (the plain-text list is discarded) and after
  login (post-auth capabilities differ: Dovecot adds CONDSTORE, QRESYNC, ESEARCH... only then).
* TLS: ``ssl.create_default_context()`` (certificate and host name checks, TLS >= 1.2) unless
  the ``ServerAddress`` brings its own context. STARTTLS must be advertised and never falls
  back to plain text. Plain text only with ``allow_plaintext=True`` and a loopback host.
* Every untagged response goes through one handler in arrival order. The running command
  claims the responses that answer it (EXAMINE its EXISTS/UIDVALIDITY/..., UID FETCH the FETCH
  items of the UIDs it asked for, STATUS the STATUS of its folder, SEARCH/ESEARCH its result);
  every other one becomes an ``UntaggedEvent`` queued for ``drain_events``, including those
  that arrive in the middle of another command (an unsolicited ``FETCH (FLAGS)`` in a UID
  FETCH becomes ``FlagsChanged``).
* ``uid_fetch`` with ``vanished=True``: the ``VANISHED (EARLIER)`` response is not part of the
  returned list; it is queued as a ``Vanished(earlier=True)`` event, in arrival order.
* Bounded (``limits.Limits``, docs/sync.md "Limits of a connection"): every command has an
  overall deadline besides the inactivity timeout (IDLE: ``max_seconds`` plus its start and
  DONE); the untagged responses kept at once (a command's claimed ones plus queued events;
  consecutive EXISTS merged into the last) and their octets are capped; ``uid_search_ranges``
  clips the answer to the UID range its criteria start with, and ``uid_search`` expands at
  most ``max_search_uids``. Going over a bound ends the connection with ``LimitExceeded`` or
  ``CommandTimedOut``, like a lost connection.
* A NO/BAD raises ``CommandFailed`` (``FolderMissing`` for a missing folder; ``AuthFailed`` for
  LOGIN/AUTHENTICATE); a lost connection raises ``ConnectionLost`` from every pending and later
  call. The client is then unusable: connect again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from postroom.domain.accounts import TlsMode, is_loopback_host
from postroom.imap import commands
from postroom.imap.commands import Command
from postroom.imap.connection import Connection, open_stream
from postroom.imap.errors import (
    AuthFailed,
    CapabilityMissing,
    CommandFailed,
    ConnectFailed,
    ConnectionLost,
    FolderMissing,
    ImapError,
    LimitExceeded,
    PlaintextRefused,
    ProtocolError,
    TlsFailed,
    is_retryable_code,
)
from postroom.imap.framing import RawResponse
from postroom.imap.limits import DEFAULT_LIMITS, Limits
from postroom.imap.responses import (
    Bye,
    Capabilities,
    Condition,
    Enabled,
    ESearchResult,
    Exists,
    Expunge,
    FetchItem,
    FlagsChanged,
    Folder,
    SearchResult,
    SelectedFolder,
    StatusUpdate,
    Unknown,
    Untagged,
    UntaggedEvent,
    Vanished,
    is_folder_missing,
    merge_fetch_items,
    merge_ranges,
    parse_sequence_set,
    parse_tagged,
    parse_untagged,
    selected_folder,
    to_event,
)

logger = logging.getLogger(__name__)

IDLE_GATHER_SECONDS = 0.2
"""After the first relevant event, IDLE waits this long for more before sending DONE."""
IDLE_DONE_TIMEOUT = 30.0
"""DONE -> tagged OK must come within this time, or the connection counts as lost."""
LOGOUT_TIMEOUT = 5.0

DEFAULT_WAKE: tuple[type[UntaggedEvent], ...] = (
    Exists,
    Expunge,
    Vanished,
    FlagsChanged,
    StatusUpdate,
)
"""The events that end an IDLE: new mail, expunges, flag changes, and NOTIFY STATUS events
(sent only when NOTIFY was set up)."""


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The system trust store with certificate and host name checks, TLS 1.2 or newer."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class ServerAddress:
    """Where and how to connect.

    ``tls`` is a ``postroom.domain.accounts.TlsMode``. ``ssl_context`` None means
    ``default_ssl_context()``; give one made with ``ssl.create_default_context(cafile=...)`` to
    trust a private CA. ``allow_plaintext`` must be True for ``TlsMode.PLAIN``, and PLAIN is
    refused anyway unless ``host`` is a loopback address.
    """

    host: str
    port: int
    tls: TlsMode
    ssl_context: ssl.SSLContext | None = None
    allow_plaintext: bool = False

    @property
    def tls_mode(self) -> TlsMode:
        return self.tls

    def check(self) -> None:
        """Raise PlaintextRefused for a plain-text connection that is not allowed."""
        if self.tls_mode is TlsMode.PLAIN:
            if not self.allow_plaintext:
                raise PlaintextRefused(
                    f"plain-text IMAP to {self.host} was not allowed (allow_plaintext=False)"
                )
            if not is_loopback_host(self.host):
                raise PlaintextRefused(
                    f"plain-text IMAP is only allowed to a loopback address, not {self.host}"
                )

    def context(self) -> ssl.SSLContext:
        return self.ssl_context if self.ssl_context is not None else default_ssl_context()


@functools.lru_cache(maxsize=64)
def _shared_capabilities(names: tuple[str, ...]) -> frozenset[str]:
    """One frozenset per distinct capability list: a thousand connections to one server share
    it instead of holding a thousand copies (about 4 kB each for Dovecot's list)."""
    return frozenset(sys.intern(name) for name in names)


def _claims_nothing(response: Untagged) -> bool:
    return False


@dataclass(slots=True)
class _Running:
    """The command in progress: which untagged responses it claims, and what it got."""

    claims: Callable[[Untagged], bool]
    tag: bytes = b""
    claimed: list[Untagged] = field(default_factory=list)
    kept: int = 0  # responses it holds (claimed or raw), and their octets
    kept_octets: int = 0
    error: ProtocolError | None = None
    raw_fetches: list[RawResponse] | None = None
    """Set by ``uid_fetch_raw``: every FETCH response goes here unparsed, in arrival order."""


class ImapClient:
    """One logged-in (or about to be) IMAP connection. Make one with ``connect``.

    >>> address = ServerAddress("imap.example.com", 993, TlsMode.IMPLICIT)
    >>> client = await ImapClient.connect(address)  # doctest: +SKIP
    >>> await client.login("me@example.com", "app-password")  # doctest: +SKIP
    >>> inbox = await client.examine("INBOX")  # doctest: +SKIP
    >>> items = await client.uid_fetch([1, 2], ["FLAGS", "BODY.PEEK[HEADER]"])  # doctest: +SKIP
    >>> await client.logout()  # doctest: +SKIP
    """

    def __init__(  # use connect() or from_streams()
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: ServerAddress,
        *,
        timeout: float,
        command_timeout: float,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.address = address
        self.limits = limits
        self.capabilities: frozenset[str] = frozenset()
        self.enabled: frozenset[str] = frozenset()
        self.is_authenticated = False
        self._preauth = False  # PREAUTH greeting: the first login() only reads capabilities
        self._timeout = timeout
        self._command_timeout = command_timeout
        self._lock = asyncio.Lock()
        self._events: list[UntaggedEvent] = []
        self._events_octets = 0
        self._events_weight = 0
        self._running: _Running | None = None
        self._wake = asyncio.Event()
        self._wake_on: tuple[type[UntaggedEvent], ...] = ()
        self._greeting: asyncio.Future[Condition] = asyncio.get_running_loop().create_future()
        self._conn = Connection(
            reader,
            writer,
            on_untagged=self._on_untagged,
            on_lost=self._on_lost,
            label=f" {address.host}:{address.port}",
            limits=limits,
        )

    # --- connecting --------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        address: ServerAddress,
        *,
        timeout: float = 20.0,
        command_timeout: float = 90.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Self:
        """Connect, read the greeting, do STARTTLS if asked, and read the capabilities.

        ``timeout`` bounds DNS + TCP connect, the TLS handshake and the greeting, each;
        ``command_timeout`` is the inactivity timeout of every later command; ``limits`` the
        time and memory bounds of commands and responses (``limits.Limits``).
        Raises PlaintextRefused (before connecting), ConnectFailed, TlsFailed, ConnectionLost.
        """
        address.check()
        context = address.context() if address.tls_mode is not TlsMode.PLAIN else None
        reader, writer = await open_stream(
            address.host,
            address.port,
            ssl_context=context if address.tls_mode is TlsMode.IMPLICIT else None,
            timeout=timeout,
        )
        return await cls.from_streams(
            reader,
            writer,
            address,
            timeout=timeout,
            command_timeout=command_timeout,
            limits=limits,
        )

    @classmethod
    async def from_streams(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: ServerAddress,
        *,
        timeout: float = 20.0,
        command_timeout: float = 90.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Self:
        """The client over streams that are already open (``connect`` uses it after
        ``open_stream``; tests use in-memory streams and a scripted server). Reads the greeting,
        does STARTTLS when ``address`` asks for it, reads the capabilities."""
        client = cls(
            reader, writer, address, timeout=timeout, command_timeout=command_timeout, limits=limits
        )
        try:
            client._conn.start_reading()
            await client._read_greeting()
            if address.tls_mode is TlsMode.STARTTLS:
                await client._start_tls(address.context())
            if not client.capabilities:
                await client.refresh_capabilities()
        except BaseException:
            await client.close()
            raise
        return client

    async def _read_greeting(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                greeting = await self._greeting
        except TimeoutError as exc:
            raise ConnectFailed(
                f"{self.address.host}:{self.address.port} sent no IMAP greeting "
                f"within {self._timeout:g} s",
                reason="timeout",
            ) from exc
        if greeting.status == "BYE":
            raise ConnectionLost(f"the server refused the connection: {greeting.text}")
        if greeting.status == "PREAUTH":
            if self.address.tls_mode is TlsMode.STARTTLS:
                raise TlsFailed("the server greeted with PREAUTH, so STARTTLS is impossible")
            self.is_authenticated = True
            self._preauth = True
        elif greeting.status != "OK":
            raise ProtocolError(f"unexpected greeting: {greeting.status} {greeting.text}")
        if greeting.code is not None and greeting.code.name == "CAPABILITY":
            self._set_capabilities(greeting.code.atoms())

    async def _start_tls(self, context: ssl.SSLContext) -> None:
        if not self.capabilities:
            await self.refresh_capabilities()
        if not self.has("STARTTLS"):
            raise TlsFailed(f"{self.address.host} does not offer STARTTLS; refusing plain text")
        async with self._lock:
            conn = self._conn
            conn.watch(self._command_timeout)
            conn.limit_time(self.limits.command_seconds, what="STARTTLS")
            try:
                pending = await conn.send(commands.starttls(), stop_reading_after=True)
                completion = parse_tagged(await conn.wait(pending))
            finally:
                conn.watch(None)
                conn.limit_time(None)
            if completion.status != "OK":
                raise TlsFailed(f"the server refused STARTTLS: {completion.text}")
            await conn.start_tls(context, self.address.host, self._timeout)
        self._set_capabilities(())  # never trust what was said in plain text
        await self.refresh_capabilities()

    # --- state -------------------------------------------------------------------------------

    def has(self, capability: str) -> bool:
        """Whether the server advertised ``capability`` (case-insensitive)."""
        return capability.upper() in self.capabilities

    def _require(self, capability: str) -> None:
        if not self.has(capability):
            raise CapabilityMissing(capability)

    def _set_capabilities(self, names: Sequence[str] | frozenset[str]) -> None:
        self.capabilities = _shared_capabilities(tuple(sorted(name.upper() for name in names)))
        self._conn.literal_plus = "LITERAL+" in self.capabilities
        self._conn.literal_minus = "LITERAL-" in self.capabilities

    def drain_events(self) -> list[UntaggedEvent]:
        """Every unsolicited response received so far, in arrival order (also those that
        arrived during other commands; consecutive ``Exists`` merged into the last), then
        cleared."""
        events, self._events = self._events, []
        self._events_octets = self._events_weight = 0
        return events

    @property
    def connection_error(self) -> ImapError | None:
        """The error that ended the connection (lost, timed out, a limit or framing error), or
        None while it is usable. Once set, every command raises it: connect again."""
        return self._conn.error

    # --- the one untagged handler ------------------------------------------------------------

    def _on_untagged(self, raw: RawResponse) -> None:
        running = self._running
        if running is not None and running.raw_fetches is not None and raw.keyword == "FETCH":
            running.raw_fetches.append(raw)
            self._keep(running, _octets(raw), 1)
            return
        typed: Untagged
        try:
            typed = parse_untagged(raw, max_set_ranges=self.limits.max_set_ranges)
        except LimitExceeded as exc:
            self._conn.abort(exc)
            return
        except ProtocolError as exc:
            logger.warning("cannot parse an untagged %s response: %s", raw.keyword, exc)
            if running is not None and running.error is None:
                running.error = exc
            typed = Unknown(raw.to_bytes(), raw.keyword)
        if not self._greeting.done() and isinstance(typed, Condition):
            self._greeting.set_result(typed)
            return
        if running is not None and running.claims(typed):
            claimed = running.claimed
            if isinstance(typed, Exists) and claimed and isinstance(claimed[-1], Exists):
                claimed[-1] = typed  # only the last count matters
                return
            claimed.append(typed)
            self._keep(running, _octets(raw), _weight(typed))
            return
        event = to_event(raw, typed)
        events = self._events
        if isinstance(event, Exists) and events and isinstance(events[-1], Exists):
            events[-1] = event  # only the last count matters
        else:
            events.append(event)
            self._events_octets += _octets(raw)
            self._events_weight += _weight(event)
            self._keep(running, 0, 0)
        if self._wake_on and isinstance(event, (*self._wake_on, Bye)):
            self._wake.set()

    def _keep(self, running: _Running | None, octets: int, weight: int) -> None:
        """Count one more response held by ``running`` (``octets`` on the wire, ``weight``
        as ``_weight`` says; zeros for a queued event, already counted); end the connection
        when what is held (the command's and the queued events) goes over ``limits``."""
        if running is not None:
            running.kept += weight
            running.kept_octets += octets
        count = self._events_weight + (running.kept if running is not None else 0)
        total = self._events_octets + (running.kept_octets if running is not None else 0)
        limits = self.limits
        if count > limits.max_kept_responses or total > limits.max_kept_octets:
            what = "the running command" if running is not None else "no command"
            self._conn.abort(
                LimitExceeded(
                    f"the server sent more untagged responses than are kept at once "
                    f"({count} responses, {total} octets, while {what} ran; limits "
                    f"{limits.max_kept_responses} and {limits.max_kept_octets})"
                )
            )

    def _on_lost(self, error: ImapError) -> None:
        if not self._greeting.done():
            self._greeting.set_exception(error)
            self._greeting.exception()
        self._wake.set()

    # --- running commands --------------------------------------------------------------------

    async def _run(
        self,
        command: Command,
        claims: Callable[[Untagged], bool] = _claims_nothing,
        raw_fetches: list[RawResponse] | None = None,
    ) -> tuple[Condition, list[Untagged], bytes]:
        """Send one command and wait for its completion: (tagged condition, claimed
        responses, tag). Raises ConnectionLost, or the ProtocolError of a response of this
        command that could not be parsed. With ``raw_fetches``, every FETCH response that
        arrives goes into that list unparsed."""
        async with self._lock:
            return await self._run_locked(command, claims, raw_fetches)

    async def _run_locked(
        self,
        command: Command,
        claims: Callable[[Untagged], bool],
        raw_fetches: list[RawResponse] | None = None,
    ) -> tuple[Condition, list[Untagged], bytes]:
        conn = self._conn
        conn.raise_if_closed()
        running = _Running(claims, tag=conn.next_tag(), raw_fetches=raw_fetches)
        self._running = running
        conn.watch(self._command_timeout)
        conn.limit_time(self.limits.command_seconds, what=command.name)
        try:
            raw = await conn.wait(await conn.send(command, tag=running.tag))
        finally:
            conn.watch(None)
            conn.limit_time(None)
            self._running = None
        completion = parse_tagged(raw)
        if running.error is not None:
            raise running.error
        return completion, running.claimed, running.tag

    @staticmethod
    def _check(command: Command, completion: Condition) -> None:
        if completion.status == "OK":
            return
        raise CommandFailed(
            f"{command.name} failed: {completion.status} {completion.text}".rstrip(),
            status=completion.status,
            code=completion.code_name,
            text=completion.text,
        )

    async def refresh_capabilities(self) -> frozenset[str]:
        """Issue CAPABILITY and store the answer."""
        command = commands.capability()
        completion, claimed, _ = await self._run(command, lambda r: isinstance(r, Capabilities))
        self._check(command, completion)
        names: set[str] = set()
        for response in claimed:
            if isinstance(response, Capabilities):
                names |= response.names
        if not names:
            raise ProtocolError("the server answered CAPABILITY without a capability list")
        self._set_capabilities(frozenset(names))
        return self.capabilities

    # --- authentication ----------------------------------------------------------------------

    async def login(self, username: str, password: str) -> None:
        """Log in: ``AUTHENTICATE PLAIN`` when AUTH=PLAIN is advertised (the credentials on
        the command line with SASL-IR, else after the ``+``), else LOGIN with quoted or literal
        arguments. Then read the post-login capabilities.

        Raises AuthFailed on NO/BAD (``CommandFailed`` if the code says the server is only
        temporarily unable: UNAVAILABLE...), CapabilityMissing if the server disables LOGIN and
        offers no AUTH=PLAIN. The credentials never reach a log or an error message.
        """
        if self._preauth:
            logger.debug("the server greeted with PREAUTH: already logged in, LOGIN skipped")
            self._preauth = False
            await self.refresh_capabilities()
            return
        if self.is_authenticated:
            raise ImapError("this connection is already logged in")
        claims: Callable[[Untagged], bool] = lambda r: isinstance(r, Capabilities)  # noqa: E731
        if self.has("AUTH=PLAIN"):
            sasl_ir = self.has("SASL-IR")
            command = commands.authenticate_plain(username, password, initial_response=sasl_ir)
            if sasl_ir:
                completion, claimed, _ = await self._run(command, claims)
            else:
                completion, claimed = await self._authenticate_plain(command, username, password)
        elif self.has("LOGINDISABLED"):
            raise CapabilityMissing(
                "AUTH=PLAIN", "the server disables LOGIN here and offers no AUTH=PLAIN"
            )
        else:
            command = commands.login(username, password)
            completion, claimed, _ = await self._run(command, claims)
        if completion.status != "OK":
            code = completion.code_name
            if is_retryable_code(code):
                raise CommandFailed(
                    f"the server cannot log in now: {completion.text}",
                    status=completion.status,
                    code=code,
                    text=completion.text,
                )
            raise AuthFailed(
                f"the server refused the login for {username!r}: {completion.text}",
                code=code,
                text=completion.text,
            )
        self.is_authenticated = True
        if completion.code is not None and completion.code.name == "CAPABILITY":
            self._set_capabilities(completion.code.atoms())
            return
        names = [n for r in claimed if isinstance(r, Capabilities) for n in r.names]
        if names:
            self._set_capabilities(names)
        else:
            await self.refresh_capabilities()

    async def _authenticate_plain(
        self, command: Command, username: str, password: str
    ) -> tuple[Condition, list[Untagged]]:
        async with self._lock:
            conn = self._conn
            conn.raise_if_closed()
            running = _Running(lambda r: isinstance(r, Capabilities), tag=conn.next_tag())
            self._running = running
            conn.watch(self._command_timeout)
            conn.limit_time(self.limits.command_seconds, what="AUTHENTICATE")
            try:
                pending = await conn.send(command, tag=running.tag, want_continuation=True)
                if pending.continuation is not None:
                    conn.write_line(commands.sasl_plain(username, password), shown="[redacted]")
                raw = await conn.wait(pending)
            finally:
                conn.watch(None)
                conn.limit_time(None)
                self._running = None
            return parse_tagged(raw), running.claimed

    async def send_id(self, fields: Mapping[str, str]) -> None:
        """Send ``ID ("name" "postroom" ...)`` (RFC 2971); does nothing when the server does
        not advertise ID."""
        if not self.has("ID"):
            logger.debug("the server does not advertise ID; not sending it")
            return
        command = commands.id_command(fields)
        completion, _, _ = await self._run(
            command, lambda r: isinstance(r, Unknown) and r.kind == "ID"
        )
        self._check(command, completion)

    async def enable(self, *extensions: str) -> frozenset[str]:
        """``ENABLE`` (RFC 5161) those of ``extensions`` the server advertises; returns what
        the server confirmed it enabled (also kept in ``enabled``). CapabilityMissing without
        ENABLE."""
        self._require("ENABLE")
        wanted = [name.upper() for name in extensions if self.has(name)]
        if not wanted:
            return frozenset()
        command = commands.enable(wanted)
        completion, claimed, _ = await self._run(command, lambda r: isinstance(r, Enabled))
        self._check(command, completion)
        confirmed = frozenset(n for r in claimed if isinstance(r, Enabled) for n in r.names)
        if "QRESYNC" in confirmed:
            confirmed |= {"CONDSTORE"}  # RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
        self.enabled |= confirmed
        return confirmed

    # --- folders -----------------------------------------------------------------------------

    async def list_folders(self) -> list[Folder]:
        """All folders: ``LIST "" "*"``, with ``RETURN (SPECIAL-USE)`` when SPECIAL-USE is
        advertised so that ``\\Sent``, ``\\All``... appear in ``Folder.flags``."""
        command = commands.list_folders(special_use=self.has("SPECIAL-USE"))
        completion, claimed, _ = await self._run(command, lambda r: isinstance(r, Folder))
        self._check(command, completion)
        return [r for r in claimed if isinstance(r, Folder)]

    async def list_folders_with_status(
        self, items: Sequence[str], *, max_folders: int = 500
    ) -> list[tuple[Folder, dict[str, int] | None]]:
        """Every folder (at most ``max_folders``) with its STATUS ``items``: one ``LIST ...
        RETURN (STATUS (...))`` where LIST-STATUS (RFC 5819) is advertised, else LIST and a
        STATUS per selectable folder. The values are None for a folder that cannot be
        selected or whose STATUS failed. Do not call it with a folder examined (Dovecot
        answers STATUS of the selected folder with ``[CLIENTBUG]``)."""
        if not self.has("LIST-STATUS"):
            folders = (await self.list_folders())[:max_folders]
            answers: list[tuple[Folder, dict[str, int] | None]] = []
            for folder in folders:
                values = None
                if folder.is_selectable:
                    try:
                        values = await self.status(folder.name_raw, items)
                    except CommandFailed:
                        values = None
                answers.append((folder, values))
            return answers
        for item in items:
            needed = commands.STATUS_ITEMS.get(item.upper())
            if needed is not None:
                self._require(needed)
        command = commands.list_folders(special_use=self.has("SPECIAL-USE"), status=items)
        completion, claimed, _ = await self._run(
            command, lambda r: isinstance(r, Folder | StatusUpdate)
        )
        self._check(command, completion)
        statuses: dict[bytes, dict[str, int]] = {}
        for response in claimed:
            if isinstance(response, StatusUpdate):
                statuses.setdefault(response.folder_raw, {}).update(response.values)
        listed = [r for r in claimed if isinstance(r, Folder)][:max_folders]
        return [
            (folder, statuses.get(folder.name_raw) if folder.is_selectable else None)
            for folder in listed
        ]

    async def examine(
        self,
        folder: bytes | str,
        *,
        condstore: bool = False,
        qresync: tuple[int, int] | None = None,
    ) -> SelectedFolder:
        """Open ``folder`` read-only (EXAMINE: the sync never changes flags).

        ``condstore=True`` asks for HIGHESTMODSEQ (CONDSTORE must be advertised).
        ``qresync=(uidvalidity, highestmodseq)`` (after ``enable("QRESYNC")``) also returns
        the ``VANISHED (EARLIER)`` ranges and the changed flags since that modseq, when the
        uidvalidity still matches. Raises FolderMissing, CommandFailed, CapabilityMissing.
        """
        if qresync is not None and "QRESYNC" not in self.enabled:
            message = (
                "QRESYNC is not enabled: call enable('QRESYNC') first"
                if self.has("QRESYNC")
                else None
            )
            raise CapabilityMissing("QRESYNC", message)
        if condstore and qresync is None:
            self._require("CONDSTORE")
        command = commands.examine(folder, condstore=condstore, qresync=qresync)
        completion, claimed, _ = await self._run(command, _claimed_by_examine)
        if completion.status != "OK":
            error = FolderMissing if is_folder_missing(completion) else CommandFailed
            raise error(
                f"EXAMINE {folder!r} failed: {completion.status} {completion.text}",
                status=completion.status,
                code=completion.code_name,
                text=completion.text,
            )
        return selected_folder(claimed, completion)

    async def status(self, folder: bytes | str, items: Sequence[str]) -> dict[str, int]:
        """``STATUS folder (items)`` -> ``{"MESSAGES": 3, "UIDNEXT": 9, ...}``. Items that need
        a capability (HIGHESTMODSEQ: CONDSTORE, SIZE: STATUS=SIZE...) raise CapabilityMissing
        when it is not advertised. Do not STATUS the folder that is currently examined
        (Dovecot answers ``[CLIENTBUG]``). Raises FolderMissing for a missing folder."""
        for item in items:
            needed = commands.STATUS_ITEMS.get(item.upper())
            if needed is not None:
                self._require(needed)
        command = commands.status(folder, items)
        encoded = commands.encode_mailbox(folder)

        def claims(response: Untagged) -> bool:
            return isinstance(response, StatusUpdate) and (
                response.folder_raw == encoded or response.folder_raw.upper() == encoded.upper()
            )

        completion, claimed, _ = await self._run(command, claims)
        if completion.status != "OK":
            error = FolderMissing if is_folder_missing(completion) else CommandFailed
            raise error(
                f"STATUS {folder!r} failed: {completion.status} {completion.text}",
                status=completion.status,
                code=completion.code_name,
                text=completion.text,
            )
        values: dict[str, int] = {}
        for response in claimed:
            if isinstance(response, StatusUpdate):
                values.update(response.values)
        return values

    # --- searching and fetching --------------------------------------------------------------

    async def uid_search(self, criteria: str) -> list[int]:
        """UIDs matching ``criteria`` (search-key text, e.g. ``"UID 1:500 SINCE 1-Jan-2026"``),
        ascending. Uses ``UID SEARCH RETURN (ALL)`` (ESEARCH: compact ranges, expanded here)
        when advertised, else the classic ``UID SEARCH``. The answer is clipped as in
        ``uid_search_ranges``; more than ``limits.max_search_uids`` UIDs is a LimitExceeded
        (the connection is closed): use ``uid_search_ranges`` for whole folders."""
        ranges = await self.uid_search_ranges(criteria)
        count = sum(high - low + 1 for low, high in ranges)
        if count > self.limits.max_search_uids:
            error = LimitExceeded(
                f"the server answered a UID SEARCH with {count} UIDs, more than the "
                f"{self.limits.max_search_uids} a list may hold"
            )
            self._conn.abort(error)
            raise error
        return [uid for low, high in ranges for uid in range(low, high + 1)]

    async def uid_search_ranges(self, criteria: str) -> list[tuple[int, int]]:
        """``uid_search`` as ascending, disjoint (low, high) ranges: a whole folder's UIDs in
        a few tuples (ESEARCH sends them so), not a list of every number.

        When ``criteria`` starts with a ``UID`` set (``"UID 1:500 ..."``, the sync's form),
        the answer is clipped to that set: a server cannot add UIDs that were not asked for
        (``*`` counts as 4294967295, so the highest UID, which ``n:*`` matches even below n,
        is left out then). A set of more than ``limits.max_set_ranges`` ranges is a
        LimitExceeded."""
        command = commands.uid_search(criteria, esearch=self.has("ESEARCH"))
        merged = await self._search(command)
        asked = asked_uid_ranges(criteria)
        return merged if asked is None else intersect_ranges(merged, asked)

    async def uid_search_words(
        self, words: Sequence[str], fields: Sequence[str]
    ) -> list[tuple[int, int]]:
        """The UIDs, as ``uid_search_ranges`` gives them, of the messages with every one of
        ``words`` in one of ``fields`` (``FROM``, ``TO``, ``CC``, ``SUBJECT``, ``BODY``...;
        the server compares case-insensitively, as substrings): for what a user types into
        a search box, any language (``commands.uid_search_words``)."""
        return await self._search(
            commands.uid_search_words(words, fields, esearch=self.has("ESEARCH"))
        )

    async def _search(self, command: Command) -> list[tuple[int, int]]:
        def claims(response: Untagged) -> bool:
            if isinstance(response, SearchResult):
                return True
            running = self._running
            return isinstance(response, ESearchResult) and (
                response.tag is None or (running is not None and response.tag == running.tag)
            )

        completion, claimed, _ = await self._run(command, claims)
        self._check(command, completion)
        ranges: list[tuple[int, int]] = []
        for response in claimed:
            if isinstance(response, ESearchResult):
                ranges += response.all
            elif isinstance(response, SearchResult):
                ranges += response.ranges
        return merge_ranges(ranges)

    async def uid_fetch(
        self,
        uids: Sequence[int] | str,
        items: Sequence[str],
        *,
        changedsince: int | None = None,
        vanished: bool = False,
    ) -> list[FetchItem]:
        """``UID FETCH`` ``items`` of ``uids`` (a list, or a UID set text such as
        ``"1:4294967295"``) -> one FetchItem per message, in the order the server sent them.

        A long UID list is split over several commands (each line <= 8 KB). Only peeking
        items are allowed (``BODY.PEEK[...]``, never ``BODY[...]``/``RFC822``: ValueError).
        Items and options that need a capability raise CapabilityMissing when it is missing
        (MODSEQ and ``changedsince``: CONDSTORE; ``vanished``: QRESYNC enabled; EMAILID:
        OBJECTID; X-GM-*: X-GM-EXT-1; BINARY.PEEK: BINARY). FETCH responses for UIDs not
        asked for, without a UID, or with only FLAGS when FLAGS was not asked for, are
        unsolicited: they become FlagsChanged events. See ``FetchItem.section`` to find a
        body section by what was requested.
        """
        checked = commands.check_fetch_items(items)
        built = self._build_uid_fetch(uids, checked, changedsince, vanished)
        asked_flags = any(item.upper() == "FLAGS" for item in checked)
        ranges = (
            parse_sequence_set(uids.replace("*", str(commands.UID_MAX)))
            if isinstance(uids, str)
            else ()
        )
        uid_set = frozenset(uids) if not isinstance(uids, str) else frozenset()

        def wanted(uid: int) -> bool:
            return uid in uid_set or any(low <= uid <= high for low, high in ranges)

        def claims(response: Untagged) -> bool:
            if not isinstance(response, FetchItem) or not response.uid:
                return False
            if not wanted(response.uid):
                return False
            return asked_flags or not response.raw.keys() <= _FLAG_KEYS

        answers: list[FetchItem] = []
        for command in built:
            completion, claimed, _ = await self._run(command, claims)
            self._check(command, completion)
            answers += (response for response in claimed if isinstance(response, FetchItem))
        return merge_fetch_items(answers)

    async def uid_fetch_raw(self, uids: Sequence[int], items: Sequence[str]) -> list[RawResponse]:
        """``UID FETCH`` like ``uid_fetch``, but the FETCH responses come back unparsed: every
        FETCH response that arrived while the command ran, in arrival order, including
        unsolicited ones (other UIDs, flag changes), which are then not queued as events.

        For bulk reads whose parsing is done elsewhere (``responses.parse_fetches``, possibly
        in another process). Every other untagged response is handled as always. The same
        checks as ``uid_fetch`` apply (peeking items only, capabilities).
        """
        checked = commands.check_fetch_items(items)
        raw: list[RawResponse] = []
        for command in self._build_uid_fetch(uids, checked, None, False):
            completion, _, _ = await self._run(command, raw_fetches=raw)
            self._check(command, completion)
        return raw

    def _build_uid_fetch(
        self,
        uids: Sequence[int] | str,
        checked: Sequence[str],
        changedsince: int | None,
        vanished: bool,
    ) -> list[Command]:
        for capability in sorted(commands.required_capabilities(checked)):
            if capability == "CONDSTORE" and "CONDSTORE" in self.enabled:
                continue
            self._require(capability)
        if changedsince is not None and "CONDSTORE" not in self.enabled:
            self._require("CONDSTORE")
        if vanished and "QRESYNC" not in self.enabled:
            raise CapabilityMissing("QRESYNC", "VANISHED needs ENABLE QRESYNC first")
        return commands.build_uid_fetch(uids, checked, changedsince=changedsince, vanished=vanished)

    # --- waiting for changes -----------------------------------------------------------------

    async def noop(self) -> list[UntaggedEvent]:
        """NOOP, then every event received so far (``drain_events``)."""
        command = commands.noop()
        completion, _, _ = await self._run(command)
        self._check(command, completion)
        return self.drain_events()

    async def idle(
        self,
        *,
        max_seconds: float,
        wake_on: tuple[type[UntaggedEvent], ...] = DEFAULT_WAKE,
        gather_seconds: float = IDLE_GATHER_SECONDS,
    ) -> list[UntaggedEvent]:
        """IDLE (RFC 2177) until the first event of a ``wake_on`` type (+ ``gather_seconds`` to
        gather more) or ``max_seconds``; then DONE, and the tagged OK must come within 30 s (else
        ConnectionLost). Returns every event received, in order (``drain_events``); if such an
        event is already waiting, returns at once without IDLE.

        Keep ``max_seconds`` under 29 minutes (RFC 2177; ~9 for Gmail). Cancelling ``idle``
        closes the connection. CapabilityMissing without IDLE.
        """
        self._require("IDLE")
        async with self._lock:
            if any(isinstance(event, wake_on) for event in self._events):
                return self.drain_events()
            conn = self._conn
            conn.raise_if_closed()
            running = _Running(_claims_nothing, tag=conn.next_tag())
            self._running = running
            self._wake.clear()
            self._wake_on = wake_on
            loop = asyncio.get_running_loop()
            try:
                conn.watch(self._command_timeout)
                # IDLE's own deadline: its start, max_seconds of quiet, gathering, then DONE
                conn.limit_time(
                    self._command_timeout + max_seconds + gather_seconds + IDLE_DONE_TIMEOUT,
                    what="IDLE",
                )
                pending = await conn.send(commands.idle(), tag=running.tag, want_continuation=True)
                if pending.continuation is None:  # refused at once
                    completion = parse_tagged(await conn.wait(pending))
                    self._check(commands.idle(), completion)
                    raise ProtocolError("IDLE completed without starting")
                conn.watch(None)  # IDLE is quiet on purpose
                deadline = loop.time() + max_seconds
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await self._wake.wait()
                conn.raise_if_closed()
                if self._wake.is_set() and gather_seconds > 0:
                    await asyncio.sleep(gather_seconds)
                    conn.raise_if_closed()
                conn.write_line(commands.IDLE_DONE.rstrip(b"\r\n"))
                conn.watch(IDLE_DONE_TIMEOUT)
                try:
                    completion = parse_tagged(await conn.wait(pending))
                except ConnectionLost as exc:
                    raise ConnectionLost(f"no answer to DONE: {exc}") from exc
                self._check(commands.idle(), completion)
            except asyncio.CancelledError:
                conn.abort(ConnectionLost("IDLE was cancelled"))
                raise
            finally:
                conn.watch(None)
                conn.limit_time(None)
                self._running = None
                self._wake_on = ()
            if running.error is not None:
                raise running.error
            return self.drain_events()

    # --- ending ------------------------------------------------------------------------------

    async def logout(self) -> None:
        """LOGOUT (best effort, at most 5 s), then close. Never raises."""
        try:
            if self._conn.error is None:
                async with asyncio.timeout(LOGOUT_TIMEOUT):
                    await self._run(commands.logout(), lambda r: isinstance(r, Condition))
        except (ImapError, TimeoutError, OSError) as exc:
            logger.debug("LOGOUT did not complete: %s", exc)
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection now (no LOGOUT)."""
        await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.logout()


_FLAG_KEYS = frozenset({b"UID", b"FLAGS", b"MODSEQ", b"SEQ"})
_UID_KEY = re.compile(r"\s*UID\s+([0-9:,*]+)(?:\s|$)", re.IGNORECASE)


def _weight(response: Untagged | UntaggedEvent) -> int:
    """What a held response counts against ``Limits.max_kept_responses``: 1, plus one per
    range of a UID set (a range costs memory like a small response, whatever its wire size)."""
    if isinstance(response, SearchResult | Vanished):
        return 1 + len(response.ranges)
    if isinstance(response, ESearchResult):
        return 1 + len(response.all)
    return 1


def _octets(response: RawResponse) -> int:
    return sum(
        len(part) if isinstance(part, bytes) else len(part[0]) + len(part[1])
        for part in response.parts
    )


def asked_uid_ranges(criteria: str) -> list[tuple[int, int]] | None:
    """The UID set that search ``criteria`` start with, as ascending ranges (``*`` as
    4294967295), or None when they do not start with one. Only a leading key counts: it is
    ANDed with the rest, whereas a UID key inside OR/NOT does not bound the answer.

    >>> asked_uid_ranges("UID 5:* SINCE 1-Jan-2026"), asked_uid_ranges("OR UID 1 UID 2")
    ([(5, 4294967295)], None)
    """
    found = _UID_KEY.match(criteria)
    if found is None:
        return None
    text = found.group(1).replace("*", str(commands.UID_MAX))
    return merge_ranges(parse_sequence_set(text))


def intersect_ranges(
    ranges: Sequence[tuple[int, int]], within: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The parts of ascending disjoint ``ranges`` inside ascending disjoint ``within``.

    >>> intersect_ranges([(1, 10), (20, 30)], [(5, 25)])
    [(5, 10), (20, 25)]
    """
    result: list[tuple[int, int]] = []
    i = j = 0
    while i < len(ranges) and j < len(within):
        low = max(ranges[i][0], within[j][0])
        high = min(ranges[i][1], within[j][1])
        if low <= high:
            result.append((low, high))
        if ranges[i][1] < within[j][1]:
            i += 1
        else:
            j += 1
    return result


def _claimed_by_examine(response: Untagged) -> bool:
    """EXAMINE claims every response while it runs except BYE, ALERT, STATUS events and
    responses of unknown type: EXISTS, FLAGS, UIDVALIDITY... and the QRESYNC VANISHED
    (EARLIER) and FETCH items, plus whatever came before ``[CLOSED]`` about the old folder."""
    if isinstance(response, StatusUpdate | Unknown):
        return False
    if isinstance(response, Condition):
        return response.status == "OK" and response.code_name not in {None, "ALERT"}
    return not (isinstance(response, Vanished) and not response.earlier)


__all__ = [
    "DEFAULT_WAKE",
    "IDLE_DONE_TIMEOUT",
    "IDLE_GATHER_SECONDS",
    "ImapClient",
    "ServerAddress",
    "TlsMode",
    "asked_uid_ranges",
    "default_ssl_context",
    "intersect_ranges",
]
