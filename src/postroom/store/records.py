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
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from postroom.domain.addresses import normalize_address
from postroom.domain.records import (
    MAX_TAG,
    CheckedDraft,
    EmailValue,
    ExistingRecord,
    PhoneValue,
    normalize_name_key,
    normalize_tag,
)
from postroom.errors import InputError, NotFound
from postroom.store.db import insert_ignoring_duplicates
from postroom.store.models import (
    Company,
    Person,
    PersonEmail,
    PersonKind,
    PersonPhone,
    PersonTag,
    UserAccount,
    utcnow,
)


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


def get_person(*, session: Session, person_id: int) -> Person | None:
    """The person with id ``person_id``, or None."""
    return session.get(Person, person_id)


def get_person_or_raise(*, session: Session, person_id: int) -> Person:
    """The person with id ``person_id``; raises ``NotFound`` when there is none."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"record #{person_id} does not exist")
    return person


def list_persons(
    *,
    session: Session,
    tag: str | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Person]:
    """Persons ordered by name then id, filtered by ``tag`` and/or ``text``.

    ``text`` matches part of the name (case-insensitive, via ``name_key``) or part of any
    email address (via ``address_key``). LIKE wildcards in ``text`` are matched literally.
    """
    query = select(Person)
    if tag is not None:
        query = query.where(
            exists().where(PersonTag.person_id == Person.id, PersonTag.tag == normalize_tag(tag))
        )
    if text is not None and text.strip():
        name_part = normalize_name_key(text)
        address_part = text.strip().lower()
        query = query.where(
            or_(
                Person.name_key.contains(name_part, autoescape=True),
                exists().where(
                    PersonEmail.person_id == Person.id,
                    PersonEmail.address_key.contains(address_part, autoescape=True),
                ),
            )
        )
    query = query.order_by(Person.name_key, Person.id).limit(limit).offset(offset)
    return list(session.scalars(query))


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
    session.flush()
    return True


def add_person_phone(*, session: Session, person: Person, phone: PhoneValue) -> bool:
    """Add the E.164 ``phone`` to ``person``; False when the person already has it."""
    if any(p.number == phone.number for p in person.phones):
        return False
    person.phones.append(PersonPhone(number=phone.number, label=phone.label))
    person.updated_at = utcnow()
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
    session.flush()
    return MergeOutcome(added_address_keys=tuple(added_keys), changes=tuple(changes))
