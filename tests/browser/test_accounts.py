"""In Chromium, against the app that syncs (``live_app_syncing``) and the suite's Dovecot: add
a mail account through the page (a failed test, a passed one, save), watch its first sync
finish on the health page without a reload; the privacy page. Screenshots at both widths."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support import mailbox
from tests.support.browser import screenshot

ANNA = "anna.berg@acme.example"
INBOX_SIZE = 1200  # more than two batches of the first sync


def _fill_account(page, dovecot, mail_user, password: str) -> None:
    page.get_by_label("Label", exact=True).fill("Ada at work")
    page.get_by_label("IMAP server").fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(dovecot.port))
    page.get_by_label("Plain text: only for a server on this machine").check()
    page.get_by_label("Username", exact=True).fill(mail_user.username)
    page.get_by_label("Password", exact=True).fill(password)


def test_add_an_account_and_watch_its_first_sync(page_syncing, dovecot, mail_user):
    page = page_syncing
    mailbox.fill_maildir(
        mail_user,
        "INBOX",
        (mailbox.message(ANNA, mail_user.address, f"Interview {i}") for i in range(INBOX_SIZE)),
    )
    mailbox.append(dovecot, mail_user, "Sent", mailbox.message(mail_user.address, ANNA, "Re"))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/health") else None)

    page.goto("/accounts")
    expect(
        page.get_by_role("heading", name="Add a mail account to start logging email")
    ).to_be_visible()
    screenshot(page, "accounts-empty")
    page.get_by_role("link", name="Add a mail account").first.click()
    page.wait_for_url("**/accounts/new")

    _fill_account(page, dovecot, mail_user, "not-the-password")
    page.get_by_role("button", name="Test connection").click()
    report = page.locator("[data-test-report]")
    expect(report).to_have_attribute("data-test-report", "failed")
    expect(page.locator('[data-step="login"]')).to_have_attribute("data-outcome", "failed")
    expect(page.get_by_text("What to do: check the user name and password")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")  # never sent back
    expect(page.get_by_label("IMAP server")).to_have_value("127.0.0.1")  # the rest kept
    screenshot(page, "account-new-test-failed")

    page.get_by_label("Password", exact=True).fill(mail_user.password)
    page.get_by_role("button", name="Test connection").click()
    expect(report).to_have_attribute("data-test-report", "passed")
    expect(page.locator('[data-step="sent"]')).to_have_attribute("data-outcome", "ok")
    screenshot(page, "account-new-test-passed")

    page.get_by_label("Password", exact=True).fill(mail_user.password)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/accounts/\d+$"))
    expect(page.get_by_text("The account is saved")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")

    state = page.locator("#account-health [data-field=state]")
    expect(state).to_have_text("ok", timeout=60_000)
    inbox = page.locator("[data-field=folders] tr", has_text="INBOX")
    expect(inbox).to_contain_text("live")
    expect(inbox.locator("td").nth(3)).to_have_text(f"{INBOX_SIZE:,}")
    expect(
        page.locator("[data-field=folders] tr", has_text="Sent").locator("td").nth(3)
    ).to_have_text("1")
    assert page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
    assert polls, "the health page did not poll for progress"
    page.reload()  # the server's own rendering of the finished state
    expect(page.locator("#account-health")).to_have_attribute("data-settling", "false")
    screenshot(page, "account-health")

    page.get_by_role("link", name="Folders", exact=True).click()
    archive = page.locator('[data-folder-name="Archive"]')
    archive.get_by_role("button", name="Sync this folder").click()
    expect(page.get_by_text("Archive is synced from now on")).to_be_visible()
    screenshot(page, "account-folders")

    page.goto("/accounts")
    expect(page.get_by_role("link", name="Ada at work")).to_be_visible()
    expect(page.locator("[data-account-row] [data-field=state]")).to_have_text("ok")
    screenshot(page, "accounts-list")
    page.get_by_role("link", name="Ada at work").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("IMAP server")).to_have_value("127.0.0.1")
    screenshot(page, "account-edit")
    page.goto(page.url.replace("/edit", "/remove"))
    screenshot(page, "account-remove")
    page.get_by_role("button", name="Remove the account").click()
    expect(page.get_by_text("Ada at work is removed")).to_be_visible()


def _seed_account(runtime, label: str, username: str) -> int:
    """An account the sync leaves alone (disabled), to show a state set by hand."""
    from postroom.services import accounts
    from postroom.services.secrets import Secret, load_or_create_key
    from postroom.store.models import MailAccount, TlsMode

    with runtime.write() as session:
        account = accounts.add_account(
            session=session,
            keyring=load_or_create_key(runtime.settings),
            user_email="ada@firm.example",
            label=label,
            imap_host="127.0.0.1",
            imap_port=1,
            tls=TlsMode.PLAIN,
            username=username,
            password=Secret("old"),
            allow_plaintext=True,
        )
        session.flush()
        session.get(MailAccount, account.id).is_enabled = False
        return account.id


def test_every_state_on_the_list_and_a_first_sync_in_progress(page_syncing, live_app_syncing):
    from datetime import UTC, datetime, timedelta

    from postroom.store.models import FolderState, MailAccount
    from tests.support.accounts import add_folder, add_synced_messages

    runtime = live_app_syncing.runtime
    first = _seed_account(runtime, "New hire mailbox", "jo@firm.example")
    retrying = _seed_account(runtime, "Recruiting inbox", "jobs@firm.example")
    refused = _seed_account(runtime, "Old mailbox", "old@firm.example")
    _seed_account(runtime, "Shared mailbox", "team@firm.example")
    with runtime.write() as session:
        for name, role, count in (("INBOX", "inbox", 4210), ("Sent", "sent", 812)):
            folder = add_folder(
                session, first, name, role, state=FolderState.BACKFILLING, server_count=count
            )
            # the newest 30 % synced already
            add_synced_messages(session, first, folder.id, count * 3 // 10)
        row = session.get(MailAccount, retrying)
        row.last_error = "cannot connect to imap.firm.example:993: timed out"
        row.last_error_advice = "check the server name, the port and any firewall"
        row.backoff_until = datetime.now(UTC) + timedelta(minutes=4)
        row = session.get(MailAccount, refused)
        row.needs_reauth = True
        row.last_error = "the server refused the login as old@firm.example"
        row.last_error_advice = "check the user name and password"
    page = page_syncing
    page.goto("/accounts")
    states = page.locator("[data-account-row] [data-field=state]")
    expect(states).to_have_text(
        [
            "first sync",
            re.compile(r"retrying at \d\d:\d\d:\d\d UTC"),
            "login refused: needs a new password",
            "never synced",
        ]
    )
    expect(page.get_by_text("1,506 of 5,022 messages")).to_be_visible()
    screenshot(page, "accounts-list-states")
    page.get_by_role("link", name="New hire mailbox").click()
    expect(page.get_by_text("1,506 of 5,022 messages (29%)")).to_be_visible()
    expect(page.locator("[data-field=folders] progress")).to_have_count(2)
    screenshot(page, "account-health-first-sync")


def test_a_new_password_form_when_the_login_is_refused(page_syncing, live_app_syncing, mail_user):
    from postroom.services import accounts
    from postroom.services.secrets import Secret, load_or_create_key
    from postroom.store.models import MailAccount, TlsMode

    runtime = live_app_syncing.runtime
    with runtime.write() as session:
        account = accounts.add_account(
            session=session,
            keyring=load_or_create_key(runtime.settings),
            user_email="ada@firm.example",
            label="Old mailbox",
            imap_host="127.0.0.1",
            imap_port=1,
            tls=TlsMode.PLAIN,
            username=mail_user.username,
            password=Secret("old"),
            allow_plaintext=True,
        )
        account_id = account.id
    with runtime.write() as session:
        row = session.get(MailAccount, account_id)
        row.is_enabled = False  # keep the sync off it: the state below stays as set
        row.needs_reauth = True
        row.last_error = f"the server refused the login as {mail_user.username}"
        row.last_error_advice = "check the user name and password"
    page = page_syncing
    page.goto(f"/accounts/{account_id}")
    expect(page.get_by_role("heading", name="Needs a new password")).to_be_visible()
    screenshot(page, "account-health-needs-password")


def test_the_privacy_page(signed_in):
    page = signed_in
    page.goto("/settings/privacy")
    expect(page.get_by_text("No internal domain yet")).to_be_visible()
    page.get_by_label("Add a domain").fill("firm.example")
    page.get_by_role("button", name="Add").first.click()
    expect(page.get_by_text("firm.example is an internal domain")).to_be_visible()
    page.get_by_label("Add an address or domain").fill("doctor@clinic.example")
    page.get_by_role("button", name="Add").nth(1).click()
    expect(page.get_by_text("doctor@clinic.example is on the private list")).to_be_visible()
    page.get_by_label("Add an address or domain").fill("@@nothing")
    page.get_by_role("button", name="Add").nth(1).click()
    expect(page.locator(".field-error")).to_be_visible()
    screenshot(page, "privacy")
