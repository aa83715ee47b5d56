"""Backend behaviour the sync engine relies on."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from postroom.store.db import reading
from postroom.store.models import InternalDomain


def test_two_units_of_work_that_read_then_write_at_once_both_commit(session_factory):
    """Two folders' batches commit concurrently: each reads first, then writes. On SQLite a
    deferred transaction would fail with "database is locked"; both must simply queue."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def unit(name: str) -> None:
        try:
            with session_factory.begin() as session:
                start.wait(timeout=5)
                session.scalar(select(func.count()).select_from(InternalDomain))
                time.sleep(0.2)
                session.add(InternalDomain(domain=f"{name}.example"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=unit, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(InternalDomain)) == 2


def test_a_reading_unit_of_work_neither_waits_for_a_writer_nor_sees_its_rows(session_factory):
    """Matching a batch (a read) goes on while another batch commits (a write in progress)."""
    writing = threading.Event()
    done = threading.Event()

    def writer() -> None:
        with session_factory.begin() as session:
            session.add(InternalDomain(domain="late.example"))
            session.flush()
            writing.set()
            done.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        with reading(session_factory) as session:
            seen = session.scalar(select(func.count()).select_from(InternalDomain))
        assert time.monotonic() - started < 1.0  # not the 30 s busy timeout
        assert seen == 0
    finally:
        done.set()
        thread.join(30)
    with reading(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(InternalDomain)) == 1
