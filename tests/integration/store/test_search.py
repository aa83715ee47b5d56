"""Search in the store: the full-text index follows every write, queries are safe and ranked."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import delete, inspect, text, update

from postroom.domain.matching import Direction
from postroom.store import search
from postroom.store.activities import NewActivity, delete_activities, fill_body, insert_activities
from postroom.store.db import MIGRATIONS_DIR, create_db_engine, make_session_factory, upgrade
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    Company,
    Person,
    PersonEmail,
    PersonKind,
)
from postroom.store.search import SearchTerms, parse_query
from tests.support.postgres import create_database, find_or_start_postgres

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def people(session_factory) -> dict[str, int]:
    with session_factory.begin() as session:
        acme = Company(name="Café Électrique", name_key="café électrique", domain="cafe.example")
        persons = {
            "anna": Person(
                name="Anna Berg",
                name_key="anna berg",
                company=acme,
                search_text="anna berg cafe electrique anna@cafe.example",
                emails=[PersonEmail(address="anna@cafe.example", address_key="anna@cafe.example")],
            ),
            "jose": Person(
                name="José García",
                name_key="josé garcía",
                kind=PersonKind.CONTACT,
                search_text="jose garcia jose@talent.example",
            ),
        }
        session.add_all(persons.values())
        session.flush()
        return {key: p.id for key, p in persons.items()}


def activity(n: int, person_id: int, **changes: Any) -> NewActivity:
    row: dict[str, Any] = {
        "fingerprint": f"f:{n}",
        "message_id": None,
        "direction": Direction.RECEIVED,
        "occurred_at": WHEN + timedelta(days=n),
        "subject": f"Message {n}",
        "participants": {"from": [["Anna Berg", "anna@cafe.example"]]},
        "body_state": BodyState.PRESENT,
        "text": "Nothing to see here.",
        "reply_text": "Nothing to see here.",
        "attachments": [],
        "person_id": person_id,
        "kind": ActivityKind.EMAIL,
        "detail": None,
    }
    return NewActivity(**{**row, **changes})


def insert(session_factory, *rows: NewActivity) -> None:
    """Store ``rows`` in a transaction of their own."""
    with session_factory.begin() as session:
        insert_activities(session=session, rows=list(rows))


def found(session_factory, query: str, **kwargs: Any) -> list[int]:
    """The fingerprint numbers of the activities ``query`` finds, in order."""
    with session_factory() as session:
        terms = parse_query(query)
        hits = search.search_activities(session=session, terms=terms, **kwargs)
        count = search.count_activities(session=session, terms=terms)
        with_fingerprints = {
            a.id: int(a.fingerprint[2:])
            for a in session.query(Activity).filter(Activity.id.in_([h.activity_id for h in hits]))
        }
    if not kwargs:
        assert count == len(hits)
    return [with_fingerprints[h.activity_id] for h in hits]


# --- parsing ---------------------------------------------------------------------------


def test_words_are_folded_the_last_is_a_prefix_and_quotes_make_phrases():
    assert parse_query("Café  offer") == SearchTerms(words=("cafe",), prefix="offer")
    assert parse_query('"senior engineer" Zürich') == SearchTerms(
        phrases=(("senior", "engineer"),), prefix="zurich"
    )
    assert parse_query('offer "start date"') == SearchTerms(
        words=("offer",), phrases=(("start", "date"),)
    )
    assert parse_query('"unclosed phrase here') == SearchTerms(
        phrases=(("unclosed", "phrase", "here"),)
    )
    # a one-letter last word is a whole word, not a prefix that reads most of the index
    assert parse_query("offer a") == SearchTerms(words=("offer", "a"))
    assert parse_query("anna@acme.example") == SearchTerms(words=("anna", "acme"), prefix="example")


@pytest.mark.parametrize(
    "hostile",
    ['"', "*", "NEAR(", "AND OR", "'", "--", "\\", "(", ")", ":", "^", "{}", "%_", "\x00", " "],
)
def test_hostile_input_is_only_words_or_nothing(hostile):
    terms = parse_query(hostile)
    for word in terms.all_words:
        assert word.isalnum()
    assert '"' not in "".join(terms.all_words)


def test_match_strings_quote_every_word():
    terms = parse_query('near( AND "or not" x*')
    assert search.fts5_match(terms) == '"near" "and" "x" "or not"'
    assert search.tsquery(terms) == "'near' & 'and' & 'x' & ('or' <-> 'not')"
    assert search.fts5_match(parse_query("pay")) == '"pay"*'
    assert search.tsquery(parse_query("pay")) == "'pay':*"


def test_many_words_are_capped():
    terms = parse_query(" ".join(f"w{n}" for n in range(40)))
    assert len(terms.all_words) == search.MAX_TERMS


# --- the index follows every write --------------------------------------------------------


def test_bulk_insert_fill_body_and_delete_keep_the_index_current(session_factory, people):
    anna = people["anna"]
    insert(
        session_factory,
        activity(1, anna, subject="Offer for the Zürich role", text="Salary attached."),
        activity(2, anna, body_state=BodyState.PENDING, text=None, reply_text=None),  # text to come
        activity(3, anna, subject="Lunch?", text="Let's meet at the café."),
    )
    assert found(session_factory, "zurich") == [1]
    assert found(session_factory, "ZÜRICH") == [1]
    assert found(session_factory, "cafe") == [3]
    assert found(session_factory, "portfolio") == []

    with session_factory.begin() as session:
        pending = session.query(Activity).filter(Activity.fingerprint == "f:2").one()
        fill_body(
            session=session,
            activity_ids=[pending.id],
            text="My portfolio is online.",
            reply_text="My portfolio is online.",
            attachments=[],
        )
    assert found(session_factory, "portfolio") == [2]

    with session_factory.begin() as session:
        session.execute(
            update(Activity).where(Activity.fingerprint == "f:1").values(subject="Renamed")
        )
    assert found(session_factory, "zurich") == []
    assert found(session_factory, "renamed") == [1]

    with session_factory.begin() as session:
        third = session.query(Activity).filter(Activity.fingerprint == "f:3").one()
        delete_activities(session=session, activity_ids=[third.id])
    assert found(session_factory, "cafe") == []


def test_activities_deleted_with_their_record_leave_the_index(session_factory, people):
    insert(
        session_factory,
        activity(1, people["anna"], text="interview on Monday"),
        activity(2, people["jose"], text="interview on Tuesday"),
    )
    assert sorted(found(session_factory, "interview")) == [1, 2]
    with session_factory.begin() as session:
        session.execute(delete(Person).where(Person.id == people["anna"]))  # ON DELETE CASCADE
    assert found(session_factory, "interview") == [2]
    assert found(session_factory, "monday") == []


def test_an_orm_insert_is_indexed_in_its_own_transaction(session_factory, people):
    with session_factory.begin() as session:
        session.add(
            Activity(
                person_id=people["jose"],
                fingerprint="f:7",
                kind=ActivityKind.BOUNCE,
                direction=Direction.SENT,
                subject="Undeliverable: Garçon",
                body_state=BodyState.WITHHELD,
            )
        )
        session.flush()
        terms = parse_query("garcon")
        assert [h.subject for h in search.search_activities(session=session, terms=terms)] == [
            "Undeliverable: Garçon"
        ]
        session.rollback()
    assert found(session_factory, "garcon") == []


# --- queries ------------------------------------------------------------------------------


def test_words_are_anded_the_last_is_a_prefix_and_phrases_are_consecutive(session_factory, people):
    anna = people["anna"]
    insert(
        session_factory,
        activity(1, anna, text="The senior engineer role in Berlin."),
        activity(2, anna, text="An engineer who is senior, in Paris."),
        activity(3, anna, text="Engineering manager, Berlin."),
        activity(4, anna, text="e-mail me at anna@cafe.example, 1.5 days notice"),
    )
    assert sorted(found(session_factory, "senior engineer")) == [1, 2]
    assert found(session_factory, '"senior engineer"') == [1]
    assert sorted(found(session_factory, "berlin engin")) == [1, 3]
    assert found(session_factory, '"engin"') == []  # quoted: the whole word only
    assert found(session_factory, "cafe example") == [4]  # an address's words
    assert found(session_factory, "anna@cafe.example") == [4]
    assert found(session_factory, "1.5 days") == [4]
    assert found(session_factory, "mail") == [4]


@pytest.mark.parametrize(
    "hostile", ['"', "*", "NEAR(", "AND OR", "'", "--", "a'b", 'x"y', "NOT", "-x", "(((", "^a"]
)
def test_hostile_queries_never_fail(session_factory, people, hostile):
    insert(session_factory, activity(1, people["anna"], text="near and or not x y a b"))
    result = found(session_factory, hostile)
    assert result in ([], [1])


def test_results_are_ranked_then_newest_and_paged(session_factory, people):
    anna = people["anna"]
    insert(
        session_factory,
        activity(1, anna, subject="Hello", text="about the contract here"),
        activity(2, anna, subject="Contract", text="see the contract, contract attached"),
        activity(3, anna, subject="Hi", text="the contract is fine"),
        activity(4, anna, subject="Re", text="nothing"),
    )
    ranked = found(session_factory, "contract")
    assert ranked[0] == 2  # in the subject, and more often
    assert ranked[1:] == [3, 1]  # the same rank: newest first
    assert found(session_factory, "contract", limit=2) == [2, 3]
    assert found(session_factory, "contract", limit=2, offset=2) == [1]


# --- records and companies ----------------------------------------------------------------


def test_people_by_folded_search_text_and_companies_by_folded_name(session_factory, people):
    with session_factory() as session:

        def persons(query: str, viewer_id: int | None = None) -> list[str]:
            terms = parse_query(query)
            hits = search.search_persons(session=session, terms=terms, viewer_id=viewer_id)
            assert search.count_persons(session=session, terms=terms) == len(hits)
            return [h.name for h in hits]

        def companies(query: str) -> list[str]:
            terms = parse_query(query)
            hits = search.search_companies(session=session, terms=terms)
            assert search.count_companies(session=session, terms=terms) == len(hits)
            return [h.name for h in hits]

        assert persons("GARCÍA") == ["José García"]
        assert persons("garc") == ["José García"]
        assert persons("anna cafe") == ["Anna Berg"]
        assert persons("example") == ["Anna Berg", "José García"]
        assert persons("anna jose") == []
        assert persons("%") == []
        assert companies("electrique") == ["Café Électrique"]
        assert companies("CAFÉ élec") == ["Café Électrique"]
        assert companies("cafe.example") == ["Café Électrique"]
        assert companies("garcia") == []
        hit = search.search_persons(session=session, terms=parse_query("anna"), viewer_id=None)[0]
        assert (hit.company_name, hit.email) == ("Café Électrique", "anna@cafe.example")
        (company,) = search.search_companies(session=session, terms=parse_query("cafe"))
        assert company.records == 1


def test_the_viewers_own_records_come_first(session_factory, people):
    from postroom.store.models import UserAccount

    with session_factory.begin() as session:
        robin = UserAccount(email="robin@firm.example")
        session.add(robin)
        session.flush()
        session.get(Person, people["jose"]).owner_id = robin.id  # type: ignore[union-attr]
        robin_id = robin.id
    with session_factory() as session:
        terms = parse_query("example")
        mine_first = search.search_persons(session=session, terms=terms, viewer_id=robin_id)
        assert [h.name for h in mine_first] == ["José García", "Anna Berg"]


def test_newest_first_and_a_count_that_stops(session_factory, people):
    anna = people["anna"]
    insert(
        session_factory,
        activity(1, anna, subject="Contract", text="contract contract"),
        activity(2, anna, text="the contract", occurred_at=None),  # undated: last
        activity(3, anna, text="a contract here"),
        activity(4, anna, text="the contract again"),
    )
    assert found(session_factory, "contract")[0] == 1  # by relevance
    assert found(session_factory, "contract", order="newest") == [4, 3, 1, 2]
    assert found(session_factory, "contract", order="newest", limit=2, offset=1) == [3, 1]
    with session_factory() as session:
        terms = parse_query("contract")
        assert search.count_activities(session=session, terms=terms, at_most=3) == 3
        assert search.count_activities(session=session, terms=terms, at_most=10) == 4
        assert search.count_activities(session=session, terms=terms) == 4


# --- the migration ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_engine(request, tmp_path, worker_id):
    """An empty database of its own (the migration test walks revisions on it)."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'blank.db'}")
        yield engine
        engine.dispose()
        return
    server = find_or_start_postgres()
    name = f"postroom_fts_{worker_id}_{os.getpid()}"
    engine = create_db_engine(create_database(server, name))
    yield engine
    engine.dispose()
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alembic(engine, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_the_migration_indexes_the_activities_already_stored_and_goes_back(blank_engine):
    upgrade(blank_engine, "0004")
    with blank_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO person (id, kind, name, name_key, links, search_text, created_at,"
                " updated_at) VALUES (1, 'candidate', 'Zoë', 'zoë', '[]', 'zoe', :at, :at)"
            ),
            {"at": WHEN.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO activity (id, person_id, fingerprint, kind, direction, occurred_at,"
                " subject, participants, body_state, text, attachments, created_at) VALUES"
                " (1, 1, 'f:1', 'email', 'received', :at, 'Entrevue à Montréal', '{}',"
                " 'present', 'Le café est prêt.', '[]', :at)"
            ),
            {"at": WHEN.replace(tzinfo=None)},
        )
    upgrade(blank_engine)
    sessions = make_session_factory(blank_engine)
    for query in ("montreal", "CAFE pret", "entrev"):
        with sessions() as session:
            terms = parse_query(query)
            hits = search.search_activities(session=session, terms=terms)
            assert [h.activity_id for h in hits] == [1], query
    _alembic(blank_engine, "downgrade", "0004")
    tables = set(inspect(blank_engine).get_table_names())
    assert "activity_fts" not in tables
    columns = {c["name"] for c in inspect(blank_engine).get_columns("activity")}
    assert "search_vector" not in columns
    upgrade(blank_engine)
    with sessions() as session:
        assert search.count_activities(session=session, terms=parse_query("pret")) == 1


def test_sharp_s_is_ss_on_both_databases(session_factory, people):
    insert(
        session_factory,
        activity(1, people["anna"], text="Die Adresse: Hauptstraße 5, Gießen."),
        activity(2, people["anna"], text="Hauptstrasse 7"),
    )
    assert sorted(found(session_factory, "hauptstraße")) == [1, 2]
    assert sorted(found(session_factory, "HAUPTSTRASSE")) == [1, 2]
    assert found(session_factory, "giessen") == [1]
    assert found(session_factory, "gieß") == [1]  # a prefix with ß
    assert search.fts5_match(parse_query("straße")) == '("strasse"* OR "straße"*)'
