"""``postroom message ingest``: run .eml files through the pipeline into the database
(``services.ingesting``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from postroom.cli import quarantine
from postroom.cli.runtime import console, open_runtime, shown, user_errors
from postroom.services.ingesting import (
    MB,
    IngestReport,
    choose_account,
    find_message_files,
    ingest_files,
    plan_batches,
)

app = typer.Typer(help="Messages: ingest .eml files.", no_args_is_help=True)
app.add_typer(quarantine.app, name="quarantine")


@app.command("ingest")
@user_errors
def ingest(
    files: Annotated[list[Path], typer.Argument(help=".eml files, or folders to search for them")],
    account: Annotated[
        int | None, typer.Option("--account", "-a", help="account id (needed when several)")
    ] = None,
    max_size: Annotated[
        int | None,
        typer.Option(
            "--max-size",
            min=1,
            metavar="MB",
            help="largest file read, in MB (default 50, or POSTROOM_MAX_MESSAGE_MB); a larger "
            "one is reported and left unread",
        ),
    ] = None,
) -> None:
    """Log .eml files as activities on the records they concern (each message once)."""
    runtime = open_runtime()
    limit_mb = runtime.settings.max_message_mb if max_size is None else max_size
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
        for batch in plan_batches(paths):
            with runtime.sessions.begin() as session:
                total += ingest_files(
                    session=session,
                    account_id=account_id,
                    paths=batch,
                    max_size=limit_mb * MB,
                    on_progress=lambda n: progress.advance(task, n),
                )
    console.print(
        f"{total.files} files: {total.messages_new} new messages, "
        f"{total.messages_known} already known, {total.activities_created} activities created"
        + (f", {total.vetoed_private} kept out by the private list" if total.vetoed_private else "")
    )
    for file in total.quarantined:
        console.print(f"[yellow]quarantined[/] {shown(file.path)}: {shown(file.error)}")
    if any(file.is_too_large for file in total.quarantined):
        console.print(
            f"[dim]files over {limit_mb} MB are not read: raise the limit with --max-size MB "
            "or POSTROOM_MAX_MESSAGE_MB[/]"
        )
    if total.quarantined:
        raise typer.Exit(code=1)
