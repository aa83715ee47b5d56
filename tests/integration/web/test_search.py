"""The search page and GET /api/v1/search: sections, counts, paging, safe highlights."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from postroom.domain.matching import Direction
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    Company,
    Person,
    PersonEmail,
)
from tests.support.web import client_for, sign_in

WHEN = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><mark>fake</mark><img src=x onerror=alert(1)>'


def activity(n: int, person_id: int, **changes: Any) -> Activity:
    values: dict[str, Any] = {
        "fingerprint": f"f:{n}",
        "direction": Direction.RECEIVED,
        "occurred_at": WHEN + timedelta(hours=n),
        "subject": f"Weekly update {n}",
        "participants": {},
        "body_state": BodyState.PRESENT,
        "text": "Status as usual.",
        "person_id": person_id,
        "kind": ActivityKind.EMAIL,
    }
    return Activity(**{**values, **changes})


@pytest.fixture
def firm(runtime) -> dict[str, int]:
    with runtime.write() as session:
        cafe = Company(name="Café Électrique", name_key="café électrique", domain="cafe.example")
        jose = Person(
            name="José García",
            name_key="josé garcía",
            company=cafe,
            search_text="jose garcia cafe electrique jose@cafe.example",
            emails=[PersonEmail(address="jose@cafe.example", address_key="jose@cafe.example")],
        )
        session.add(jose)
        session.flush()
        session.add_all(
            [
                activity(
                    1,
                    jose.id,
                    subject="Your offer from Café Électrique",
                    text="Dear José, we are delighted to offer you the head barista role.",
                ),
                activity(
                    2,
                    jose.id,
                    subject=f"Re: {HOSTILE} offer",
                    text=f"offer {HOSTILE}",
                    direction=Direction.SENT,
                ),
                *(activity(10 + n, jose.id, text=f"weekly report number {n}") for n in range(25)),
            ]
        )
        return {"jose": jose.id, "cafe": cafe.id}


def marks(page: str) -> list[str]:
    return re.findall(r'<mark class="hit">(.*?)</mark>', page)


def test_people_companies_and_emails_with_the_query_kept_in_the_top_bar(admin_client, firm):
    page = admin_client.get("/search", params={"q": "cafe"})
    assert page.status_code == 200
    text = page.text
    assert 'id="q" name="q" type="search"' in text
    assert re.search(r'<input id="q"[^>]*value="cafe"', text)  # the top bar keeps the query
    assert f'href="/records/{firm["jose"]}"' in text
    assert f'href="/companies/{firm["cafe"]}"' in text
    assert "People" in text
    assert "Companies" in text
    assert "Emails" in text
    assert "Café" in marks(text)
    assert "Your offer from <mark" in text  # the email's subject, highlighted
    assert "1 result" not in text
    assert "3 results" in html.unescape(text)


def test_highlights_never_let_markup_through(admin_client, firm):
    page = admin_client.get("/search", params={"q": "offer fake"}).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    # the mail's own <mark> is text; only our marks are markup, around the words matched
    assert "&lt;mark&gt;" in page
    assert set(marks(page)) == {"offer", "fake"}


def test_emails_are_paged_and_people_show_on_the_first_page_only(admin_client, firm):
    first = admin_client.get("/search", params={"q": "weekly"}).text
    assert "1–20 of 25" in first
    assert 'href="/search?q=weekly&amp;page=2#emails"' in first
    second = admin_client.get("/search", params={"q": "weekly", "page": "2"}).text
    assert "21–25 of 25" in second
    assert second.count('class="search-email ') == 5
    assert 'id="people"' not in second
    for bad in ("0", "-3", "abc", "99999999999"):
        assert admin_client.get("/search", params={"q": "weekly", "page": bad}).status_code == 200
    beyond = admin_client.get("/search", params={"q": "weekly", "page": "9"}).text
    assert "Back to the first page" in beyond


def test_no_results_says_so_with_tips_and_an_empty_query_asks_for_words(admin_client, firm):
    none = html.unescape(admin_client.get("/search", params={"q": "zeppelin"}).text)
    assert "No results for “zeppelin”" in none
    assert "Quotes for an exact phrase" in none
    assert re.search(r'<input id="q"[^>]*value="zeppelin"', none)
    empty = admin_client.get("/search").text
    assert "What are you looking for?" in empty
    assert admin_client.get("/search", params={"q": "  "}).status_code == 200


@pytest.mark.parametrize(
    "hostile", ['"', "*", "NEAR(", "AND OR", "'", "--", 'offer"', "a' OR '1'='1", "\\", "%"]
)
def test_hostile_queries_answer_a_page(admin_client, firm, hostile):
    page = admin_client.get("/search", params={"q": hostile})
    assert page.status_code == 200
    assert "Search" in page.text


def test_signed_out_visitors_are_sent_to_sign_in(client, firm):
    response = client.get("/search", params={"q": "cafe"}, follow_redirects=False)
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["location"]


# --- the API -------------------------------------------------------------------------------


def test_the_api_gives_typed_results_with_segments(runtime, admin, firm):
    with client_for(runtime) as api:
        sign_in(api, admin.email)
        answer = api.get("/api/v1/search", params={"q": "offer", "limit": 1})
        assert answer.status_code == 200
        body = answer.json()
    assert body["query"] == "offer"
    assert body["emails_total"] == 2
    assert len(body["emails"]) == 1
    assert (body["limit"], body["offset"]) == (1, 0)
    assert (body["order"], body["emails_more"]) == ("relevance", False)
    email = body["emails"][0]
    assert email["record_id"] == firm["jose"]
    assert email["url"] == f"/records/{firm['jose']}"
    assert email["kind"] == "email"
    assert email["text_state"] == "present"
    assert {"text": "offer", "match": True} in email["snippet"]
    assert "".join(s["text"] for s in email["subject_marked"]) == email["subject"]
    assert body["people"] == []
    assert body["companies"] == []


def test_the_api_lists_people_and_companies(runtime, admin, firm):
    with client_for(runtime) as api:
        sign_in(api, admin.email)
        body = api.get("/api/v1/search", params={"q": "garcía"}).json()
        assert body["people"][0]["name"] == "José García"
        assert body["people"][0]["email"] == "jose@cafe.example"
        assert body["people_total"] == 1
        companies = api.get("/api/v1/search", params={"q": "ELECTRIQUE"}).json()["companies"]
        assert companies[0]["url"] == f"/companies/{firm['cafe']}"
        assert companies[0]["records"] == 1
        assert api.get("/api/v1/search", params={"q": "x", "limit": 0}).status_code == 422
        assert api.get("/api/v1/search", params={"q": '" NEAR( *'}).status_code == 200
        newest = api.get("/api/v1/search", params={"q": "weekly", "order": "newest"}).json()
        assert newest["order"] == "newest"
        assert newest["emails"][0]["snippet"][-1]["text"] == " report number 24"
        assert api.get("/api/v1/search", params={"q": "x", "order": "best"}).status_code == 422


def test_the_api_needs_a_user(client):
    response = client.get("/api/v1/search", params={"q": "x"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_best_match_or_newest_and_a_notice_when_too_many_to_rank(admin_client, firm, monkeypatch):
    page = admin_client.get("/search", params={"q": "weekly"}).text
    assert 'aria-current="true">Best match</a>' in page
    newest = admin_client.get("/search", params={"q": "weekly", "sort": "newest"}).text
    assert 'aria-current="true">Newest</a>' in newest
    assert 'href="/search?q=weekly&amp;sort=newest&amp;page=2#emails"' in newest
    assert newest.index("report number 24") < newest.index("report number 23")  # latest first
    monkeypatch.setattr("postroom.services.search.RANKED_AT_MOST", 10)
    capped = html.unescape(admin_client.get("/search", params={"q": "weekly"}).text)
    assert "More than 10 emails match, so they come newest first" in capped
    assert '<span class="count">10+</span>' in capped
    assert "Best match</a>" not in capped
