"""In Chromium: the first run makes the admin; sign in and out; the shell at both widths."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import screenshot
from tests.support.web import PASSWORD


def test_the_first_run_creates_the_admin(page, live_app):
    page.goto("/")
    page.wait_for_url("**/setup")
    screenshot(page, "setup")
    page.get_by_label("Setup token").fill(live_app.setup_token)
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Your email").fill("ada@firm.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and sign in").click()
    page.wait_for_url(live_app.url + "/")
    assert page.get_by_text("You are the admin of this Postroom").is_visible()
    screenshot(page, "home-empty")


def test_sign_in_and_out(signed_in, live_app):
    page = signed_in
    assert page.get_by_role("heading", name="Good to see you, Ada").is_visible()
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert page.get_by_text("You are signed out").is_visible()
    screenshot(page, "login")


def test_the_menu_opens_on_a_phone(signed_in):
    page = signed_in
    page.set_viewport_size({"width": 390, "height": 844})
    link = page.get_by_role("link", name="Mail accounts", exact=True)
    expect(link).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(link).to_be_visible()
    screenshot(page, "menu-open")
