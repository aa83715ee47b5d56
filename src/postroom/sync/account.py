"""One account: connect, find its folders, sync them once, or watch them around the clock.

Connections: one per watched folder (INBOX and Sent), each EXAMINEs its folder and IDLEs;
at most 2 per account, well inside Gmail's 15 (docs/sync.md, "Connections").

Watching a folder is a loop: sync (new mail first, then a bounded slice of history), and when
the history is complete, IDLE until the server reports a change or the reconcile interval ends,
then sync again. A push can get lost, so every folder is reconciled at least every
``reconcile_every`` seconds; IDLE is re-issued within RFC 2177's 29 minutes.

The folders a user tracks or untracks while the account is watched are taken from the database
at each reconcile of INBOX's connection (docs/sync.md, "Folders a user adds"): a running worker
never needs a restart for them.

While watching, the log says (at INFO) when the account is connected, each tenth of a folder's
first sync, when a folder's first sync is done and when every folder of the account is live.

Failures: a network error, BYE or timeout closes the connection and the loop reconnects after a
jittered backoff; an authentication failure stops the account (``needs_reauth``) instead of
retrying bad credentials in a loop until the server locks the account. An error nobody
expected (a bug, a number the database cannot hold) is contained as narrowly as it can be: in
one folder, that folder is recorded as failed and the others go on; elsewhere, the account is
recorded as failed (``status`` shows it) and retried after the same backoff. One account's
trouble never touches another's: each runs in its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from postroom.imap import AuthFailed, ConnectionLost, ImapClient, ImapError, ServerAddress, is_inbox
from postroom.store import sync_state
from postroom.store.models import FolderState, utcnow
from postroom.sync.backoff import Backoff
from postroom.sync.database import run_db
from postroom.sync.folder import FolderReport, FolderSyncer, connection_ended
from postroom.sync.pool import ReadingPool

log = logging.getLogger(__name__)

SENT_NAMES = frozenset(
    name.casefold()
    for name in (
        "Sent",
        "Sent Items",
        "Sent Messages",
        "Sent Mail",
        "Sent-Mail",
        "Gesendet",
        "Gesendete Elemente",
        "Gesendete Objekte",
        "Envoyés",
        "Éléments envoyés",
        "Elementos enviados",
        "Enviados",
        "Inviati",
        "Posta inviata",
        "Verzonden",
        "Verzonden items",
        "Skickat",
        "Wysłane",
        "Отправленные",
    )
)
DELETE_GRACE = timedelta(hours=24)
"""How long a message may have no location on the server before it counts as deleted there:
long enough for a move into an untracked folder and back, or a server's index rebuild."""
REAUTH_POLL = 60.0
"""Seconds between checks whether a refused account got a new password."""
HISTORY_SLICE = 4
"""History batches per sync while watching: new mail waits for at most this many batches."""
MILESTONES = 10
"""A folder's first sync is logged each time it passes another 1/MILESTONES of the folder."""
UNEXPECTED_ADVICE = (
    "Postroom hit an error it did not expect; it tries again later. If it stays, run "
    "`postroom -v sync --once` and report the error it logs"
)


def describe_unexpected(exc: BaseException) -> str:
    """How an unexpected error is recorded and shown: its type and text, one line."""
    text = " ".join(str(exc).split())[:500]
    return f"unexpected error: {type(exc).__name__}" + (f": {text}" if text else "")


@dataclass(frozen=True, slots=True)
class AccountLogin:
    """What it takes to open an account's mailbox. The password never prints."""

    account_id: int
    label: str
    address: ServerAddress
    username: str
    password: str = field(repr=False)


@dataclass(slots=True)
class AccountReport:
    account_id: int
    folders: list[FolderReport] = field(default_factory=list)
    error: str | None = None
    advice: str | None = None


Connect = Callable[[ServerAddress], Awaitable[ImapClient]]


def _default_connect(address: ServerAddress) -> Awaitable[ImapClient]:
    return ImapClient.connect(address)


def find_role(name: str, flags: frozenset[str], delimiter: str | None) -> str | None:
    """``inbox``, ``sent`` or None for a LIST entry (SPECIAL-USE first, else the name)."""
    if is_inbox(name):
        return "inbox"
    if any(flag.casefold() == "\\sent" for flag in flags):
        return "sent"
    leaf = name.rsplit(delimiter, 1)[-1] if delimiter else name
    if leaf.casefold() in SENT_NAMES or name.casefold() == "[gmail]/sent mail":
        return "sent"
    return None


class AccountSyncer:
    def __init__(
        self,
        *,
        login: AccountLogin,
        sessions: sessionmaker[Session],
        connect: Connect = _default_connect,
        batch_size: int = 500,
        reconcile_every: float = 600.0,
        idle_renew: float = 25 * 60.0,
        on_progress: Callable[[str, int, int | None], None] | None = None,
        pool: ReadingPool | None = None,
    ) -> None:
        self.login = login
        self.pool = pool
        self.sessions = sessions
        self.connect = connect
        self.batch_size = batch_size
        self.reconcile_every = reconcile_every
        self.idle_renew = idle_renew
        self.on_progress = on_progress
        self._first_syncs: dict[int, _FirstSync] = {}
        """While watching: the folders still in their first sync, by id."""
        self._live: set[int] = set()
        """While watching: the folders whose history is complete."""
        self._announced = False
        """While watching: the account was logged as live since it last connected."""

    # --- connections ---------------------------------------------------------------------

    async def open(self) -> ImapClient:
        """A logged-in client with QRESYNC enabled where offered."""
        client = await self.connect(self.login.address)
        try:
            await client.login(self.login.username, self.login.password)
            if client.has("ID"):
                await client.send_id({"name": "postroom", "version": "0.1"})
            if client.has("QRESYNC"):
                await client.enable("QRESYNC")
        except BaseException:
            await client.close()
            raise
        return client

    async def discover(self, client: ImapClient) -> list[int]:
        """Record INBOX and Sent (and keep the user's extra folders); return the tracked ids."""
        folders = await client.list_folders()
        found: list[tuple[bytes, str, str | None, str | None]] = []
        have_sent = False
        for folder in folders:
            if not folder.is_selectable:
                continue
            role = find_role(folder.name, folder.flags, folder.delimiter)
            if role == "sent":
                if have_sent:
                    role = None
                have_sent = True
            if role is not None:
                found.append((folder.name_raw, folder.name, folder.delimiter, role))
        return await run_db(self._save_folders, found)

    def _save_folders(self, found: list[tuple[bytes, str, str | None, str | None]]) -> list[int]:
        with self.sessions.begin() as session:
            for name_raw, name, delimiter, role in found:
                sync_state.ensure_folder(
                    session=session,
                    account_id=self.login.account_id,
                    name_raw=name_raw,
                    name=name,
                    delimiter=delimiter,
                    role=role,
                )
            return [
                f.id
                for f in sync_state.list_tracked_folders(
                    session=session, account_id=self.login.account_id
                )
            ]

    # --- once ------------------------------------------------------------------------------

    async def sync_once(self) -> AccountReport:
        """Connect, sync every tracked folder completely, disconnect; errors are recorded.

        As when watching (``run``), each watched folder (INBOX, Sent) has its own connection
        and they sync at the same time; the other tracked folders follow the first one on its
        connection. One folder's end (its last commits, the full check) then overlaps the
        other's work, instead of leaving the machine half idle in between.
        """
        report = AccountReport(self.login.account_id)
        try:
            client = await self.open()
            try:
                folder_ids = await self.discover(client)
                lanes = await self._lanes(folder_ids)
                tasks = [
                    asyncio.create_task(self._sync_lane(client if index == 0 else None, lane))
                    for index, lane in enumerate(lanes)
                ]
                try:
                    done = await asyncio.gather(*tasks)
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
            finally:
                await client.logout()
            by_folder = dict(pair for lane in done for pair in lane)
            report.folders = [by_folder[folder_id] for folder_id in folder_ids]
        except ImapError as exc:
            report.error, report.advice = str(exc.args[0] if exc.args else exc), exc.advice
            await run_db(self._record_failure, exc)
            return report
        except Exception as exc:  # a bug or a value nobody expected: this account only
            log.exception("%s: the sync failed", self._who)
            report.error, report.advice = describe_unexpected(exc), UNEXPECTED_ADVICE
            await self._record_unexpected(exc)
            return report
        await run_db(self._record_success)
        await run_db(self._mark_deleted)
        return report

    async def _lanes(self, folder_ids: list[int]) -> list[list[int]]:
        """The folders each connection takes, in order: every watched folder (INBOX, Sent)
        starts a lane of its own, the others follow the first."""
        roles = await run_db(self._roles, folder_ids)
        watched = [f for f in folder_ids if roles.get(f) in ("inbox", "sent")] or folder_ids[:1]
        others = [f for f in folder_ids if f not in watched]
        return [
            [folder_id, *(others if index == 0 else [])] for index, folder_id in enumerate(watched)
        ]

    async def _sync_lane(
        self, client: ImapClient | None, folder_ids: list[int]
    ) -> list[tuple[int, FolderReport]]:
        """Sync ``folder_ids`` completely, one after the other, on ``client`` or (None) on a
        connection of their own."""
        own = client is None
        if client is None:
            client = await self.open()
        try:
            return [
                (folder_id, await self._sync_folder(client, folder_id, None))
                for folder_id in folder_ids
            ]
        finally:
            if own:
                await client.logout()

    async def _sync_folder(
        self, client: ImapClient, folder_id: int, history: int | None
    ) -> FolderReport:
        first_sync = self._first_syncs.get(folder_id)
        syncer = FolderSyncer(
            client=client,
            sessions=self.sessions,
            account_id=self.login.account_id,
            folder_id=folder_id,
            batch_size=self.batch_size,
            on_progress=self.on_progress if first_sync is None else first_sync.progress,
            pool=self.pool,
        )
        try:
            report = await syncer.sync(max_history_batches=history)
            if first_sync is not None and report.backfill_done:
                self._first_sync_done(folder_id, first_sync)
            return report
        except ImapError as exc:
            if await connection_ended(client, exc):
                if exc.retryable:
                    raise
                raise ConnectionLost(f"the connection ended after an error: {exc}") from exc
            # a folder-level refusal (deleted folder, server quirk): record it, go on
            error = str(exc)
        except Exception as exc:  # a bug or a value nobody expected: this folder only
            log.exception("%s: the sync of folder #%s failed", self._who, folder_id)
            error = describe_unexpected(exc)
        name = await self._record_folder_failure_safely(folder_id, error)
        return FolderReport(folder=name, errors=[error])

    # --- around the clock ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch the account until ``stop`` is set; never raises for IMAP trouble."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                await self._watch(stop)
                return
            except AuthFailed as exc:
                await run_db(self._record_failure, exc)
                log.warning(
                    "account %s: login refused; waiting for a new password", self.login.account_id
                )
                while not stop.is_set() and await run_db(self._needs_reauth):
                    await _wait(stop, REAUTH_POLL)
                # the supervisor restarts the task with the new password
            except (ImapError, OSError) as exc:
                delay = backoff.next_delay()
                if isinstance(exc, ImapError):
                    await run_db(self._record_failure, exc, delay)
                log.warning("account %s: %s; retrying in %.0f s", self.login.account_id, exc, delay)
                await _wait(stop, delay)
            except Exception as exc:  # a bug or a value nobody expected: backoff, never a loop
                delay = backoff.next_delay()
                log.exception("%s: failed; retrying in %.0f s", self._who, delay)
                await self._record_unexpected(exc, delay)
                await _wait(stop, delay)

    async def _watch(self, stop: asyncio.Event) -> None:
        client = await self.open()
        try:
            folder_ids = await self.discover(client)
        finally:
            await client.logout()
        await run_db(self._record_success)
        log.info("%s: connected", self._who)
        self._announced = False  # announced live again after this connection's first cycle
        await self._follow(folder_ids)
        lanes = await self._lanes(folder_ids)
        watched = frozenset(lane[0] for lane in lanes)
        try:
            async with asyncio.TaskGroup() as group:
                for index, (lead, *extra) in enumerate(lanes):
                    # the first lane takes the other tracked folders, re-read at each reconcile
                    follows = watched if index == 0 else None
                    group.create_task(self._watch_folder(lead, extra, stop, follows))
        except ExceptionGroup as failed:
            # one lane's connection dropped (the others were cancelled): the account retries
            first = _first_failure(failed)
            if first is None:  # not a server's trouble: a bug, recorded by ``run`` as one
                first = next(e for e in _leaves(failed) if not isinstance(e, ImapError | OSError))
            raise first from failed

    async def _watch_folder(
        self,
        folder_id: int,
        extra: list[int],
        stop: asyncio.Event,
        follows: frozenset[int] | None = None,
    ) -> None:
        """Keep one folder (plus ``extra`` ones, reconciled only) in sync on one connection.

        With ``follows`` (the folders that have a connection of their own), ``extra`` is read
        again at each reconcile: every other tracked folder of the account, as it is now, so a
        folder tracked or untracked while the account is watched is taken or left then."""
        client = await self.open()
        try:
            loop = asyncio.get_running_loop()
            next_reconcile = 0.0
            extras_behind = False  # an extra folder has history left: not one slice a reconcile
            while not stop.is_set():
                report = await self._sync_folder(client, folder_id, HISTORY_SLICE)
                if extras_behind or loop.time() >= next_reconcile:
                    extras_behind = False
                    if follows is not None:
                        extra = await self._extras(follows, extra)
                    for other in extra:
                        taken = await self._sync_folder(client, other, HISTORY_SLICE)
                        extras_behind |= not (taken.backfill_done or taken.errors)
                    next_reconcile = loop.time() + self.reconcile_every
                    await run_db(self._record_success)
                    await run_db(self._mark_deleted)
                self._announce_live()
                if not (report.backfill_done or report.errors) or extras_behind:
                    continue  # more history to take; new mail is checked first every time
                # (a folder the server refused is tried again at the next reconcile)
                wait = min(self.idle_renew, max(1.0, next_reconcile - loop.time()))
                # no gathering pause: a push is synced at once (latency), and a burst of mail
                # is taken by that cycle's batches anyway
                idle = asyncio.create_task(client.idle(max_seconds=wait, gather_seconds=0.0))
                stopping = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({idle, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    idle.cancel()
                    break
                stopping.cancel()
                idle.result()  # raises ConnectionLost & co. to the reconnect loop
        finally:
            await client.close()

    async def _extras(self, follows: frozenset[int], before: Sequence[int]) -> list[int]:
        """The tracked folders other than ``follows``, as the database has them now; the
        folders taken or left since ``before`` are logged."""
        tracked = await run_db(self._tracked)
        now = [folder_id for folder_id in tracked if folder_id not in follows]
        added = [tracked[f] for f in now if f not in before]
        gone = len([f for f in before if f not in now])
        if added:
            log.info("%s: now syncing %s", self._who, ", ".join(added))
            await self._follow(now)
        if gone:
            log.info("%s: stopped syncing %s no longer tracked", self._who, _count(gone, "folder"))
            self._live.intersection_update([*follows, *now])
            for folder_id in [f for f in self._first_syncs if f not in follows and f not in now]:
                del self._first_syncs[folder_id]
        return now

    @property
    def _who(self) -> str:
        return f"account #{self.login.account_id} {self.login.label}"

    async def _follow(self, folder_ids: Sequence[int]) -> None:
        """Note which of ``folder_ids`` are live and how far the others' first sync is, for
        the log; the account is announced live again once they all are."""
        new = [f for f in folder_ids if f not in self._live and f not in self._first_syncs]
        if not new:
            return
        for folder_id, (name, live, done) in (await run_db(self._progress_of, new)).items():
            if live:
                self._live.add(folder_id)
            else:
                self._first_syncs[folder_id] = _FirstSync(self._who, name, done)
                self._announced = False

    def _first_sync_done(self, folder_id: int, first_sync: _FirstSync) -> None:
        del self._first_syncs[folder_id]
        self._live.add(folder_id)
        log.info(
            "%s: %s first sync done (%s)",
            self._who,
            first_sync.name,
            _count(first_sync.total or first_sync.done, "message"),
        )

    def _announce_live(self) -> None:
        if self._announced or self._first_syncs:
            return
        self._announced = True
        log.info(
            "%s: live, %s up to date; new mail is logged as it arrives",
            self._who,
            _count(len(self._live), "folder"),
        )

    # --- database (in threads) ----------------------------------------------------------

    def _tracked(self) -> dict[int, str]:
        with self.sessions() as session:
            return {
                f.id: f.name
                for f in sync_state.list_tracked_folders(
                    session=session, account_id=self.login.account_id
                )
            }

    def _progress_of(self, folder_ids: Sequence[int]) -> dict[int, tuple[str, bool, int]]:
        """``{folder id: (name, live, messages synced)}``."""
        with self.sessions() as session:
            counts = sync_state.count_folder_messages(
                session=session, account_id=self.login.account_id
            )
            return {
                f.id: (f.name, f.state is FolderState.LIVE, counts.get(f.id, (0, 0))[0])
                for f in sync_state.list_folders(session=session, account_id=self.login.account_id)
                if f.id in folder_ids
            }

    def _roles(self, folder_ids: list[int]) -> dict[int, str | None]:
        with self.sessions() as session:
            return {
                f.id: f.role
                for f in sync_state.list_folders(session=session, account_id=self.login.account_id)
                if f.id in folder_ids
            }

    def _mark_deleted(self) -> None:
        with self.sessions.begin() as session:
            sync_state.mark_deleted_messages(
                session=session, account_id=self.login.account_id, grace=DELETE_GRACE
            )

    def _needs_reauth(self) -> bool:
        with self.sessions() as session:
            return sync_state.is_reauth_needed(session=session, account_id=self.login.account_id)

    def _record_success(self) -> None:
        with self.sessions.begin() as session:
            sync_state.record_account_success(session=session, account_id=self.login.account_id)

    def _record_failure(self, exc: ImapError, delay: float | None = None) -> None:
        retry_at = None if delay is None else utcnow() + timedelta(seconds=delay)
        with self.sessions.begin() as session:
            sync_state.record_account_failure(
                session=session,
                account_id=self.login.account_id,
                error=str(exc.args[0] if exc.args else exc),
                advice=exc.advice or None,
                needs_reauth=isinstance(exc, AuthFailed),
                retry_at=retry_at,
            )

    def _record_folder_failure(self, folder_id: int, error: str) -> str:
        """Record the folder's failure; returns its name."""
        with self.sessions.begin() as session:
            sync_state.record_folder_failure(session=session, folder_id=folder_id, error=error)
            return sync_state.get_folder_or_raise(session=session, folder_id=folder_id).name

    async def _record_folder_failure_safely(self, folder_id: int, error: str) -> str:
        """``_record_folder_failure``, logged instead when the database refuses too; the
        folder's name, else ``#id``."""
        try:
            name: str = await run_db(self._record_folder_failure, folder_id, error)
        except Exception:
            log.exception("%s: folder #%s's failure could not be recorded", self._who, folder_id)
            return f"#{folder_id}"
        return name

    async def _record_unexpected(self, exc: Exception, delay: float | None = None) -> None:
        """Record an unexpected error on the account (logged instead when the database
        refuses too: it may be the cause)."""
        retry_at = None if delay is None else utcnow() + timedelta(seconds=delay)

        def record() -> None:
            with self.sessions.begin() as session:
                sync_state.record_account_failure(
                    session=session,
                    account_id=self.login.account_id,
                    error=describe_unexpected(exc),
                    advice=UNEXPECTED_ADVICE,
                    retry_at=retry_at,
                )

        try:
            await run_db(record)
        except Exception:
            log.exception("%s: the failure could not be recorded", self._who)


@dataclass(slots=True)
class _FirstSync:
    """A folder's first sync while watching: logs each tenth it passes."""

    who: str
    name: str
    done: int
    """Messages synced, counted from the database when the watch began, then by batch."""
    total: int | None = None
    logged: int = -1
    """The last tenth logged (-1: none yet)."""

    def progress(self, folder: str, done: int, total: int | None) -> None:
        if total is not None:
            self.total = total
            if self.logged < 0:  # where a resumed first sync stands
                self.logged = self._tenth()
            return
        self.done += done
        tenth = self._tenth()
        if tenth > self.logged and tenth < MILESTONES:
            self.logged = tenth
            log.info(
                "%s: %s first sync %d%% (%s of %s)",
                self.who,
                self.name,
                tenth * 100 // MILESTONES,
                f"{self.done:,}",
                f"{self.total or 0:,}",
            )

    def _tenth(self) -> int:
        if not self.total:
            return 0
        return min(MILESTONES, self.done * MILESTONES // self.total)


def _count(n: int, noun: str) -> str:
    """``1 folder``, ``2 folders``, ``12,000 messages``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _first_failure(failed: ExceptionGroup[Exception]) -> Exception | None:
    """What ``run`` handles for a failed lane: a refused login first (it stops the account),
    else the first IMAP or network error; None when a lane failed otherwise."""
    leaves = list(_leaves(failed))
    if not all(isinstance(e, ImapError | OSError) for e in leaves):
        return None
    return next((e for e in leaves if isinstance(e, AuthFailed)), leaves[0])


def _leaves(failed: BaseExceptionGroup[Exception]) -> Iterator[Exception]:
    for exc in failed.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
