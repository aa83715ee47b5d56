"""Use cases of the sync engine: who to sync, with which credentials and TLS trust, and which
folders beyond INBOX and Sent.

This is where sealed passwords are opened (``services.secrets``) and handed to the engine as
``AccountLogin`` values; the engine itself never sees the key ring.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from postroom.config import Settings
from postroom.errors import ConfigError, InputError, NotFound
from postroom.imap import INBOX, Folder, ServerAddress, is_inbox
from postroom.services.secrets import Keyring
from postroom.store import sync_state
from postroom.store.models import MailAccount, MailFolder, TlsMode
from postroom.sync import heap
from postroom.sync.account import AccountLogin as AccountLogin  # re-exported: the faces pass it
from postroom.sync.account import AccountReport as AccountReport
from postroom.sync.account import AccountSyncer, find_role
from postroom.sync.supervisor import run_supervisor

ALWAYS_TRACKED = ("inbox", "sent")
"""The roles of the folders every account syncs, whatever the user chose."""


def build_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The system's trust store, plus ``POSTROOM_IMAP_CA_FILE`` when set; None = default.
    The same trust for IMAP and SMTP (``connection_test.smtp_address``)."""
    if settings.imap_ca_file is None:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(settings.imap_ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the CA file {settings.imap_ca_file}: {exc}",
            advice="point POSTROOM_IMAP_CA_FILE at a PEM file of CA certificates",
        ) from exc
    return context


def server_address(account: MailAccount, context: ssl.SSLContext | None) -> ServerAddress:
    return ServerAddress(
        host=account.imap_host,
        port=account.imap_port,
        tls=account.imap_tls,
        ssl_context=context,
        allow_plaintext=account.imap_tls is TlsMode.PLAIN,
    )


def load_logins(
    *,
    session: Session,
    keyring: Keyring,
    settings: Settings,
    account_ids: Sequence[int] | None = None,
) -> list[AccountLogin]:
    """The enabled accounts (or those asked for) with their passwords opened."""
    return _logins(session, keyring, build_ssl_context(settings), account_ids)


def _logins(
    session: Session,
    keyring: Keyring,
    context: ssl.SSLContext | None,
    account_ids: Sequence[int] | None = None,
) -> list[AccountLogin]:
    query = select(MailAccount).order_by(MailAccount.id)
    if account_ids is not None:
        query = query.where(MailAccount.id.in_(account_ids))
    else:
        query = query.where(MailAccount.is_enabled)
    return [
        AccountLogin(
            account_id=account.id,
            label=account.label,
            address=server_address(account, context),
            username=account.username,
            password=keyring.open(account.secret),
        )
        for account in session.scalars(query)
    ]


def choose_folders(
    *, session: Session, account_id: int, on_server: Sequence[Folder], names: Sequence[str]
) -> list[MailFolder]:
    """Track the folders called ``names`` (as the server lists them in ``on_server``, decoded;
    ``inbox`` in any case) from now on: the sync takes their history and new mail as it does
    INBOX's, on a reconcile rather than a push. Raises ``NotFound`` for a name the server does
    not list, or lists as unselectable, before tracking any."""
    if session.get(MailAccount, account_id) is None:
        raise NotFound(f"mail account #{account_id} does not exist")
    chosen = [_listed(on_server, name, account_id) for name in names]
    rows = []
    for folder in chosen:
        row = sync_state.ensure_folder(
            session=session,
            account_id=account_id,
            name_raw=folder.name_raw,
            name=folder.name,
            delimiter=folder.delimiter,
            role=find_role(folder.name, folder.flags, folder.delimiter),
        )
        row.is_tracked = True
        rows.append(row)
    return rows


def drop_folders(*, session: Session, account_id: int, names: Sequence[str]) -> list[MailFolder]:
    """Stop syncing the folders called ``names``; what they brought stays logged. Raises
    ``NotFound`` for a folder that is not tracked and ``InputError`` for INBOX or Sent, which
    every account syncs."""
    tracked = {
        f.name: f for f in sync_state.list_tracked_folders(session=session, account_id=account_id)
    }
    rows = []
    for name in names:
        row = tracked.get(_as_listed(name))
        if row is None:
            raise NotFound(
                f"account #{account_id} does not sync a folder {name!r}",
                advice=f"see `postroom account folders {account_id}`",
            )
        if row.role in ALWAYS_TRACKED:
            raise InputError(
                f"{row.name} is always synced", advice="INBOX and Sent cannot be dropped"
            )
        rows.append(row)
    for row in rows:
        row.is_tracked = False
    return rows


def _as_listed(name: str) -> str:
    """A folder name as servers list it: INBOX is INBOX in any case (RFC 9051 5.1)."""
    return INBOX if is_inbox(name) else name


def _listed(on_server: Sequence[Folder], name: str, account_id: int) -> Folder:
    for folder in on_server:
        if _as_listed(folder.name) == _as_listed(name) and folder.is_selectable:
            return folder
    raise NotFound(
        f"the server has no folder {name!r} to sync",
        advice=f"see `postroom account folders {account_id}` for the folder names",
    )


async def watch_accounts(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    settings: Settings,
    stop: asyncio.Event,
    refresh_every: float = 60.0,
    reconcile_every: float = 600.0,
) -> None:
    """Sync every enabled account around the clock until ``stop`` is set (``postroom worker``
    and ``postroom serve``): IDLE push, a reconcile every ``reconcile_every`` seconds, the
    account list reloaded every ``refresh_every`` (and at least at every reconcile): accounts
    added, removed or edited and folders tracked or untracked meanwhile are taken then, without
    a restart (docs/sync.md, "Push and reconcile")."""
    # one TLS context for the worker's life: logins compare equal until an account changes
    context = build_ssl_context(settings)

    def load() -> list[AccountLogin]:
        with sessions() as session:
            return _logins(session, keyring, context)

    await run_supervisor(
        load_logins=load,
        sessions=sessions,
        stop=stop,
        refresh_every=refresh_every,
        reconcile_every=reconcile_every,
    )


Progress = Callable[[AccountLogin, str, int, int | None], None]
"""``progress(login, folder, done, total)``: ``done`` more messages of ``folder``; ``total``
when it is known (a first sync's size)."""


def settle_sync_process() -> None:
    """Ready this process for a long sync: what it loaded so far leaves the garbage
    collector's full collections (``sync.heap``)."""
    heap.settle()


def sync_accounts_once(
    *,
    logins: Sequence[AccountLogin],
    sessions: sessionmaker[Session],
    batch_size: int = 500,
    on_progress: Progress | None = None,
) -> list[AccountReport]:
    """One complete pass over each account (its first sync included), the accounts at the
    same time; a report per login, in order. Never raises for one account's IMAP trouble:
    its report says what failed."""

    async def run_all() -> list[AccountReport]:
        syncers = [
            AccountSyncer(
                login=login,
                sessions=sessions,
                batch_size=batch_size,
                on_progress=None if on_progress is None else functools.partial(on_progress, login),
            )
            for login in logins
        ]
        return list(await asyncio.gather(*(s.sync_once() for s in syncers)))

    return asyncio.run(run_all())
