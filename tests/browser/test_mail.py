"""The mail client in Chromium: a folder, a message, ticking messages and acting on them, a
message's people and "Create record", at both widths (screenshots under tests/screenshots/).

The ``page`` fixture aborts and records every request that leaves the app's origin, and
fails the test on any script error.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support import mailbox
from tests.support.browser import screenshot
from tests.support.originals import ANNA, ROBIN, html_mail, plain_mail
from tests.support.web import PASSWORD, add_user


def fill_inbox(world) -> dict[str, int]:
    mailbox.create_folder(world.dovecot, world.mail_user, "Clients/Acme")
    sent = [
        ("Sam Ortiz <sam@northwind.example>", "Re: Backend role in Lisbon", "Thanks Robin!"),
        ("Lena Fischer <lena@contoso.example>", "Interview slots next week", "Tuesday works."),
        (f"Anna Berg <{ANNA}>", "Salary expectations", "Hi Robin, about the offer..."),
    ]
    uids = {}
    for sender, subject, body in sent:
        raw = mailbox.message(sender, f"Robin Reeve <{ROBIN}>", subject, body)
        uids[subject] = mailbox.append(world.dovecot, world.mail_user, "INBOX", raw)
    uids["Your interview on Thursday"] = mailbox.append(
        world.dovecot, world.mail_user, "INBOX", html_mail()
    )
    mailbox.set_flags(
        world.dovecot,
        world.mail_user,
        "INBOX",
        uids["Salary expectations"],
        ("\\Seen", "\\Flagged"),
    )
    mailbox.set_flags(
        world.dovecot, world.mail_user, "INBOX", uids["Re: Backend role in Lisbon"], ("\\Seen",)
    )
    return uids


def test_read_a_folder_and_a_message(robin, world):
    page = robin
    fill_inbox(world)

    page.get_by_role("link", name="Mail", exact=True).click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.locator(".mail-row")).to_have_count(4)
    expect(page.locator(".mail-row.unread")).to_have_count(2)
    expect(page.locator(".mail-folders").get_by_role("link", name="Acme")).to_be_visible()
    screenshot(page, "mail-folder")

    page.get_by_role("link", name="Your interview on Thursday").click()
    expect(page.get_by_role("heading", name="Your interview on Thursday")).to_be_visible()
    frame = page.frame_locator("iframe.original-frame")
    expect(frame.locator("body")).to_contain_text("Hello")
    people = page.locator(".mail-people-panel")
    expect(people.get_by_role("link", name="Anna Berg")).to_be_visible()
    expect(people.get_by_role("link", name="Create record")).to_be_visible()
    screenshot(page, "mail-message")

    people.get_by_role("link", name="Create record").click()
    expect(page.get_by_label("Name")).to_have_value("Hiring")


def test_tick_messages_and_act_on_them(robin, world):
    page = robin
    uids = fill_inbox(world)

    page.goto(f"/mail/{world.account_id}?folder=INBOX")
    page.get_by_label("Tick “Interview slots next week”").check()
    page.get_by_label("Tick “Your interview on Thursday”").check()
    page.get_by_role("button", name="Mark read").click()
    expect(page.locator(".flash")).to_have_text("2 messages marked read.")
    expect(page.locator(".mail-row.unread")).to_have_count(0)

    page.get_by_label("Tick every message on this page").check()
    expect(page.locator('.mail-row input[name="uid"]:checked')).to_have_count(4)
    page.get_by_label("Tick every message on this page").uncheck()
    page.get_by_label("Tick “Interview slots next week”").check()
    page.get_by_label("Move to folder").select_option("Clients/Acme")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Moved 1 message to Clients/Acme.")
    expect(page.locator(".mail-row")).to_have_count(3)
    assert uids["Interview slots next week"] not in mailbox.list_uids(
        world.dovecot, world.mail_user, "INBOX"
    )
    assert len(mailbox.list_uids(world.dovecot, world.mail_user, "Clients/Acme")) == 1

    page.get_by_role("link", name="Salary expectations").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".flash")).to_have_text("Moved 1 message to Trash.")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    assert len(mailbox.list_uids(world.dovecot, world.mail_user, "Trash")) == 1


def test_no_account_says_what_to_do(page, live_app):
    add_user(live_app.runtime, "ada@firm.example", admin=True)
    add_user(live_app.runtime, "nomail@firm.example")
    page.goto("/login")
    page.get_by_label("Email").fill("nomail@firm.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/mail")
    expect(page.get_by_role("link", name="Add a mail account")).to_be_visible()
    screenshot(page, "mail-no-account")


def test_a_plain_message_on_a_phone(robin, world):
    page = robin
    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", plain_mail())
    page.goto(f"/mail/{world.account_id}?folder=INBOX")
    page.get_by_role("link", name="Salary expectations").click()
    expect(page.locator(".original-text")).to_contain_text("not bold")
    assert uid


def test_reply_from_a_message_and_send(robin, world):
    page = robin
    from sqlalchemy import update

    from postroom.domain.accounts import TlsMode
    from postroom.store.models import MailAccount
    from tests.support.smtp import SmtpServer

    uid = mailbox.append(world.dovecot, world.mail_user, "INBOX", html_mail())
    with SmtpServer(world.mail_user.username, world.mail_user.password) as smtp:
        with world.runtime.write() as session:
            session.execute(
                update(MailAccount)
                .where(MailAccount.id == world.account_id)
                .values(smtp_host=smtp.host, smtp_port=smtp.port, smtp_tls=TlsMode.PLAIN)
            )
        page.goto(f"/mail/{world.account_id}?folder=INBOX")
        page.get_by_role("link", name="Your interview on Thursday").click()
        page.get_by_role("link", name="Reply", exact=True).click()
        expect(page.get_by_role("heading", name="Reply")).to_be_visible()
        expect(page.get_by_label("Subject")).to_have_value("Re: Your interview on Thursday")
        page.get_by_label("Message").press("Control+Home")
        page.get_by_label("Message").type("Thursday at 10 works for me.")
        screenshot(page, "mail-compose")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".flash").first).to_contain_text("Sent to anna@acme.example.")
        expect(page.get_by_role("heading", name="Your interview on Thursday")).to_be_visible()
        assert len(smtp.received) == 1
        assert b"Thursday at 10 works for me." in smtp.received[0].data
    assert uid


def test_to_suggests_people_on_the_records(robin, world):
    page = robin
    page.goto(f"/mail/{world.account_id}/compose")
    to = page.get_by_role("combobox", name="To")
    to.type("lena@contoso.example, ann")
    option = page.get_by_role("option", name="Anna Berg anna@acme.example")
    expect(option).to_be_visible()
    screenshot(page, "mail-compose-suggestions")
    to.press("ArrowDown")
    to.press("Enter")
    expect(to).to_have_value('lena@contoso.example, "Anna Berg" <anna@acme.example>, ')
    expect(page.get_by_role("option")).to_have_count(0)
    to.type("zzz-nobody")
    page.wait_for_timeout(400)
    expect(page.get_by_role("option")).to_have_count(0)
