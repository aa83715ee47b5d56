import pytest
from sqlalchemy import func, select

from postroom.domain.records import DraftError, MatchRule, PersonDraft, PhoneEntry
from postroom.errors import Conflict, InputError, NotFound
from postroom.services import records
from postroom.store import records as store
from postroom.store.models import Person


class HookCalls:
    """Records every on_addresses_added call, as link_past_messages would receive it."""

    def __init__(self):
        self.calls = []

    def __call__(self, session, person_id, address_keys):
        assert session.get(Person, person_id) is not None  # flushed before the hook runs
        self.calls.append((person_id, address_keys))
        return 0


ANNA = PersonDraft("Anna Berg", emails=("Anna@Acme.example",), company="Acme")


def test_add_person_creates_and_reports_new_addresses(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        result = records.add_person(
            session=session,
            draft=PersonDraft("Anna Berg", emails=("Anna@Acme.example", "anna@home.example")),
            on_addresses_added=hook,
        )
        assert result.is_created
        assert result.duplicate is None
        assert result.added_address_keys == ("anna@acme.example", "anna@home.example")
        person_id = result.person.id
    assert hook.calls == [(person_id, ["anna@acme.example", "anna@home.example"])]
    with session_factory() as session:
        assert store.get_person_or_raise(session=session, person_id=person_id).name == "Anna Berg"


def test_no_hook_call_without_addresses(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        records.add_person(session=session, draft=PersonDraft("No Mail"), on_addresses_added=hook)
    assert hook.calls == []


def test_duplicate_is_a_conflict_naming_record_and_reason(session_factory):
    with session_factory.begin() as session:
        first = records.add_person(session=session, draft=ANNA).person
        with pytest.raises(Conflict) as caught:
            records.add_person(
                session=session, draft=PersonDraft("A. Berg", emails=("anna@ACME.example",))
            )
        assert str(caught.value) == (
            f"record #{first.id} (Anna Berg) already has the same email anna@acme.example"
            " (merge into it, or create a separate record on purpose)"
        )
        with pytest.raises(Conflict, match="same name and company Anna Berg at ACME"):
            records.add_person(session=session, draft=PersonDraft("Anna  Berg", company="ACME"))
        assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_duplicate_by_phone_with_default_region(session_factory):
    with session_factory.begin() as session:
        records.add_person(
            session=session, draft=PersonDraft("Bob", phones=(PhoneEntry("+44 20 7946 0958"),))
        )
        with pytest.raises(Conflict, match=r"same phone \+442079460958"):
            records.add_person(
                session=session,
                draft=PersonDraft("Robert", phones=(PhoneEntry("020 7946 0958"),)),
                default_region="GB",
            )


def test_merge_on_duplicate(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        first = records.add_person(session=session, draft=ANNA).person
        result = records.add_person(
            session=session,
            draft=PersonDraft(
                "Anna", emails=("anna@acme.example", "anna@home.example"), title="CTO"
            ),
            on_duplicate="merge",
            on_addresses_added=hook,
        )
        assert not result.is_created
        assert result.person.id == first.id
        assert result.duplicate is not None
        assert (result.duplicate.rule, result.duplicate.value) == (
            MatchRule.EMAIL,
            "anna@acme.example",
        )
        assert result.added_address_keys == ("anna@home.example",)
        assert result.changes == ("email anna@home.example", "title")
        assert result.person.name == "Anna Berg"
        assert result.person.title == "CTO"
    assert hook.calls == [(first.id, ["anna@home.example"])]


def test_create_on_duplicate_makes_a_second_record(session_factory):
    with session_factory.begin() as session:
        first = records.add_person(session=session, draft=ANNA).person
        result = records.add_person(session=session, draft=ANNA, on_duplicate="create")
        assert result.is_created
        assert result.person.id != first.id
        assert result.duplicate is not None
        assert result.duplicate.record_id == first.id


def test_invalid_draft_lists_problems_and_writes_nothing(session_factory):
    with session_factory.begin() as session:
        with pytest.raises(DraftError) as caught:
            records.add_person(session=session, draft=PersonDraft("", emails=("bob@",)))
        assert caught.value.problems == ("name is empty", "email 'bob@' is not an address")
        assert isinstance(caught.value, InputError)
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_owner_must_be_an_existing_user(session_factory):
    with session_factory.begin() as session:
        with pytest.raises(DraftError, match=r"owner 'rec@firm\.example' is not a Postroom user"):
            records.add_person(
                session=session, draft=PersonDraft("A", owner_email="Rec@Firm.example")
            )
        user = store.find_or_create_user(session=session, email="rec@firm.example")
        person = records.add_person(
            session=session, draft=PersonDraft("A", owner_email="Rec@Firm.example")
        ).person
        assert person.owner_id == user.id


def test_merge_person_by_id(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        person = records.add_person(session=session, draft=PersonDraft("Carla")).person
        result = records.merge_person(
            session=session,
            person_id=person.id,
            draft=PersonDraft("ignored", emails=("carla@x.example",), tags=("Go",)),
            on_addresses_added=hook,
        )
        assert result.changes == ("email carla@x.example", "tag go")
        with pytest.raises(NotFound):
            records.merge_person(session=session, person_id=404, draft=PersonDraft("X"))
    assert hook.calls == [(person.id, ["carla@x.example"])]


def test_add_email_phone_tag_to_a_record(session_factory):
    hook = HookCalls()
    with session_factory.begin() as session:
        person_id = records.add_person(session=session, draft=PersonDraft("Dan")).person.id
        assert records.add_person_email(
            session=session, person_id=person_id, address=" Dan@X.example ", on_addresses_added=hook
        )
        assert not records.add_person_email(
            session=session, person_id=person_id, address="dan@x.example", on_addresses_added=hook
        )
        with pytest.raises(InputError, match="email 'dan@' is not an address"):
            records.add_person_email(session=session, person_id=person_id, address="dan@")
        assert records.add_person_phone(
            session=session,
            person_id=person_id,
            number="(202) 555-0143",
            label="Mobile",
            default_region="US",
        )
        with pytest.raises(InputError, match="phone '555' is not a valid number"):
            records.add_person_phone(
                session=session, person_id=person_id, number="555", default_region="US"
            )
        assert records.add_person_tag(session=session, person_id=person_id, tag="Senior")
        with pytest.raises(NotFound):
            records.add_person_tag(session=session, person_id=404, tag="x")
    assert hook.calls == [(person_id, ["dan@x.example"])]
    with session_factory() as session:
        person = store.get_person_or_raise(session=session, person_id=person_id)
        assert [(e.address, e.is_primary) for e in person.emails] == [("Dan@X.example", True)]
        assert [(p.number, p.label) for p in person.phones] == [("+12025550143", "mobile")]
        assert [t.tag for t in person.tags] == ["senior"]


# --- search text, lists, detail, edit, merge, timeline -----------------------------------

from datetime import timedelta  # noqa: E402

from postroom.services import timeline  # noqa: E402
from postroom.services.records import RecordQuery  # noqa: E402
from postroom.store.models import Activity  # noqa: E402
from tests.support.mailseed import ME, WHEN, add_mail_account, bounce, ingest, mail  # noqa: E402


def search_text(session_factory, person_id):
    with session_factory() as session:
        return session.get(Person, person_id).search_text


def test_search_text_follows_every_change(session_factory):
    with session_factory.begin() as session:
        person_id = records.add_person(
            session=session,
            draft=PersonDraft("José García", company="Núñez Ltd"),
            on_addresses_added=None,
        ).person.id
    assert search_text(session_factory, person_id) == "jose garcia nunez ltd"
    with session_factory.begin() as session:
        records.add_person_email(session=session, person_id=person_id, address="JG@Acme.example")
        records.add_person_phone(session=session, person_id=person_id, number="+44 20 7946 0958")
        records.add_person_tag(session=session, person_id=person_id, tag="Señor")
    assert search_text(session_factory, person_id) == (
        "jose garcia nunez ltd jg@acme.example +442079460958 senor"
    )
    with session_factory.begin() as session:
        records.merge_person(
            session=session, person_id=person_id, draft=PersonDraft("x", emails=("j@home.example",))
        )
    assert "j@home.example" in search_text(session_factory, person_id)
    with session_factory.begin() as session:
        records.update_record(
            session=session,
            record_id=person_id,
            draft=PersonDraft("Josefina Ruiz", emails=("j@home.example",), tags=("go",)),
        )
    assert search_text(session_factory, person_id) == "josefina ruiz j@home.example go"


def test_search_is_case_and_accent_insensitive_on_every_field(session_factory):
    with session_factory.begin() as session:
        for draft in (
            PersonDraft("José García", emails=("jose@acme.example",), company="Acme"),
            PersonDraft("Anna Berg", phones=(PhoneEntry("+44 20 7946 0958"),), tags=("Python",)),
            PersonDraft("Zoë Smith", kind="contact", company="Øresund AB"),
        ):
            records.add_person(session=session, draft=draft)
    with session_factory() as session:

        def names(**query):
            found = records.list_records(session=session, query=RecordQuery(**query))
            return [r.name for r in found.rows]

        assert names(text="garcia") == ["José García"]
        assert names(text="GARCÍA jose") == ["José García"]
        assert names(text="acme.example") == ["José García"]
        assert names(text="020 7946 0958") == ["Anna Berg"]
        assert names(text="python") == ["Anna Berg"]
        assert names(text="zoe") == ["Zoë Smith"]
        assert names(text="100%") == []
        assert names(kind="contact") == ["Zoë Smith"]
        assert names(tag="PYTHON") == ["Anna Berg"]
        assert names() == ["Anna Berg", "José García", "Zoë Smith"]
        page = records.list_records(session=session, query=RecordQuery(per_page=2, page=2))
        assert ([r.name for r in page.rows], page.total, page.pages) == (["Zoë Smith"], 3, 2)
        with pytest.raises(InputError):
            records.list_records(session=session, query=RecordQuery(kind="robot"))
        with pytest.raises(InputError):
            records.list_records(session=session, query=RecordQuery(page=0))


def test_rows_count_activities_and_sort_by_last_contact(session_factory, tmp_path):
    account = add_mail_account(session_factory)
    with session_factory.begin() as session:
        anna = records.add_person(
            session=session, draft=PersonDraft("Anna", emails=("anna@x.example",))
        )
        bob = records.add_person(
            session=session, draft=PersonDraft("Bob", emails=("bob@x.example",))
        )
        records.add_person(session=session, draft=PersonDraft("Carl"))
        anna_id, bob_id = anna.person.id, bob.person.id
    ingest(
        session_factory,
        account,
        tmp_path,
        mail(sender="anna@x.example", to=ME, msgid="<a1@x>"),
        mail(sender="anna@x.example", to=ME, msgid="<a2@x>", when=WHEN + timedelta(days=1)),
        mail(sender="bob@x.example", to=ME, msgid="<b1@x>", when=WHEN + timedelta(days=5)),
    )
    with session_factory() as session:
        by_name = records.list_records(session=session)
        assert [(r.name, r.activity_count) for r in by_name.rows] == [
            ("Anna", 2),
            ("Bob", 1),
            ("Carl", 0),
        ]
        assert by_name.rows[0].last_contact_at == WHEN + timedelta(days=1)
        recent = records.list_records(session=session, query=RecordQuery(sort="last_contact"))
        assert [r.name for r in recent.rows] == ["Bob", "Anna", "Carl"]
        detail = records.get_record(session=session, record_id=anna_id)
        assert (detail.activity_count, detail.primary_email) == (2, "anna@x.example")
        assert records.get_record(session=session, record_id=bob_id).activity_count == 1
        with pytest.raises(NotFound):
            records.get_record(session=session, record_id=404)


def test_an_address_added_later_brings_past_mail_by_default(session_factory, tmp_path):
    account = add_mail_account(session_factory)
    ingest(session_factory, account, tmp_path, mail(sender="dan@x.example", to=ME, body="Hi"))
    with session_factory.begin() as session:
        dan = records.create_record(session=session, draft=PersonDraft("Dan")).record
        assert dan.activity_count == 0
        records.update_record(
            session=session, record_id=dan.id, draft=PersonDraft("Dan", emails=("dan@x.example",))
        )
    with session_factory() as session:
        assert records.get_record(session=session, record_id=dan.id).activity_count == 1


def test_edit_replaces_values_and_refuses_another_records_address(session_factory):
    with session_factory.begin() as session:
        eve = records.add_person(
            session=session,
            draft=PersonDraft(
                "Eve",
                emails=("eve@a.example", "eve@b.example"),
                phones=(PhoneEntry("+44 20 7946 0958", "work"),),
                tags=("one", "two"),
                company="Acme",
            ),
        ).person.id
        records.add_person(session=session, draft=PersonDraft("Other", emails=("o@x.example",)))
        detail = records.update_record(
            session=session,
            record_id=eve,
            draft=PersonDraft(
                "Eve Adams",
                kind="contact",
                emails=("eve@b.example", "eve@c.example"),
                phones=(PhoneEntry("+44 20 7946 0958", "mobile"),),
                tags=("two", "three"),
                links=("https://example.com/eve",),
                title="CTO",
            ),
        )
        assert [(e.address, e.is_primary) for e in detail.emails] == [
            ("eve@b.example", True),
            ("eve@c.example", False),
        ]
        assert [(p.number, p.label) for p in detail.phones] == [("+442079460958", "mobile")]
        assert (detail.name, detail.kind, detail.company, detail.title) == (
            "Eve Adams",
            "contact",
            None,
            "CTO",
        )
        assert detail.tags == ("three", "two")
        assert detail.links == ("https://example.com/eve",)
        with pytest.raises(Conflict, match=r"already has the email o@x\.example"):
            records.update_record(
                session=session, record_id=eve, draft=PersonDraft("Eve", emails=("o@x.example",))
            )
        with pytest.raises(DraftError):
            records.update_record(session=session, record_id=eve, draft=PersonDraft(" "))
        with pytest.raises(NotFound):
            records.update_record(session=session, record_id=404, draft=PersonDraft("X"))


def test_merge_records_moves_everything_and_keeps_a_shared_activity_once(session_factory, tmp_path):
    account = add_mail_account(session_factory)
    with session_factory.begin() as session:
        keep = records.add_person(
            session=session,
            draft=PersonDraft("Anna Berg", emails=("anna@acme.example",), tags=("python",)),
        ).person.id
        other = records.add_person(
            session=session,
            draft=PersonDraft(
                "A. Berg",
                emails=("anna@home.example",),
                phones=(PhoneEntry("+44 20 7946 0958"),),
                company="Acme",
                title="Engineer",
                tags=("go",),
                links=("https://example.com/anna",),
            ),
        ).person.id
    # one message to both addresses is on both records; one only on the other
    ingest(
        session_factory,
        account,
        tmp_path,
        mail(sender=ME, to="anna@acme.example, anna@home.example", msgid="<both@x>"),
        mail(sender="anna@home.example", to=ME, msgid="<home@x>"),
    )
    with session_factory.begin() as session:
        found = records.find_duplicates(session=session, record_id=keep)
        assert found == []  # no shared value yet: nothing to propose
        result = records.merge_records(session=session, survivor_id=keep, other_id=other)
        assert result.removed_name == "A. Berg"
        record = result.record
        assert [e.address for e in record.emails] == ["anna@acme.example", "anna@home.example"]
        assert record.primary_email == "anna@acme.example"
        assert [p.number for p in record.phones] == ["+442079460958"]
        assert record.tags == ("go", "python")
        assert (record.company.name, record.title) == ("Acme", "Engineer")
        assert record.links == ("https://example.com/anna",)
        assert record.activity_count == 2
        with pytest.raises(NotFound):
            records.get_record(session=session, record_id=other)
        with pytest.raises(InputError):
            records.merge_records(session=session, survivor_id=keep, other_id=keep)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Activity)) == 2
        assert "anna@home.example" in session.get(Person, keep).search_text


def test_find_duplicates_names_the_shared_value(session_factory):
    with session_factory.begin() as session:
        first = records.add_person(
            session=session, draft=PersonDraft("Anna", emails=("anna@x.example",))
        ).person.id
        second = records.add_person(
            session=session,
            draft=PersonDraft("Anna B", emails=("ANNA@x.example",)),
            on_duplicate="create",
        ).person.id
        [candidate] = records.find_duplicates(session=session, record_id=first)
        assert (candidate.record.id, candidate.reason) == (second, "same email anna@x.example")


def test_delete_record_takes_its_activities(session_factory, tmp_path):
    account = add_mail_account(session_factory)
    with session_factory.begin() as session:
        pid = records.add_person(
            session=session, draft=PersonDraft("Anna", emails=("anna@x.example",))
        ).person.id
    ingest(session_factory, account, tmp_path, mail(sender="anna@x.example", to=ME))
    with session_factory.begin() as session:
        assert records.delete_record(session=session, record_id=pid) == "Anna"
        with pytest.raises(NotFound):
            records.delete_record(session=session, record_id=pid)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Activity)) == 0


def test_timeline_entries_show_who_wrote_to_whom_text_attachments_and_bounces(
    session_factory, tmp_path
):
    account = add_mail_account(session_factory)
    with session_factory.begin() as session:
        pid = records.add_person(
            session=session, draft=PersonDraft("Bob", emails=("Bob@Other.example",))
        ).person.id
    ingest(
        session_factory,
        account,
        tmp_path,
        mail(
            sender="Bob Stone <bob@other.example>",
            to=f"Robin <{ME}>",
            cc="Sam <sam@firm.example>",
            msgid="<r1@x>",
            body="Tuesday works.\n\nOn Mon, Robin wrote:\n> Can we talk?\n",
            attachment=("cv.pdf", b"%PDF-1.4 fake"),
        ),
        bounce(failed="bob@other.example", when=WHEN + timedelta(hours=1)),
    )
    with session_factory() as session:
        page = timeline.get_timeline(session=session, record_id=pid)
        assert page.total == 2
        first, second = page.entries
        assert first.is_bounce
        assert first.bounce_address == "Bob@Other.example"
        assert all(not f.content_type.startswith("message/") for f in first.files)
        assert "5.1.1" in (first.detail or "")
        assert second.direction == "received"
        assert [b.label for b in second.from_] == ["Bob Stone"]
        assert [(b.name, b.address) for b in second.to] == [("Robin", ME)]
        assert [b.address for b in second.cc] == ["sam@firm.example"]
        assert second.new_text == "Tuesday works."
        assert second.has_history
        assert "Can we talk?" in (second.text or "")
        assert second.history.startswith("On Mon, Robin wrote:")
        assert [(a.filename, a.content_type) for a in second.attachments] == [
            ("cv.pdf", "application/pdf")
        ]
        assert second.body_state == "present"
        assert not second.is_gone_from_server
        assert second.original_url == f"/activities/{second.id}/original"
        bounces = timeline.get_timeline(session=session, record_id=pid, kind="bounce")
        assert [e.id for e in bounces.entries] == [first.id]
        received = timeline.get_timeline(session=session, record_id=pid, direction="received")
        assert received.total == 2
        assert timeline.get_timeline(session=session, record_id=pid, direction="sent").total == 0
        paged = timeline.get_timeline(session=session, record_id=pid, per_page=1, page=2)
        assert [e.id for e in paged.entries] == [second.id]
        assert timeline.get_activity(session=session, activity_id=second.id) == second
        with pytest.raises(NotFound):
            timeline.get_activity(session=session, activity_id=404)
        with pytest.raises(NotFound):
            timeline.get_timeline(session=session, record_id=404)
        with pytest.raises(InputError):
            timeline.get_timeline(session=session, record_id=pid, kind="fax")


def test_companies_list_their_people(session_factory):
    with session_factory.begin() as session:
        records.add_person(session=session, draft=PersonDraft("Anna", company="Acme"))
        records.add_person(session=session, draft=PersonDraft("Bob", company="ACME"))
        records.add_person(session=session, draft=PersonDraft("Carl", company="Beta"))
        companies = records.list_companies(session=session)
        assert [(c.name, c.people_count) for c in companies.rows] == [("Acme", 2), ("Beta", 1)]
        assert [c.name for c in records.list_companies(session=session, text="bet").rows] == [
            "Beta"
        ]
        acme = records.get_company(session=session, company_id=companies.rows[0].id)
        assert [r.name for r in acme.people.rows] == ["Anna", "Bob"]
        with pytest.raises(NotFound):
            records.get_company(session=session, company_id=404)


# --- cost: a big record and a page of records ----------------------------------------------

import time  # noqa: E402

from sqlalchemy import event, insert  # noqa: E402

from postroom.domain.matching import Direction  # noqa: E402
from postroom.store.models import ActivityKind, BodyState  # noqa: E402


def seed_activities(session_factory, person_id, count):
    rows = [
        {
            "person_id": person_id,
            "fingerprint": f"fp-{person_id}-{i}",
            "kind": ActivityKind.EMAIL,
            "direction": Direction.RECEIVED if i % 2 else Direction.SENT,
            "occurred_at": WHEN + timedelta(minutes=i),
            "subject": f"Message {i}",
            "participants": {"from": [["Anna", "anna@x.example"]], "to": [["", ME]]},
            "body_state": BodyState.PRESENT,
            "text": "Hello\n" * 200,
            "reply_text": "Hello",
            "attachments": [],
        }
        for i in range(count)
    ]
    with session_factory.begin() as session:
        for start in range(0, count, 2000):
            session.execute(insert(Activity), rows[start : start + 2000])


class StatementCounter:
    def __init__(self, engine):
        self.count = 0
        self.engine = engine

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self.seen)

    def seen(self, *args):
        self.count += 1


def test_a_record_with_10000_activities_reads_one_page_fast(session_factory, engine):
    with session_factory.begin() as session:
        pid = records.add_person(session=session, draft=PersonDraft("Anna")).person.id
    seed_activities(session_factory, pid, 10_000)
    with session_factory() as session:
        timeline.get_timeline(session=session, record_id=pid)  # warm the caches
        started = time.perf_counter()
        page = timeline.get_timeline(session=session, record_id=pid, page=3)
        detail = records.get_record(session=session, record_id=pid)
        elapsed = time.perf_counter() - started
    assert page.total == 10_000
    assert [e.subject for e in page.entries[:2]] == ["Message 9949", "Message 9948"]
    assert detail.activity_count == 10_000
    assert elapsed < 0.5, f"the record page's reads took {elapsed:.2f} s"


def test_a_page_of_records_costs_the_same_queries_whatever_its_size(session_factory, engine):
    with session_factory.begin() as session:
        ids = [
            records.add_person(
                session=session,
                draft=PersonDraft(
                    f"Person {i:02}", emails=(f"p{i}@x.example",), company="Acme", tags=("a",)
                ),
                on_addresses_added=None,
            ).person.id
            for i in range(40)
        ]
    for pid in ids[:5]:
        seed_activities(session_factory, pid, 3)

    def statements(per_page, sort):
        with session_factory() as session, StatementCounter(engine) as counter:
            found = records.list_records(
                session=session, query=RecordQuery(per_page=per_page, sort=sort)
            )
            assert len(found.rows) == per_page
        return counter.count

    assert statements(5, "name") == statements(40, "name")
    assert statements(5, "last_contact") == statements(40, "last_contact")
    assert statements(40, "name") <= 8


def test_an_export_reads_back_as_the_same_records(session_factory):
    from postroom.services import importing

    drafts = (
        PersonDraft(
            "José García",
            kind="contact",
            emails=("jose@acme.example", "jg@home.example"),
            phones=(PhoneEntry("+44 20 7946 0958", "mobile"), PhoneEntry("+1 202 555 0143")),
            company="Acme",
            title="CTO",
            location="Madrid",
            links=("https://example.com/jose",),
            tags=("python", "senior"),
            notes="Line one\nline two; with a semicolon",
        ),
        PersonDraft("=HYPERLINK(evil)", emails=("e@x.example",)),
    )
    with session_factory.begin() as session:
        for draft in drafts:
            records.add_person(session=session, draft=draft)
        before = [
            records.get_record(session=session, record_id=r.id)
            for r in records.list_records(session=session).rows
        ]
        text = records.export_records_csv(session=session)
    lines = text.splitlines()
    assert lines[0].startswith("Name,Kind,Email,Phone,Mobile Phone,Work Phone,Company")
    assert "'=HYPERLINK(evil)" in text  # a spreadsheet shows it, never runs it
    with session_factory.begin() as session:
        for record in before:
            records.delete_record(session=session, record_id=record.id)
        report = importing.import_csv(session=session, data=text.encode(), policy="skip")
        assert (len(report.created), report.errors, report.ignored_fields) == (2, [], [])
        after = [
            records.get_record(session=session, record_id=r.id)
            for r in records.list_records(session=session).rows
        ]

    def values(r):
        return (
            r.name.lstrip("'"),
            r.kind,
            r.emails,
            sorted((p.number, p.label or "") for p in r.phones),
            r.company.name if r.company else None,
            r.title,
            r.location,
            r.links,
            r.tags,
            r.notes,
        )

    assert sorted(values(r) for r in after) == sorted(values(r) for r in before)
