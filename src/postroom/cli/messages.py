"""``postroom message ingest``: run .eml files through the pipeline into the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from postroom.cli.runtime import console, fail, open_runtime, user_errors
from postroom.pipeline import FileReport, ingest_files, load_context
from postroom.store.models import MailAccount

app = typer.Typer(help="Messages: ingest .eml files.", no_args_is_help=True)

BATCH = 200


def _expand(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.eml") if p.is_file())
        elif path.is_file():
            yield path
        else:
            fail(f"{path}: no such file or folder")


def _pick_account(account_id: int | None) -> int:
    runtime = open_runtime()
    with runtime.sessions() as session:
        ids = list(session.scalars(select(MailAccount.id).order_by(MailAccount.id)))
    if account_id is not None:
        if account_id not in ids:
            fail(f"mail account {account_id} does not exist", "see `postroom account list`")
        return account_id
    if len(ids) == 1:
        return ids[0]
    if not ids:
        fail(
            "no mail account yet: the account's own addresses decide sent vs received",
            "add one with `postroom account add`",
        )
    fail(f"{len(ids)} mail accounts: say which with --account", "see `postroom account list`")
    raise AssertionError("unreachable")


@app.command("ingest")
@user_errors
def ingest(
    files: Annotated[list[Path], typer.Argument(help=".eml files, or folders to search for them")],
    account: Annotated[
        int | None, typer.Option("--account", "-a", help="account id (needed when several)")
    ] = None,
) -> None:
    """Log .eml files as activities on the records they concern (each message once)."""
    account_id = _pick_account(account)
    paths = list(_expand(files))
    runtime = open_runtime()
    total = FileReport()
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
                context = load_context(session=session, account_id=account_id)
                report = ingest_files(
                    session=session,
                    context=context,
                    paths=paths[start : start + BATCH],
                    on_progress=lambda n: progress.advance(task, n),
                )
            total.add(report)
    stored = total.stored
    console.print(
        f"{total.files} files: {stored.messages_new} new messages, "
        f"{stored.messages_known} already known, {stored.activities_created} activities created"
        + (
            f", {stored.vetoed_private} kept out by the private list"
            if stored.vetoed_private
            else ""
        )
    )
    for path, error in total.errors:
        console.print(f"[yellow]quarantined[/] {path}: {error}")
    if total.errors:
        raise typer.Exit(code=1)
