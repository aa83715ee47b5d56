"""A proxy in front of the real Dovecot that answers some commands itself, as a hostile or
broken server would, and may rewrite what the server says.

It runs its own asyncio loop in a daemon thread (like ``tcpproxy.TcpProxy``), so it serves a
sync run by ``asyncio.run`` as well as a CLI command. Both directions are pumped line by line
(a literal's lines too: nothing is parsed beyond the line)::

    with HostileProxy(dovecot.port) as proxy:
        proxy.answer = lambda tag, line: ...   # bytes to send instead of forwarding, or None
        proxy.rewrite = lambda line: ...       # a server line as the client gets it

``answer(tag, line)`` gets each command line the client sends (``b"A0007"``,
``b"A0007 UID FETCH 1:12 (...)\\r\\n"``); what it returns goes to the client instead, and the
command never reaches Dovecot. ``fetched_uids`` parses the UID set of a ``UID FETCH``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from types import TracebackType

Answer = Callable[[bytes, bytes], bytes | None]
Rewrite = Callable[[bytes], bytes]

_LIMIT = 1 << 26
_UID_FETCH = re.compile(rb"^\S+ UID FETCH ([0-9:,*]+) ", re.IGNORECASE)


def fetched_uids(line: bytes) -> set[int] | None:
    """The UIDs a ``UID FETCH`` line asks for (``*`` as 2**32 - 1), None for another line."""
    match = _UID_FETCH.match(line)
    if match is None:
        return None
    uids: set[int] = set()
    for part in match.group(1).decode().split(","):
        low, _, high = part.partition(":")
        first = int(low.replace("*", "4294967295"))
        last = int(high.replace("*", "4294967295")) if high else first
        if last - first > 100_000:
            uids.update({first, last})  # a range this wide only matters at its ends here
        else:
            uids.update(range(min(first, last), max(first, last) + 1))
    return uids


class HostileProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        self.answer: Answer | None = None
        self.rewrite: Rewrite | None = None
        self.answered: list[bytes] = []
        """Every command line answered by ``answer`` instead of Dovecot."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    def __enter__(self) -> HostileProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.sleep(0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            self.target_host, self.target_port, limit=_LIMIT
        )
        self._writers += [writer, up_writer]
        down = asyncio.create_task(self._pump_down(up_reader, writer))
        try:
            while line := await reader.readline():
                tag = line.split(b" ", 1)[0]
                reply = self.answer(tag, line) if self.answer is not None else None
                if reply is None:
                    up_writer.write(line)
                else:
                    self.answered.append(line)
                    writer.write(reply)
                await writer.drain()
                await up_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            down.cancel()
            for each in (writer, up_writer):
                each.transport.abort()

    async def _pump_down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(self.rewrite(line) if self.rewrite is not None else line)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
