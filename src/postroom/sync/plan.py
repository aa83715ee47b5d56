"""What to do with a folder, decided from its checkpoint and what EXAMINE returned. Pure.

The checkpoint (docs/sync.md, "Invariants"): every UID < ``uidnext_seen`` was processed; every
UID in [``backfill_low``, ``uidnext_seen``) was processed; ``backfill_low == 1`` means the
history is done. New mail is taken at the top (UID >= uidnext_seen); history newest first,
walking ``backfill_low`` down in bounded batches, each committed with its cursor.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from postroom.imap.responses import merge_ranges


def uidnext_after(uids: Iterable[int]) -> int:
    """The ``uidnext_seen`` once ``uids`` are processed: one past the highest of them.

    The one place the live edge moves from UIDs taken; a search for new mail then asks for
    ``UID {uidnext_seen}:{UID_MAX}`` (``UID_MAX``, the largest UID of RFC 9051 section
    2.3.1.1: unlike ``n:*``, it never gives back the last UID when nothing is new).

    >>> uidnext_after([7, 12, 9])
    13
    """
    return max(uids) + 1


class FolderOpening(enum.Enum):
    FIRST_SYNC = "first_sync"  # never synced: start the live edge at UIDNEXT, backfill below
    RESET = "reset"  # UIDVALIDITY changed: unlink every old location, re-list, re-link by identity
    RESUME = "resume"  # same UIDVALIDITY: continue from the checkpoint


@dataclass(frozen=True, slots=True)
class FolderPosition:
    """The checkpoint values the plan needs (None: never synced)."""

    uidvalidity: int | None
    uidnext_seen: int | None
    backfill_low: int | None
    highestmodseq: int | None
    modseq_at_backfill: int | None


@dataclass(frozen=True, slots=True)
class ServerView:
    """What EXAMINE said about the folder."""

    uidvalidity: int
    uidnext: int | None
    exists: int
    highestmodseq: int | None
    vanished: tuple[tuple[int, int], ...] = ()
    used_qresync: bool = False


@dataclass(frozen=True, slots=True)
class FolderPlan:
    opening: FolderOpening
    start: dict[str, int | None] = field(default_factory=dict)
    """Checkpoint values to write first (FIRST_SYNC and RESET), in their own transaction."""
    uidnext_seen: int = 1
    backfill_low: int = 1
    vanished: tuple[tuple[int, int], ...] = ()
    """UID ranges to unlink (QRESYNC VANISHED (EARLIER)); only on RESUME."""
    has_new_mail: bool = True
    """False when UIDNEXT proves nothing arrived since the checkpoint."""


def plan_folder(position: FolderPosition, view: ServerView) -> FolderPlan:
    """Decide how to open the folder.

    On FIRST_SYNC and RESET the live edge starts at UIDNEXT (everything below is history) and
    the HIGHESTMODSEQ read now is kept for when the backfill ends, so changes made during the
    backfill are seen by the first CHANGEDSINCE after it (docs/sync.md, "Invariants",
    HIGHESTMODSEQ).
    """
    if position.uidvalidity is None or position.uidvalidity != view.uidvalidity:
        edge = view.uidnext if view.uidnext is not None else 1
        start: dict[str, int | None] = {
            "uidvalidity": view.uidvalidity,
            "uidnext_seen": edge,
            "backfill_low": edge,
            "modseq_at_backfill": view.highestmodseq,
            "highestmodseq": None,
        }
        opening = FolderOpening.FIRST_SYNC if position.uidvalidity is None else FolderOpening.RESET
        return FolderPlan(opening, start, edge, edge, (), view.uidnext is None)
    seen = position.uidnext_seen or 1
    has_new = view.uidnext is None or view.uidnext > seen
    return FolderPlan(
        FolderOpening.RESUME,
        {},
        seen,
        position.backfill_low if position.backfill_low is not None else seen,
        view.vanished if view.used_qresync else (),
        has_new,
    )


def plan_batches(uids: Sequence[int], size: int, *, newest_first: bool) -> list[list[int]]:
    """Split UIDs into batches of at most ``size``; history newest first, new mail oldest first
    (so each committed batch can move its cursor monotonically)."""
    ordered = sorted(set(uids), reverse=newest_first)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def iter_history(ranges: Sequence[tuple[int, int]], size: int) -> Iterator[list[int]]:
    """The UIDs of ``ranges`` (ascending, disjoint) in batches of at most ``size``, newest
    first, as ``plan_batches(..., newest_first=True)`` makes them, but one at a time: the
    history of a 100,000-message folder never exists as one list."""
    batch: list[int] = []
    for low, high in reversed(ranges):
        uid = high
        while uid >= low:
            take = min(size - len(batch), uid - low + 1)
            batch.extend(range(uid, uid - take, -1))
            uid -= take
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def count_batches(ranges: Sequence[tuple[int, int]], size: int) -> int:
    """How many batches ``iter_history`` makes."""
    return -(-sum(high - low + 1 for low, high in ranges) // size)


def needs_expunge_check(*, exists: int, linked: int, used_qresync: bool) -> bool:
    """Without QRESYNC, an expunge shows as fewer messages than we have linked: UIDs are never
    reused, so an arrival cannot hide an expunge once new mail is processed (docs/sync.md,
    "Folder states")."""
    return not used_qresync and exists != linked


def find_missing(
    linked: Iterable[int], on_server: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The linked UIDs (ascending) the server no longer has (``on_server``: ascending,
    disjoint ranges), as (low, high) ranges of consecutive UIDs. One merge walk: no set of
    every UID, so a 100,000-message folder costs no more memory than a small one."""
    gone: list[int] = []
    ranges = iter(on_server)
    current = next(ranges, None)
    for uid in linked:
        while current is not None and current[1] < uid:
            current = next(ranges, None)
        if current is None or uid < current[0]:
            gone.append(uid)
    return compress_ranges(gone)


def find_untaken(
    on_server: Sequence[tuple[int, int]], linked: Sequence[int], skip: Container[int]
) -> list[int]:
    """The UIDs the server has (ascending, disjoint ranges) that are neither linked (an
    ascending sequence) nor in ``skip`` (quarantined for good): messages a sync missed."""
    missed: list[int] = []
    position = 0
    for low, high in on_server:
        uid = low
        while uid <= high:
            while position < len(linked) and linked[position] < uid:
                position += 1
            if position < len(linked) and linked[position] == uid:
                uid += 1  # taken
                continue
            stop = linked[position] - 1 if position < len(linked) else high
            missed += (u for u in range(uid, min(stop, high) + 1) if u not in skip)
            uid = min(stop, high) + 1
    return missed


def compress_ranges(uids: Sequence[int]) -> list[tuple[int, int]]:
    """``[1, 2, 3, 7, 9, 10]`` -> ``[(1, 3), (7, 7), (9, 10)]``."""
    return merge_ranges((uid, uid) for uid in uids)
