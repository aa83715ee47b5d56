"""A real browser against the real app: uvicorn in a thread, Debian's Chromium via Playwright.

``LiveServer`` serves ``create_app`` on a free loopback port. ``guard_origin`` routes every
request of a page and aborts (and records) any that leaves the app's origin, so a test can
assert that a page loads nothing from elsewhere. ``screenshot`` saves a page at the two
widths the pages must work at (1280 and 390 pixels) under ``tests/screenshots/`` (ignored by
git): look at them after changing a page.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
WIDTHS = {"wide": (1280, 860), "narrow": (390, 844)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``app`` served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, *, lifespan: str = "off") -> None:
        """``lifespan="on"`` runs the app's startup and shutdown (its sync, when it has one)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class OriginGuard:
    """Requests that left the app's origin (each was aborted)."""

    origin: str
    blocked: list[str] = field(default_factory=list)


def guard_origin(context: Any, origin: str) -> OriginGuard:
    guard = OriginGuard(origin)

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith((origin + "/", "data:", "blob:", "about:")) or url == origin:
            route.continue_()
        else:
            guard.blocked.append(url)
            route.abort()

    context.route("**/*", route)
    return guard


def screenshot(page: Any, name: str) -> list[Path]:
    """Save ``page`` as ``<name>-wide.png`` and ``<name>-narrow.png``; the page is left at
    the wide size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, (width, height) in (("narrow", WIDTHS["narrow"]), ("wide", WIDTHS["wide"])):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # longer than the navigation drawer's transition
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    return paths
