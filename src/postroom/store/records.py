"""Queries for Name records (persons), their companies, and users.

Every function takes keyword-only ``*, session`` and never commits: the caller owns the
transaction. Functions ``flush`` when they return rows the caller needs ids of.

Invariants kept here:

* Emails are stored as typed (``address``) and normalised (``address_key``); a person with
  emails has exactly one primary (``is_primary``), the first one given unless one exists.
* Phones are E.164 (they arrive checked, see ``domain.records.check_draft``); tags lower-case.
* A company is found by ``name_key`` before one is created: one row per key (UNIQUE), created
  with ``INSERT ... ON CONFLICT DO NOTHING`` so two writers racing agree on one row.
* A user's ``email`` column holds the normalised address.
* Merging a draft into a person adds what is missing and fills empty fields; it never
  overwrites a non-empty value.
* ``person.search_text`` is ``domain.records.fold_for_search`` of the name, the company's
  name, the emails, phones and tags (in that order, as migration 0004 built it). Every
  function here that changes one of them calls ``refresh_search_text`` before it returns, so
  record search never sees a stale row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from postroom.domain.addresses import normalize_address
from postroom.domain.records import (
    MAX_TAG,
    CheckedDraft,
    EmailValue,
    ExistingRecord,
    PhoneValue,
    fold_for_search,
    normalize_name_key,
    normalize_tag,
)
from postroom.errors import InputError, NotFound
from postroom.store.db import insert_ignoring_duplicates
from postroom.store.models import (
    Activity,
    Company,
    Person,
    PersonEmail,
    PersonKind,
    PersonPhone,
    PersonTag,
    UserAccount,
    utcnow,
)
from postroom.store.search import folded


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What a merge changed: new address keys (for linking past mail) and a line per change.

    ``changes`` reads like ``("email anna@home.example", "phone +442079460958", "title")``.
    """

    added_address_keys: tuple[str, ...]
    changes: tuple[str, ...]


# --- companies -----------------------------------------------------------------------------


def get_company_by_name(*, session: Session, name: str) -> Company | None:
    """The company whose name has the same key as ``name``, or None."""
    return session.scalars(
        select(Company).where(Company.name_key == normalize_name_key(name))
    ).one_or_none()


def find_or_create_company(*, session: Session, name: str) -> Company:
    """The company named ``name`` (by key), created when there is none."""
    name = " ".join(name.split())
    key = normalize_name_key(name)
    if not key:
        raise InputError("a company needs a name")
    found = session.scalars(select(Company).where(Company.name_key == key)).one_or_none()
    if found is not None:
        return found
    now = utcnow()
    session.execute(
        insert_ignoring_duplicates(session, Company).values(
            name=name, name_key=key, created_at=now, updated_at=now
        )
    )
    return session.scalars(select(Company).where(Company.name_key == key)).one()


# --- users ---------------------------------------------------------------------------------


def _user_key(email: str) -> str:
    key = normalize_address(email)
    if key is None:
        raise InputError(f"user email {email.strip()!r} is not an address")
    return key


def get_user_by_email(*, session: Session, email: str) -> UserAccount | None:
    """The user with address ``email`` (compared normalised), or None.

    Raises ``InputError`` when ``email`` is not an address.
    """
    key = _user_key(email)
    return session.scalars(select(UserAccount).where(UserAccount.email == key)).one_or_none()


def find_or_create_user(*, session: Session, email: str, name: str = "") -> UserAccount:
    """The user with address ``email``, created (with ``name``) when there is none.

    Raises ``InputError`` when ``email`` is not an address.
    """
    key = _user_key(email)
    found = session.scalars(select(UserAccount).where(UserAccount.email == key)).one_or_none()
    if found is not None:
        return found
    session.execute(
        insert_ignoring_duplicates(session, UserAccount).values(
            email=key, name=name.strip(), created_at=utcnow()
        )
    )
    return session.scalars(select(UserAccount).where(UserAccount.email == key)).one()


# --- persons -------------------------------------------------------------------------------


def build_search_text(person: Person) -> str:
    """What record search matches for ``person``: ``"anna berg acme anna@acme.example
    +442079460958 python"`` (folded: no accents, no case)."""
    parts = [person.name, person.company.name if person.company is not None else ""]
    parts += [e.address for e in person.emails]
    parts += [p.number for p in person.phones]
    parts += [t.tag for t in person.tags]
    return fold_for_search(" ".join(p for p in parts if p))


def refresh_search_text(person: Person) -> None:
    """Make ``person.search_text`` agree with its name, company, emails, phones and tags."""
    person.search_text = build_search_text(person)


def get_person(*, session: Session, person_id: int) -> Person | None:
    """The person with id ``person_id``, or None."""
    return session.get(Person, person_id)


def get_person_names(*, session: Session, person_ids: Iterable[int]) -> dict[int, str]:
    """``{person id: name}`` for those of ``person_ids`` that exist, in one query."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted)))
    return {int(person_id): str(name) for person_id, name in rows}


def get_person_or_raise(*, session: Session, person_id: int) -> Person:
    """The person with id ``person_id``; raises ``NotFound`` when there is none."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"record #{person_id} does not exist")
    return person


def create_person(*, session: Session, draft: CheckedDraft, owner_id: int | None = None) -> Person:
    """A new person from ``draft`` (its company found or created), flushed so it has an id."""
    company = find_or_create_company(session=session, name=draft.company) if draft.company else None
    now = utcnow()
    person = Person(
        kind=PersonKind(draft.kind),
        name=draft.name,
        name_key=draft.name_key,
        company=company,
        title=draft.title,
        location=draft.location,
        links=list(draft.links),
        notes=draft.notes,
        owner_id=owner_id,
        created_at=now,
        updated_at=now,
        emails=[
            PersonEmail(address=e.address, address_key=e.key, is_primary=i == 0)
            for i, e in enumerate(draft.emails)
        ],
        phones=[PersonPhone(number=p.number, label=p.label) for p in draft.phones],
        tags=[PersonTag(tag=t) for t in draft.tags],
    )
    refresh_search_text(person)
    session.add(person)
    session.flush()
    return person


def find_duplicate_candidates(*, session: Session, draft: CheckedDraft) -> list[ExistingRecord]:
    """Every stored record that shares an email key, a phone, or name and company with
    ``draft``, as plain values for ``domain.records.find_duplicate``; oldest first.

    One query for the persons; their emails and phones come with it (``selectin``).
    """
    conditions: list[ColumnElement[bool]] = []
    if draft.emails:
        conditions.append(
            Person.id.in_(
                select(PersonEmail.person_id).where(PersonEmail.address_key.in_(draft.email_keys))
            )
        )
    if draft.phones:
        conditions.append(
            Person.id.in_(
                select(PersonPhone.person_id).where(PersonPhone.number.in_(draft.phone_numbers))
            )
        )
    if draft.company_key is not None:
        conditions.append(
            and_(
                Person.name_key == draft.name_key,
                Person.company_id.in_(
                    select(Company.id).where(Company.name_key == draft.company_key)
                ),
            )
        )
    if not conditions:
        return []
    persons = session.scalars(select(Person).where(or_(*conditions)).order_by(Person.id))
    return [to_existing_record(p) for p in persons]


def to_existing_record(person: Person) -> ExistingRecord:
    """The plain values of ``person`` the duplicate check compares."""
    return ExistingRecord(
        id=person.id,
        name=person.name,
        name_key=person.name_key,
        company_key=person.company.name_key if person.company is not None else None,
        email_keys=frozenset(e.address_key for e in person.emails),
        phones=frozenset(p.number for p in person.phones),
    )


def add_person_email(*, session: Session, person: Person, email: EmailValue) -> bool:
    """Add ``email`` to ``person``; False when the person already has that key.

    The first address a person gets becomes the primary one.
    """
    if any(e.address_key == email.key for e in person.emails):
        return False
    is_primary = not any(e.is_primary for e in person.emails)
    person.emails.append(
        PersonEmail(address=email.address, address_key=email.key, is_primary=is_primary)
    )
    person.updated_at = utcnow()
    refresh_search_text(person)
    session.flush()
    return True


def add_person_phone(*, session: Session, person: Person, phone: PhoneValue) -> bool:
    """Add the E.164 ``phone`` to ``person``; False when the person already has it."""
    if any(p.number == phone.number for p in person.phones):
        return False
    person.phones.append(PersonPhone(number=phone.number, label=phone.label))
    person.updated_at = utcnow()
    refresh_search_text(person)
    session.flush()
    return True


def add_person_tag(*, session: Session, person: Person, tag: str) -> bool:
    """Add ``tag`` (normalised) to ``person``; False when the person already has it."""
    tag = normalize_tag(tag)
    if not tag:
        raise InputError("a tag cannot be empty")
    if len(tag) > MAX_TAG:
        raise InputError(f"tag {tag!r} is longer than {MAX_TAG} characters")
    if any(t.tag == tag for t in person.tags):
        return False
    person.tags.append(PersonTag(tag=tag))
    person.updated_at = utcnow()
    refresh_search_text(person)
    session.flush()
    return True


def merge_draft_into_person(
    *, session: Session, person: Person, draft: CheckedDraft, owner_id: int | None = None
) -> MergeOutcome:
    """Add ``draft``'s missing emails, phones, tags and links to ``person`` and fill its empty
    fields (company, title, location, notes, owner). Non-empty fields, the name and the kind
    are never overwritten.
    """
    changes: list[str] = []
    added_keys: list[str] = []
    for email in draft.emails:
        if add_person_email(session=session, person=person, email=email):
            added_keys.append(email.key)
            changes.append(f"email {email.key}")
    for phone in draft.phones:
        if add_person_phone(session=session, person=person, phone=phone):
            changes.append(f"phone {phone.number}")
    for tag in draft.tags:
        if add_person_tag(session=session, person=person, tag=tag):
            changes.append(f"tag {tag}")
    new_links = [link for link in draft.links if link not in person.links]
    if new_links:
        person.links = [*person.links, *new_links]
        changes.extend(f"link {link}" for link in new_links)
    if person.company is None and draft.company:
        person.company = find_or_create_company(session=session, name=draft.company)
        changes.append("company")
    for field in ("title", "location", "notes"):
        value = getattr(draft, field)
        if value and not getattr(person, field):
            setattr(person, field, value)
            changes.append(field)
    if person.owner_id is None and owner_id is not None:
        person.owner_id = owner_id
        changes.append("owner")
    if changes:
        person.updated_at = utcnow()
    refresh_search_text(person)
    session.flush()
    return MergeOutcome(added_address_keys=tuple(added_keys), changes=tuple(changes))


# --- search, listing, companies ------------------------------------------------------------

RecordSort = Literal["name", "last_contact"]

_PHONE_LIKE = re.compile(r"^[\d\s().+/-]+$")


@dataclass(frozen=True, slots=True)
class PersonFilter:
    """What a record list is narrowed to; None means any."""

    text: str | None = None
    kind: PersonKind | None = None
    tag: str | None = None
    company_id: int | None = None
    owner_id: int | None = None


def _search_conditions(text: str) -> list[ColumnElement[bool]]:
    """Every word of ``text`` (folded) must be in ``search_text``; a phone-like ``text``
    matches its digits too (``020 7946 0958`` finds ``+442079460958``)."""
    conditions: list[ColumnElement[bool]] = [
        Person.search_text.contains(word, autoescape=True) for word in fold_for_search(text).split()
    ]
    digits = re.sub(r"\D", "", text).lstrip("0")
    if _PHONE_LIKE.match(text.strip()) and len(digits) >= 4:
        return [or_(and_(*conditions), Person.search_text.contains(digits, autoescape=True))]
    return conditions


def _filtered(query: Select[tuple[Person]], where: PersonFilter) -> Select[tuple[Person]]:
    if where.text is not None and where.text.strip():
        query = query.where(*_search_conditions(where.text))
    if where.kind is not None:
        query = query.where(Person.kind == where.kind)
    if where.tag is not None and where.tag.strip():
        query = query.where(
            exists().where(
                PersonTag.person_id == Person.id, PersonTag.tag == normalize_tag(where.tag)
            )
        )
    if where.company_id is not None:
        query = query.where(Person.company_id == where.company_id)
    if where.owner_id is not None:
        query = query.where(Person.owner_id == where.owner_id)
    return query


def count_persons(*, session: Session, where: PersonFilter = PersonFilter()) -> int:
    """How many persons ``where`` keeps."""
    query = _filtered(select(Person), where).with_only_columns(func.count(Person.id))
    return int(session.scalar(query) or 0)


def search_persons(
    *,
    session: Session,
    where: PersonFilter = PersonFilter(),
    sort: RecordSort = "name",
    limit: int = 50,
    offset: int = 0,
) -> list[Person]:
    """One page of persons ``where`` keeps, by name (then id) or by last contact (most
    recent first, never-contacted last, then name).

    Sorting by last contact asks each kept person's latest ``occurred_at`` of the
    ``(person_id, occurred_at)`` index (one probe each, inside the one query).
    """
    query = _filtered(select(Person), where)
    if sort == "last_contact":
        last = (
            select(func.max(Activity.occurred_at))
            .where(Activity.person_id == Person.id)
            .correlate(Person)
            .scalar_subquery()
        )
        query = query.order_by(last.desc().nulls_last(), Person.name_key, Person.id)
    else:
        query = query.order_by(Person.name_key, Person.id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def list_persons(
    *,
    session: Session,
    tag: str | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Person]:
    """Persons ordered by name then id, filtered by ``tag`` and/or ``text`` (see
    ``search_persons``: ``text`` matches name, company, emails, phones and tags, folded)."""
    return search_persons(
        session=session, where=PersonFilter(text=text, tag=tag), limit=limit, offset=offset
    )


def list_tags(*, session: Session) -> list[tuple[str, int]]:
    """``[("python", 12), ...]``: every tag in use with how many records carry it, by tag."""
    rows = session.execute(
        select(PersonTag.tag, func.count()).group_by(PersonTag.tag).order_by(PersonTag.tag)
    )
    return [(tag, int(n)) for tag, n in rows]


def list_users(*, session: Session) -> list[UserAccount]:
    """Every user, by name then address: who may own a record."""
    return list(session.scalars(select(UserAccount).order_by(UserAccount.name, UserAccount.email)))


def get_user(*, session: Session, user_id: int) -> UserAccount | None:
    return session.get(UserAccount, user_id)


def _company_name_contains(session: Session, text: str) -> ColumnElement[bool]:
    """The company's name contains ``text``, accents and case ignored (``munchen`` finds
    München), as record search does (``domain.records.fold_for_search``)."""
    return folded(session, Company.name_key).contains(fold_for_search(text), autoescape=True)


def get_company(*, session: Session, company_id: int) -> Company | None:
    return session.get(Company, company_id)


def count_companies(*, session: Session, text: str | None = None) -> int:
    query = select(func.count(Company.id))
    if text and text.strip():
        query = query.where(_company_name_contains(session, text))
    return int(session.scalar(query) or 0)


def list_companies(
    *, session: Session, text: str | None = None, limit: int = 50, offset: int = 0
) -> list[tuple[Company, int]]:
    """``[(company, people count), ...]`` by name; ``text`` matches part of the name."""
    people = (
        select(Person.company_id, func.count(Person.id).label("n"))
        .where(Person.company_id.is_not(None))
        .group_by(Person.company_id)
        .subquery()
    )
    query = select(Company, func.coalesce(people.c.n, 0)).outerjoin(
        people, people.c.company_id == Company.id
    )
    if text and text.strip():
        query = query.where(_company_name_contains(session, text))
    query = query.order_by(Company.name_key, Company.id).limit(limit).offset(offset)
    return [(company, int(n)) for company, n in session.execute(query)]


# --- editing, removing, merging -------------------------------------------------------------


def replace_person_values(
    *, session: Session, person: Person, draft: CheckedDraft, owner_id: int | None
) -> tuple[str, ...]:
    """Make ``person`` say exactly what ``draft`` says (an edit form's whole state): fields,
    emails (the draft's first is primary), phones, tags, links. Returns the address keys the
    person gained (for linking past mail)."""
    person.name = draft.name
    person.name_key = draft.name_key
    person.kind = PersonKind(draft.kind)
    if draft.company is None:
        person.company = None
    elif person.company is None or person.company.name_key != draft.company_key:
        person.company = find_or_create_company(session=session, name=draft.company)
    person.title, person.location, person.notes = draft.title, draft.location, draft.notes
    person.links = list(draft.links)
    person.owner_id = owner_id

    wanted = {e.key: (i, e) for i, e in enumerate(draft.emails)}
    had = {e.address_key for e in person.emails}
    for row in list(person.emails):
        if row.address_key not in wanted:
            person.emails.remove(row)
    session.flush()  # removed rows go before a row with the same key could come back
    for row in person.emails:
        index, value = wanted[row.address_key]
        row.address, row.is_primary = value.address, index == 0
    added = tuple(e.key for e in draft.emails if e.key not in had)
    for i, value in enumerate(draft.emails):
        if value.key not in had:
            person.emails.append(
                PersonEmail(address=value.address, address_key=value.key, is_primary=i == 0)
            )

    numbers = {p.number: p for p in draft.phones}
    for phone_row in list(person.phones):
        if phone_row.number not in numbers:
            person.phones.remove(phone_row)
        else:
            phone_row.label = numbers[phone_row.number].label
    kept = {p.number for p in person.phones}
    person.phones.extend(
        PersonPhone(number=p.number, label=p.label) for p in draft.phones if p.number not in kept
    )

    for tag_row in list(person.tags):
        if tag_row.tag not in draft.tags:
            person.tags.remove(tag_row)
    kept_tags = {t.tag for t in person.tags}
    person.tags.extend(PersonTag(tag=t) for t in draft.tags if t not in kept_tags)

    person.updated_at = utcnow()
    refresh_search_text(person)
    session.flush()
    return added


def delete_person(*, session: Session, person: Person) -> None:
    """Remove ``person`` with its emails, phones, tags and activities."""
    session.execute(delete(Activity).where(Activity.person_id == person.id))
    session.delete(person)
    session.flush()


def merge_person_into(*, session: Session, survivor: Person, other: Person) -> MergeOutcome:
    """Move everything of ``other`` to ``survivor`` and remove ``other``.

    Emails, phones, tags and links the survivor lacks are added (its primary address stays);
    its empty fields (company, title, location, owner) are filled; notes are joined. Activities
    move; one that both records have (the same fingerprint: UNIQUE(fingerprint, person_id))
    stays once, the survivor's.
    """
    if survivor.id == other.id:
        raise InputError("a record cannot be merged into itself")
    changes: list[str] = []
    added: list[str] = []
    for email in other.emails:
        value = EmailValue(address=email.address, key=email.address_key)
        if add_person_email(session=session, person=survivor, email=value):
            added.append(email.address_key)
            changes.append(f"email {email.address_key}")
    for phone in other.phones:
        if add_person_phone(
            session=session, person=survivor, phone=PhoneValue(phone.number, phone.label)
        ):
            changes.append(f"phone {phone.number}")
    for tag in other.tags:
        if add_person_tag(session=session, person=survivor, tag=tag.tag):
            changes.append(f"tag {tag.tag}")
    new_links = [link for link in other.links if link not in survivor.links]
    if new_links:
        survivor.links = [*survivor.links, *new_links]
        changes.extend(f"link {link}" for link in new_links)
    if survivor.company_id is None and other.company_id is not None:
        survivor.company_id = other.company_id
        session.expire(survivor, ["company"])
        changes.append("company")
    for name in ("title", "location"):
        if not getattr(survivor, name) and getattr(other, name):
            setattr(survivor, name, getattr(other, name))
            changes.append(name)
    if other.notes and other.notes != survivor.notes:
        survivor.notes = f"{survivor.notes}\n\n{other.notes}" if survivor.notes else other.notes
        changes.append("notes")
    if survivor.owner_id is None and other.owner_id is not None:
        survivor.owner_id = other.owner_id
        changes.append("owner")
    both = select(Activity.fingerprint).where(Activity.person_id == survivor.id)
    session.execute(
        delete(Activity).where(Activity.person_id == other.id, Activity.fingerprint.in_(both))
    )
    moved = count_person_activities(session=session, person_id=other.id)
    session.execute(
        update(Activity).where(Activity.person_id == other.id).values(person_id=survivor.id)
    )
    if moved:
        changes.append(f"{moved} activities")
    session.delete(other)
    session.flush()
    survivor.updated_at = utcnow()
    refresh_search_text(survivor)
    session.flush()
    return MergeOutcome(added_address_keys=tuple(added), changes=tuple(changes))


def count_person_activities(*, session: Session, person_id: int) -> int:
    query = select(func.count()).select_from(Activity).where(Activity.person_id == person_id)
    return int(session.scalar(query) or 0)


def find_duplicates_of_person(*, session: Session, person: Person) -> list[Person]:
    """Other persons sharing an email key, a phone, or name and company with ``person``,
    oldest first (the duplicate check of ``domain.records``, from a stored record)."""
    conditions: list[ColumnElement[bool]] = []
    keys = [e.address_key for e in person.emails]
    numbers = [p.number for p in person.phones]
    if keys:
        conditions.append(
            Person.id.in_(select(PersonEmail.person_id).where(PersonEmail.address_key.in_(keys)))
        )
    if numbers:
        conditions.append(
            Person.id.in_(select(PersonPhone.person_id).where(PersonPhone.number.in_(numbers)))
        )
    if person.company_id is not None:
        conditions.append(
            and_(Person.name_key == person.name_key, Person.company_id == person.company_id)
        )
    if not conditions:
        return []
    query = select(Person).where(or_(*conditions), Person.id != person.id).order_by(Person.id)
    return list(session.scalars(query))
