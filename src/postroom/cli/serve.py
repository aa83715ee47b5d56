"""``postroom serve``: the web app and the sync worker, in one process.

uvicorn serves the app; in the same event loop the supervisor syncs every account (as
``postroom worker`` does). SIGTERM or Ctrl-C stops the server, then the sync, cleanly.
While no admin can sign in, a one-time setup token is printed: the first visit to
``/setup`` needs it, so nobody else who reaches the port can take the firm's admin.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
import uvicorn

from postroom.cli.runtime import console, open_runtime, user_errors
from postroom.errors import InputError
from postroom.services import users
from postroom.services.secrets import load_or_create_key
from postroom.services.syncing import watch_accounts
from postroom.web.app import create_app

log = logging.getLogger(__name__)


@user_errors
def serve_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="also sync mail accounts in this process")
    ] = True,
    secure_cookies: Annotated[
        bool,
        typer.Option("--secure-cookies", help="session cookie over HTTPS only (behind TLS)"),
    ] = False,
    reconcile: Annotated[
        float, typer.Option(min=1.0, help="seconds between full checks of every folder")
    ] = 600.0,
) -> None:
    """Run the web app (and the sync worker) until SIGTERM or Ctrl-C."""
    runtime = open_runtime()
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        setup_token = users.new_setup_token() if users.needs_first_admin(session=session) else None
    app = create_app(runtime, setup_token=setup_token, secure_cookies=secure_cookies)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown_host}:{port}"  # noqa: S104

    async def main() -> None:
        stop = asyncio.Event()
        sync_task = (
            asyncio.create_task(
                watch_accounts(
                    sessions=runtime.sessions,
                    keyring=keyring,
                    settings=runtime.settings,
                    stop=stop,
                    reconcile_every=reconcile,
                ),
                name="sync",
            )
            if sync
            else None
        )
        try:
            await server.serve()
        finally:
            stop.set()
            if sync_task is not None:
                await sync_task

    console.print(f"Postroom is at [bold]{url}/[/]" + ("  (syncing mail)" if sync else ""))
    if setup_token is not None:
        console.print(
            f"First run: open [bold]{url}/setup?token={setup_token}[/] to create the admin "
            "(or `postroom user add EMAIL --admin`)."
        )
    console.print("Ctrl-C or SIGTERM stops it.")
    try:
        asyncio.run(main())
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            advice="another program may use that port: try --port 8001",
        ) from exc
    if not server.started:
        raise InputError(
            f"cannot listen on {host}:{port}",
            advice="another program may use that port: try --port 8001",
        )
    console.print("Postroom stopped.")
