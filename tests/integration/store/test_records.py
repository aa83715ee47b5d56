import pytest
from sqlalchemy import func, select

from postroom.domain.records import (
    EmailValue,
    ExistingRecord,
    PersonDraft,
    PhoneEntry,
    PhoneValue,
    check_draft,
)
from postroom.errors import InputError, NotFound
from postroom.store import records as store
from postroom.store.models import Company, PersonKind, UserAccount


def _draft(name="Anna Berg", **fields):
    return check_draft(PersonDraft(name=name, **fields), default_region="GB")


def test_create_person_stores_every_value(session_factory):
    with session_factory.begin() as session:
        owner = store.find_or_create_user(session=session, email="Rec@Firm.example", name="Rec")
        person = store.create_person(
            session=session,
            draft=_draft(
                kind="contact",
                emails=("Anna@ACME.example", "anna@home.example"),
                phones=(PhoneEntry("020 7946 0958", "work"),),
                company="Acme Ltd",
                title="Head of Sales",
                location="London",
                links=("https://linkedin.com/in/anna",),
                tags=("Python", "remote"),
                notes="met at a fair",
            ),
            owner_id=owner.id,
        )
        person_id = person.id
    with session_factory() as session:
        person = store.get_person_or_raise(session=session, person_id=person_id)
        assert person.kind is PersonKind.CONTACT
        assert (person.name, person.name_key) == ("Anna Berg", "anna berg")
        assert [(e.address, e.address_key, e.is_primary) for e in person.emails] == [
            ("Anna@ACME.example", "anna@acme.example", True),
            ("anna@home.example", "anna@home.example", False),
        ]
        assert [(p.number, p.label) for p in person.phones] == [("+442079460958", "work")]
        assert person.company is not None
        assert (person.company.name, person.company.name_key) == ("Acme Ltd", "acme ltd")
        assert (person.title, person.location, person.notes) == (
            "Head of Sales",
            "London",
            "met at a fair",
        )
        assert person.links == ["https://linkedin.com/in/anna"]
        assert [t.tag for t in person.tags] == ["python", "remote"]
        assert person.owner is not None
        assert person.owner.email == "rec@firm.example"


def test_company_is_found_by_its_key_not_duplicated(session_factory):
    with session_factory.begin() as session:
        a = store.create_person(session=session, draft=_draft("A", company="Acme  Ltd"))
        b = store.create_person(session=session, draft=_draft("B", company="ACME LTD"))
        assert a.company_id == b.company_id
        assert session.scalar(select(func.count()).select_from(Company)) == 1
        found = store.get_company_by_name(session=session, name=" acme ltd ")
        assert found is not None
        assert found.name == "Acme Ltd"
        assert store.get_company_by_name(session=session, name="Globex") is None


def test_users_are_found_by_normalised_email(session_factory):
    with session_factory.begin() as session:
        first = store.find_or_create_user(session=session, email="Rec@FIRM.example")
        again = store.find_or_create_user(session=session, email=" rec@firm.example ")
        assert first.id == again.id
        assert session.scalar(select(func.count()).select_from(UserAccount)) == 1
        assert store.get_user_by_email(session=session, email="REC@firm.example") is first
        assert store.get_user_by_email(session=session, email="other@firm.example") is None
        with pytest.raises(InputError, match="'nobody' is not an address"):
            store.find_or_create_user(session=session, email="nobody")


def test_get_returns_none_and_or_raise_raises(session_factory):
    with session_factory() as session:
        assert store.get_person(session=session, person_id=404) is None
        with pytest.raises(NotFound, match="record #404 does not exist"):
            store.get_person_or_raise(session=session, person_id=404)


def test_list_persons_filters_and_pages(session_factory):
    with session_factory.begin() as session:
        store.create_person(
            session=session,
            draft=_draft("Zoë Adams", emails=("zoe@acme.example",), tags=("python",)),
        )
        store.create_person(
            session=session,
            draft=_draft("Bob Stone", emails=("bob@globex.example",), tags=("Python", "go")),
        )
        store.create_person(
            session=session, draft=_draft("Carla 100%", emails=("carla@acme.example",))
        )
    with session_factory() as session:

        def names(**kw):
            return [p.name for p in store.list_persons(session=session, **kw)]

        assert names() == ["Bob Stone", "Carla 100%", "Zoë Adams"]
        assert names(tag="PYTHON") == ["Bob Stone", "Zoë Adams"]
        assert names(text="ZOË") == ["Zoë Adams"]
        assert names(text="@acme") == ["Carla 100%", "Zoë Adams"]
        assert names(text="acme", tag="python") == ["Zoë Adams"]
        assert names(text="0%") == ["Carla 100%"]
        assert names(text="%") == ["Carla 100%"]  # a wildcard is matched literally
        assert names(limit=2) == ["Bob Stone", "Carla 100%"]
        assert names(limit=2, offset=2) == ["Zoë Adams"]


def test_duplicate_candidates_cover_email_phone_and_name_with_company(session_factory):
    with session_factory.begin() as session:
        by_email = store.create_person(session=session, draft=_draft("E", emails=("e@x.example",)))
        by_phone = store.create_person(
            session=session, draft=_draft("P", phones=(PhoneEntry("+44 20 7946 0958"),))
        )
        by_name = store.create_person(session=session, draft=_draft("Anna Berg", company="Acme"))
        store.create_person(session=session, draft=_draft("Anna Berg", company="Globex"))
        store.create_person(session=session, draft=_draft("Other", emails=("o@x.example",)))
        draft = _draft(
            "anna berg",
            company="ACME",
            emails=("E@X.example",),
            phones=(PhoneEntry("020 7946 0958"),),
        )
        assert store.find_duplicate_candidates(session=session, draft=draft) == [
            ExistingRecord(by_email.id, "E", "e", None, frozenset({"e@x.example"}), frozenset()),
            ExistingRecord(by_phone.id, "P", "p", None, frozenset(), frozenset({"+442079460958"})),
            ExistingRecord(by_name.id, "Anna Berg", "anna berg", "acme", frozenset(), frozenset()),
        ]
        assert store.find_duplicate_candidates(session=session, draft=_draft("Anna Berg")) == []


def test_adding_values_is_idempotent_and_keeps_one_primary(session_factory):
    with session_factory.begin() as session:
        person = store.create_person(session=session, draft=_draft())
        email = EmailValue("Anna@x.example", "anna@x.example")
        assert store.add_person_email(session=session, person=person, email=email) is True
        assert store.add_person_email(session=session, person=person, email=email) is False
        second = EmailValue("b@x.example", "b@x.example")
        assert store.add_person_email(session=session, person=person, email=second) is True
        phone = PhoneValue("+442079460958", "mobile")
        assert store.add_person_phone(session=session, person=person, phone=phone) is True
        assert store.add_person_phone(session=session, person=person, phone=phone) is False
        assert store.add_person_tag(session=session, person=person, tag=" Remote ") is True
        assert store.add_person_tag(session=session, person=person, tag="REMOTE") is False
        with pytest.raises(InputError, match="a tag cannot be empty"):
            store.add_person_tag(session=session, person=person, tag="  ")
        with pytest.raises(InputError, match="longer than 100 characters"):
            store.add_person_tag(session=session, person=person, tag="x" * 101)
        person_id = person.id
    with session_factory() as session:
        person = store.get_person_or_raise(session=session, person_id=person_id)
        assert [(e.address_key, e.is_primary) for e in person.emails] == [
            ("anna@x.example", True),
            ("b@x.example", False),
        ]
        assert [p.number for p in person.phones] == ["+442079460958"]
        assert [t.tag for t in person.tags] == ["remote"]


def test_merge_adds_missing_values_and_fills_only_empty_fields(session_factory):
    with session_factory.begin() as session:
        owner = store.find_or_create_user(session=session, email="rec@firm.example")
        person = store.create_person(
            session=session,
            draft=_draft(
                emails=("anna@acme.example",),
                title="Head of Sales",
                links=("https://a.example",),
                tags=("python",),
            ),
        )
        created_at = person.created_at
        outcome = store.merge_draft_into_person(
            session=session,
            person=person,
            draft=_draft(
                "Anna B.",
                kind="contact",
                emails=("ANNA@acme.example", "anna@home.example"),
                phones=(PhoneEntry("020 7946 0958"),),
                company="Acme",
                title="Intern",
                location="Leeds",
                links=("https://a.example", "https://b.example"),
                tags=("Python", "remote"),
                notes="second source",
            ),
            owner_id=owner.id,
        )
        assert outcome == store.MergeOutcome(
            added_address_keys=("anna@home.example",),
            changes=(
                "email anna@home.example",
                "phone +442079460958",
                "tag remote",
                "link https://b.example",
                "company",
                "location",
                "notes",
                "owner",
            ),
        )
        person_id = person.id
    with session_factory() as session:
        person = store.get_person_or_raise(session=session, person_id=person_id)
        assert (person.name, person.kind, person.title) == (
            "Anna Berg",
            PersonKind.CANDIDATE,
            "Head of Sales",
        )
        assert (person.location, person.notes) == ("Leeds", "second source")
        assert person.company is not None
        assert person.company.name == "Acme"
        assert person.links == ["https://a.example", "https://b.example"]
        assert [t.tag for t in person.tags] == ["python", "remote"]
        assert [e.address_key for e in person.emails] == ["anna@acme.example", "anna@home.example"]
        assert person.updated_at >= created_at
        assert person.owner_id is not None


def test_merge_with_nothing_new_changes_nothing(session_factory):
    with session_factory.begin() as session:
        person = store.create_person(session=session, draft=_draft(emails=("a@x.example",)))
        outcome = store.merge_draft_into_person(
            session=session, person=person, draft=_draft(emails=("A@X.example",))
        )
        assert outcome == store.MergeOutcome(added_address_keys=(), changes=())
