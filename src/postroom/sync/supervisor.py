"""Every account, around the clock: one task per account, restarted when its settings change.

The supervisor reloads the account list every ``refresh_every`` seconds, and at least as often
as the folders are reconciled (docs/sync.md, "Push and reconcile"): new accounts start,
removed or disabled ones stop, and an account whose login changed (a new password after an
authentication failure, another host, port, TLS mode or user name) is restarted with it. What
the sync reads from the database at every batch (visibility, addresses, records) needs no
restart, and the tracked folders are re-read by each account at its reconcile. Accounts never
block each other: each runs ``AccountSyncer.run`` in its own task, which never raises for IMAP
trouble.

While it runs, the supervisor writes a heartbeat (``store.workers``) at the same interval, in a
task of its own so that stopping an account never delays it; ``postroom status`` reads it to
say whether a worker is running. The row is deleted when the supervisor stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from postroom.store import workers
from postroom.sync.account import AccountLogin, AccountSyncer, Connect
from postroom.sync.database import run_db

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Running:
    login: AccountLogin
    stop: asyncio.Event
    task: asyncio.Task[None]


async def run_supervisor(
    *,
    load_logins: Callable[[], list[AccountLogin]],
    sessions: sessionmaker[Session],
    stop: asyncio.Event,
    refresh_every: float = 60.0,
    connect: Connect | None = None,
    reconcile_every: float = 600.0,
) -> None:
    """Run until ``stop`` is set, then stop every account cleanly (IDLE ended, logged out)."""
    running: dict[int, _Running] = {}
    refresh_every = min(refresh_every, reconcile_every)
    heartbeat = _Heartbeat(sessions, refresh_every)
    await run_db(heartbeat.start)
    beating = asyncio.create_task(heartbeat.run(stop), name="heartbeat")

    def start(login: AccountLogin) -> None:
        account_stop = asyncio.Event()
        syncer = AccountSyncer(login=login, sessions=sessions, reconcile_every=reconcile_every)
        if connect is not None:
            syncer.connect = connect
        task = asyncio.create_task(syncer.run(account_stop), name=f"account-{login.account_id}")
        running[login.account_id] = _Running(login, account_stop, task)
        log.info("account #%s %s: watching", login.account_id, login.label)

    async def halt(account_id: int) -> None:
        entry = running.pop(account_id)
        entry.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(entry.task, timeout=30)

    try:
        while not stop.is_set():
            logins = {login.account_id: login for login in await run_db(load_logins)}
            for account_id in [a for a in running if a not in logins]:
                await halt(account_id)
            for account_id, login in logins.items():
                entry = running.get(account_id)
                if entry is not None and (entry.login != login or entry.task.done()):
                    _log_end(entry)
                    await halt(account_id)
                    entry = None
                if entry is None:
                    start(login)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=refresh_every)
    finally:
        for account_id in list(running):
            await halt(account_id)
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        with contextlib.suppress(Exception):  # a stop must not fail for the heartbeat's sake
            await run_db(heartbeat.end)


def _log_end(entry: _Running) -> None:
    """An account's task that ended by itself is logged (``run`` records every error it can;
    one it could not, such as a database that refused the record, is said here)."""
    task = entry.task
    if task.done() and not task.cancelled() and task.exception() is not None:
        log.error(
            "account #%s %s: its sync stopped on an error; restarting it",
            entry.login.account_id,
            entry.login.label,
            exc_info=task.exception(),
        )


class _Heartbeat:
    """This process's ``sync_worker`` row: written at start, seen every ``every`` seconds,
    deleted at the end."""

    def __init__(self, sessions: sessionmaker[Session], every: float) -> None:
        self.sessions = sessions
        self.every = every
        self.worker_id: int | None = None

    def start(self) -> None:
        with self.sessions.begin() as session:
            self.worker_id = workers.start_worker(
                session=session, host=socket.gethostname(), pid=os.getpid(), beat_every=self.every
            )

    def beat(self) -> None:
        assert self.worker_id is not None
        with self.sessions.begin() as session:
            alive = workers.beat_worker(session=session, worker_id=self.worker_id)
        if not alive:  # the row was deleted under us (a new database, a cleanup): again
            self.start()

    def end(self) -> None:
        if self.worker_id is not None:
            with self.sessions.begin() as session:
                workers.end_worker(session=session, worker_id=self.worker_id)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
            if stop.is_set():
                return
            try:
                await run_db(self.beat)
            except Exception as exc:  # the database was busy or away: the next beat tries again
                log.warning("the worker's heartbeat could not be written (%s); trying again", exc)
