"""A small TCP proxy with fault controls, to put between a client under test and Dovecot.

It runs an asyncio loop in a daemon thread. Point the client at ``proxy.host``/``proxy.port``;
each accepted connection gets its own connection to the target, and bytes are pumped both ways.
Every control call is carried out in the proxy's loop and has taken effect when it returns, so a
test needs no sleeps to be sure a fault is armed::

    with TcpProxy(dovecot.host, dovecot.port) as proxy:
        ... client connects to proxy.port, logs in, selects ...
        proxy.cut_after_server_bytes(1000)   # the next 1000 bytes reach the client, then EOF
        ... client's FETCH fails mid-response ...

Faults: :meth:`cut_after_server_bytes` / :meth:`cut_after_client_bytes` (a cut at an exact
byte), :meth:`cut_all` (drop every open connection now, with FIN or with RST),
:meth:`stall` / :meth:`resume` (hold every byte for a while), :meth:`refuse_new` (stop listening:
new connects get ECONNREFUSED; open ones go on). Counters: ``connections_accepted``,
``connections_open``, ``bytes_to_server``, ``bytes_to_client``. :meth:`client_bytes` is what each
client sent (e.g. to check that it never sent a command the server did not advertise).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
_CHUNK = 65536
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass
class _Conn:
    index: int
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    sent_by_client: bytearray = field(default_factory=bytearray)
    sent_by_server: bytearray = field(default_factory=bytearray)
    closed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _is_closed(conn: _Conn) -> bool:
    return conn.closed


@dataclass
class _Cut:
    remaining: int
    connection: int | None  # accept index, or None for whichever connection gets there


class TcpProxy:
    """See the module docstring. ``record_server=True`` also keeps what the server sent."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        record_server: bool = False,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.record_server = record_server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[int, _Conn] = {}
        self._all: list[_Conn] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self._flowing: asyncio.Event | None = None
        self._resume_handle: asyncio.TimerHandle | None = None
        self._cut_down: _Cut | None = None  # server -> client
        self._cut_up: _Cut | None = None  # client -> server
        self._lock = threading.Lock()
        self.connections_accepted = 0
        self.bytes_to_server = 0
        self.bytes_to_client = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        if self._loop is not None:
            raise RuntimeError("proxy already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="tcpproxy", daemon=True)
        self._thread.start()
        self._call(self._setup())
        return self

    def stop(self) -> None:
        """Close the listener and every connection, end the loop thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            self._call(self._shutdown())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        self._loop = None
        self._thread = None

    def __enter__(self) -> TcpProxy:
        return self.start() if self._loop is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("proxy is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _setup(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen(self.port)

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, port, reuse_address=True, limit=_CHUNK
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._cut_all(reset=False)
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    # -- faults --------------------------------------------------------------------------------

    def cut_after_server_bytes(self, n: int, *, connection: int | None = None) -> None:
        """Once ``n`` more bytes have gone server->client (on connection number ``connection``,
        0-based in accept order, or on any), forward exactly those and close both sides."""
        self._call(self._arm(n, connection, down=True))

    def cut_after_client_bytes(self, n: int, *, connection: int | None = None) -> None:
        """The same for client->server bytes (a cut in the middle of a command or APPEND)."""
        self._call(self._arm(n, connection, down=False))

    async def _arm(self, n: int, connection: int | None, *, down: bool) -> None:
        if n < 0:
            raise ValueError("n must be >= 0")
        cut = _Cut(n, connection)
        if down:
            self._cut_down = cut
        else:
            self._cut_up = cut

    def cut_all(self, *, reset: bool = False) -> int:
        """Drop every open connection now (both sides; ``reset=True`` sends RST, not FIN).
        Returns how many were cut."""
        return self._call(self._cut_all(reset=reset))

    async def _cut_all(self, *, reset: bool) -> int:
        open_conns = [c for c in self._conns.values() if not c.closed]
        for conn in open_conns:
            self._close(conn, reset=reset)
        return len(open_conns)

    def stall(self, seconds: float | None = None) -> None:
        """Stop forwarding in both directions (bytes wait in the proxy) for ``seconds``, or
        until :meth:`resume` when ``None``. Connections stay open; new ones are accepted."""
        self._call(self._stall(seconds))

    async def _stall(self, seconds: float | None) -> None:
        assert self._flowing is not None
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        self._flowing.clear()
        if seconds is not None:
            self._resume_handle = asyncio.get_running_loop().call_later(seconds, self._flowing.set)

    def resume(self) -> None:
        """End a stall now."""
        self._call(self._resume())

    async def _resume(self) -> None:
        assert self._flowing is not None
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        self._flowing.set()

    def refuse_new(self, refuse: bool = True) -> None:
        """``True``: close the listening socket, so connects fail with ECONNREFUSED (open
        connections go on). ``False``: listen again on the same port."""
        self._call(self._refuse(refuse))

    async def _refuse(self, refuse: bool) -> None:
        if refuse and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif not refuse and self._server is None:
            await self._listen(self.port)

    # -- observing -----------------------------------------------------------------------------

    @property
    def connections_open(self) -> int:
        with self._lock:
            return sum(1 for c in self._all if not c.closed)

    def client_bytes(self) -> list[bytes]:
        """What each client sent, one entry per accepted connection, in accept order."""
        with self._lock:
            return [bytes(c.sent_by_client) for c in self._all]

    def server_bytes(self) -> list[bytes]:
        """What the server sent to each client (only with ``record_server=True``)."""
        with self._lock:
            return [bytes(c.sent_by_server) for c in self._all]

    def wait_for_connections(self, n: int, timeout: float = 5.0) -> None:
        """Block until at least ``n`` connections were accepted in all."""
        deadline = time.monotonic() + timeout
        while self.connections_accepted < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.connections_accepted} connections, expected {n}")
            time.sleep(0.005)

    # -- the pumps -----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        with self._lock:
            conn = _Conn(self.connections_accepted, writer)
            self.connections_accepted += 1
            self._all.append(conn)
        self._conns[conn.index] = conn
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port, limit=_CHUNK
                )
            except OSError:
                self._close(conn, reset=True)
                return
            conn.server = up_writer
            if conn.closed:  # cut while we were connecting
                up_writer.close()
                return
            conn.tasks = [
                asyncio.create_task(self._pump(conn, reader, up_writer, down=False)),
                asyncio.create_task(self._pump(conn, up_reader, writer, down=True)),
            ]
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            self._close(conn, reset=False)
        finally:
            for w in (conn.client, conn.server):
                if w is not None:
                    with contextlib.suppress(Exception):
                        await w.wait_closed()
            self._handlers.discard(task)

    async def _pump(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        down: bool,
    ) -> None:
        assert self._flowing is not None
        try:
            while not conn.closed:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                await self._flowing.wait()
                if _is_closed(conn):  # cut while this chunk waited
                    break
                cut = self._cut_down if down else self._cut_up
                cutting = False
                if cut is not None and cut.connection in (None, conn.index):
                    if len(data) >= cut.remaining:
                        data = data[: cut.remaining]
                        cutting = True
                        if down:
                            self._cut_down = None
                        else:
                            self._cut_up = None
                    else:
                        cut.remaining -= len(data)
                with self._lock:
                    if down:
                        self.bytes_to_client += len(data)
                        if self.record_server:
                            conn.sent_by_server += data
                    else:
                        self.bytes_to_server += len(data)
                        conn.sent_by_client += data
                if data:
                    writer.write(data)
                    await writer.drain()
                if cutting:
                    self._close(conn, reset=False)
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self._close(conn, reset=False)

    def _close(self, conn: _Conn, *, reset: bool) -> None:
        """Close both sides: FIN after the already written bytes are flushed, or RST."""
        if conn.closed:
            return
        with self._lock:
            conn.closed = True
        self._conns.pop(conn.index, None)
        for w in (conn.client, conn.server):
            if w is None:
                continue
            if reset:
                sock = w.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                w.transport.abort()
            else:
                w.close()
        current = asyncio.current_task()
        for task in conn.tasks:
            if task is not current:
                task.cancel()
