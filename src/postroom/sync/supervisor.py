"""Every account, around the clock: one task per account, restarted when its settings change.

The supervisor reloads the account list every ``refresh_every`` seconds: new accounts start,
removed or disabled ones stop, and an account whose login changed (a new password after an
authentication failure, another host) is restarted with it. Accounts never block each other:
each runs ``AccountSyncer.run`` in its own task, which never raises for IMAP trouble.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

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

    def start(login: AccountLogin) -> None:
        account_stop = asyncio.Event()
        syncer = AccountSyncer(login=login, sessions=sessions, reconcile_every=reconcile_every)
        if connect is not None:
            syncer.connect = connect
        task = asyncio.create_task(syncer.run(account_stop), name=f"account-{login.account_id}")
        running[login.account_id] = _Running(login, account_stop, task)
        log.info("account %s (%s): watching", login.account_id, login.label)

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
                    await halt(account_id)
                    entry = None
                if entry is None:
                    start(login)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=refresh_every)
    finally:
        for account_id in list(running):
            await halt(account_id)
