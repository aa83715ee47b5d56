"""The web app over a test's database: a Runtime, users, a signed-in TestClient."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from postroom.config import Settings
from postroom.services import users
from postroom.services.runtime import Runtime
from postroom.store.db import make_session_factory
from postroom.web.app import create_app

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_runtime(engine: Engine, home: Path) -> Runtime:
    """A Runtime over an already migrated test database, with its own data folder."""
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        home=home,
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key=None,
    )
    return Runtime(settings, engine, make_session_factory(engine))


def add_user(
    runtime: Runtime, email: str, *, admin: bool = False, name: str = "", password: str = PASSWORD
) -> users.UserView:
    with runtime.write() as session:
        return users.add_user(
            session=session,
            email=email,
            password=password,
            name=name or email.split("@")[0].title(),
            role="admin" if admin else "user",
        )


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    """Sign ``client`` in through the sign-in form, as a browser would."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def post_form(
    client: TestClient, url: str, data: dict[str, str], *, page: str = "/settings", **kwargs: object
):
    """POST a form with the session's CSRF token (read from ``page``)."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)  # type: ignore[arg-type]


def client_for(runtime: Runtime, *, setup_token: str | None = None) -> TestClient:
    return TestClient(create_app(runtime, setup_token=setup_token), base_url="http://testserver")
