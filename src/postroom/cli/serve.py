"""``postroom serve``: the web app and the sync worker, in one process.

uvicorn serves the app with its lifespan on: ``create_app(sync=True)`` starts the supervisor
that syncs every account (as ``postroom worker`` does) in the same event loop, and stops it,
awaited, when the server stops. SIGTERM or Ctrl-C stops the server, then the sync, cleanly,
and the process exits 0.
While no admin can sign in, a one-time setup token is printed: the first visit to
``/setup`` needs it, so nobody else who reaches the port can take the firm's admin.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Annotated

import typer
import uvicorn

from postroom.cli.runtime import console, open_runtime, shown, user_errors
from postroom.cli.sync import show_sync_log
from postroom.errors import InputError
from postroom.services import users
from postroom.web.app import create_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM or Ctrl-C that stopped it cleanly is not raised again
    afterwards (uvicorn re-raises it, which would end the process with the signal's status
    instead of 0). A second Ctrl-C still forces the exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


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
    with runtime.read() as session:
        setup_token = users.new_setup_token() if users.needs_first_admin(session=session) else None
    app = create_app(
        runtime,
        setup_token=setup_token,
        secure_cookies=secure_cookies,
        sync=sync,
        reconcile_every=reconcile,
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = _Server(config)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown_host}:{port}"  # noqa: S104

    console.print(f"Postroom is at [bold]{shown(url)}/[/]" + ("  (syncing mail)" if sync else ""))
    if setup_token is not None:
        # the link on a line of its own, never folded: it is copied whole
        console.print("First run: create the admin at (or `postroom user add EMAIL --admin`):")
        console.print(f"  [bold]{shown(url)}/setup?token={setup_token}[/]", soft_wrap=True)
    if sync:
        show_sync_log()
    console.print("Ctrl-C or SIGTERM stops it.")
    try:
        server.run()
    except (OSError, SystemExit) as exc:
        if isinstance(exc, SystemExit) and server.started:
            raise
        raise InputError(
            f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}",
            advice="another program may use that port: try --port 8001",
        ) from exc
    if not server.started:
        raise InputError(
            f"cannot listen on {host}:{port}",
            advice="another program may use that port: try --port 8001",
        )
    console.print("Postroom stopped.")
