"""``postroom``: the one command-line entry point."""

from __future__ import annotations

import logging

import typer
from sqlalchemy import func, select

from postroom import __version__
from postroom.cli import accounts, messages, records
from postroom.cli.runtime import console, make_table, open_runtime, redact_url, user_errors
from postroom.store.db import current_revision
from postroom.store.models import (
    Activity,
    Company,
    MailAccount,
    MailMessage,
    Person,
    Quarantine,
)

app = typer.Typer(
    help="Postroom: every email with a known person, logged on their record exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(records.app, name="record")
app.add_typer(messages.app, name="message")
app.add_typer(accounts.app, name="account")
app.add_typer(accounts.org_app, name="org")


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


if __name__ == "__main__":
    app()
