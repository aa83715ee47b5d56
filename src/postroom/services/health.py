"""How each mail account and its folders are doing: the status summary of ``postroom status``,
the accounts list and the health page (docs/web.md, docs/sync.md).

Every function takes keyword-only ``*, session`` and only reads. The values are frozen
dataclasses the CLI and the web render as they like; they never hold the account's secret.

Invariants:

* ``owner_id`` (the signed-in user) limits what can be seen: an account of another user is
  ``NotFound``, exactly as one that does not exist. ``owner_id=None`` (the CLI, run by whoever
  holds the machine) sees every account.
* The account's state is, in this order: ``needs_password`` (the server refused the login; the
  sync waits for a new password), ``retrying`` (the last attempt failed, next at
  ``retry_at``), ``first_sync`` (a tracked folder is still taking its history), ``ok`` (synced
  at least once), else ``never_synced``.
* A worker is running when its heartbeat (``store.workers``) was written within twice its
  interval; a worker killed without a clean stop stops counting after that.
* A folder is ``behind`` by N when it is live but the server holds N messages more than were
  synced or quarantined: mail the sync has not got (yet), shown instead of ``live``.
* An error the sync did not expect is recorded like any other: on the folder when it was
  contained there (``FolderHealth.last_error``), else on the account (``retrying``, with
  ``last_error`` and its advice).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from postroom.services.accounts import owned_account
from postroom.store import accounts as account_store
from postroom.store import messages as message_store
from postroom.store import sync_state
from postroom.store import workers as worker_store
from postroom.store.db import current_revision
from postroom.store.models import (
    Activity,
    Company,
    FolderState,
    MailAccount,
    MailFolder,
    MailMessage,
    Person,
    Quarantine,
)

QUARANTINE_SHOWN = 20
"""Quarantined messages listed per account (the total is always given)."""


class AccountState(enum.Enum):
    OK = "ok"
    RETRYING = "retrying"
    NEEDS_PASSWORD = "needs_password"  # noqa: S105 - a state, not a password
    NEVER_SYNCED = "never_synced"
    FIRST_SYNC = "first_sync"


class FolderStatus(enum.Enum):
    NEW = "new"
    BACKFILLING = "backfilling"
    LIVE = "live"
    RESYNC = "resync"
    BEHIND = "behind"
    NOT_SYNCED = "not_synced"


_FOLDER_WORDS = {
    FolderStatus.NEW: "waiting for its first sync",
    FolderStatus.BACKFILLING: "first sync",
    FolderStatus.LIVE: "live",
    FolderStatus.RESYNC: "re-reading (the server renumbered it)",
    FolderStatus.NOT_SYNCED: "not synced",
}


@dataclass(frozen=True, slots=True)
class Progress:
    """Messages done (synced or quarantined) of those on the server."""

    done: int
    total: int

    @property
    def percent(self) -> int:
        if self.total <= 0:
            return 100
        return min(100, self.done * 100 // self.total)


@dataclass(frozen=True, slots=True)
class FolderHealth:
    id: int
    name: str
    role: str | None
    is_tracked: bool
    status: FolderStatus
    on_server: int | None
    synced: int
    matched: int
    quarantined: int
    behind: int
    """Messages on the server neither synced nor quarantined (0 when none or unknown)."""
    last_success_at: datetime | None
    last_error: str | None

    @property
    def status_text(self) -> str:
        if self.status is FolderStatus.BEHIND:
            return f"behind by {self.behind:,}"
        return _FOLDER_WORDS[self.status]

    @property
    def in_first_sync(self) -> bool:
        return self.is_tracked and self.status in (FolderStatus.NEW, FolderStatus.BACKFILLING)

    @property
    def progress(self) -> Progress | None:
        """How far its first sync is, while it runs (None before the server said how many
        messages the folder holds: a folder added to the sync waits for the next reconcile)."""
        if not self.in_first_sync or self.on_server is None:
            return None
        return Progress(self.synced + self.quarantined, self.on_server)


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """A message the sync could not read: kept with its error, never blocking the rest."""

    id: int
    folder: str | None
    uid: int | None
    source_path: str | None
    error: str
    attempts: int
    last_attempt_at: datetime

    @property
    def where(self) -> str:
        if self.uid is not None:
            return f"{self.folder or 'folder'} UID {self.uid}"
        return self.source_path or ""


@dataclass(frozen=True, slots=True)
class AccountHealth:
    account_id: int
    owner_id: int
    label: str
    imap_host: str
    username: str
    is_enabled: bool
    state: AccountState
    retry_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_advice: str | None
    folders: tuple[FolderHealth, ...]
    quarantined: tuple[QuarantinedMessage, ...]
    """The first ``QUARANTINE_SHOWN`` (oldest first) not released; ``quarantined_total``
    counts them all (``postroom message quarantine list`` shows each, released ones too)."""
    quarantined_total: int

    @property
    def state_text(self) -> str:
        """``ok``, ``retrying at 14:05:03 UTC``, ``first sync: 120 of 3,000`` ..."""
        if self.state is AccountState.NEEDS_PASSWORD:
            return "login refused: needs a new password"
        if self.state is AccountState.RETRYING:
            return "retrying" + (f" at {self.retry_at:%H:%M:%S} UTC" if self.retry_at else "")
        if self.state is AccountState.FIRST_SYNC:
            progress = self.first_sync
            assert progress is not None
            return f"first sync in progress: {progress.done:,} of {progress.total:,}"
        if self.state is AccountState.OK:
            return "ok"
        return "never synced"

    @property
    def state_label(self) -> str:
        """``state_text`` for a badge beside a progress bar: ``first sync`` without figures."""
        return "first sync" if self.state is AccountState.FIRST_SYNC else self.state_text

    @property
    def first_sync(self) -> Progress | None:
        """Over the folders still in their first sync; None when none is."""
        running = [f.progress for f in self.folders if f.progress is not None]
        if not running:
            return None
        return Progress(sum(p.done for p in running), sum(p.total for p in running))

    @property
    def is_settling(self) -> bool:
        """True while a tracked folder is not live yet (or none was seen yet): worth watching
        for progress. Never while the account waits for a new password, or is not synced at all
        (disabled)."""
        if self.state is AccountState.NEEDS_PASSWORD or not self.is_enabled:
            return False
        return not self.folders or any(
            f.is_tracked and f.status not in (FolderStatus.LIVE, FolderStatus.BEHIND)
            for f in self.folders
        )

    @property
    def behind(self) -> int:
        return sum(f.behind for f in self.folders if f.status is FolderStatus.BEHIND)


def get_account_health(*, session: Session, account_id: int, owner_id: int | None) -> AccountHealth:
    """The health of one account; ``NotFound`` unless ``owner_id`` owns it (None: any)."""
    account = owned_account(session=session, account_id=account_id, owner_id=owner_id)
    return _health(session, account)


def list_account_health(*, session: Session, owner_id: int | None) -> list[AccountHealth]:
    """The health of every account of ``owner_id`` (None: every account), oldest first."""
    accounts = account_store.list_accounts(session=session, user_id=owner_id)
    return [_health(session, account) for account in accounts]


def _health(session: Session, account: MailAccount) -> AccountHealth:
    counts = sync_state.count_folder_messages(session=session, account_id=account.id)
    held = sync_state.count_quarantined(session=session, account_id=account.id)
    rows = sync_state.list_folders(session=session, account_id=account.id)
    order = {"inbox": 0, "sent": 1}
    rows.sort(key=lambda f: (not f.is_tracked, order.get(f.role or "", 2), f.name.casefold()))
    folders = tuple(_folder(f, counts.get(f.id, (0, 0)), held.get(f.id, 0)) for f in rows)
    names = {f.id: f.name for f in rows}
    quarantine = [  # released ones are skipped for good: no longer trouble to show
        q
        for q in message_store.list_quarantine(session=session, account_id=account.id)
        if not q.is_suspect and q.released_at is None
    ]
    return AccountHealth(
        account_id=account.id,
        owner_id=account.user_id,
        label=account.label,
        imap_host=account.imap_host,
        username=account.username,
        is_enabled=account.is_enabled,
        state=_state(account, folders),
        retry_at=account.backoff_until,
        last_success_at=account.last_success_at,
        last_error=account.last_error,
        last_error_advice=account.last_error_advice,
        folders=folders,
        quarantined=tuple(
            QuarantinedMessage(
                id=q.id,
                folder=names.get(q.folder_id) if q.folder_id is not None else None,
                uid=q.uid,
                source_path=q.source_path,
                error=q.error,
                attempts=q.attempts,
                last_attempt_at=q.last_attempt_at,
            )
            for q in quarantine[:QUARANTINE_SHOWN]
        ),
        quarantined_total=len(quarantine),
    )


def _folder(folder: MailFolder, counts: tuple[int, int], held: int) -> FolderHealth:
    synced, matched = counts
    behind = max(0, (folder.server_count or 0) - synced - held)
    if not folder.is_tracked:
        status = FolderStatus.NOT_SYNCED  # dropped: its counts stay as they were
    elif folder.state is FolderState.LIVE:
        status = FolderStatus.BEHIND if behind > 0 else FolderStatus.LIVE
    else:
        status = FolderStatus(folder.state.value)
    return FolderHealth(
        id=folder.id,
        name=folder.name,
        role=folder.role,
        is_tracked=folder.is_tracked,
        status=status,
        on_server=folder.server_count,
        synced=synced,
        matched=matched,
        quarantined=held,
        behind=behind if status is FolderStatus.BEHIND else 0,
        last_success_at=folder.last_success_at,
        last_error=folder.last_error,
    )


def _state(account: MailAccount, folders: Sequence[FolderHealth]) -> AccountState:
    if account.needs_reauth:
        return AccountState.NEEDS_PASSWORD
    if account.last_error:
        return AccountState.RETRYING
    if any(f.progress is not None for f in folders):
        return AccountState.FIRST_SYNC
    if account.last_success_at is not None:
        return AccountState.OK
    return AccountState.NEVER_SYNCED


@dataclass(frozen=True, slots=True)
class DatabaseSummary:
    """What ``postroom status`` shows first: where the data is and how much it holds."""

    schema: str | None
    counts: tuple[tuple[str, int], ...]
    """``(what, how many)`` in the order shown: records, companies, mail accounts, ..."""


def database_summary(*, session: Session) -> DatabaseSummary:
    """The schema revision and the number of rows of what users care about."""
    models = (
        ("records", Person),
        ("companies", Company),
        ("mail accounts", MailAccount),
        ("messages", MailMessage),
        ("activities", Activity),
        ("quarantined messages", Quarantine),
    )
    counts = tuple(
        (label, int(session.scalar(select(func.count()).select_from(model)) or 0))
        for label, model in models
    )
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return DatabaseSummary(schema=current_revision(engine), counts=counts)


NO_WORKER = "no worker running: start `postroom worker` or `postroom serve`"


@dataclass(frozen=True, slots=True)
class RunningWorker:
    """A ``postroom worker`` (or ``serve``) whose heartbeat is recent."""

    host: str
    pid: int
    started_at: datetime
    seen_at: datetime

    @property
    def text(self) -> str:
        return f"running on {self.host} (pid {self.pid}) since {self.started_at:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, slots=True)
class WorkerSummary:
    """Whether mail is being synced around the clock: the workers running, longest first."""

    running: tuple[RunningWorker, ...]

    @property
    def is_running(self) -> bool:
        return bool(self.running)

    @property
    def text(self) -> str:
        """``running on HOST (pid N) since T`` (each, joined by ``; ``), or what to start."""
        if not self.running:
            return NO_WORKER
        return "; ".join(worker.text for worker in self.running)


def worker_summary(*, session: Session) -> WorkerSummary:
    """The workers seen within twice their heartbeat interval."""
    return WorkerSummary(
        tuple(
            RunningWorker(host=w.host, pid=w.pid, started_at=w.started_at, seen_at=w.seen_at)
            for w in worker_store.list_running_workers(session=session)
        )
    )
