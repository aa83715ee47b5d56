"""Backend behaviour the sync engine relies on."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

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
