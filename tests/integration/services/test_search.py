"""search_everything: typed views of people, companies and one page of emails, with safe
highlights (segments, never markup) that ignore accents and case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from postroom.domain.matching import Direction
from postroom.services.search import Segment, highlight, search_everything, snippet
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    Company,
    Person,
    PersonEmail,
    PersonKind,
    UserAccount,
)
from postroom.store.search import parse_query

WHEN = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def marked(segments: tuple[Segment, ...]) -> str:
    """``[x]`` around the matches: what the page would wrap in <mark>."""
    return "".join(f"[{s.text}]" if s.is_match else s.text for s in segments)


def row(n: int, person_id: int, **changes: Any) -> Activity:
    values: dict[str, Any] = {
        "fingerprint": f"f:{n}",
        "message_id": None,
        "direction": Direction.RECEIVED,
        "occurred_at": WHEN + timedelta(hours=n),
        "subject": f"Note {n}",
        "participants": {},
        "body_state": BodyState.PRESENT,
        "text": "Nothing here.",
        "reply_text": None,
        "attachments": [],
        "person_id": person_id,
        "kind": ActivityKind.EMAIL,
        "detail": None,
    }
    return Activity(**{**values, **changes})


@pytest.fixture
def firm(session_factory) -> dict[str, int]:
    with session_factory.begin() as session:
        robin = UserAccount(email="robin@firm.example", name="Robin")
        cafe = Company(name="Café Électrique", name_key="café électrique", domain="cafe.example")
        jose = Person(
            name="José García",
            name_key="josé garcía",
            title="Barista",
            company=cafe,
            owner=robin,
            search_text="jose garcia cafe electrique jose@cafe.example",
            emails=[
                PersonEmail(address="jg@old.example", address_key="jg@old.example"),
                PersonEmail(
                    address="jose@cafe.example", address_key="jose@cafe.example", is_primary=True
                ),
            ],
        )
        others = [
            Person(name=f"Garcia {n}", name_key=f"garcia {n}", search_text=f"garcia {n}")
            for n in range(10)
        ]
        session.add_all([jose, *others])
        session.flush()
        session.add_all(
            [
                row(1, jose.id, subject="Espresso machine at the Café", text="The café opens."),
                row(
                    2,
                    jose.id,
                    subject="Offer",
                    direction=Direction.SENT,
                    text="We'd love you to run our cafe in Zürich. " * 20,
                ),
                row(3, jose.id, subject="Cafe visit", body_state=BodyState.WITHHELD, text=None),
                row(4, others[0].id, subject="Bounce: cafe", kind=ActivityKind.BOUNCE),
            ],
        )
        return {"robin": robin.id, "jose": jose.id, "cafe": cafe.id}


def test_people_companies_and_emails_as_views(session_factory, firm):
    with session_factory() as session:
        found = search_everything(session=session, query="  CAFE ", viewer_id=firm["robin"])
    assert found.query == "CAFE"
    assert not found.is_empty_query
    (person,) = found.people
    assert (person.id, person.name, person.kind, person.title) == (
        firm["jose"],
        "José García",
        PersonKind.CANDIDATE,
        "Barista",
    )
    assert (person.company_name, person.email, person.is_mine) == (
        "Café Électrique",
        "jose@cafe.example",
        True,
    )
    (company,) = found.companies
    assert (company.id, company.records, marked(company.name_marked)) == (
        firm["cafe"],
        1,
        "[Café] Électrique",
    )
    assert found.emails_total == 4
    by_subject = {"".join(s.text for s in e.subject): e for e in found.emails}
    espresso = by_subject["Espresso machine at the Café"]
    assert marked(espresso.subject) == "Espresso machine at the [Café]"
    assert marked(espresso.snippet) == "The [café] opens."
    assert (espresso.record_id, espresso.record_name) == (firm["jose"], "José García")
    offer = by_subject["Offer"]
    assert offer.direction is Direction.SENT
    assert marked(offer.snippet).startswith("We'd love you to run our [cafe] in Zürich.")
    assert offer.snippet[-1].text == "…"  # cut, and says so
    withheld = by_subject["Cafe visit"]
    assert (withheld.snippet, withheld.body_state) == ((), BodyState.WITHHELD)
    assert by_subject["Bounce: cafe"].kind is ActivityKind.BOUNCE
    assert found.total == 6


def test_an_empty_or_punctuation_only_query_finds_nothing_and_says_so(session_factory, firm):
    with session_factory() as session:
        for query in ("", "   ", '"', "*", "--", "'", "NEAR(", "()"):
            found = search_everything(session=session, query=query, viewer_id=None)
            if query.strip() in ("NEAR(",):
                assert not found.is_empty_query
                continue
            assert found.is_empty_query, query
            assert found.total == 0


def test_hostile_queries_are_words(session_factory, firm):
    with session_factory() as session:
        for query in ('cafe"', "cafe*", "cafe AND OR", "cafe'", "cafe --", 'NEAR(cafe "x'):
            found = search_everything(session=session, query=query, viewer_id=None)
            assert found.emails_total >= 0  # answered, no syntax error


def test_people_are_few_with_their_total_and_emails_are_paged(session_factory, firm):
    with session_factory() as session:
        found = search_everything(
            session=session, query="garcia", viewer_id=firm["robin"], people_limit=4
        )
        assert found.people_total == 11
        assert len(found.people) == 4
        assert found.people[0].name == "José García"  # the viewer's own first
        first = search_everything(session=session, query="cafe", viewer_id=None, limit=3)
        second = search_everything(session=session, query="cafe", viewer_id=None, limit=3, offset=3)
    assert (first.emails_total, len(first.emails), len(second.emails)) == (4, 3, 1)
    assert {e.activity_id for e in first.emails}.isdisjoint(e.activity_id for e in second.emails)


# --- highlighting ----------------------------------------------------------------------------


def test_highlights_fold_accents_and_case_and_respect_word_starts():
    terms = parse_query('"senior engineer" zur')
    assert marked(highlight("Senior ENGINEER in ZÜRICH, not Azure", terms)) == (
        "[Senior] [ENGINEER] in [ZÜRICH], not Azure"
    )
    assert marked(highlight("engineers", parse_query('"engineer"'))) == "engineers"
    assert marked(highlight("engineers", parse_query("engineer"))) == "[engineers]"


def test_highlights_are_text_not_markup():
    terms = parse_query("script")
    segments = highlight('<script>alert("x")</script> <mark>', terms)
    assert marked(segments) == '<[script]>alert("x")</[script]> <mark>'
    # the text is kept as it is; the page escapes every piece (see the web tests)
    assert "".join(s.text for s in segments) == '<script>alert("x")</script> <mark>'


def test_a_snippet_is_around_the_first_match_with_spaces_collapsed():
    text = "Intro words.\n\n" + "filler " * 200 + "the  contract\n  is attached " + "tail " * 200
    cut = snippet(text, parse_query("contract"))
    assert cut[0].text == "…"
    assert cut[-1].text == "…"
    assert "the [contract] is attached" in marked(cut)
    assert len(marked(cut)) < 300
    assert marked(snippet("Short, no match.", parse_query("zzz"))) == "Short, no match."
    assert snippet("   ", parse_query("x")) == ()


def test_too_many_matches_to_rank_come_newest_first(session_factory, firm, monkeypatch):
    monkeypatch.setattr("postroom.services.search.RANKED_AT_MOST", 2)
    with session_factory() as session:
        found = search_everything(session=session, query="cafe", viewer_id=None)
        asked = search_everything(session=session, query="cafe", viewer_id=None, order="relevance")
        few = search_everything(session=session, query="espresso", viewer_id=None)
    assert (found.emails_total, found.emails_more, found.order) == (2, True, "newest")
    assert asked.order == "newest"  # still too many to rank
    dates = [e.occurred_at for e in found.emails]
    assert dates == sorted(dates, reverse=True)
    assert (few.emails_total, few.emails_more, few.order) == (1, False, "relevance")


def test_newest_first_on_request(session_factory, firm):
    with session_factory() as session:
        found = search_everything(session=session, query="cafe", viewer_id=None, order="newest")
    assert found.order == "newest"
    dates = [e.occurred_at for e in found.emails]
    assert dates == sorted(dates, reverse=True)


def test_sharp_s_highlights_as_ss():
    assert marked(highlight("Hauptstraße, Strasse", parse_query("strasse"))) == (
        "Hauptstraße, [Strasse]"
    )
    assert marked(highlight("Hauptstraße, Straße", parse_query('"straße"'))) == (
        "Hauptstraße, [Straße]"
    )


def test_a_page_past_the_counted_emails_is_empty(session_factory, firm, monkeypatch):
    monkeypatch.setattr("postroom.services.search.RANKED_AT_MOST", 2)
    with session_factory() as session:
        last = search_everything(session=session, query="cafe", viewer_id=None, limit=1, offset=1)
        past = search_everything(session=session, query="cafe", viewer_id=None, limit=1, offset=2)
    assert len(last.emails) == 1
    assert past.emails == ()
    with session_factory() as session:
        page = search_everything(session=session, query="cafe", viewer_id=None, limit=20)
    assert len(page.emails) == 2  # no more than counted
    assert past.emails_total == 2
