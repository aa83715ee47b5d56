"""``create_app``: the FastAPI application, its middleware, routers and error handlers.

The app holds the ``Runtime`` (database, settings) in ``app.state``; the routes call the
same ``services`` as the CLI. ``setup_token`` is the one-time token that ``postroom serve``
prints while no admin exists: only whoever holds it can create the first admin.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response

from postroom import __version__
from postroom.services.runtime import Runtime
from postroom.services.secrets import load_or_create_key
from postroom.services.syncing import watch_accounts
from postroom.web.deps import verify_csrf
from postroom.web.errors import install_error_handlers
from postroom.web.routes import ROUTERS
from postroom.web.security import (
    CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    LoginThrottle,
)
from postroom.web.templating import make_templates

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    runtime: Runtime,
    *,
    setup_token: str | None = None,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
    sync: bool = False,
    reconcile_every: float = 600.0,
    refresh_every: float = 10.0,
) -> FastAPI:
    """The web app over ``runtime``'s database.

    ``secure_cookies``: send the session cookie over HTTPS only (behind a TLS proxy).
    ``sync``: also sync every enabled mail account in the app's event loop, started with the
    app (lifespan startup) and stopped cleanly, awaited, at shutdown: ``postroom serve``. The
    account list is reloaded every ``refresh_every`` seconds (a new account starts syncing
    then), every folder is checked every ``reconcile_every``.
    """
    keyring = load_or_create_key(runtime.settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not sync:
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(
            watch_accounts(
                sessions=runtime.sessions,
                keyring=keyring,
                settings=runtime.settings,
                stop=stop,
                refresh_every=refresh_every,
                reconcile_every=reconcile_every,
            ),
            name="sync",
        )
        app.state.sync_task = task
        try:
            yield
        finally:
            stop.set()
            await task

    app = FastAPI(
        lifespan=lifespan,
        title="Postroom",
        version=__version__,
        description="Recruiting CRM whose heart is 24/7 IMAP synchronisation.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        dependencies=[Depends(verify_csrf)],
    )
    app.state.runtime = runtime
    app.state.setup_token = setup_token
    app.state.throttle = throttle or LoginThrottle()
    app.state.templates = make_templates()

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if "cache-control" not in response.headers and not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=keyring.derive("web session").hex(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    return app
