"""Fixtures for the browser tests (``tests/browser/``): a live app and headless Chromium.

The browser tests run on SQLite, the database a new user starts with; the API and page
tests under ``tests/integration/web/`` cover PostgreSQL too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from postroom.services.runtime import Runtime
from postroom.store.db import create_db_engine
from postroom.web.app import create_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, WIDTHS, LiveServer, guard_origin
from tests.support.web import add_user, make_runtime

SETUP_TOKEN = "browser-test-setup-token"


@dataclass
class LiveApp:
    url: str
    runtime: Runtime
    setup_token: str | None


@pytest.fixture
def live_app(tmp_path, _sqlite_template) -> Iterator[LiveApp]:
    """The app over a fresh SQLite database, served on a free port."""
    path = tmp_path / "postroom.db"
    shutil.copyfile(_sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    runtime = make_runtime(engine, tmp_path / "home")
    app = create_app(runtime, setup_token=SETUP_TOKEN)
    with LiveServer(app) as server:
        yield LiveApp(server.url, runtime, SETUP_TOKEN)
    engine.dispose()


@pytest.fixture
def live_app_syncing(tmp_path, _sqlite_template) -> Iterator[LiveApp]:
    """As ``live_app``, made with ``create_app(sync=True)`` and served with its lifespan on:
    the app syncs every account, as ``postroom serve`` does, reloading the account list every
    half second so an account added through a page starts syncing at once."""
    path = tmp_path / "postroom.db"
    shutil.copyfile(_sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    runtime = make_runtime(engine, tmp_path / "home")
    app = create_app(runtime, setup_token=SETUP_TOKEN, sync=True, refresh_every=0.5)
    with LiveServer(app, lifespan="on") as server:
        yield LiveApp(server.url, runtime, SETUP_TOKEN)
    engine.dispose()


@pytest.fixture
def page_syncing(browser, live_app_syncing) -> Iterator[object]:
    """As ``page``, on ``live_app_syncing``, signed in as the admin Ada (ada@firm.example)."""
    from tests.support.web import PASSWORD

    width, height = WIDTHS["wide"]
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": width, "height": height}, base_url=live_app_syncing.url
    )
    guard = guard_origin(context, live_app_syncing.url)
    errors: list[str] = []
    new_page = context.new_page()
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    new_page.set_default_timeout(15_000)
    add_user(live_app_syncing.runtime, "ada@firm.example", admin=True, name="Ada Lovelace")
    new_page.goto("/login")
    new_page.get_by_label("Email").fill("ada@firm.example")
    new_page.get_by_label("Password").fill(PASSWORD)
    new_page.get_by_role("button", name="Sign in").click()
    new_page.wait_for_url(live_app_syncing.url + "/")
    yield new_page
    context.close()
    assert guard.blocked == [], f"requests left the app's origin: {guard.blocked}"
    assert errors == [], f"scripts failed on the page: {errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Not for the whole session: while Playwright's sync API
    runs, this thread has a running event loop, and every later test of the worker that calls
    ``asyncio.run`` (the sync engine, Open original) would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_app) -> Iterator[object]:
    """A page in a fresh browser context; any request off the app's origin fails the test."""
    width, height = WIDTHS["wide"]
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": width, "height": height},
        base_url=live_app.url,
        reduced_motion="reduce",  # no slide-in caught half way in a screenshot
    )
    guard = guard_origin(context, live_app.url)
    errors: list[str] = []
    new_page = context.new_page()
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    new_page.set_default_timeout(15_000)
    yield new_page
    context.close()
    assert guard.blocked == [], f"requests left the app's origin: {guard.blocked}"
    assert errors == [], f"scripts failed on the page: {errors}"


@pytest.fixture
def signed_in(page, live_app):
    """``page`` signed in as an admin, Ada (ada@firm.example)."""
    from tests.support.web import PASSWORD

    add_user(live_app.runtime, "ada@firm.example", admin=True, name="Ada Lovelace")
    page.goto("/login")
    page.get_by_label("Email").fill("ada@firm.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_app.url + "/")
    return page
