"""``postroom``: the one command-line entry point."""

from __future__ import annotations

import logging

import typer
from sqlalchemy import func, select

from postroom import __version__
from postroom.cli import accounts, folders, messages, records, serve, sync, users
from postroom.cli.runtime import (
    Runtime,
    console,
    make_table,
    open_runtime,
    redact_url,
    user_errors,
)
from postroom.store import messages as message_store
from postroom.store import sync_state
from postroom.store.db import current_revision
from postroom.store.models import (
    Activity,
    Company,
    FolderState,
    MailAccount,
    MailMessage,
    Person,
    Quarantine,
)

QUARANTINE_SHOWN = 5
"""Quarantined messages listed per account by ``postroom status``."""

app = typer.Typer(
    help="Postroom: every email with a known person, logged on their record exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log at INFO on stderr"),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)


@app.command()
@user_errors
def init() -> None:
    """Create the data folder, the database and the secret key (safe to run again)."""
    from postroom.services.secrets import load_or_create_key

    runtime = open_runtime()
    load_or_create_key(runtime.settings)
    console.print(f"data folder  {runtime.settings.home}")
    console.print(f"database     {redact_url(runtime.settings.database_url)}")
    key = "from POSTROOM_SECRET_KEY" if runtime.settings.secret_key else runtime.settings.key_path
    console.print(f"secret key   {key}")
    console.print("[green]ready[/]: next, `postroom record add` or `postroom record import FILE`")


@app.command()
@user_errors
def status() -> None:
    """Where the data is and what it holds."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        counts = {
            label: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for label, model in (
                ("records", Person),
                ("companies", Company),
                ("mail accounts", MailAccount),
                ("messages", MailMessage),
                ("activities", Activity),
                ("quarantined messages", Quarantine),
            )
        }
    table = make_table("what", "value", title=f"Postroom {__version__}", show_header=False)
    table.add_row("database", redact_url(runtime.settings.database_url))
    table.add_row("schema", current_revision(runtime.engine) or "-")
    for label, value in counts.items():
        table.add_row(label, str(value))
    console.print(table)
    _print_accounts(runtime)


def _print_accounts(runtime: Runtime) -> None:
    """Per account and folder: state, counts on the server / synced / matched, last error."""
    with runtime.sessions() as session:
        for account in session.scalars(select(MailAccount).order_by(MailAccount.id)):
            if account.needs_reauth:
                state = "[red]login refused: needs a new password[/]"
            elif account.last_error:
                retry = account.backoff_until
                state = "[yellow]retrying" + (f" at {retry:%H:%M:%S} UTC" if retry else "") + "[/]"
            elif account.last_success_at:
                state = "[green]ok[/]"
            else:
                state = "never synced"
            when = (
                account.last_success_at.strftime("%Y-%m-%d %H:%M:%S UTC")
                if (account.last_success_at)
                else "never"
            )
            console.print(
                f"\n[bold]#{account.id} {account.label}[/] {account.imap_host}  {state}  "
                f"last success: {when}"
            )
            if account.last_error:
                advice = f" — {account.last_error_advice}" if account.last_error_advice else ""
                console.print(f"  last error: {account.last_error}{advice}", markup=False)
            if account.needs_reauth:
                console.print(
                    f"  what to do: `postroom account password {account.id}`; a running "
                    "worker takes the new password at its next account list reload",
                    markup=False,
                )
            counts = sync_state.count_folder_messages(session=session, account_id=account.id)
            quarantined = sync_state.count_quarantined(session=session, account_id=account.id)
            folders = make_table(
                "folder",
                "role",
                "state",
                "on server",
                "synced",
                "matched",
                "quarantined",
                "last error",
            )
            for folder in sync_state.list_folders(session=session, account_id=account.id):
                synced, matched = counts.get(folder.id, (0, 0))
                held = quarantined.get(folder.id, 0)
                behind = (folder.server_count or 0) - synced - held
                folder_state = folder.state.value
                if not folder.is_tracked:
                    folder_state = "[dim]not synced[/]"  # dropped: its counts are as they were
                elif folder.state is FolderState.LIVE and behind > 0:
                    folder_state = f"[yellow]behind by {behind}[/]"
                folders.add_row(
                    folder.name,
                    folder.role or "",
                    folder_state,
                    "" if folder.server_count is None else str(folder.server_count),
                    str(synced),
                    str(matched),
                    str(held),
                    folder.last_error or "",
                )
            if folders.row_count:
                console.print(folders)
            held_rows = [
                q
                for q in message_store.list_quarantine(session=session, account_id=account.id)
                if not q.is_suspect
            ]
            for q in held_rows[:QUARANTINE_SHOWN]:
                where = f"UID {q.uid}" if q.uid is not None else (q.source_path or "")
                console.print(f"  quarantined {where}: {q.error}", markup=False)
            if len(held_rows) > QUARANTINE_SHOWN:
                console.print(f"  ... and {len(held_rows) - QUARANTINE_SHOWN} more quarantined")


if __name__ == "__main__":
    app()
