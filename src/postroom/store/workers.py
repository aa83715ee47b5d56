"""Queries for the heartbeat of running sync workers (``sync_worker``).

Every function takes keyword-only ``*, session`` and never commits: the caller owns the
transaction.

Invariants:

* A worker's row is written when it starts, its ``seen_at`` moved on at every heartbeat, and
  the row deleted when it stops cleanly; a worker that was killed leaves a row that stops being
  seen, and it is deleted by the next worker that starts once ``FORGET_AFTER`` has passed.
* A worker is running when it was seen within twice its own ``beat_every``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from postroom.store.models import SyncWorker, utcnow

FORGET_AFTER = timedelta(days=7)
"""How long the row of a worker that was not stopped cleanly is kept."""


def start_worker(*, session: Session, host: str, pid: int, beat_every: float) -> int:
    """A row for a worker starting now; forgets long-gone workers. Returns its id."""
    session.execute(delete(SyncWorker).where(SyncWorker.seen_at < utcnow() - FORGET_AFTER))
    now = utcnow()
    row = SyncWorker(host=host, pid=pid, started_at=now, seen_at=now, beat_every=beat_every)
    session.add(row)
    session.flush()
    return row.id


def beat_worker(*, session: Session, worker_id: int) -> bool:
    """The worker is alive now; False when its row is gone (it is then started again)."""
    done = session.execute(
        update(SyncWorker).where(SyncWorker.id == worker_id).values(seen_at=utcnow())
    )
    return bool(getattr(done, "rowcount", 0))


def end_worker(*, session: Session, worker_id: int) -> None:
    session.execute(delete(SyncWorker).where(SyncWorker.id == worker_id))


def list_running_workers(*, session: Session, now: datetime | None = None) -> list[SyncWorker]:
    """The workers seen within twice their heartbeat interval, the longest running first."""
    now = now or utcnow()
    rows = session.scalars(select(SyncWorker).order_by(SyncWorker.started_at, SyncWorker.id))
    return [r for r in rows if r.seen_at >= now - timedelta(seconds=2 * r.beat_every)]
