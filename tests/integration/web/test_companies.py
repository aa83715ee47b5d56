"""The company pages through TestClient on SQLite and PostgreSQL: the list with people
counts and search, a company with its people, empty states and unknown ids."""

from __future__ import annotations

import re

from postroom.domain.records import PersonDraft
from postroom.services import records


def add(runtime, name, company):
    with runtime.write() as session:
        return records.create_record(session=session, draft=PersonDraft(name, company=company))


def test_empty_list_says_what_to_do(admin_client):
    page = admin_client.get("/companies")
    assert page.status_code == 200
    assert "No companies yet" in page.text
    assert 'href="/records/new?kind=contact"' in page.text


def test_list_counts_people_and_searches(admin_client, runtime):
    add(runtime, "Anna", "Acme")
    add(runtime, "Bob", "ACME")
    add(runtime, "Carl", "Beta Systems")
    page = admin_client.get("/companies")
    assert "2 companies" in page.text
    assert "2 people" in page.text
    assert "1 person" in page.text
    found = admin_client.get("/companies", params={"q": "beta"})
    assert "1 company found" in found.text
    assert "Acme" not in found.text
    none = admin_client.get("/companies", params={"q": "zzz"})
    assert "No company matches" in none.text


def test_a_company_lists_its_people(admin_client, runtime):
    anna = add(runtime, "Anna", "Acme").record
    add(runtime, "Bob", "Acme")
    add(runtime, "Carl", "Beta")
    assert anna.company is not None
    page = admin_client.get(f"/companies/{anna.company.id}")
    assert page.status_code == 200
    assert re.findall(r'class="row-link" href="/records/\d+">([^<]+)</a>', page.text) == [
        "Anna",
        "Bob",
    ]
    assert "2 people on file" in page.text
    assert admin_client.get("/companies/99999").status_code == 404
    assert admin_client.get("/companies/x").status_code == 422


def test_a_company_without_people_says_so(admin_client, runtime):
    anna = add(runtime, "Anna", "Lonely Ltd").record
    with runtime.write() as session:
        records.update_record(session=session, record_id=anna.id, draft=PersonDraft("Anna"))
    assert anna.company is not None
    page = admin_client.get(f"/companies/{anna.company.id}")
    assert "Nobody here yet" in page.text


def test_company_search_ignores_accents_and_case(admin_client, runtime):
    add(runtime, "Anna", "Bäckerei München GmbH")
    add(runtime, "Bob", "Straße Ltd")
    add(runtime, "Carl", "Acme")
    for query in ("munchen", "MÜNCHEN", "backerei", "strasse"):
        found = admin_client.get("/companies", params={"q": query})
        assert "1 company found" in found.text, query
        assert "Acme" not in found.text
