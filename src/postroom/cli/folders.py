"""``postroom account folders|track|untrack``: which folders an account syncs.

Every account syncs INBOX and Sent, pushed by IDLE. A user may add folders (an archive, a
project folder that a filter fills): the sync takes their history and new mail too, checked
at every reconcile (``postroom worker --reconcile``) rather than pushed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from postroom.cli.runtime import console, make_table, open_runtime, shown, user_errors
from postroom.cli.sync import account_logins
from postroom.services.folders import (
    folder_choices,
    list_server_folders,
    track_folders,
    untrack_folders,
)

if TYPE_CHECKING:
    from postroom.services.folders import Folder

AccountId = Annotated[int, typer.Argument(help="account id (see `postroom account list`)")]
Names = Annotated[list[str], typer.Argument(help="folder names, as `account folders` shows")]


@user_errors
def folders_command(account: AccountId) -> None:
    """List the folders on the server and which of them are synced."""
    listed = _list_on_server(account)
    runtime = open_runtime()
    with runtime.read() as session:
        choices = folder_choices(
            session=session, account_id=account, owner_id=None, on_server=listed
        )
    table = make_table("folder", "role", "synced", "state")
    for choice in choices:
        table.add_row(
            shown(choice.name),
            shown(choice.role or ""),
            "yes" if choice.is_tracked else "no",
            shown(choice.state or ""),
        )
    console.print(table)
    console.print(f"add one with `postroom account track {account} <folder>`")


@user_errors
def track_command(account: AccountId, names: Names) -> None:
    """Sync these folders too (their history, then their new mail at every reconcile)."""
    listed = _list_on_server(account)
    runtime = open_runtime()
    with runtime.write() as session:
        chosen = track_folders(
            session=session, account_id=account, owner_id=None, on_server=listed, names=names
        )
    console.print(f"account #{account} syncs {shown(', '.join(chosen))} from its next sync")


@user_errors
def untrack_command(account: AccountId, names: Names) -> None:
    """Stop syncing these folders; the activities they brought stay on the records."""
    runtime = open_runtime()
    with runtime.write() as session:
        dropped = untrack_folders(session=session, account_id=account, owner_id=None, names=names)
    console.print(f"account #{account} no longer syncs {shown(', '.join(dropped))}")


def _list_on_server(account: int) -> list[Folder]:
    """The folders the account's server lists (LIST), logged in as the sync would."""
    [login] = account_logins(account)
    return list_server_folders(login)
