"""``postroom message quarantine list|retry|release``: the messages the sync could not read
(``services.quarantine``; docs/sync.md, "Quarantine")."""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.runtime import console, fail, make_table, open_runtime, shown, user_errors
from postroom.services.quarantine import (
    list_quarantine,
    release_quarantined,
    retry_quarantined,
)

app = typer.Typer(
    help="Messages the sync could not read: list them, try them again, or skip them for good.",
    no_args_is_help=True,
)

Ids = Annotated[list[int] | None, typer.Argument(help="ids from `quarantine list`")]
Account = Annotated[int | None, typer.Option("--account", "-a", help="only this account")]
Every = Annotated[bool, typer.Option("--all", help="every quarantined message (of --account)")]


@app.command("list")
@user_errors
def list_command(
    account: Account = None,
    released: Annotated[
        bool, typer.Option("--released", help="also the messages released (skipped for good)")
    ] = False,
) -> None:
    """Each quarantined message: account, folder and UID (or file), error, since when, tries,
    and what happens next."""
    runtime = open_runtime()
    with runtime.read() as session:
        entries = list_quarantine(session=session, account_id=account, include_released=released)
    if not entries:
        console.print("nothing is quarantined")
        return
    table = make_table("id", "account", "where", "error", "since", "tries", "next")
    for entry in entries:
        table.add_row(
            str(entry.id),
            f"#{entry.account_id} {shown(entry.account)}" if entry.account_id else "-",
            shown(entry.where),
            shown(entry.error),
            f"{entry.since:%Y-%m-%d %H:%M} UTC",
            str(entry.attempts),
            entry.next_text,
        )
    console.print(table)
    console.print(
        "`postroom message quarantine retry ID` tries one again at the next sync; "
        "`release ID` skips it for good"
    )


def _chosen(ids: list[int] | None, every: bool) -> list[int]:
    if bool(ids) == every:
        fail("give the ids of the messages, or --all", "see `postroom message quarantine list`")
    return ids or []


@app.command("retry")
@user_errors
def retry_command(ids: Ids = None, account: Account = None, every: Every = False) -> None:
    """Try messages again at their folder's next sync (`sync --once` or the worker's)."""
    chosen = _chosen(ids, every)
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        done = retry_quarantined(session=session, ids=chosen, account_id=account)
    console.print(f"{done} to be tried again at the next sync")


@app.command("release")
@user_errors
def release_command(ids: Ids = None, account: Account = None, every: Every = False) -> None:
    """Skip messages for good: never tried again or logged, no longer shown as trouble
    (`retry` undoes it)."""
    chosen = _chosen(ids, every)
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        done = release_quarantined(session=session, ids=chosen, account_id=account)
    console.print(f"{done} released: skipped for good")
