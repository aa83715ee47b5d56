"""In Chromium: add a record, open a record and its timeline, import a CSV, merge two
records; screenshots of every records page at both widths (tests/screenshots/)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.services import records
from tests.support.browser import screenshot
from tests.support.mailseed import ME, WHEN, add_mail_account, bounce, ingest, mail


@pytest.fixture(autouse=True)
def _still(page):
    """No transitions: a screenshot right after a resize shows the page, not the navigation
    drawer sliding away (app.css honours prefers-reduced-motion)."""
    page.emulate_media(reduced_motion="reduce")


def add(live_app, draft, **kwargs):
    with live_app.runtime.write() as session:
        return records.create_record(session=session, draft=draft, **kwargs).record


def test_add_a_record(signed_in, live_app):
    page = signed_in
    page.get_by_role("link", name="Records", exact=True).click()
    expect(page.get_by_role("heading", name="No records yet")).to_be_visible()
    screenshot(page, "records-empty")
    page.get_by_role("link", name="Add a record").first.click()
    page.get_by_label("Full name").fill("Anna Berg")
    page.get_by_label("Job title").fill("Staff engineer")
    page.get_by_label("Company").fill("Acme")
    page.get_by_label("Email 1").fill("anna@acme.example")
    page.get_by_role("button", name="Another address").click()
    page.locator('input[name="email"]').nth(2).fill("anna@home.example")
    page.get_by_label("Phone 1", exact=True).fill("+44 20 7946 0958")
    page.get_by_label("Label of phone 1").fill("mobile")
    page.get_by_label("Tags").fill("python, remote")
    screenshot(page, "record-new")
    page.get_by_role("button", name="Add record").click()
    expect(page.get_by_text("Anna Berg is added.")).to_be_visible()
    expect(page.get_by_role("heading", name="Anna Berg")).to_be_visible()
    expect(page.get_by_text("anna@home.example")).to_be_visible()
    expect(page.get_by_text("+44 20 7946 0958")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Full name")).to_have_value("Anna Berg")
    screenshot(page, "record-edit")
    # the duplicate check offers the existing record
    page.goto("/records/new")
    page.get_by_label("Full name").fill("A. Berg")
    page.get_by_label("Email 1").fill("ANNA@acme.example")
    page.get_by_role("button", name="Add record").click()
    expect(page.get_by_text("Anna Berg is already on file")).to_be_visible()
    screenshot(page, "record-duplicate")
    page.get_by_role("button", name="Merge into Anna Berg").click()
    expect(page.get_by_text("Merged into Anna Berg")).to_be_visible()


def seed_timeline(live_app, tmp_path):
    sessions = live_app.runtime.sessions
    account = add_mail_account(sessions, ME)
    bob = add(
        live_app,
        PersonDraft(
            "Bob Stone",
            emails=("bob@other.example", "bob.stone@home.example"),
            phones=(PhoneEntry("+44 20 7946 0958", "mobile"),),
            company="Other Ltd",
            title="Senior Python engineer",
            location="Leeds, UK",
            links=("https://www.linkedin.com/in/bobstone",),
            tags=("python", "senior", "relocation"),
            notes="Met at PyCon UK. Wants a hybrid role; notice period one month.",
            owner_email="ada@firm.example",
        ),
    )
    for i, (name, company) in enumerate(
        [("José García", "Acme"), ("Zoë Smith", "Øresund AB"), ("Carla Diaz", "Acme")]
    ):
        add(live_app, PersonDraft(name, emails=(f"p{i}@x.example",), company=company, tags=("go",)))
    long_text = "\n".join(f"Line {n} of a longer answer about the role." for n in range(1, 10))
    ingest(
        sessions,
        account,
        tmp_path / "mail",
        mail(
            sender=f"Robin <{ME}>",
            to="Bob Stone <bob@other.example>",
            subject="The Python role at Acme",
            msgid="<s1@firm.example>",
            body="Hi Bob,\n\nWould you have time for a call this week about the role?\n\nRobin",
        ),
        mail(
            sender="Bob Stone <bob@other.example>",
            to=f"Robin <{ME}>",
            cc="Sam Lee <sam@firm.example>",
            subject="Re: The Python role at Acme",
            msgid="<r1@other.example>",
            when=WHEN + timedelta(days=1),
            body="Tuesday at ten works for me. My CV is attached.\n\n"
            + long_text
            + "\n\nOn Mon, 3 Mar 2025 at 10:00, Robin <robin@firm.example> wrote:\n"
            "> Hi Bob,\n> Would you have time for a call this week?\n",
            attachment=("Bob Stone CV.pdf", b"%PDF-1.4 " + b"x" * 48_000),
        ),
        bounce(failed="bob.stone@home.example", when=WHEN + timedelta(days=2)),
        mail(sender="p0@x.example", to=ME, msgid="<j1@x>", when=WHEN + timedelta(days=4)),
    )
    return bob


def test_a_record_and_its_timeline(signed_in, live_app, tmp_path):
    page = signed_in
    bob = seed_timeline(live_app, tmp_path)
    page.goto("/records")
    expect(page.get_by_role("heading", name="4 records")).to_be_visible()
    screenshot(page, "records-list")
    page.get_by_label("Search", exact=True).fill("garcia")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("link", name="José García")).to_be_visible()
    expect(page.get_by_role("link", name="Bob Stone")).to_have_count(0)
    page.goto("/records")
    page.get_by_role("link", name="Bob Stone").click()
    page.wait_for_url(f"**/records/{bob.id}")
    expect(page.get_by_role("heading", name="Re: The Python role at Acme")).to_be_visible()
    cards = page.locator(".tl-item")
    expect(cards).to_have_count(3)
    bounce_card = cards.nth(0)
    expect(bounce_card).to_contain_text("Delivery failed to bob.stone@home.example")
    expect(bounce_card).to_contain_text("5.1.1")
    reply = cards.nth(1)
    expect(reply).to_contain_text("Bob Stone")
    expect(reply).to_contain_text("Sam Lee")
    expect(reply).to_contain_text("Bob Stone CV.pdf")
    expect(reply).to_contain_text("4 Mar 2025, 10:00 UTC")
    history = reply.get_by_text("Show the quoted history")
    quoted = reply.locator(".tl-full")
    expect(quoted).to_be_hidden()
    more = reply.locator(".tl-more .tl-text")
    expect(more).to_be_hidden()
    reply.get_by_text("Show more").click()
    expect(more).to_contain_text("Line 9 of a longer answer")
    expect(more).to_be_visible()
    history.click()
    expect(quoted).to_be_visible()
    expect(quoted).to_contain_text("Would you have time for a call this week?")
    expect(reply.get_by_role("link", name="Open original")).to_have_attribute(
        "href", re.compile(r"^/activities/\d+/original$")
    )
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "record-page")
    page.get_by_role("link", name="Bounces").click()
    expect(page.locator(".tl-item")).to_have_count(1)
    page.get_by_role("link", name="Other Ltd").first.click()
    expect(page.get_by_role("heading", name="Other Ltd")).to_be_visible()
    page.goto("/companies")
    expect(page.get_by_role("heading", name="3 companies")).to_be_visible()
    screenshot(page, "companies")
    page.get_by_role("link", name="Acme").click()
    expect(page.get_by_role("link", name="José García")).to_be_visible()
    screenshot(page, "company-page")


def test_import_a_csv_through_the_page(signed_in, live_app, tmp_path):
    page = signed_in
    add(live_app, PersonDraft("Anna Berg", emails=("anna@acme.example",)))
    csv = tmp_path / "people.csv"
    csv.write_text(
        "Name,Email,Phone,Company,Title\n"
        "Anna Berg,anna@acme.example,+44 20 7946 0958,Acme,CTO\n"
        "Bob Stone,bob@other.example,,Other Ltd,Engineer\n"
        "José García,jose@acme.example,,Acme,Designer\n"
        "Bad Row,not-an-address,,,\n"
        ",nameless@x.example,,,\n",
        encoding="utf-8",
    )
    page.goto("/records")
    page.get_by_role("link", name="Import").click()
    screenshot(page, "records-import")
    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_label("Skip the row").check()
    page.get_by_role("button", name="Import").click()
    expect(
        page.get_by_role(
            "heading", name="people.csv: 5 lines: 3 created, 0 merged, 1 skipped, 1 error"
        )
    ).to_be_visible()
    expect(page.get_by_text("email 'not-an-address' left out: not an address")).to_be_visible()
    expect(page.get_by_text("name is empty")).to_be_visible()
    screenshot(page, "records-import-report")
    page.get_by_role("link", name="Bob Stone").click()
    expect(page.get_by_role("heading", name="Bob Stone")).to_be_visible()


def test_merge_two_records(signed_in, live_app, tmp_path):
    page = signed_in
    keep = add(
        live_app,
        PersonDraft("Anna Berg", emails=("anna@acme.example",), company="Acme", tags=("python",)),
    )
    other = add(
        live_app,
        PersonDraft(
            "Anna B.",
            emails=("anna@acme.example", "anna@home.example"),
            phones=(PhoneEntry("+44 20 7946 0958"),),
            title="CTO",
        ),
        on_duplicate="create",
    )
    page.goto(f"/records/{keep.id}")
    page.get_by_role("link", name="Find duplicates").click()
    expect(page.get_by_text("same email anna@acme.example")).to_be_visible()
    screenshot(page, "record-merge")
    page.get_by_role("button", name="Merge the two records").click()
    page.wait_for_url(f"**/records/{keep.id}")
    expect(page.get_by_text("Anna B. is merged into Anna Berg.")).to_be_visible()
    expect(page.get_by_text("anna@home.example")).to_be_visible()
    expect(page.get_by_text("CTO")).to_be_visible()
    page.goto(f"/records/{other.id}")
    expect(page.get_by_text("does not exist")).to_be_visible()
    page.goto(f"/records/{keep.id}/delete")
    screenshot(page, "record-delete")
    page.get_by_role("button", name="Remove the record").click()
    expect(page.get_by_text("Anna Berg is removed")).to_be_visible()
