"""Benchmark: push latency, from another client's APPEND until the activity is committed, against
the bare IDLE latency of the same server in the same run.

    .venv/bin/python -m benchmarks.push_latency [--trials 50]

A private Dovecot (tests/support/dovecot.py) and a fresh SQLite database with one record. Two
watchers, each on the INBOX of its own mail user of that server:

* bare: a minimal blocking client in IDLE that timestamps each ``* n EXISTS`` line;
* Postroom: ``AccountSyncer.run`` (the worker's code) in IDLE, which on the push fetches the
  message, matches it and commits its activity; the benchmark polls the database every 2 ms.

Each trial APPENDs one message from the record's address to the bare watcher's INBOX and, once
its EXISTS is in, one to Postroom's, through other connections (stdlib imaplib), and measures
each latency from the moment just before its APPEND. Dovecot itself waits about 0.5 s before
it notifies (a timer started by the first change to the folder's files), which is in both
figures. The users are separate because a shared INBOX skews the baseline: Postroom's fetch
writes Dovecot's cache files, which starts that timer early for the bare watcher, so about half
of its EXISTS came 0.3 s "early" (measured: p50 0.19 s, others 0.50 s). It prints p50 and p99
of each and the differences; targets: p50 at most 0.1 s above bare IDLE, p99 at most 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import func, select
from tests.support.dovecot import DovecotServer, MailUser

from benchmarks.database import create_database
from postroom.imap import ServerAddress
from postroom.store.models import (
    Activity,
    TlsMode,
)
from postroom.sync.account import AccountLogin, AccountSyncer

OWNER = "robin@firm.example"
CONTACT = "anna@acme.example"


class BareIdler(threading.Thread):
    """The least a client can do: LOGIN, SELECT, IDLE, and note when EXISTS arrives."""

    def __init__(self, server: DovecotServer, user: MailUser) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", server.port))
        self.file = self.sock.makefile("rb")
        self.file.readline()
        for command in (
            f'a LOGIN "{user.username}" "{user.password}"'.encode(),
            b"b SELECT INBOX",
        ):
            self.sock.sendall(command + b"\r\n")
            while not self.file.readline().startswith(command[:2]):
                pass
        self.sock.sendall(b"c IDLE\r\n")
        self.file.readline()  # "+ idling"
        self.exists_at: list[tuple[int, float]] = []
        """``(message count, when)`` of each ``* n EXISTS``."""

    def run(self) -> None:
        for line in self.file:
            words = line.split()
            if len(words) == 3 and words[0] == b"*" and words[2] == b"EXISTS":
                self.exists_at.append((int(words[1]), time.monotonic()))

    def first_exists(self, count: int, after: float) -> float | None:
        """When the server first said the folder holds ``count`` messages (or more)."""
        return next((t for n, t in list(self.exists_at) if n >= count and t >= after), None)


def make_mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CONTACT, OWNER, f"push {i}"
    msg["Date"] = format_datetime(__import__("datetime").datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain="acme.example")
    msg.set_content(f"Trial {i}: could we talk tomorrow?\n")
    return msg.as_bytes()


def set_up(folder: Path, server: DovecotServer, user: MailUser) -> tuple[object, AccountLogin]:
    sessions, account_id = create_database(
        f"sqlite:///{folder / 'push.db'}",
        owner=OWNER,
        username=user.username,
        contacts=[("Anna", CONTACT)],
        imap_port=server.port,
    )
    login = AccountLogin(
        account_id,
        "push",
        ServerAddress("127.0.0.1", server.port, TlsMode.PLAIN, allow_plaintext=True),
        user.username,
        user.password,
    )
    return sessions, login


def count_activities(sessions: object) -> int:
    with sessions() as session:  # type: ignore[operator]
        return int(session.scalar(select(func.count()).select_from(Activity)) or 0)


async def run_trials(
    server: DovecotServer,
    users: tuple[MailUser, MailUser],
    sessions: object,
    login: AccountLogin,
    trials: int,
) -> tuple[list[float], list[float]]:
    bare_user, user = users
    stop = asyncio.Event()
    worker = asyncio.create_task(
        AccountSyncer(login=login, sessions=sessions).run(stop)  # type: ignore[arg-type]
    )
    appender = imaplib.IMAP4("127.0.0.1", server.port)
    appender.login(user.username, user.password)
    bare_appender = imaplib.IMAP4("127.0.0.1", server.port)
    bare_appender.login(bare_user.username, bare_user.password)
    bare = BareIdler(server, bare_user)
    bare.start()
    await asyncio.sleep(1.5)  # both watchers in IDLE
    bare_latency: list[float] = []
    postroom_latency: list[float] = []
    try:
        for i in range(trials):
            start = time.monotonic()
            await asyncio.to_thread(bare_appender.append, "INBOX", "", None, make_mail(i))
            while (seen_at := bare.first_exists(i + 1, start)) is None:
                await asyncio.sleep(0.002)
            bare_latency.append(seen_at - start)
            await asyncio.sleep(0.3)
            before = count_activities(sessions)
            start = time.monotonic()
            await asyncio.to_thread(appender.append, "INBOX", "", None, make_mail(i))
            while count_activities(sessions) == before:
                await asyncio.sleep(0.002)
            postroom_latency.append(time.monotonic() - start)
            await asyncio.sleep(0.3)  # let it go back to IDLE
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        appender.logout()
        bare_appender.logout()
    return bare_latency, postroom_latency


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("runs a private Dovecot: run as root, as the tests do", file=sys.stderr)
        return 2
    with DovecotServer() as server, tempfile.TemporaryDirectory() as tmp:
        bare_user, user = server.add_user(), server.add_user()
        sessions, login = set_up(Path(tmp), server, user)
        bare, ours = asyncio.run(
            run_trials(server, (bare_user, user), sessions, login, args.trials)
        )
    for name, values in (("bare IDLE EXISTS", bare), ("postroom activity", ours)):
        print(
            f"{name:18}  p50 {percentile(values, 0.5):.3f} s  p99 {percentile(values, 0.99):.3f} s"
            f"  mean {statistics.mean(values):.3f} s  ({len(values)} trials)"
        )
    p50_gap = percentile(ours, 0.5) - percentile(bare, 0.5)
    print(f"p50 above bare IDLE  {p50_gap:+.3f} s  (target <= +0.100 s)")
    print(f"p99 of postroom      {percentile(ours, 0.99):.3f} s  (target <= 1.000 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
