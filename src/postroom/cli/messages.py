"""``postroom message ingest``: run .eml files through the pipeline into the database
(``services.ingesting``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from postroom.cli import quarantine
from postroom.cli.runtime import console, open_runtime, user_errors
from postroom.services.ingesting import (
    IngestReport,
    choose_account,
    find_message_files,
    ingest_files,
)

app = typer.Typer(help="Messages: ingest .eml files.", no_args_is_help=True)
app.add_typer(quarantine.app, name="quarantine")

BATCH = 200
"""Files per transaction: a long ingest keeps what it did if it stops."""


@app.command("ingest")
@user_errors
def ingest(
    files: Annotated[list[Path], typer.Argument(help=".eml files, or folders to search for them")],
    account: Annotated[
        int | None, typer.Option("--account", "-a", help="account id (needed when several)")
    ] = None,
) -> None:
    """Log .eml files as activities on the records they concern (each message once)."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        account_id = choose_account(session=session, account_id=account)
    paths = find_message_files(files)
    total = IngestReport()
    with Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=len(paths) < 50,
    ) as progress:
        task = progress.add_task("ingest", total=len(paths))
        for start in range(0, len(paths), BATCH):
            with runtime.sessions.begin() as session:
                total += ingest_files(
                    session=session,
                    account_id=account_id,
                    paths=paths[start : start + BATCH],
                    on_progress=lambda n: progress.advance(task, n),
                )
    console.print(
        f"{total.files} files: {total.messages_new} new messages, "
        f"{total.messages_known} already known, {total.activities_created} activities created"
        + (f", {total.vetoed_private} kept out by the private list" if total.vetoed_private else "")
    )
    for file in total.quarantined:
        console.print(f"[yellow]quarantined[/] {file.path}: {file.error}")
    if total.quarantined:
        raise typer.Exit(code=1)
