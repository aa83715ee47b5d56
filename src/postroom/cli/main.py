"""``postroom``: the one command-line entry point."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from postroom import __version__
from postroom.cli import accounts, folders, messages, records, serve, sync, users
from postroom.cli.runtime import (
    console,
    fail,
    make_table,
    open_runtime,
    redact_url,
    shown,
    user_errors,
)
from postroom.services import health

QUARANTINE_SHOWN = 5
"""Quarantined messages listed per account by ``postroom status``."""

app = typer.Typer(
    help="Postroom: every email with a known person, logged on their record exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # every command's: a docstring's line breaks are not kept
)
app.add_typer(records.app, name="record")
app.add_typer(messages.app, name="message")
app.add_typer(accounts.app, name="account")
app.add_typer(accounts.org_app, name="org")
app.add_typer(users.app, name="user")
app.command("serve")(serve.serve_command)
app.command("sync")(sync.sync_command)
app.command("worker")(sync.worker_command)
accounts.app.command("test")(sync.test_command)
accounts.app.command("folders")(folders.folders_command)
accounts.app.command("track")(folders.track_command)
accounts.app.command("untrack")(folders.untrack_command)


WIRE_LOG = "postroom.imap.wire"
"""The IMAP wire log's logger: every line sent and received, credentials redacted."""


@app.callback()
def main(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="-v: log at INFO on stderr; -vv: DEBUG, with the IMAP wire log (passwords "
            "redacted; mail text is in it)",
        ),
    ] = 0,
    wire_log: Annotated[
        Path | None,
        typer.Option(
            "--wire-log",
            metavar="FILE",
            dir_okay=False,
            help="append the IMAP wire log (passwords redacted) to FILE, readable by you only",
        ),
    ] = None,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    if verbose >= 2:
        logging.getLogger("postroom").setLevel(logging.DEBUG)
    if wire_log is not None:
        _log_wire_to(wire_log, also_stderr=verbose >= 2)


def _log_wire_to(path: Path, *, also_stderr: bool) -> None:
    """The wire log appended to ``path`` (mode 0600: it holds mail text); on stderr too only
    with ``-vv``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        fail(
            f"the wire log {path} cannot be opened: {exc.strerror}",
            "give --wire-log a file in a folder you may write to",
        )
    stream = os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    wire = logging.getLogger(WIRE_LOG)
    wire.setLevel(logging.DEBUG)
    wire.addHandler(handler)
    wire.propagate = also_stderr


@app.command()
@user_errors
def init() -> None:
    """Create the data folder, the database and the secret key (safe to run again)."""
    from postroom.services.secrets import load_or_create_key

    runtime = open_runtime()
    load_or_create_key(runtime.settings)
    console.print(f"data folder  {shown(runtime.settings.home)}")
    console.print(f"database     {shown(redact_url(runtime.settings.database_url))}")
    key = "from POSTROOM_SECRET_KEY" if runtime.settings.secret_key else runtime.settings.key_path
    console.print(f"secret key   {shown(key)}")
    console.print("[green]ready[/]: next, `postroom record add` or `postroom record import FILE`")


@app.command()
@user_errors
def status() -> None:
    """Where the data is and what it holds; each mail account's health."""
    runtime = open_runtime()
    with runtime.read() as session:
        summary = health.database_summary(session=session)
        accounts = health.list_account_health(session=session, owner_id=None)
        worker = health.worker_summary(session=session)
    table = make_table("what", "value", title=f"Postroom {__version__}", show_header=False)
    table.add_row("database", shown(redact_url(runtime.settings.database_url)))
    table.add_row("schema", shown(summary.schema or "-"))
    for label, value in summary.counts:
        table.add_row(shown(label), str(value))
    console.print(table)
    if worker.is_running:
        console.print(f"[green]worker[/]: {shown(worker.text)}")
    else:
        console.print(f"[yellow]{shown(worker.text)}[/]")
    for account in accounts:
        _print_account(account)


_STATE_STYLE = {
    health.AccountState.OK: "green",
    health.AccountState.RETRYING: "yellow",
    health.AccountState.NEEDS_PASSWORD: "red",
    health.AccountState.FIRST_SYNC: "cyan",
    health.AccountState.NEVER_SYNCED: "default",
}


def _print_account(account: health.AccountHealth) -> None:
    """Per folder: state, counts on the server / synced / matched, last error."""
    style = _STATE_STYLE[account.state]
    when = (
        account.last_success_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if account.last_success_at
        else "never"
    )
    console.print(
        f"\n[bold]#{account.account_id} {shown(account.label)}[/] {shown(account.imap_host)}  "
        f"[{style}]{shown(account.state_text)}[/]  last success: {when}"
    )
    if account.last_error:
        advice = f" — {account.last_error_advice}" if account.last_error_advice else ""
        console.print(f"  last error: {shown(account.last_error)}{shown(advice)}")
    if account.state is health.AccountState.NEEDS_PASSWORD:
        console.print(
            f"  what to do: `postroom account password {account.account_id}`; a running "
            "worker takes the new password at its next account list reload",
            markup=False,
        )
    folders = make_table(
        "folder", "role", "state", "on server", "synced", "matched", "quarantined", "last error"
    )
    for folder in account.folders:
        state = shown(folder.status_text)
        if folder.status is health.FolderStatus.NOT_SYNCED:
            state = f"[dim]{state}[/]"
        elif folder.status is health.FolderStatus.BEHIND:
            state = f"[yellow]{state}[/]"
        folders.add_row(
            shown(folder.name),
            shown(folder.role or ""),
            state,
            "" if folder.on_server is None else str(folder.on_server),
            str(folder.synced),
            str(folder.matched),
            str(folder.quarantined),
            shown(folder.last_error or ""),
        )
    if folders.row_count:
        console.print(folders)
    for held in account.quarantined[:QUARANTINE_SHOWN]:
        console.print(f"  quarantined {shown(held.where)}: {shown(held.error)}")
    if account.quarantined_total > QUARANTINE_SHOWN:
        console.print(f"  ... and {account.quarantined_total - QUARANTINE_SHOWN} more quarantined")


if __name__ == "__main__":
    app()
