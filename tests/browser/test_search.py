"""In Chromium: search from the top bar, see highlighted results; no results; both widths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from postroom.domain.matching import Direction
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    Company,
    Person,
    PersonEmail,
    PersonKind,
)
from tests.support.browser import screenshot

WHEN = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


def seed(runtime) -> None:
    """A small firm: records at a café chain, and mail about an offer."""
    with runtime.write() as session:
        cafe = Company(name="Café Électrique", name_key="café électrique", domain="cafe.example")
        jose = Person(
            name="José García",
            name_key="josé garcía",
            title="Head barista",
            company=cafe,
            search_text="jose garcia cafe electrique jose@cafe.example",
            emails=[PersonEmail(address="jose@cafe.example", address_key="jose@cafe.example")],
        )
        lea = Person(
            name="Léa Martin",
            name_key="léa martin",
            kind=PersonKind.CONTACT,
            title="Hiring manager",
            company=cafe,
            search_text="lea martin cafe electrique lea@cafe.example",
            emails=[PersonEmail(address="lea@cafe.example", address_key="lea@cafe.example")],
        )
        session.add_all([jose, lea])
        session.flush()
        mails = [
            (
                jose,
                Direction.SENT,
                "Your offer from Café Électrique",
                "Dear José,\n\nWe are delighted to offer you the head barista role at our café "
                "in Zürich, starting on 1 February. The contract is attached; please sign it by "
                "Friday.\n\nBest, Ada",
            ),
            (
                jose,
                Direction.RECEIVED,
                "Re: Your offer from Café Électrique",
                "Thank you! I accept the offer <b>gladly</b>. See you in Zürich.",
            ),
            (
                lea,
                Direction.RECEIVED,
                "Shortlist for the barista role",
                "Hi Ada, the shortlist looks good; José stands out. Can we make him an offer "
                "this week?",
            ),
            (lea, Direction.SENT, "Invoice 2026-114", "Please find the invoice attached."),
        ]
        for n, (person, direction, subject, text) in enumerate(mails):
            session.add(
                Activity(
                    person_id=person.id,
                    fingerprint=f"f:{n}",
                    kind=ActivityKind.EMAIL,
                    direction=direction,
                    occurred_at=WHEN - timedelta(days=n),
                    subject=subject,
                    participants={},
                    body_state=BodyState.PRESENT,
                    text=text,
                )
            )


def test_search_from_the_top_bar_highlights_what_matched(signed_in, live_app):
    seed(live_app.runtime)
    page = signed_in
    page.emulate_media(reduced_motion="reduce")  # the narrow shots: no drawer mid-slide
    page.get_by_role("searchbox", name="Search people, companies and email").fill("offer cafe")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=offer+cafe")
    expect(page.get_by_role("heading", name="Search results")).to_be_visible()
    expect(page.locator("#q")).to_have_value("offer cafe")  # the query stays in the box
    emails = page.locator(".search-email")
    expect(emails).to_have_count(2)
    first = emails.first
    expect(first.locator("mark.hit").first).to_be_visible()
    marked = {m.lower() for m in page.locator("#emails mark.hit").all_inner_texts()}
    assert marked <= {"offer", "café", "cafe"}
    assert {"offer", "café"} <= marked
    # the mail's own markup is shown as text, never applied
    expect(page.get_by_text("<b>gladly</b>", exact=False)).to_be_visible()
    assert page.locator(".search-snippet b").count() == 0
    screenshot(page, "search-results")

    page.locator("#q").fill("garc")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=garc")
    people = page.locator("#people")
    expect(people.get_by_role("link", name="José García")).to_be_visible()
    expect(people.locator("mark.hit")).to_have_text("García")  # the whole word
    screenshot(page, "search-people")
    people.get_by_role("link", name="José García").click()
    page.wait_for_url("**/records/*")


def test_people_companies_and_emails_side_by_side(signed_in, live_app):
    seed(live_app.runtime)
    page = signed_in
    page.emulate_media(reduced_motion="reduce")
    page.goto("/search?q=caf%C3%A9")
    expect(page.locator("#people .search-list li")).to_have_count(2)
    expect(page.locator("#companies").get_by_role("link", name="Café Électrique")).to_be_visible()
    expect(page.locator(".search-email")).to_have_count(2)
    screenshot(page, "search-everything")
    page.get_by_role("link", name="Newest").click()
    page.wait_for_url("**/search?q=caf%C3%A9&sort=newest#emails")
    expect(page.get_by_role("link", name="Newest")).to_have_attribute("aria-current", "true")


def test_no_results_and_an_empty_search(signed_in, live_app):
    seed(live_app.runtime)
    page = signed_in
    page.emulate_media(reduced_motion="reduce")  # the narrow shots: no drawer mid-slide
    page.goto("/search?q=zeppelin+airship")
    expect(page.get_by_role("heading", name="No results for “zeppelin airship”")).to_be_visible()
    expect(page.get_by_text("Quotes for an exact phrase")).to_be_visible()
    expect(page.locator("#q")).to_have_value("zeppelin airship")
    screenshot(page, "search-no-results")
    page.get_by_role("searchbox", name="Search", exact=True).fill('"head barista"')
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=%22head+barista%22")
    expect(page.locator(".search-email")).to_have_count(1)
    page.goto("/search")
    expect(page.get_by_role("heading", name="What are you looking for?")).to_be_visible()
    screenshot(page, "search-empty")


def test_too_many_emails_to_rank_come_newest_first_and_say_so(signed_in, live_app, monkeypatch):
    monkeypatch.setattr("postroom.services.search.RANKED_AT_MOST", 1)
    seed(live_app.runtime)
    page = signed_in
    page.emulate_media(reduced_motion="reduce")
    page.goto("/search?q=barista")
    expect(page.get_by_text("More than 1 emails match, so they come newest first")).to_be_visible()
    expect(page.get_by_role("link", name="Best match")).to_have_count(0)
    expect(page.locator(".search-email")).to_have_count(1)  # as many as counted
    screenshot(page, "search-newest-first")
