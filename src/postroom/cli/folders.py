"""``postroom account folders|track|untrack``: which folders an account syncs.

Every account syncs INBOX and Sent, pushed by IDLE. A user may add folders (an archive, a
project folder that a filter fills): the sync takes their history and new mail too, checked
at every reconcile (``postroom worker --reconcile``) rather than pushed.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from postroom.cli.runtime import console, make_table, open_runtime, user_errors
from postroom.cli.sync import account_logins
from postroom.imap import Folder, ImapClient
from postroom.services.syncing import choose_folders, drop_folders
from postroom.store import sync_state
from postroom.sync.account import find_role

AccountId = Annotated[int, typer.Argument(help="account id (see `postroom account list`)")]
Names = Annotated[list[str], typer.Argument(help="folder names, as `account folders` shows")]


@user_errors
def folders_command(account: AccountId) -> None:
    """List the folders on the server and which of them are synced."""
    listed = _list_on_server(account)
    runtime = open_runtime()
    with runtime.sessions() as session:
        known = {
            f.name_raw: f for f in sync_state.list_folders(session=session, account_id=account)
        }
        table = make_table("folder", "role", "synced", "state")
        for folder in listed:
            row = known.get(folder.name_raw)
            tracked = row is not None and row.is_tracked
            role = find_role(folder.name, folder.flags, folder.delimiter)
            table.add_row(
                folder.name,
                role or "",
                "yes" if tracked or role else "no",
                row.state.value if tracked and row is not None else "",
            )
    console.print(table)
    console.print(f"add one with `postroom account track {account} <folder>`")


@user_errors
def track_command(account: AccountId, names: Names) -> None:
    """Sync these folders too (their history, then their new mail at every reconcile)."""
    listed = _list_on_server(account)
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        chosen = [
            row.name
            for row in choose_folders(
                session=session, account_id=account, on_server=listed, names=names
            )
        ]
    console.print(f"account #{account} syncs {', '.join(chosen)} from its next sync")


@user_errors
def untrack_command(account: AccountId, names: Names) -> None:
    """Stop syncing these folders; the activities they brought stay on the records."""
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        dropped = [
            row.name for row in drop_folders(session=session, account_id=account, names=names)
        ]
    console.print(f"account #{account} no longer syncs {', '.join(dropped)}")


def _list_on_server(account: int) -> list[Folder]:
    """The folders the account's server lists (LIST), logged in as the sync would."""
    [login] = account_logins(account)

    async def list_folders() -> list[Folder]:
        client = await ImapClient.connect(login.address)
        try:
            await client.login(login.username, login.password)
            return await client.list_folders()
        finally:
            await client.logout()

    return asyncio.run(list_folders())
