"""The record pages through TestClient, on SQLite and PostgreSQL: list, search, add with the
duplicate check, a record with its timeline, edit, remove, duplicates and merge, import."""

from __future__ import annotations

import re
from datetime import timedelta

from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.services import records
from tests.support.mailseed import ME, WHEN, add_mail_account, bounce, ingest, mail
from tests.support.web import csrf_of, post_form


def add(runtime, draft, on_duplicate="error"):
    with runtime.write() as session:
        return records.create_record(session=session, draft=draft, on_duplicate=on_duplicate).record


def form(**values):
    base = {
        "name": "",
        "kind": "candidate",
        "company": "",
        "title": "",
        "location": "",
        "owner": "",
        "notes": "",
        "tags": "",
        "links": "",
        "region": "",
        "primary": "0",
    }
    return {**base, **values}


def test_pages_need_sign_in(client):
    for path in ("/records", "/records/new", "/records/1", "/records/import", "/companies"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")


def test_an_empty_list_says_what_to_do(admin_client):
    page = admin_client.get("/records")
    assert page.status_code == 200
    assert "No records yet" in page.text
    assert 'href="/records/import"' in page.text


def test_list_search_filters_and_paging(admin_client, runtime):
    add(
        runtime,
        PersonDraft("José García", emails=("jose@acme.example",), company="Acme", tags=("python",)),
    )
    add(runtime, PersonDraft("Zoë Smith", kind="contact", phones=(PhoneEntry("+44 20 7946 0958"),)))
    for i in range(55):
        add(runtime, PersonDraft(f"Person {i:02}"))
    page = admin_client.get("/records")
    assert "57 records" in page.text
    assert "Page 1 of 2" in page.text
    second = admin_client.get("/records?page=2")
    assert "Zoë Smith" in second.text
    found = admin_client.get("/records", params={"q": "garcia"})
    assert "José García" in found.text
    assert "1 record found" in found.text
    assert "Zoë" not in found.text
    assert "Zoë Smith" in admin_client.get("/records", params={"q": "7946 0958"}).text
    assert "Zoë Smith" in admin_client.get("/records", params={"q": "ZOE"}).text
    contacts = admin_client.get("/records", params={"kind": "contact"})
    assert "Zoë Smith" in contacts.text
    assert "José García" not in contacts.text
    tagged = admin_client.get("/records", params={"tag": "python"})
    assert "José García" in tagged.text
    assert "Person 01" not in tagged.text
    none = admin_client.get("/records", params={"q": "nobody-like-this"})
    assert "No record matches" in none.text
    assert admin_client.get("/records", params={"kind": "robot"}).status_code == 422
    assert admin_client.get("/records", params={"page": "0"}).status_code == 422


def test_list_shows_last_contact_and_count_and_sorts_by_it(admin_client, runtime, tmp_path):
    account = add_mail_account(runtime.sessions)
    add(runtime, PersonDraft("Anna", emails=("anna@x.example",)))
    add(runtime, PersonDraft("Bob", emails=("bob@x.example",)))
    ingest(
        runtime.sessions,
        account,
        tmp_path,
        mail(sender="anna@x.example", to=ME, msgid="<a@x>"),
        mail(sender="bob@x.example", to=ME, msgid="<b1@x>", when=WHEN + timedelta(days=2)),
        mail(sender="bob@x.example", to=ME, msgid="<b2@x>", when=WHEN + timedelta(days=3)),
    )
    page = admin_client.get("/records?sort=last_contact")
    rows = re.findall(r'class="row-link" href="/records/\d+">([^<]+)</a>', page.text)
    assert rows == ["Bob", "Anna"]
    assert "6 Mar 2025" in page.text  # Bob's last contact, in the user's zone (UTC)


def test_add_a_record_then_the_duplicate_offers_merge_or_create(admin_client, runtime):
    page = admin_client.get("/records/new")
    assert page.status_code == 200
    token = csrf_of(page.text)
    created = admin_client.post(
        "/records",
        data={
            **form(name="Anna Berg", company="Acme", tags="python, remote"),
            "email": ["anna@acme.example", "anna@home.example"],
            "primary": "1",
            "phone": ["+44 20 7946 0958"],
            "phone_label": ["mobile"],
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    assert created.status_code == 200
    assert "Anna Berg is added." in created.text
    record_id = int(created.url.path.rsplit("/", 1)[1])
    with runtime.read() as session:
        record = records.get_record(session=session, record_id=record_id)
    assert record.primary_email == "anna@home.example"
    assert record.tags == ("python", "remote")
    assert [(p.number, p.label) for p in record.phones] == [("+442079460958", "mobile")]

    duplicate = {
        **form(name="A. Berg", title="Engineer"),
        "email": ["ANNA@acme.example"],
        "csrf_token": token,
    }
    refused = admin_client.post("/records", data=duplicate)
    assert refused.status_code == 409
    assert "Anna Berg is already on file" in refused.text
    assert "same email anna@acme.example" in refused.text
    assert 'value="merge"' in refused.text
    assert 'value="create"' in refused.text
    assert 'value="A. Berg"' in refused.text  # what was typed is kept

    merged = admin_client.post(
        "/records", data={**duplicate, "on_duplicate": "merge"}, follow_redirects=True
    )
    assert "Merged into Anna Berg: title." in merged.text
    assert merged.url.path == f"/records/{record_id}"
    again = admin_client.post(
        "/records", data={**duplicate, "on_duplicate": "create"}, follow_redirects=True
    )
    assert "A. Berg is added." in again.text


def test_a_bad_form_is_shown_again_with_every_problem(admin_client):
    token = csrf_of(admin_client.get("/records/new").text)
    response = admin_client.post(
        "/records",
        data={**form(name=""), "email": ["bob@"], "phone": ["555"], "csrf_token": token},
    )
    assert response.status_code == 422
    assert "name is empty" in response.text
    assert "email &#39;bob@&#39; is not an address" in response.text
    assert "has no country code" in response.text
    assert 'value="bob@"' in response.text


def test_the_record_page_shows_details_and_timeline(admin_client, runtime, tmp_path):
    account = add_mail_account(runtime.sessions)
    record = add(
        runtime,
        PersonDraft(
            "Bob Stone",
            emails=("bob@other.example",),
            company="Other Ltd",
            title="Engineer",
            links=("https://example.com/bob",),
            notes="Met at PyCon",
            tags=("go",),
        ),
    )
    ingest(
        runtime.sessions,
        account,
        tmp_path,
        mail(
            sender="Bob Stone <bob@other.example>",
            to=f"Robin <{ME}>",
            cc="Sam <sam@firm.example>",
            msgid="<r1@x>",
            subject="Re: The Python role",
            body="Tuesday works.\n\nOn Mon, Robin wrote:\n> Can we talk?\n",
            attachment=("cv.pdf", b"%PDF-1.4 fake"),
        ),
        bounce(failed="bob@other.example", when=WHEN + timedelta(hours=1)),
    )
    page = admin_client.get(f"/records/{record.id}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "Bob Stone",
        "Engineer",
        "Other Ltd",
        "Met at PyCon",
        "example.com/bob",
        "Re: The Python role",
        "Tuesday works.",
        "Show the quoted history",
        "Can we talk?",
        "cv.pdf",
        "Delivery failed",
        "5.1.1",
        "Sam",
        "3 Mar 2025, 10:00 UTC",
    ):
        assert expected in text, expected
    activity_ids = re.findall(r'href="/activities/(\d+)/original"', text)
    assert len(activity_ids) == 2
    bounces = admin_client.get(f"/records/{record.id}?kind=bounce")
    assert "Delivery failed" in bounces.text
    assert "Tuesday works." not in bounces.text
    sent = admin_client.get(f"/records/{record.id}?direction=sent")
    assert "Nothing of this kind" in sent.text
    assert admin_client.get("/records/99999").status_code == 404
    assert admin_client.get(f"/records/{record.id}?kind=fax").status_code == 422
    assert admin_client.get("/records/abc").status_code == 422


def test_a_record_without_mail_says_what_to_do(admin_client, runtime):
    record = add(runtime, PersonDraft("No Mail"))
    page = admin_client.get(f"/records/{record.id}")
    assert "No email address yet" in page.text


def test_edit_a_record_and_past_mail_with_a_new_address_appears(admin_client, runtime, tmp_path):
    account = add_mail_account(runtime.sessions)
    ingest(
        runtime.sessions,
        account,
        tmp_path,
        mail(sender="carla@else.example", to=ME, subject="Hello from Carla", msgid="<c@x>"),
    )
    record = add(runtime, PersonDraft("Carla", emails=("carla@work.example",), tags=("old",)))
    assert "Hello from Carla" not in admin_client.get(f"/records/{record.id}").text
    edit = admin_client.get(f"/records/{record.id}/edit")
    assert edit.status_code == 200
    assert 'value="carla@work.example"' in edit.text
    saved = admin_client.post(
        f"/records/{record.id}/edit",
        data={
            **form(
                name="Carla Diaz",
                kind="contact",
                company="Else",
                tags="new",
                owner="ada@firm.example",
            ),
            "email": ["carla@work.example", "carla@else.example", ""],
            "primary": "1",
            "phone": [""],
            "phone_label": [""],
            "csrf_token": csrf_of(edit.text),
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200
    assert "Carla Diaz is saved." in saved.text
    assert "Hello from Carla" in saved.text
    with runtime.read() as session:
        detail = records.get_record(session=session, record_id=record.id)
    assert detail.primary_email == "carla@else.example"
    assert (detail.kind, detail.company.name, detail.tags) == ("contact", "Else", ("new",))
    assert detail.owner is not None
    assert detail.owner.email == "ada@firm.example"
    bad = admin_client.post(
        f"/records/{record.id}/edit",
        data={**form(name="Carla"), "email": ["nope"], "csrf_token": csrf_of(edit.text)},
    )
    assert bad.status_code == 422
    assert "is not an address" in bad.text
    assert (
        post_form(admin_client, "/records/99999/edit", form(name="X"), page="/records").status_code
        == 404
    )


def test_remove_a_record_after_confirming(admin_client, runtime):
    record = add(runtime, PersonDraft("Gone Soon"))
    confirm = admin_client.get(f"/records/{record.id}/delete")
    assert "Remove Gone Soon?" in confirm.text
    removed = admin_client.post(
        f"/records/{record.id}/delete",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=True,
    )
    assert "Gone Soon is removed" in removed.text
    assert admin_client.get(f"/records/{record.id}").status_code == 404
    no_csrf = admin_client.post(f"/records/{record.id}/delete")
    assert no_csrf.status_code == 403


def test_find_duplicates_and_merge(admin_client, runtime):
    first = add(runtime, PersonDraft("Anna Berg", emails=("anna@acme.example",), tags=("a",)))
    second = add(
        runtime,
        PersonDraft("Anna B.", emails=("anna@acme.example", "anna@home.example"), title="CTO"),
        on_duplicate="create",
    )
    third = add(runtime, PersonDraft("Unrelated"))
    page = admin_client.get(f"/records/{second.id}/duplicates")
    assert page.status_code == 200
    assert "same email anna@acme.example" in page.text
    assert "Anna Berg" in page.text
    lonely = admin_client.get(f"/records/{third.id}/duplicates")
    assert "No duplicates found" in lonely.text
    chosen = admin_client.get(f"/records/{third.id}/duplicates?other={first.id}")
    assert "chosen by you" in chosen.text
    assert admin_client.get(f"/records/{third.id}/duplicates?other=99999").status_code == 422
    merged = admin_client.post(
        f"/records/{second.id}/merge",
        data={
            "other_id": str(first.id),
            "survivor": str(first.id),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=True,
    )
    assert merged.url.path == f"/records/{first.id}"
    assert "Anna B. is merged into Anna Berg." in merged.text
    assert "anna@home.example" in merged.text
    assert "CTO" in merged.text
    assert admin_client.get(f"/records/{second.id}").status_code == 404
    wrong = admin_client.post(
        f"/records/{first.id}/merge",
        data={"other_id": str(third.id), "survivor": "12345", "csrf_token": csrf_of(page.text)},
    )
    assert wrong.status_code == 422


def test_import_a_csv_shows_every_row(admin_client, runtime):
    add(runtime, PersonDraft("Anna Berg", emails=("anna@acme.example",)))
    page = admin_client.get("/records/import")
    assert page.status_code == 200
    data = (
        b"Name,Email,Phone,Company\n"
        b"Anna Berg,anna@acme.example,+44 20 7946 0958,Acme\n"
        b"Bob Stone,bob@x.example,,\n"
        b"Bad Row,not-an-address,,\n"
    )
    report = admin_client.post(
        "/records/import",
        data={"policy": "merge", "kind": "contact", "region": "", "csrf_token": csrf_of(page.text)},
        files={"file": ("people.csv", data, "text/csv")},
    )
    assert report.status_code == 200
    assert "people.csv: 3 lines: 2 created, 1 merged, 0 skipped, 0 errors" in report.text
    assert "email &#39;not-an-address&#39; left out: not an address" in report.text
    assert re.search(r'href="/records/\d+">Bob Stone</a>', report.text)
    empty = admin_client.post(
        "/records/import",
        data={"policy": "merge", "kind": "contact", "csrf_token": csrf_of(page.text)},
        files={"file": ("empty.csv", b"", "text/csv")},
    )
    assert empty.status_code == 422
    assert "the file sent was empty" in empty.text
    vcard = admin_client.post(
        "/records/import",
        data={"policy": "skip", "kind": "candidate", "csrf_token": csrf_of(page.text)},
        files={
            "file": (
                "cards.vcf",
                b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cara Vee\r\n"
                b"EMAIL:cara@v.example\r\nEND:VCARD\r\n",
                "text/vcard",
            )
        },
    )
    assert "1 card: 1 created, 0 merged, 0 skipped, 0 errors" in vcard.text


def test_a_record_added_through_the_form_gets_its_past_mail(admin_client, runtime, tmp_path):
    account = add_mail_account(runtime.sessions)
    ingest(
        runtime.sessions,
        account,
        tmp_path,
        mail(sender="dana@past.example", to=ME, subject="Before you knew me", msgid="<d@x>"),
    )
    page = admin_client.get("/records/new?kind=contact&company=Past%20Ltd")
    assert 'value="Past Ltd"' in page.text
    made = admin_client.post(
        "/records",
        data={
            **form(name="Dana", kind="contact", company="Past Ltd"),
            "email": ["dana@past.example"],
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=True,
    )
    assert "Dana is added." in made.text
    assert "Before you knew me" in made.text


def test_cards_say_when_text_is_pending_withheld_or_gone_from_the_server(
    admin_client, runtime, tmp_path
):
    from datetime import UTC, datetime

    from sqlalchemy import update

    from postroom.store.models import Activity, BodyState, MailMessage

    account = add_mail_account(runtime.sessions)
    record = add(runtime, PersonDraft("Eve", emails=("eve@x.example",)))
    ingest(
        runtime.sessions,
        account,
        tmp_path,
        mail(sender="eve@x.example", to=ME, subject="One", msgid="<1@x>"),
        mail(sender="eve@x.example", to=ME, subject="Two", msgid="<2@x>"),
        mail(sender="eve@x.example", to=ME, subject="Three", msgid="<3@x>"),
    )
    with runtime.write() as session:
        for subject, state in (("One", BodyState.PENDING), ("Two", BodyState.WITHHELD)):
            session.execute(
                update(Activity)
                .where(Activity.subject == subject)
                .values(body_state=state, text=None, reply_text=None)
            )
        session.execute(
            update(MailMessage)
            .where(MailMessage.subject == "Three")
            .values(deleted_on_server_at=datetime(2025, 4, 1, tzinfo=UTC))
        )
    page = admin_client.get(f"/records/{record.id}").text
    assert "Text not fetched yet" in page
    assert "hidden by the account's privacy setting" in page
    assert "Gone from the server" in page
    assert page.count("Open original") == 3  # a gone message: the page shows the kept text


def test_export_the_listed_records_as_csv(admin_client, runtime):
    add(runtime, PersonDraft("José García", emails=("jose@acme.example",), tags=("python",)))
    add(runtime, PersonDraft("Zoë Smith", kind="contact"))
    listing = admin_client.get("/records", params={"tag": "python"})
    assert 'href="/records/export.csv?tag=python"' in listing.text
    response = admin_client.get("/records/export.csv", params={"tag": "python"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[1].startswith("José García,candidate,jose@acme.example")
    assert "Zoë" not in text
    everyone = admin_client.get("/records/export.csv").content.decode("utf-8-sig")
    assert len(everyone.splitlines()) == 3


def test_every_record_route_answers_404_for_an_unknown_id(admin_client, runtime):
    known = add(runtime, PersonDraft("Known"))
    for path in (
        "/records/99999",
        "/records/99999/edit",
        "/records/99999/delete",
        "/records/99999/duplicates",
    ):
        response = admin_client.get(path)
        assert response.status_code == 404, path
        assert "record #99999 does not exist" in response.text
    for path, data in (
        ("/records/99999/delete", {}),
        ("/records/99999/merge", {"other_id": str(known.id), "survivor": str(known.id)}),
        (f"/records/{known.id}/merge", {"other_id": "99999", "survivor": str(known.id)}),
    ):
        response = post_form(admin_client, path, data, page="/records")
        assert response.status_code == 404, path
    bad = post_form(admin_client, f"/records/{known.id}/merge", {"other_id": "x"}, page="/records")
    assert bad.status_code == 422
