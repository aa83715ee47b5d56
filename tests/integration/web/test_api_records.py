"""The records, activities and companies API (/api/v1) on SQLite and PostgreSQL: bearer
tokens and the session cookie (with X-CSRF-Token on changes), problem JSON for errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postroom.domain.records import PersonDraft
from postroom.services import records, users
from tests.support.mailseed import ME, WHEN, add_mail_account, bounce, ingest, mail
from tests.support.web import client_for, csrf_of


@pytest.fixture
def api(runtime, admin):
    with runtime.write() as session:
        _, token = users.create_api_token(session=session, user_id=admin.id, name="tests")
    with client_for(runtime) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def add(runtime, draft, **kwargs):
    with runtime.write() as session:
        return records.create_record(session=session, draft=draft, **kwargs).record


def test_the_api_needs_a_token_or_session(client):
    response = client.get("/api/v1/records")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/companies").status_code == 401


def test_list_search_and_paging(api, runtime):
    add(runtime, PersonDraft("José García", emails=("jose@acme.example",), company="Acme"))
    add(runtime, PersonDraft("Zoë Smith", kind="contact", tags=("python",)))
    add(runtime, PersonDraft("Anna Berg"))
    body = api.get("/api/v1/records", params={"q": "garcia"}).json()
    assert body["total"] == 1
    [row] = body["items"]
    assert row["name"] == "José García"
    assert row["company"]["name"] == "Acme"
    assert (row["primary_email"], row["activity_count"], row["last_contact_at"]) == (
        "jose@acme.example",
        0,
        None,
    )
    page = api.get("/api/v1/records", params={"per_page": 2, "page": 2}).json()
    assert ([r["name"] for r in page["items"]], page["total"]) == (["Zoë Smith"], 3)
    assert [r["name"] for r in api.get("/api/v1/records?kind=contact").json()["items"]] == [
        "Zoë Smith"
    ]
    assert [r["name"] for r in api.get("/api/v1/records?tag=python").json()["items"]] == [
        "Zoë Smith"
    ]
    for bad in ("kind=robot", "page=0", "per_page=1000", "sort=age"):
        response = api.get(f"/api/v1/records?{bad}")
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


def test_create_get_patch_delete(api, runtime):
    created = api.post(
        "/api/v1/records",
        json={
            "name": "Anna Berg",
            "emails": ["anna@acme.example"],
            "phones": [{"number": "020 7946 0958", "label": "work"}],
            "default_region": "GB",
            "company": "Acme",
            "tags": ["Python"],
        },
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["location"] == f"/api/v1/records/{record['id']}"
    assert record["phones"] == [
        {"number": "+442079460958", "label": "work", "display": "+44 20 7946 0958"}
    ]
    assert record["emails"] == [{"address": "anna@acme.example", "is_primary": True}]
    assert record["tags"] == ["python"]

    duplicate = api.post("/api/v1/records", json={"name": "A B", "emails": ["ANNA@acme.example"]})
    assert duplicate.status_code == 409
    assert "same email anna@acme.example" in duplicate.json()["detail"]
    merged = api.post(
        "/api/v1/records",
        json={
            "name": "A B",
            "emails": ["anna@acme.example"],
            "title": "CTO",
            "on_duplicate": "merge",
        },
    )
    assert (merged.status_code, merged.json()["id"], merged.json()["title"]) == (
        200,
        record["id"],
        "CTO",
    )
    bad = api.post("/api/v1/records", json={"name": "", "emails": ["nope"]})
    assert bad.status_code == 422
    assert "name is empty" in bad.json()["detail"]
    assert api.post("/api/v1/records", json={"name": "X", "colour": "red"}).status_code == 422

    url = f"/api/v1/records/{record['id']}"
    assert api.get(url).json()["title"] == "CTO"
    patched = api.patch(
        url, json={"title": "VP", "emails": ["anna@home.example", "anna@acme.example"]}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] == "VP"
    assert body["company"]["name"] == "Acme"  # left out: kept
    assert [e["address"] for e in body["emails"] if e["is_primary"]] == ["anna@home.example"]
    assert api.patch(url, json={"name": ""}).status_code == 422
    assert api.patch(url, json={"company": None}).json()["company"] is None
    assert api.delete(url).status_code == 204
    for method in ("get", "delete"):
        missing = getattr(api, method)(url)
        assert missing.status_code == 404
        assert missing.json()["detail"] == f"record #{record['id']} does not exist"
    assert api.patch(url, json={"title": "x"}).status_code == 404


def test_activities_of_a_record(api, runtime, tmp_path):
    account = add_mail_account(runtime.sessions)
    bob = add(runtime, PersonDraft("Bob", emails=("bob@other.example",)))
    ingest(
        runtime.sessions,
        account,
        tmp_path,
        mail(
            sender="Bob <bob@other.example>",
            to=ME,
            cc="Sam <sam@firm.example>",
            msgid="<r1@x>",
            body="Yes.\n\nOn Mon, Robin wrote:\n> Can we talk?\n",
            attachment=("cv.pdf", b"%PDF"),
        ),
        bounce(failed="bob@other.example", when=WHEN + timedelta(hours=1)),
    )
    page = api.get(f"/api/v1/records/{bob.id}/activities").json()
    assert page["total"] == 2
    dsn, reply = page["items"]
    assert (dsn["kind"], dsn["bounce_address"]) == ("bounce", "bob@other.example")
    assert reply["from"] == [{"name": "Bob", "address": "bob@other.example"}]
    assert reply["cc"] == [{"name": "Sam", "address": "sam@firm.example"}]
    assert reply["reply_text"].strip() == "Yes."
    assert "Can we talk?" in reply["text"]
    assert reply["attachments"][0]["filename"] == "cv.pdf"
    assert reply["original_url"] == f"/activities/{reply['id']}/original"
    one = api.get(f"/api/v1/activities/{reply['id']}").json()
    assert one == reply
    emails = api.get(f"/api/v1/records/{bob.id}/activities?kind=email&per_page=1").json()
    assert [a["id"] for a in emails["items"]] == [reply["id"]]
    assert api.get(f"/api/v1/records/{bob.id}/activities?kind=fax").status_code == 422
    assert api.get("/api/v1/records/99999/activities").status_code == 404
    assert api.get("/api/v1/activities/99999").status_code == 404
    listed = api.get("/api/v1/records").json()["items"][0]
    assert (listed["activity_count"], listed["last_contact_at"]) == (2, "2025-03-03T11:00:00Z")


def test_companies(api, runtime):
    add(runtime, PersonDraft("Anna", company="Acme"))
    add(runtime, PersonDraft("Bob", company="Acme"))
    add(runtime, PersonDraft("Carl", company="Beta"))
    body = api.get("/api/v1/companies").json()
    assert [(c["name"], c["people_count"]) for c in body["items"]] == [("Acme", 2), ("Beta", 1)]
    assert [c["name"] for c in api.get("/api/v1/companies?q=bet").json()["items"]] == ["Beta"]
    acme = api.get(f"/api/v1/companies/{body['items'][0]['id']}").json()
    assert [p["name"] for p in acme["people"]["items"]] == ["Anna", "Bob"]
    assert api.get("/api/v1/companies/99999").status_code == 404


def test_the_session_cookie_needs_the_csrf_header_for_changes(admin_client):
    page = admin_client.get("/records/new")
    refused = admin_client.post("/api/v1/records", json={"name": "Eve"})
    assert refused.status_code == 403
    made = admin_client.post(
        "/api/v1/records", json={"name": "Eve"}, headers={"X-CSRF-Token": csrf_of(page.text)}
    )
    assert made.status_code == 201
    assert admin_client.get("/api/v1/records").json()["total"] == 1


def test_openapi_lists_the_routes(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/records",
        "/api/v1/records/{record_id}",
        "/api/v1/records/{record_id}/activities",
        "/api/v1/activities/{activity_id}",
        "/api/v1/companies",
        "/api/v1/companies/{company_id}",
    ):
        assert path in paths
