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
