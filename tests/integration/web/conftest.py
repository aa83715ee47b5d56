"""Fixtures for the web tests: the app over this test's database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.support.web import add_user, client_for, make_runtime, sign_in


@pytest.fixture
def runtime(engine, tmp_path):
    return make_runtime(engine, tmp_path / "home")


@pytest.fixture
def admin(runtime):
    return add_user(runtime, "ada@firm.example", admin=True, name="Ada Admin")


@pytest.fixture
def client(runtime):
    with client_for(runtime) as test_client:
        yield test_client


@pytest.fixture
def admin_client(runtime, admin):
    """A client signed in as the firm's admin."""
    with client_for(runtime) as test_client:
        yield sign_in(test_client, admin.email)
