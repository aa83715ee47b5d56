"""Benchmark: the CPU time of storing synced batches, against bare sqlite3 inserts.

    .venv/bin/python -m benchmarks.store_batch [--messages 10000] [--batch 500] [--repeat 3]
                                               [--postgres]

What a first sync does with each batch once its headers are fetched (sync/folder.py
``FolderSyncer._prepare`` and ``_commit``), with the IMAP part left out:

* prepare: ``prepare_batch`` and ``find_message_ids`` in a read-only session;
* commit: ``record_batch``, ``add_locations`` and ``save_checkpoint`` in one transaction.

The messages come from benchmarks/mailgen.py (a third to or from records), their headers read
with ``parse_headers`` as the sync reads ``BODY.PEEK[HEADER.FIELDS (...)]``, with an EMAILID,
an INTERNALDATE, flags and a MODSEQ as Dovecot gives them; the texts of the messages to be
logged are extracted beforehand (not timed). Every number is thread CPU time
(``time.thread_time``: the GIL-holding work, not waits), the best of ``--repeat`` runs on a
fresh database each. The parsed messages are frozen out of the garbage collector
(``gc.freeze``): held all at once, they would make its full passes far longer than in a sync.

The driver's calls (execute, executemany, commit) are timed apart: on SQLite that is sqlite3's
own C work, so the rest ("python") is the time SQLAlchemy and Postroom spend in Python, what
this benchmark is about. On SQLite the floor is the very rows the pipeline stored, inserted
again into a fresh database with bare ``sqlite3`` ``executemany``, one transaction per batch.
A second pass replays every batch (a restart: all messages known) to time the other path.

The digest hashes the stored rows as the database holds them (timestamps of the write left
out), so two versions of the code can be checked for identical results: run this file from a
clone of the older version too (``PYTHONPATH=<clone>/src:<clone>``).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import mailgen
from benchmarks.database import create_database
from postroom.mail import extract_body, parse_headers, parse_message_head
from postroom.mail.classify import get_bulk_reason
from postroom.mail.types import Body, Classification, MessageKind
from postroom.pipeline import (
    IngestContext,
    MessageFacts,
    load_context,
    prepare_batch,
    record_batch,
)
from postroom.store import messages as message_store
from postroom.store import sync_state
from postroom.store.models import Activity, Base, MailMessage

TABLES = ("mail_message", "message_key", "message_participant", "activity", "message_location")
"""The tables a batch writes, in the order the floor inserts them."""

FLAGS: tuple[tuple[str, ...], ...] = ((), ("\\Seen",), ("\\Seen", "\\Answered"), ("\\Seen",))


@dataclass(frozen=True, slots=True)
class Item:
    uid: int
    facts: MessageFacts
    modseq: int
    flags: tuple[str, ...]


@dataclass(slots=True)
class Timing:
    prepare: float = 0.0
    commit: float = 0.0
    driver: float = 0.0
    """Of both, the time spent inside the driver's calls (``DriverClock``)."""

    @property
    def total(self) -> float:
        return self.prepare + self.commit

    @property
    def python(self) -> float:
        return self.total - self.driver


class DriverClock:
    """Thread CPU time spent inside the DBAPI's calls (execute, executemany, commit): for
    SQLite, sqlite3's own C work; the rest of the time is Python's (SQLAlchemy, Postroom)."""

    NAMES = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback")

    def __init__(self) -> None:
        self.spent = 0.0
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> DriverClock:
        for name in self.NAMES:
            self._saved[name] = original = getattr(DefaultDialect, name)
            setattr(DefaultDialect, name, self._timed(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            setattr(DefaultDialect, name, original)

    def _timed(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent += time.thread_time() - start

        return call


def make_items(
    generated: list[mailgen.GeneratedMessage],
) -> tuple[list[Item], dict[int, Body]]:
    """The facts the sync would have for each message, and the texts of those on records."""
    items: list[Item] = []
    bodies: dict[int, Body] = {}
    for i, g in enumerate(generated):
        head, _, body = g.raw.partition(b"\n\n")
        # mailgen's Message-IDs hold the time and the pid: fixed here, so that two runs (two
        # versions of the code) store the very same rows and can compare their digests
        headers = replace(parse_headers(head + b"\n\n"), message_id=f"<{i}@gen.example>")
        reason = get_bulk_reason(headers)
        kind = MessageKind.BULK if reason else MessageKind.CONVERSATION
        internaldate = headers.date + timedelta(seconds=30) if headers.date else None
        facts = MessageFacts(
            headers=headers,
            classification=Classification(kind, reason),
            size=len(body) + 2000,  # as the Message-ID, no time or pid
            internaldate=internaldate,
            emailid=f"M{i:016x}",
        )
        items.append(Item(i + 1, facts, 1000 + i, FLAGS[i % len(FLAGS)]))
        if g.contact:
            bodies[i] = extract_body(parse_message_head(g.raw).mime)
    return items, bodies


def run_batches(
    sessions: sessionmaker[Session],
    context: IngestContext,
    folder_id: int,
    items: list[Item],
    bodies: dict[int, Body],
    batch: int,
    message_ids: list[list[int]] | None = None,
) -> Timing:
    """Prepare and commit every batch as ``FolderSyncer`` does; CPU time of each step."""
    timing = Timing()
    clock = time.thread_time
    with DriverClock() as driver:
        for first in range(0, len(items), batch):
            part = items[first : first + batch]
            start, in_driver = clock(), driver.spent
            with sessions() as session:
                prepared = prepare_batch(
                    session=session, context=context, facts=[i.facts for i in part]
                )
                known = set(
                    message_store.find_message_ids(
                        session=session,
                        account_id=context.account_id,
                        keys=[p.message.identity_key for p in prepared],
                    )
                )
            timing.prepare += clock() - start
            texts = {
                index: bodies[first + index]
                for index, p in enumerate(prepared)
                if p.needs_body and p.message.identity_key not in known and first + index in bodies
            }
            start = clock()
            with sessions.begin() as session:
                result = record_batch(
                    session=session, context=context, prepared=prepared, bodies=texts
                )
                sync_state.add_locations(
                    session=session,
                    folder_id=folder_id,
                    uidvalidity=1,
                    rows=[
                        (i.uid, message_id, i.modseq, i.flags)
                        for i, message_id in zip(part, result.message_ids, strict=True)
                    ],
                )
                sync_state.save_checkpoint(
                    session=session, folder_id=folder_id, uidnext_seen=part[-1].uid + 1
                )
            timing.commit += clock() - start
            timing.driver += driver.spent - in_driver
            if message_ids is not None:
                message_ids.append(result.message_ids)
    return timing


def digest(sessions: sessionmaker[Session]) -> str:
    """A hash of every row the batches wrote as the database holds it (each value cast to
    text: the JSON text, the timestamp's text on SQLite), timestamps of the write left out."""
    h = hashlib.sha256()
    with sessions() as session:
        for name in (*TABLES, "mail_folder"):
            table = Base.metadata.tables[name]
            columns = [
                cast(c, Text) for c in table.columns if c.name not in ("created_at", "name_raw")
            ]
            order = list(table.primary_key.columns)
            for row in session.execute(select(*columns).order_by(*order)):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()[:16]


def time_floor(source: Path, target: Path, batches: list[list[int]]) -> float:
    """The same rows into ``target`` (a fresh migrated copy) with bare sqlite3 executemany."""
    src = sqlite3.connect(source)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    columns: dict[str, list[str]] = {}
    for name in TABLES:
        cursor = src.execute(f"SELECT * FROM {name} ORDER BY rowid")
        columns[name] = [d[0] for d in cursor.description]
        rows[name] = cursor.fetchall()
    src.close()
    batch_of = {mid: b for b, ids in enumerate(batches) for mid in ids}
    per_batch: list[dict[str, list[tuple[Any, ...]]]] = [{n: [] for n in TABLES} for _ in batches]
    for name in TABLES:
        key = columns[name].index("id" if name == "mail_message" else "message_id")
        for row in rows[name]:
            per_batch[batch_of[row[key]]][name].append(row)
    quoted = {name: ", ".join(f'"{c}"' for c in columns[name]) for name in TABLES}  # references
    statements = {
        name: f"INSERT OR IGNORE INTO {name} ({quoted[name]}) "
        f"VALUES ({', '.join('?' * len(columns[name]))})"
        for name in TABLES
    }
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    start = time.thread_time()
    for b, tables in enumerate(per_batch):
        db.execute("BEGIN IMMEDIATE")
        for name in TABLES:
            db.executemany(statements[name], tables[name])
        db.execute("UPDATE mail_folder SET uidnext_seen = ? WHERE id = 1", (b,))
        db.execute("COMMIT")
    elapsed = time.thread_time() - start
    db.close()
    return elapsed


@contextmanager
def fresh_database(
    kind: str, folder: Path, name: str, contacts: list[tuple[str, str]]
) -> Iterator[tuple[sessionmaker[Session], int, str]]:
    if kind == "sqlite":
        url = f"sqlite:///{folder / name}.db"
    else:
        from tests.support.postgres import create_database as create_pg
        from tests.support.postgres import find_or_start_postgres

        url = create_pg(find_or_start_postgres(), f"postroom_bench_{name}_{os.getpid()}")
    sessions, account_id = create_database(
        url, owner=mailgen.OWNER, username=mailgen.OWNER, contacts=contacts
    )
    try:
        yield sessions, account_id, url
    finally:
        bind = sessions.kw["bind"]
        bind.dispose()


def add_folder(sessions: sessionmaker[Session], account_id: int) -> int:
    with sessions.begin() as session:
        return sync_state.ensure_folder(
            session=session,
            account_id=account_id,
            name_raw=b"INBOX",
            name="INBOX",
            delimiter="/",
            role="inbox",
        ).id


def one_run(
    kind: str,
    folder: Path,
    run: int,
    contacts: list[tuple[str, str]],
    items: list[Item],
    bodies: dict[int, Body],
    batch: int,
) -> tuple[Timing, Timing, float | None, str, tuple[int, int]]:
    with fresh_database(kind, folder, f"run{run}", contacts) as (sessions, account_id, _):
        folder_id = add_folder(sessions, account_id)
        with sessions() as session:
            context = load_context(session=session, account_id=account_id)
        batches: list[list[int]] = []
        first = run_batches(sessions, context, folder_id, items, bodies, batch, batches)
        result = digest(sessions)
        with sessions() as session:
            counts = (
                int(session.scalar(select(func.count()).select_from(MailMessage)) or 0),
                int(session.scalar(select(func.count()).select_from(Activity)) or 0),
            )
        floor = None
        if kind == "sqlite":
            with fresh_database(kind, folder, f"floor{run}", contacts) as (floor_db, floor_id, _):
                add_folder(floor_db, floor_id)
            floor = time_floor(folder / f"run{run}.db", folder / f"floor{run}.db", batches)
        replay = run_batches(sessions, context, folder_id, items, bodies, batch)
        if digest(sessions) != result:
            print("WRONG RESULT: the replay changed the stored rows", file=sys.stderr)
    return first, replay, floor, result, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    kind = "postgresql" if args.postgres else "sqlite"

    contacts = mailgen.contact_addresses(max(10, args.messages // 20))
    print(f"generating and parsing {args.messages} messages ...", flush=True)
    generated = list(mailgen.generate(args.messages, contacts=contacts))
    items, bodies = make_items(generated)
    expected = sum(1 for g in generated if g.contact and not g.is_bulk)
    del generated
    # The parsed messages stay alive for the whole run, far more than a sync holds at once:
    # out of the collector's sight, so that its full passes do not weigh on every run.
    gc.collect()
    gc.freeze()

    best: dict[str, float] = {}

    def keep(name: str, value: float | None) -> None:
        if value is not None:
            best[name] = min(best.get(name, value), value)

    digests: set[str] = set()
    counts: tuple[int, int] = (0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            first, replay, floor, result, counts = one_run(
                kind, Path(tmp), run, contacts, items, bodies, args.batch
            )
            digests.add(result)
            keep("prepare", first.prepare)
            keep("commit", first.commit)
            keep("total", first.total)
            keep("replay", replay.total)
            keep("driver", first.driver)
            keep("python", first.python)
            keep("floor", floor)

    n = len(items)

    def us(name: str) -> str:
        return f"{best[name] / n * 1e6:7.1f} µs/msg"

    def line(label: str, value: str) -> None:
        print(f"  {label:53}{value}")

    print(f"{kind}, {n} messages in batches of {args.batch}, best of {args.repeat}:")
    driver = "sqlite3's C code" if kind == "sqlite" else "psycopg's own work"
    line("prepare  (prepare_batch + find_message_ids)", us("prepare"))
    line("commit   (record_batch + add_locations + checkpoint)", us("commit"))
    line("total    first sync", us("total"))
    line(f"  in the driver's calls ({driver})", us("driver"))
    line("  python: total less the driver's calls", us("python"))
    line("replay   every message known", us("replay"))
    if "floor" in best:
        line("floor    bare sqlite3 executemany of the same rows", us("floor"))
        line("ratio    total / floor", f"{best['total'] / best['floor']:7.2f}")
    print(f"  stored   {counts[0]} messages, {counts[1]} activities; digest {' '.join(digests)}")
    if counts != (n, expected) or len(digests) != 1:
        print(f"WRONG RESULT: expected {n} messages and {expected} activities", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
