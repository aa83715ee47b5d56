"""One folder, one cycle: EXAMINE, then new mail, history and expunges, each batch committed
with its checkpoint (docs/sync.md: "Invariants", "Folder states", "The safety net").

Invariants:

* Read-only: EXAMINE and BODY.PEEK only; the server's flags are never changed.
* Every batch (messages, locations, activities, quarantine rows) is written in ONE transaction
  together with the checkpoint that covers it, so a crash anywhere leaves either both or
  neither; a replay is a no-op thanks to the unique keys.
* Text is fetched only for messages that will be logged and are not known yet, and only the
  chosen text part, capped by a partial fetch.
* A message that cannot be parsed is quarantined (folder, UIDVALIDITY, UID, error) and the
  cursor moves on past it: one bad message never blocks the folder. It is tried again at a
  later cycle (``store.messages.next_retry_at``), a few times, unless released.
* An error that ends the connection (lost, BYE, or a protocol error the client cannot read
  past) never quarantines anything by itself: the cycle ends as for a lost connection and the
  batch is taken again on a new one, its messages fetched alone; only a message that fails
  again on its own is quarantined (docs/sync.md, "Quarantine").
* Delivery reports are read from a capped prefix, a bounded batch at a time, and parsed off the
  event loop: a sender posing as a mailer daemon costs at most ``REPORT_FETCH_BYTES``.
* HIGHESTMODSEQ is stored only once the history is complete (the value read when the backfill
  began), and after that only from EXAMINE, never from FETCH items as they arrive.
* The database is synchronous: every call to it runs on a database thread (``sync.database``)
  so the event loop keeps serving IDLE and other accounts.
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain, islice
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from postroom.imap import UID_MAX, CommandFailed, ConnectionLost, ImapClient, ImapError
from postroom.mail.structure import TEXT_FETCH_BYTES
from postroom.mail.types import Body, MessageFacts
from postroom.pipeline import (
    IngestContext,
    PreparedMessage,
    complete_pending_activities,
    load_context,
    prepare_batch,
    record_batch,
)
from postroom.store import activities as activity_store
from postroom.store import messages as message_store
from postroom.store import sync_state
from postroom.store.db import reading
from postroom.store.models import FolderState, utcnow
from postroom.sync.database import run_db
from postroom.sync.plan import (
    FolderOpening,
    FolderPosition,
    ServerView,
    count_batches,
    find_missing,
    find_untaken,
    iter_history,
    needs_expunge_check,
    plan_batches,
    plan_folder,
    uidnext_after,
)
from postroom.sync.pool import ReadingPool, get_pool
from postroom.sync.reading import (
    REPORT_FETCH_BYTES,
    Fetched,
    Heads,
    plan_report_batches,
    plan_texts,
    read_heads,
    read_reports,
    read_texts,
)

log = logging.getLogger(__name__)

HEADER_FIELDS = (
    "FROM TO CC BCC SENDER REPLY-TO DATE SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES "
    "LIST-ID LIST-UNSUBSCRIBE PRECEDENCE AUTO-SUBMITTED CONTENT-TYPE"
)
HEADER_ITEM = f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"
FULL_CHECK_EVERY = timedelta(hours=24)
"""How often every UID on the server is compared with what is linked (the safety net)."""
IN_FLIGHT = 3
"""Batches gathered at once: the steps of one wait on the server, a worker or the database,
and the others use that time."""
PENDING_PER_CYCLE = 200
"""Texts of after-the-fact activities fetched per cycle: a big backlog drains over cycles."""
RETRIES_PER_CYCLE = 50
"""Quarantined messages tried again per cycle (each is fetched alone)."""


@dataclass(slots=True)
class FolderReport:
    """What one cycle did to one folder."""

    folder: str
    opening: FolderOpening | None = None
    fetched: int = 0
    messages_new: int = 0
    activities_created: int = 0
    unlinked: int = 0
    missed: int = 0
    """Messages below the checkpoint found unsynced by the daily full check, and taken."""
    quarantined: int = 0
    server_count: int = 0
    backfill_done: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Read:
    """A batch gathered ahead of its turn (see ``_process_batches``)."""

    uids: list[int]
    suspects: set[int]
    """Messages of an earlier batch that failed: each is fetched alone."""
    normal: list[int]
    """The rest, minus those quarantined for good."""
    heads: Heads | None = None
    batch: _Batch | None = None
    """The batch completed (records matched, texts fetched)."""
    error: ImapError | None = None


@dataclass(slots=True)
class _Batch:
    """One batch between fetching and committing."""

    uids: list[int]
    fetched: list[Fetched] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)
    prepared: list[PreparedMessage] = field(default_factory=list)
    bodies: dict[int, Body] = field(default_factory=dict)
    cleared: list[int] = field(default_factory=list)
    """Suspect UIDs that were fetched alone without trouble."""
    confirmed: int = 0
    """Messages that failed again on their own, now quarantined."""


def _tasks(
    flight: deque[tuple[Sequence[int], asyncio.Task[_Read]]], pending: asyncio.Task[None] | None
) -> list[asyncio.Future[Any]]:
    return [task for _, task in flight] + ([pending] if pending is not None else [])


def _merge(uids: Sequence[int], parts: Sequence[_Batch]) -> _Batch:
    """One batch of several (the body indexes shift with the messages before them)."""
    merged = _Batch(uids=list(uids))
    for part in parts:
        offset = len(merged.fetched)
        merged.fetched += part.fetched
        merged.prepared += part.prepared
        merged.failures += part.failures
        merged.cleared += part.cleared
        merged.confirmed += part.confirmed
        merged.bodies.update({offset + i: body for i, body in part.bodies.items()})
    return merged


class FolderSyncer:
    """Runs sync cycles of one folder over an open, logged-in client."""

    def __init__(
        self,
        *,
        client: ImapClient,
        sessions: sessionmaker[Session],
        account_id: int,
        folder_id: int,
        batch_size: int = 500,
        on_progress: Callable[[str, int, int | None], None] | None = None,
        pool: ReadingPool | None = None,
    ) -> None:
        self.client = client
        self.pool = pool if pool is not None else get_pool()
        self.sessions = sessions
        self.account_id = account_id
        self.folder_id = folder_id
        self.batch_size = batch_size
        self.on_progress = on_progress
        """``on_progress(folder, done, total)``: ``done`` more messages processed; ``total``
        (when not None) is what the folder holds on the server."""
        self._folder_name = ""

    # --- the cycle -----------------------------------------------------------------------

    async def sync(self, *, max_history_batches: int | None = None) -> FolderReport:
        """One cycle. ``max_history_batches`` bounds the history taken now (None: all)."""
        checkpoint = await self._db(self._load_checkpoint)
        report = FolderReport(folder=checkpoint.name)
        use_qresync = bool(
            self.client.has("QRESYNC") and checkpoint.uidvalidity and checkpoint.highestmodseq
        )
        selected = await self.client.examine(
            checkpoint.name_raw,
            condstore=self.client.has("CONDSTORE") and not use_qresync,
            qresync=(checkpoint.uidvalidity or 0, checkpoint.highestmodseq or 0)
            if use_qresync
            else None,
        )
        report.server_count = selected.exists
        self._folder_name = checkpoint.name
        if self.on_progress is not None:
            self.on_progress(checkpoint.name, 0, selected.exists)
        position = FolderPosition(
            checkpoint.uidvalidity,
            checkpoint.uidnext_seen,
            checkpoint.backfill_low,
            checkpoint.highestmodseq,
            checkpoint.modseq_at_backfill,
        )
        view = ServerView(
            selected.uidvalidity,
            selected.uidnext,
            selected.exists,
            selected.highestmodseq,
            tuple(selected.vanished),
            use_qresync,
        )
        plan = plan_folder(position, view)
        report.opening = plan.opening
        uidvalidity = selected.uidvalidity
        modseq_at_backfill = checkpoint.modseq_at_backfill
        if plan.start:
            modseq_at_backfill = plan.start["modseq_at_backfill"]
            await self._db(self._start, plan.opening, plan.start, uidvalidity)
            log.info("%s: %s (UIDVALIDITY %s)", checkpoint.name, plan.opening.value, uidvalidity)
        if plan.vanished:
            report.unlinked += await self._db(self._unlink, uidvalidity, plan.vanished)

        context = await self._db(self._context)
        uidnext_seen = plan.uidnext_seen
        if plan.has_new_mail:
            found = await self.client.uid_search(f"UID {uidnext_seen}:{UID_MAX}")
            new = [uid for uid in found if uid >= uidnext_seen]
            await self._process_batches(
                plan_batches(new, self.batch_size, newest_first=False),
                lambda batch: {"uidnext_seen": uidnext_after(batch)},
                uidvalidity,
                context,
                report,
            )
            if new:
                uidnext_seen = uidnext_after(new)
        edge = max(uidnext_seen, selected.uidnext or 0)
        if edge != plan.uidnext_seen:
            await self._db(self._save, {"uidnext_seen": edge})
        await self._retry_quarantined(uidvalidity, context, report)

        backfill_low = plan.backfill_low
        if backfill_low > 1:
            older = [
                (low, min(high, backfill_low - 1))
                for low, high in await self.client.uid_search_ranges(f"UID 1:{backfill_low - 1}")
                if low < backfill_low
            ]
            every = count_batches(older, self.batch_size)
            take = min(every, max_history_batches) if max_history_batches else every
            last = await self._process_batches(
                islice(iter_history(older, self.batch_size), take),
                lambda batch: {"backfill_low": min(batch)},
                uidvalidity,
                context,
                report,
            )
            if last is not None:
                backfill_low = min(last)
            if take == every:
                backfill_low = 1
                await self._db(
                    self._save,
                    {
                        "backfill_low": 1,
                        "state": FolderState.LIVE,
                        "highestmodseq": modseq_at_backfill,
                    },
                )
        report.backfill_done = backfill_low <= 1

        if report.backfill_done:
            await self._fill_pending(uidvalidity, context)
            linked = await self._db(self._count_linked, uidvalidity)
            if needs_expunge_check(exists=selected.exists, linked=linked, used_qresync=use_qresync):
                report.unlinked += await self._find_expunged(uidvalidity, edge)
        finish: dict[str, Any] = {
            "server_count": selected.exists,
            "last_success_at": utcnow(),
            "last_error": None,
            "error_count": 0,
        }
        last_check = None if plan.start else checkpoint.last_full_check_at
        if report.backfill_done and (
            last_check is None or utcnow() - last_check > FULL_CHECK_EVERY
        ):
            await self._full_check(uidvalidity, edge, context, report)
            finish["last_full_check_at"] = utcnow()
        if report.backfill_done and (plan.start or checkpoint.state is not FolderState.LIVE):
            finish["state"] = FolderState.LIVE  # a folder with no history is live at once
        if (
            report.backfill_done
            and selected.highestmodseq is not None
            and (use_qresync or checkpoint.highestmodseq is not None or plan.start)
        ):
            # only from EXAMINE, once history is complete (RFC 7162 section 6)
            finish["highestmodseq"] = (
                selected.highestmodseq if not plan.start else modseq_at_backfill
            )
        await self._db(self._save, finish)
        return report

    async def _full_check(
        self, uidvalidity: int, edge: int, context: IngestContext, report: FolderReport
    ) -> None:
        """The safety net (docs/sync.md, "The safety net"), once a day and after every first
        sync or reset: every UID on the server below the live edge is linked or quarantined. A
        message that was never taken (a silent miss) is taken now; no modseq or count would ever
        show it."""
        on_server = await self.client.uid_search_ranges(f"UID 1:{max(edge - 1, 1)}")
        on_server = [(low, min(high, edge - 1)) for low, high in on_server if low < edge]
        linked = await self._db(self._linked_uids, uidvalidity)
        _, confirmed = await self._db(self._quarantined, uidvalidity)
        missed = find_untaken(on_server, linked, confirmed)
        if missed:
            log.warning(
                "%s: %d messages were missed; taking them now", self._folder_name, len(missed)
            )
            report.missed += len(missed)
            await self._process_batches(
                plan_batches(missed, self.batch_size, newest_first=True),
                lambda batch: {},
                uidvalidity,
                context,
                report,
            )
        gone = find_missing(linked, on_server)
        if gone:
            report.unlinked += await self._db(self._unlink, uidvalidity, gone)

    async def _retry_quarantined(
        self, uidvalidity: int, context: IngestContext, report: FolderReport
    ) -> None:
        """Quarantined messages whose retry is due are fetched again, each alone: logged and
        cleared when that works, quarantined again (and tried later, or not any more) when
        not."""
        due = await self._db(self._due, uidvalidity)
        if not due:
            return
        log.info("%s: trying %d quarantined messages again", self._folder_name, len(due))
        await self._process_batches(
            [due], lambda batch: {}, uidvalidity, context, report, retrying=set(due)
        )

    async def _find_expunged(self, uidvalidity: int, edge: int) -> int:
        on_server = await self.client.uid_search_ranges(f"UID 1:{max(edge - 1, 1)}")
        linked = await self._db(self._linked_uids, uidvalidity)
        missing = find_missing(linked, on_server)
        if not missing:
            return 0
        unlinked: int = await self._db(self._unlink, uidvalidity, missing)
        return unlinked

    # --- one batch -----------------------------------------------------------------------

    async def _process_batches(
        self,
        batches: Iterable[Sequence[int]],
        cursor_of: Callable[[Sequence[int]], dict[str, Any]],
        uidvalidity: int,
        context: IngestContext,
        report: FolderReport,
        retrying: set[int] | None = None,
    ) -> Sequence[int] | None:
        """Up to ``IN_FLIGHT`` batches are gathered at once (headers fetched and read, in a
        worker process when big; records matched; texts fetched), their IMAP commands taking
        turns on the connection. Each is then settled and committed, with
        ``cursor_of(batch)``, in order, one commit in flight on a database thread: the cursor
        only ever moves past what is committed. ``retrying``: quarantined UIDs to fetch alone
        again, as suspects. Returns the last batch committed."""
        waiting = iter(batches)
        first = next(waiting, None)
        if first is None:
            return None
        waiting = chain([first], waiting)
        # the folder's quarantine, read once (usually empty), not once per batch
        held: tuple[set[int], set[int]] = await self._db(self._quarantined, uidvalidity)
        if retrying:
            held = (held[0] | retrying, held[1] - retrying)
        last: Sequence[int] | None = None
        flight: deque[tuple[Sequence[int], asyncio.Task[_Read]]] = deque()
        pending: asyncio.Task[None] | None = None

        def launch() -> None:
            batch = next(waiting, None)
            if batch is not None:
                flight.append((batch, asyncio.create_task(self._gather(batch, held, context))))

        try:
            for _ in range(IN_FLIGHT):
                launch()
            while flight:
                batch, task = flight.popleft()
                read = await task
                launch()
                work = await self._settle(read, uidvalidity, context)
                if pending is not None:
                    await pending
                pending = asyncio.create_task(
                    self._commit_batch(work, uidvalidity, context, cursor_of(batch), report)
                )
                last = batch
            if pending is not None:
                await pending
                pending = None
            return last
        except asyncio.CancelledError:
            for left in _tasks(flight, pending):
                left.cancel()
            raise
        finally:
            # on an error, let the batches in flight end (the connection stays in step) and
            # drop them: their messages are taken again next time
            for left in _tasks(flight, pending):
                if not left.cancelled():
                    await asyncio.gather(left, return_exceptions=True)

    async def _gather(
        self, uids: Sequence[int], held: tuple[set[int], set[int]], context: IngestContext
    ) -> _Read:
        """Fetch, read and complete a batch; an IMAP error is kept for ``_settle``, which
        handles it in the batch's turn."""
        read = await self._read(uids, held)
        if read.heads is not None and read.error is None:
            try:
                read.batch = await self._complete(read.normal, read.heads, context)
            except ImapError as exc:
                read.error = exc
        return read

    async def _read(self, uids: Sequence[int], held: tuple[set[int], set[int]]) -> _Read:
        """Fetch and read the headers of a batch, except its quarantined messages
        (``held``: the suspects and the confirmed). An IMAP error is kept for ``_settle`` to
        handle in the batch's turn."""
        suspects = {u for u in uids if u in held[0]}
        normal = [u for u in uids if u not in held[0] and u not in held[1]]
        read = _Read(uids=list(uids), suspects=suspects, normal=normal)
        if normal:
            try:
                read.heads = await self._read_heads(normal)
            except ImapError as exc:
                read.error = exc
        return read

    async def _read_heads(self, uids: Sequence[int]) -> Heads:
        raw = await self.client.uid_fetch_raw(list(uids), self._fetch_items())
        return await self.pool.read(len(uids), read_heads, raw, frozenset(uids))

    async def _settle(self, read: _Read, uidvalidity: int, context: IngestContext) -> _Batch:
        """A gathered batch, ready to commit, so that one unreadable message never blocks the
        folder.

        Some servers drop the connection over one message they cannot read (Dovecot: "Internal
        error", then BYE). When a batch fails, its messages become suspects; next time each
        suspect is fetched alone: it is cleared when that works, and quarantined for good when
        it fails again, so the cursor moves past it.
        """
        suspects = set(read.suspects)
        parts: list[_Batch] = []
        if read.error is not None:
            exc = read.error
            await self._db(self._mark_suspects, uidvalidity, read.normal, str(exc))
            if await self._has_ended(exc):
                # suspects are fetched alone after reconnecting, as after a lost connection
                if exc.retryable:
                    raise exc
                raise _lost(exc) from exc
            suspects.update(read.normal)
        elif read.batch is not None:
            parts.append(read.batch)
        for uid in sorted(suspects):
            try:
                alone = await self._complete([uid], await self._read_heads([uid]), context)
            except ImapError as exc:
                await self._db(self._confirm, uidvalidity, uid, f"{type(exc).__name__}: {exc}")
                log.warning("%s: UID %s quarantined: %s", self._folder_name, uid, exc)
                if await self._has_ended(exc):
                    if exc.retryable:
                        raise
                    raise _lost(exc) from exc
                parts.append(_Batch(uids=[], confirmed=1))
                continue
            if uid not in {failed for failed, _ in alone.failures}:  # else quarantined at commit
                alone.cleared.append(uid)
            parts.append(alone)
        return _merge(read.uids, parts)

    async def _has_ended(self, exc: ImapError) -> bool:
        return await connection_ended(self.client, exc)

    async def _complete(self, uids: Sequence[int], heads: Heads, context: IngestContext) -> _Batch:
        """Match the batch's messages to records; fetch the text of those to be logged."""
        batch = _Batch(uids=list(uids), fetched=heads.fetched, failures=heads.failures)
        if heads.delivery_reports:
            batch.fetched = await self._read_reports(
                batch.fetched, heads.delivery_reports, batch.failures
            )
        batch.prepared, known = await self._db(
            self._prepare, context, [f.facts for f in batch.fetched]
        )
        batch.bodies = await self._fetch_bodies(
            batch.fetched, batch.prepared, known, batch.failures
        )
        return batch

    async def _commit_batch(
        self,
        batch: _Batch,
        uidvalidity: int,
        context: IngestContext,
        cursor: dict[str, Any],
        report: FolderReport,
    ) -> None:
        new, created = await self._db(self._commit, context, uidvalidity, batch, cursor)
        report.fetched += len(batch.fetched)
        report.messages_new += new
        report.activities_created += created
        report.quarantined += len(batch.failures) + batch.confirmed
        if self.on_progress is not None:
            self.on_progress(self._folder_name, len(batch.uids), None)

    def _fetch_items(self) -> list[str]:
        # no FLAGS or MODSEQ: the CRM needs presence, not flags (docs/sync.md, "Invariants"); every
        # item costs parsing time on each of a first sync's messages
        items = ["UID", "INTERNALDATE", "RFC822.SIZE", HEADER_ITEM]
        if self.client.has("OBJECTID"):
            items.append("EMAILID")
        if self.client.has("X-GM-EXT-1"):
            items.append("X-GM-MSGID")
        return items

    async def _read_reports(
        self, fetched: list[Fetched], uids: list[int], failures: list[tuple[int, str]]
    ) -> list[Fetched]:
        """Delivery reports are read further to know whose delivery failed: their first
        ``REPORT_FETCH_BYTES`` only, in batches bounded by count and octets, parsed in a
        thread (the event loop keeps serving the other accounts)."""
        sizes = {entry.uid: entry.facts.size for entry in fetched}
        reread: dict[int, Fetched] = {}
        unreadable: set[int] = set()
        for chunk in plan_report_batches(uids, sizes):
            raw = await self.client.uid_fetch_raw(chunk, [f"BODY.PEEK[]<0.{REPORT_FETCH_BYTES}>"])
            entries = {entry.uid: entry for entry in fetched if entry.uid in chunk}
            read, failed = await asyncio.to_thread(read_reports, raw, entries)
            reread.update((entry.uid, entry) for entry in read)
            unreadable.update(uid for uid, _ in failed)
            failures += failed
        return [reread.get(e.uid, e) for e in fetched if e.uid not in unreadable]

    async def _fetch_bodies(
        self,
        fetched: Sequence[Fetched],
        prepared: Sequence[PreparedMessage],
        known: set[str],
        failures: list[tuple[int, str]],
    ) -> dict[int, Body]:
        """Text of the messages (by index) that will be logged and are new."""
        bodies: dict[int, Body] = {}
        wanted: dict[int, int] = {}  # uid -> index
        for index, (entry, prep) in enumerate(zip(fetched, prepared, strict=True)):
            if not prep.needs_body or prep.message.identity_key in known:
                continue
            if entry.body is not None:
                bodies[index] = entry.body
            else:
                wanted[entry.uid] = index
        for uid, body in (await self._fetch_texts(list(wanted), failures)).items():
            bodies[wanted[uid]] = body
        return bodies

    async def _fetch_texts(
        self, uids: Sequence[int], failures: list[tuple[int, str]]
    ) -> dict[int, Body]:
        """``{uid: Body}``: each message's BODYSTRUCTURE first, then only its chosen text part
        (capped by a partial fetch), one FETCH per part number."""
        if not uids:
            return {}
        texts: dict[int, Body] = {}
        raw = await self.client.uid_fetch_raw(list(uids), ["BODYSTRUCTURE"])
        plans = await self.pool.read(len(uids), plan_texts, raw, frozenset(uids))
        by_part: dict[str, list[int]] = {}
        for uid, plan in plans.items():
            if plan.part is None:
                texts[uid] = Body("", "", plan.attachments)
            else:
                by_part.setdefault(plan.part, []).append(uid)
        for part, part_uids in by_part.items():
            item_name = f"BODY.PEEK[{part}]<0.{TEXT_FETCH_BYTES}>"
            try:
                raw = await self.client.uid_fetch_raw(part_uids, [item_name])
                plans_of_part = {uid: plans[uid] for uid in part_uids}
                texts |= await self.pool.read(len(part_uids), read_texts, raw, part, plans_of_part)
            except ImapError as exc:
                if exc.retryable:
                    raise
                failures.extend((uid, f"text part {part}: {exc}") for uid in part_uids)
        return texts

    async def _fill_pending(self, uidvalidity: int, context: IngestContext) -> int:
        """Fetch the text of activities created after the fact (an address added to a record
        later) whose message is in this folder; at most ``PENDING_PER_CYCLE`` a cycle."""
        pending: dict[int, list[int]] = await self._db(self._pending, uidvalidity)
        if not pending:
            return 0
        failures: list[tuple[int, str]] = []
        texts = await self._fetch_texts(list(pending), failures)
        done: int = await self._db(self._fill, context, pending, texts)
        return done

    # --- database work (runs in a thread) ----------------------------------------------

    async def _db(self, function: Callable[..., Any], *args: Any) -> Any:
        return await run_db(function, *args)

    def _load_checkpoint(self) -> sync_state.Checkpoint:
        with reading(self.sessions) as session:
            folder = sync_state.get_folder_or_raise(session=session, folder_id=self.folder_id)
            return sync_state.Checkpoint.of(folder)

    def _context(self) -> IngestContext:
        with reading(self.sessions) as session:
            return load_context(session=session, account_id=self.account_id)

    def _start(self, opening: FolderOpening, start: dict[str, Any], uidvalidity: int) -> None:
        with self.sessions.begin() as session:
            if opening is FolderOpening.RESET:
                sync_state.unlink_other_uidvalidities(
                    session=session, folder_id=self.folder_id, uidvalidity=uidvalidity
                )
            sync_state.save_checkpoint(
                session=session, folder_id=self.folder_id, state=FolderState.BACKFILLING, **start
            )

    def _save(self, fields: dict[str, Any]) -> None:
        with self.sessions.begin() as session:
            sync_state.save_checkpoint(session=session, folder_id=self.folder_id, **fields)

    def _unlink(self, uidvalidity: int, ranges: Sequence[tuple[int, int]]) -> int:
        with self.sessions.begin() as session:
            return sync_state.unlink_uid_ranges(
                session=session, folder_id=self.folder_id, uidvalidity=uidvalidity, ranges=ranges
            )

    def _quarantined(self, uidvalidity: int) -> tuple[set[int], set[int]]:
        with reading(self.sessions) as session:
            return sync_state.list_quarantined_uids(
                session=session, folder_id=self.folder_id, uidvalidity=uidvalidity
            )

    def _due(self, uidvalidity: int) -> list[int]:
        with reading(self.sessions) as session:
            return sync_state.list_due_quarantine(
                session=session,
                folder_id=self.folder_id,
                uidvalidity=uidvalidity,
                limit=RETRIES_PER_CYCLE,
            )

    def _mark_suspects(self, uidvalidity: int, uids: Sequence[int], error: str) -> None:
        with self.sessions.begin() as session:
            sync_state.mark_suspects(
                session=session,
                account_id=self.account_id,
                folder_id=self.folder_id,
                uidvalidity=uidvalidity,
                uids=uids,
                error=error,
            )

    def _confirm(self, uidvalidity: int, uid: int, error: str) -> None:
        with self.sessions.begin() as session:
            sync_state.confirm_quarantine(
                session=session,
                folder_id=self.folder_id,
                uidvalidity=uidvalidity,
                uid=uid,
                error=error,
            )

    def _pending(self, uidvalidity: int) -> dict[int, list[int]]:
        with reading(self.sessions) as session:
            return activity_store.list_pending_in_folder(
                session=session,
                folder_id=self.folder_id,
                uidvalidity=uidvalidity,
                limit=PENDING_PER_CYCLE,
            )

    def _fill(
        self, context: IngestContext, pending: dict[int, list[int]], texts: dict[int, Body]
    ) -> int:
        with self.sessions.begin() as session:
            for uid, body in texts.items():
                complete_pending_activities(
                    session=session, context=context, activity_ids=pending[uid], body=body
                )
            return len(texts)

    def _count_linked(self, uidvalidity: int) -> int:
        with reading(self.sessions) as session:
            return sync_state.count_linked(
                session=session, folder_id=self.folder_id, uidvalidity=uidvalidity
            )

    def _linked_uids(self, uidvalidity: int) -> array[int]:
        with reading(self.sessions) as session:
            return sync_state.list_linked_uids(
                session=session, folder_id=self.folder_id, uidvalidity=uidvalidity
            )

    def _prepare(
        self, context: IngestContext, facts: Sequence[MessageFacts]
    ) -> tuple[list[PreparedMessage], set[str]]:
        with reading(self.sessions) as session:
            prepared = prepare_batch(session=session, context=context, facts=facts)
            keys = [p.message.identity_key for p in prepared]
            known = message_store.find_message_ids(
                session=session, account_id=self.account_id, keys=keys
            )
            return prepared, set(known)

    def _commit(
        self, context: IngestContext, uidvalidity: int, batch: _Batch, cursor: dict[str, Any]
    ) -> tuple[int, int]:
        """Everything the batch found, and its cursor, in one transaction."""
        with self.sessions.begin() as session:
            result = record_batch(
                session=session, context=context, prepared=batch.prepared, bodies=batch.bodies
            )
            sync_state.add_locations(
                session=session,
                folder_id=self.folder_id,
                uidvalidity=uidvalidity,
                rows=[
                    (entry.uid, message_id, entry.modseq, entry.flags)
                    for entry, message_id in zip(batch.fetched, result.message_ids, strict=True)
                ],
            )
            for uid, error in batch.failures:
                message_store.quarantine_message(
                    session=session,
                    error=error,
                    account_id=self.account_id,
                    folder_id=self.folder_id,
                    uidvalidity=uidvalidity,
                    uid=uid,
                )
            if batch.cleared:
                sync_state.clear_suspects(
                    session=session,
                    folder_id=self.folder_id,
                    uidvalidity=uidvalidity,
                    uids=batch.cleared,
                )
            if cursor:
                sync_state.save_checkpoint(session=session, folder_id=self.folder_id, **cursor)
            return result.messages_new, result.activities_created


async def connection_ended(client: ImapClient, exc: ImapError) -> bool:
    """Whether ``client``'s connection is gone after ``exc``: a retryable error says so;
    after any other, a cheap command tells (a protocol error the client could not read past,
    such as an endless literal or line, closes the connection; one unparsable response or a
    refused command does not)."""
    if exc.retryable:
        return True
    try:
        await client.uid_search_ranges("UID 1")
    except CommandFailed:
        return False
    except ImapError:
        return True
    return False


def _lost(exc: ImapError) -> ConnectionLost:
    """What ends a cycle whose connection a non-retryable error closed: the account
    reconnects, as after any lost connection."""
    return ConnectionLost(f"the connection ended after an error: {exc}")
