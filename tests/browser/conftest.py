"""The world of the Open original and mail client browser tests: Robin, signed in, with a
mail account on the suite's Dovecot and Anna's record (tests/support/originals.py)."""

from __future__ import annotations

import pytest

from postroom.services import mailbox as mail_client
from postroom.services import original
from tests.support.originals import ROBIN, make_world
from tests.support.web import PASSWORD, add_user


@pytest.fixture
def world(live_app, dovecot, mail_user):
    original.forget_cached_originals()
    mail_client.forget_counts()
    add_user(live_app.runtime, "ada@firm.example", admin=True)  # past the first-run setup
    return make_world(live_app.runtime, dovecot, mail_user)


@pytest.fixture
def robin(page, live_app, world):
    page.goto("/login")
    page.get_by_label("Email").fill(ROBIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_app.url + "/")
    return page
