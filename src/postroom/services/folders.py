"""Which of a mail account's folders it syncs: the server's list, and tracking a folder or
dropping it, for the owner only (docs/web.md; ``postroom account folders|track|untrack``).

Every account syncs INBOX and Sent; a user may add others (an archive, a folder a filter
fills). Every function that takes an account id also takes ``owner_id``: another user's
account is ``NotFound`` (``owner_id=None``, the CLI, sees every account). Functions taking
``*, session`` never commit; the ones that talk to the server block (their own event loop)
and are for a thread without one (a CLI command, a sync route).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from postroom.config import Settings
from postroom.imap import Folder as Folder  # re-exported: a server folder, for the faces
from postroom.imap import ImapClient
from postroom.services.accounts import owned_account
from postroom.services.secrets import Keyring
from postroom.services.syncing import (
    ALWAYS_TRACKED,
    build_ssl_context,
    choose_folders,
    drop_folders,
    server_address,
)
from postroom.store import sync_state
from postroom.sync.account import AccountLogin, find_role

TIMEOUT = 20.0


def load_login(
    *,
    session: Session,
    keyring: Keyring,
    settings: Settings,
    account_id: int,
    owner_id: int | None,
) -> AccountLogin:
    """One account's login (enabled or not); ``NotFound`` unless ``owner_id`` owns it."""
    account = owned_account(session=session, account_id=account_id, owner_id=owner_id)
    return AccountLogin(
        account_id=account.id,
        label=account.label,
        address=server_address(account, build_ssl_context(settings)),
        username=account.username,
        password=keyring.open(account.secret),
    )


async def fetch_folders(login: AccountLogin, *, timeout: float = TIMEOUT) -> list[Folder]:
    """The folders the account's server lists (LIST), logged in as the sync would. Raises
    ``ImapError`` (with advice) when the server cannot be reached or refuses the login."""
    client = await ImapClient.connect(login.address, timeout=timeout, command_timeout=timeout)
    try:
        await client.login(login.username, login.password)
        folders: list[Folder] = await client.list_folders()
        return folders
    finally:
        await client.logout()


def list_server_folders(login: AccountLogin, *, timeout: float = TIMEOUT) -> list[Folder]:
    """``fetch_folders``, blocking."""
    return asyncio.run(fetch_folders(login, timeout=timeout))


@dataclass(frozen=True, slots=True)
class FolderChoice:
    """A folder the server lists, and whether the account syncs it."""

    name: str
    role: str | None
    selectable: bool
    is_tracked: bool
    always: bool
    """INBOX and Sent: every account syncs them; they cannot be dropped."""
    state: str | None
    """The sync state (``new``, ``backfilling``, ``live``, ``resync``) while tracked."""


def folder_choices(
    *, session: Session, account_id: int, owner_id: int | None, on_server: Sequence[Folder]
) -> list[FolderChoice]:
    """The server's folders (``on_server``) with what the account does with each: INBOX,
    Sent, then the others by name."""
    owned_account(session=session, account_id=account_id, owner_id=owner_id)
    known = {f.name_raw: f for f in sync_state.list_folders(session=session, account_id=account_id)}
    choices = []
    for folder in on_server:
        row = known.get(folder.name_raw)
        role = find_role(folder.name, folder.flags, folder.delimiter)
        always = role in ALWAYS_TRACKED
        choices.append(
            FolderChoice(
                name=folder.name,
                role=role,
                selectable=folder.is_selectable,
                is_tracked=always or (row is not None and row.is_tracked),
                always=always,
                state=row.state.value if row is not None and row.is_tracked else None,
            )
        )
    order = {"inbox": 0, "sent": 1}
    return sorted(choices, key=lambda c: (order.get(c.role or "", 2), c.name.casefold()))


def track_folders(
    *,
    session: Session,
    account_id: int,
    owner_id: int | None,
    on_server: Sequence[Folder],
    names: Sequence[str],
) -> list[str]:
    """Sync the folders ``names`` too (``services.syncing.choose_folders``); their names."""
    owned_account(session=session, account_id=account_id, owner_id=owner_id)
    rows = choose_folders(session=session, account_id=account_id, on_server=on_server, names=names)
    return [row.name for row in rows]


def untrack_folders(
    *, session: Session, account_id: int, owner_id: int | None, names: Sequence[str]
) -> list[str]:
    """Stop syncing ``names`` (``services.syncing.drop_folders``); their names."""
    owned_account(session=session, account_id=account_id, owner_id=owner_id)
    rows = drop_folders(session=session, account_id=account_id, names=names)
    return [row.name for row in rows]
