"""``postroom sync --once``, ``postroom worker`` and ``postroom account test``."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from postroom.cli.runtime import console, fail, open_runtime, shown, user_errors
from postroom.services import connection_test
from postroom.services.connection_test import Outcome, Step
from postroom.services.secrets import load_or_create_key
from postroom.services.syncing import (
    AccountLogin,
    load_logins,
    settle_sync_process,
    sync_accounts_once,
    watch_accounts,
)

log = logging.getLogger(__name__)


def account_logins(account: int | None) -> list[AccountLogin]:
    """The logins of every enabled account, or of ``account``; exits with advice when none."""
    runtime = open_runtime()
    keyring = load_or_create_key(runtime.settings)
    with runtime.sessions() as session:
        logins = load_logins(
            session=session,
            keyring=keyring,
            settings=runtime.settings,
            account_ids=None if account is None else [account],
        )
    if account is not None and not logins:
        fail(f"mail account {account} does not exist", "see `postroom account list`")
    if not logins:
        fail("no mail account to sync", "add one with `postroom account add`")
    return logins


def sync_command(
    once: Annotated[bool, typer.Option("--once", help="sync every folder once, then exit")] = False,
    account: Annotated[
        int | None, typer.Option("--account", "-a", help="only this account")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=5000, help="messages per committed batch")
    ] = 500,
) -> None:
    """Sync mail accounts: with --once, a complete pass (first sync included), then exit."""
    if not once:
        fail("say --once (or run `postroom worker` to sync around the clock)")
    logins = account_logins(account)
    runtime = open_runtime()
    settle_sync_process()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[tuple[int, str], TaskID] = {}

        def on_progress(login: AccountLogin, folder: str, done: int, total: int | None) -> None:
            key = (login.account_id, folder)
            if key not in tasks:
                tasks[key] = progress.add_task(f"#{login.account_id} {shown(folder)}", total=None)
            if total is not None:
                progress.update(tasks[key], total=total)
            progress.advance(tasks[key], done)

        try:
            reports = sync_accounts_once(
                logins=logins,
                sessions=runtime.sessions,
                batch_size=batch_size,
                on_progress=on_progress,
            )
        except KeyboardInterrupt:
            progress.stop()
            fail(
                "sync interrupted (Ctrl-C); every batch committed before it is kept",
                "it is safe to run `postroom sync --once` again: it goes on where this one stopped",
            )
    failed = 0
    for login, report in zip(logins, reports, strict=True):
        who = f"#{login.account_id} {shown(login.label)}"
        if report.error:
            failed += 1
            advice = f" ({shown(report.advice)})" if report.advice else ""
            console.print(f"[red]{who}: {shown(report.error)}{advice}[/]")
            continue
        for folder in report.folders:
            failed += bool(folder.errors)
            console.print(
                f"#{login.account_id} {shown(folder.folder)}: {folder.fetched} fetched, "
                f"{folder.messages_new} new, {folder.activities_created} activities, "
                f"{folder.unlinked} gone, {folder.quarantined} quarantined"
                + ("" if not folder.errors else f" [red]{shown('; '.join(folder.errors))}[/]")
            )
    if failed:
        # a folder or an account failed: say so to scripts and cron (its error is above)
        raise typer.Exit(code=1)


def show_sync_log() -> None:
    """The sync's news on stderr, with the time, even without ``--verbose``: each account
    connected and live, each tenth of a first sync (``sync.account``), warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    sync_log = logging.getLogger("postroom.sync")
    sync_log.setLevel(min(logging.INFO, logging.getLogger().level or logging.INFO))
    sync_log.addHandler(handler)
    sync_log.propagate = False


def worker_command(
    refresh: Annotated[float, typer.Option(help="seconds between account list reloads")] = 60.0,
    reconcile: Annotated[
        float,
        typer.Option(
            min=1.0, help="seconds between full checks of every folder (pushes can be lost)"
        ),
    ] = 600.0,
) -> None:
    """Sync every account around the clock (IDLE push + reconcile); stops cleanly on
    SIGTERM or SIGINT, and resumes where it stopped when started again."""
    runtime = open_runtime()
    keyring = load_or_create_key(runtime.settings)
    settle_sync_process()
    show_sync_log()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        console.print("worker started; SIGTERM or Ctrl-C stops it")
        await watch_accounts(
            sessions=runtime.sessions,
            keyring=keyring,
            settings=runtime.settings,
            stop=stop,
            refresh_every=refresh,
            reconcile_every=reconcile,
        )

    asyncio.run(main())
    console.print("worker stopped")


_CLI_LABELS = {
    Step.DNS: "connect (DNS)",
    Step.TCP: "connect",
    Step.TLS: "TLS certificate",
    Step.LOGIN: "login",
    Step.INBOX: "inbox folder",
    Step.SENT: "sent folder",
    Step.SMTP_DNS: "SMTP connect (DNS)",
    Step.SMTP_TCP: "SMTP connect",
    Step.SMTP_TLS: "SMTP TLS certificate",
    Step.SMTP_LOGIN: "SMTP login",
}
_MARKS = {
    Outcome.OK: "[green]✓[/]",
    Outcome.FAILED: "[red]✗[/]",
    Outcome.WARNING: "[yellow]![/]",
}


def test_command(account: Annotated[int, typer.Argument(help="account id")]) -> None:
    """Try an account: DNS, connection, TLS certificate, login, INBOX and Sent, then the same
    for its SMTP server (nothing is sent); say what failed and what to do."""
    runtime = open_runtime()
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        login = connection_test.saved_login(
            session=session,
            keyring=keyring,
            settings=runtime.settings,
            account_id=account,
            owner_id=None,
        )
    console.print(
        f"server   {shown(login.address.host)}:{login.address.port} ({login.address.tls.value})"
    )
    smtp = login.smtp
    console.print(
        f"sending  {shown(smtp.host)}:{smtp.port} ({smtp.tls.value})"
        if smtp is not None
        else "sending  no SMTP server (cannot send): add one with "
        f"`postroom account edit {account} --smtp-host HOST`"
    )
    report = connection_test.try_saved_login(login)
    for step in report.steps:
        if step.outcome is Outcome.SKIPPED:
            continue
        label = _CLI_LABELS[step.step]
        console.print(f"{_MARKS[step.outcome]} {label}: {shown(step.message)}")
        if step.advice and step.outcome is not Outcome.OK:
            console.print(f"  what to do: {shown(step.advice)}")
    if report.extensions:
        console.print(f"  server offers: {shown(', '.join(report.extensions))}")
    if not report.ok:
        raise typer.Exit(code=1)


sync_command = user_errors(sync_command)
worker_command = user_errors(worker_command)
test_command = user_errors(test_command)
