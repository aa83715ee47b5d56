"""Use cases for Name records: add one with the duplicate check, merge into one, add an address.

Every function takes keyword-only ``*, session`` and never commits; the caller owns the
transaction (one per user action; see ``services.importing`` for files).

The duplicate check (docs/concepts.md, Duplicate check; rule in ``domain.records``) runs on
every add; what happens on a match is the caller's choice, ``on_duplicate``:

* ``"error"`` (default): raise ``Conflict`` naming the record and the reason;
* ``"merge"``: add the draft's missing values to that record (never overwriting);
* ``"create"``: create a new record anyway.

Whenever an email address is added to a record (create, merge, edit, merge of two records),
``on_addresses_added`` is called in the same transaction, after the flush, as
``hook(session, person_id, address_keys)``. By default it is ``pipeline.link_past_messages``,
so past mail with the new address appears on the record (docs/concepts.md, Matching) whoever the
caller is; pass another hook to watch the calls, or None to link nothing.

The faces (web, API, CLI) get typed views (``RecordRow``, ``RecordDetail``, ``CompanyRow``...),
never ORM rows: the ``*_record`` and ``*_records`` functions below return them. Record search
matches ``person.search_text`` (see ``store.records``), so ``garcia`` finds García.

A draft's owner must be an existing user: owners are never created from a draft, so a typo
in an import's owner column cannot invent a user.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

import phonenumbers
from sqlalchemy.orm import Session

from postroom.domain.addresses import is_in_domain, normalize_address
from postroom.domain.records import (
    CheckedDraft,
    DraftError,
    DuplicateMatch,
    PersonDraft,
    PhoneValue,
    check_draft,
    check_email,
    find_duplicate,
    normalize_phone,
)
from postroom.errors import Conflict, InputError, NotFound
from postroom.pipeline import link_past_messages
from postroom.store import activities as activity_store
from postroom.store import matching as match_store
from postroom.store import records as record_store
from postroom.store.models import Company, Person, PersonKind, UserAccount

OnDuplicate = Literal["error", "merge", "create"]

AddressesAddedHook = Callable[[Session, int, list[str]], object]
"""``hook(session, person_id, address_keys)``: called after addresses are added to a record."""

LINK_PAST_MAIL: AddressesAddedHook = link_past_messages
"""The default hook: past mail with the new addresses becomes activities on the record."""


@dataclass(frozen=True, slots=True)
class AddResult:
    """The record a draft ended up in.

    ``is_created`` is False when the draft was merged into ``duplicate.record_id``; when True
    and ``duplicate`` is set, the record was created despite that duplicate. ``added_address_keys``
    are the addresses the record gained; ``changes`` lists a merge's changes
    (``("email anna@home.example", "title")``), empty for a creation.
    """

    person: Person
    is_created: bool
    duplicate: DuplicateMatch | None = None
    added_address_keys: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


def resolve_owner_id(*, session: Session, draft: CheckedDraft) -> int | None:
    """The id of the draft's owner, None when it names none.

    Raises ``DraftError`` when the owner is not a Postroom user.
    """
    if draft.owner_key is None:
        return None
    user = record_store.get_user_by_email(session=session, email=draft.owner_key)
    if user is None:
        raise DraftError([f"owner {draft.owner_key!r} is not a Postroom user"])
    return user.id


def find_duplicate_of(*, session: Session, draft: CheckedDraft) -> DuplicateMatch | None:
    """The stored record ``draft`` duplicates (docs/concepts.md, Duplicate check), or None."""
    candidates = record_store.find_duplicate_candidates(session=session, draft=draft)
    return find_duplicate(draft, candidates)


def _notify(
    hook: AddressesAddedHook | None, session: Session, person_id: int, keys: tuple[str, ...]
) -> None:
    if hook is not None and keys:
        hook(session, person_id, list(keys))


def create_checked_person(
    *,
    session: Session,
    draft: CheckedDraft,
    duplicate: DuplicateMatch | None = None,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> AddResult:
    """Create a record from a checked draft, with no duplicate check (the caller did it).

    Raises ``DraftError`` when the owner is not a user.
    """
    owner_id = resolve_owner_id(session=session, draft=draft)
    person = record_store.create_person(session=session, draft=draft, owner_id=owner_id)
    _notify(on_addresses_added, session, person.id, draft.email_keys)
    return AddResult(
        person=person, is_created=True, duplicate=duplicate, added_address_keys=draft.email_keys
    )


def merge_checked_person(
    *,
    session: Session,
    person_id: int,
    draft: CheckedDraft,
    duplicate: DuplicateMatch | None = None,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> AddResult:
    """Merge a checked draft into record ``person_id`` (see ``store.records``: nothing
    non-empty is overwritten).

    Raises ``NotFound`` for an unknown id, ``DraftError`` when the owner is not a user.
    """
    person = record_store.get_person_or_raise(session=session, person_id=person_id)
    owner_id = resolve_owner_id(session=session, draft=draft)
    outcome = record_store.merge_draft_into_person(
        session=session, person=person, draft=draft, owner_id=owner_id
    )
    _notify(on_addresses_added, session, person.id, outcome.added_address_keys)
    return AddResult(
        person=person,
        is_created=False,
        duplicate=duplicate,
        added_address_keys=outcome.added_address_keys,
        changes=outcome.changes,
    )


def add_person(
    *,
    session: Session,
    draft: PersonDraft,
    on_duplicate: OnDuplicate = "error",
    default_region: str | None = None,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> AddResult:
    """Add a Name record from ``draft`` after the duplicate check.

    ``add_person(session=s, draft=PersonDraft("Anna Berg", emails=("anna@acme.example",)))``
    -> ``AddResult(person=<Person #1>, is_created=True, added_address_keys=("anna@acme.example",))``

    Raises ``DraftError`` (an ``InputError``) listing every problem of the draft, and
    ``Conflict`` when ``on_duplicate="error"`` and the draft duplicates a record, e.g.
    ``record #7 (Anna Berg) already has the same email anna@acme.example``.
    """
    checked = check_draft(draft, default_region=default_region)
    match = find_duplicate_of(session=session, draft=checked)
    if match is not None and on_duplicate == "error":
        raise Conflict(
            f"record #{match.record_id} ({match.record_name}) already has the {match.reason}",
            advice="merge into it, or create a separate record on purpose",
        )
    if match is not None and on_duplicate == "merge":
        return merge_checked_person(
            session=session,
            person_id=match.record_id,
            draft=checked,
            duplicate=match,
            on_addresses_added=on_addresses_added,
        )
    return create_checked_person(
        session=session, draft=checked, duplicate=match, on_addresses_added=on_addresses_added
    )


def merge_person(
    *,
    session: Session,
    person_id: int,
    draft: PersonDraft,
    default_region: str | None = None,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> AddResult:
    """Merge ``draft`` into record ``person_id``: missing values added, empty fields filled.

    Raises ``NotFound`` for an unknown id and ``DraftError`` for an unusable draft.
    """
    checked = check_draft(draft, default_region=default_region)
    return merge_checked_person(
        session=session, person_id=person_id, draft=checked, on_addresses_added=on_addresses_added
    )


def add_person_email(
    *,
    session: Session,
    person_id: int,
    address: str,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> bool:
    """Add ``address`` to record ``person_id``; False when the record already had it.

    Raises ``NotFound`` for an unknown id and ``InputError`` when ``address`` is not one.
    """
    email = check_email(address)
    if email is None:
        raise InputError(f"email {address.strip()!r} is not an address")
    person = record_store.get_person_or_raise(session=session, person_id=person_id)
    is_added = record_store.add_person_email(session=session, person=person, email=email)
    if is_added:
        _notify(on_addresses_added, session, person.id, (email.key,))
    return is_added


def add_person_phone(
    *,
    session: Session,
    person_id: int,
    number: str,
    label: str | None = None,
    default_region: str | None = None,
) -> bool:
    """Add ``number`` (made E.164) to record ``person_id``; False when it already had it.

    Raises ``NotFound`` for an unknown id and ``InputError`` when ``number`` is not valid.
    """
    e164 = normalize_phone(number, default_region)
    if e164 is None:
        raise InputError(f"phone {number.strip()!r} is not a valid number")
    person = record_store.get_person_or_raise(session=session, person_id=person_id)
    phone = PhoneValue(number=e164, label=label.strip().lower() if label else None)
    return record_store.add_person_phone(session=session, person=person, phone=phone)


def add_person_tag(*, session: Session, person_id: int, tag: str) -> bool:
    """Add ``tag`` to record ``person_id``; False when it already had it.

    Raises ``NotFound`` for an unknown id and ``InputError`` for an empty tag.
    """
    person = record_store.get_person_or_raise(session=session, person_id=person_id)
    return record_store.add_person_tag(session=session, person=person, tag=tag)


# --- views for the faces -----------------------------------------------------------------

RecordSort = Literal["name", "last_contact"]
MAX_PER_PAGE = 200
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class CompanyRef:
    """A company as a record names it."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """The user a record belongs to."""

    id: int
    name: str
    email: str

    @property
    def display_name(self) -> str:
        return self.name or self.email


@dataclass(frozen=True, slots=True)
class EmailView:
    address: str
    is_primary: bool


@dataclass(frozen=True, slots=True)
class PhoneView:
    """``number`` is E.164; ``display`` the international form (``+44 20 7946 0958``)."""

    number: str
    label: str | None
    display: str


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One line of a record list, with its activity count and last contact (computed in SQL
    for the page's ids in one grouped query)."""

    id: int
    name: str
    kind: str
    title: str | None
    company: CompanyRef | None
    primary_email: str | None
    phone: str | None
    tags: tuple[str, ...]
    owner: OwnerRef | None
    last_contact_at: datetime | None
    activity_count: int


@dataclass(frozen=True, slots=True)
class Listing(Generic[Row]):
    """A page of a list: ``rows`` of ``total``, page ``page`` (from 1) of ``per_page``."""

    rows: tuple[Row, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class RecordList(Listing[RecordRow]):
    """A page of records."""


@dataclass(frozen=True, slots=True)
class RecordDetail:
    """Everything a record holds, for its page, its edit form and the API."""

    id: int
    name: str
    kind: str
    title: str | None
    location: str | None
    notes: str | None
    company: CompanyRef | None
    owner: OwnerRef | None
    emails: tuple[EmailView, ...]
    phones: tuple[PhoneView, ...]
    links: tuple[str, ...]
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    activity_count: int
    last_contact_at: datetime | None

    @property
    def primary_email(self) -> str | None:
        return next((e.address for e in self.emails if e.is_primary), None)


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """What a record list shows: search text, filters, sort and page (from 1)."""

    text: str | None = None
    kind: str | None = None
    tag: str | None = None
    company_id: int | None = None
    owner_id: int | None = None
    sort: RecordSort = "name"
    page: int = 1
    per_page: int = 50
    offset: int | None = None
    """Rows to skip instead of whole pages (the CLI's ``--offset``); None: by ``page``."""


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    """What ``create_record`` did: created ``record``, or merged into it (``is_created`` False)."""

    record: RecordDetail
    is_created: bool
    duplicate: DuplicateMatch | None
    changes: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    """One per address of the draft that matching never logs (``never_collected``)."""


@dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    """A record the duplicate check finds for another, and why."""

    record: RecordDetail
    reason: str


@dataclass(frozen=True, slots=True)
class MergeResult:
    """The survivor of a merge, what it gained, and the name of the record that went."""

    record: RecordDetail
    removed_name: str
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompanyRow:
    id: int
    name: str
    domain: str | None
    people_count: int


@dataclass(frozen=True, slots=True)
class CompanyList(Listing[CompanyRow]):
    """A page of companies."""


@dataclass(frozen=True, slots=True)
class CompanyDetail:
    """A company with one page of its people."""

    company: CompanyRow
    people: RecordList


def format_phone(number: str) -> str:
    """``+442079460958`` -> ``+44 20 7946 0958`` (the number itself when it will not parse)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _company(company: Company | None) -> CompanyRef | None:
    return None if company is None else CompanyRef(id=company.id, name=company.name)


def _owner(user: UserAccount | None) -> OwnerRef | None:
    return None if user is None else OwnerRef(id=user.id, name=user.name, email=user.email)


def _row(person: Person, summary: tuple[int, datetime | None] | None) -> RecordRow:
    count, last = summary or (0, None)
    primary = next((e for e in person.emails if e.is_primary), None)
    return RecordRow(
        id=person.id,
        name=person.name,
        kind=person.kind.value,
        title=person.title,
        company=_company(person.company),
        primary_email=primary.address if primary else None,
        phone=format_phone(person.phones[0].number) if person.phones else None,
        tags=tuple(sorted(t.tag for t in person.tags)),
        owner=_owner(person.owner),
        last_contact_at=last,
        activity_count=count,
    )


def _detail(session: Session, person: Person) -> RecordDetail:
    count, last = activity_store.summarize_persons(session=session, person_ids=[person.id]).get(
        person.id, (0, None)
    )
    return RecordDetail(
        id=person.id,
        name=person.name,
        kind=person.kind.value,
        title=person.title,
        location=person.location,
        notes=person.notes,
        company=_company(person.company),
        owner=_owner(person.owner),
        emails=tuple(EmailView(e.address, e.is_primary) for e in person.emails),
        phones=tuple(PhoneView(p.number, p.label, format_phone(p.number)) for p in person.phones),
        links=tuple(str(link) for link in person.links),
        tags=tuple(sorted(t.tag for t in person.tags)),
        created_at=person.created_at,
        updated_at=person.updated_at,
        activity_count=count,
        last_contact_at=last,
    )


def _kind(value: str | None) -> PersonKind | None:
    if value is None or not value.strip():
        return None
    try:
        return PersonKind(value.strip().lower())
    except ValueError as exc:
        raise InputError(f"kind {value!r}", advice="use candidate or contact") from exc


def _page_bounds(page: int, per_page: int) -> tuple[int, int]:
    if page < 1:
        raise InputError(f"page {page} does not exist", advice="pages start at 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InputError(f"per page {per_page}", advice=f"use 1 to {MAX_PER_PAGE}")
    return per_page, (page - 1) * per_page


def _where(query: RecordQuery) -> record_store.PersonFilter:
    """The records ``query`` keeps, whatever its page (the list and the export)."""
    return record_store.PersonFilter(
        text=query.text,
        kind=_kind(query.kind),
        tag=query.tag,
        company_id=query.company_id,
        owner_id=query.owner_id,
    )


def _rows(session: Session, people: list[Person]) -> tuple[RecordRow, ...]:
    summary = activity_store.summarize_persons(session=session, person_ids=[p.id for p in people])
    return tuple(_row(p, summary.get(p.id)) for p in people)


def list_records(*, session: Session, query: RecordQuery = RecordQuery()) -> RecordList:
    """A page of records matching ``query``.

    ``list_records(session=s, query=RecordQuery(text="garcia"))`` finds José García: the text
    matches name, email, phone, company and tag, without regard to case or accents. Raises
    ``InputError`` for an unknown kind or sort, or a page out of range.
    """
    if query.sort not in ("name", "last_contact"):
        raise InputError(f"sort {query.sort!r}", advice="use name or last_contact")
    limit, offset = _page_bounds(query.page, query.per_page)
    if query.offset is not None:
        if query.offset < 0:
            raise InputError(f"offset {query.offset}", advice="use 0 or more")
        offset = query.offset
    where = _where(query)
    total = record_store.count_persons(session=session, where=where)
    people = record_store.search_persons(
        session=session, where=where, sort=query.sort, limit=limit, offset=offset
    )
    return RecordList(
        rows=_rows(session, people), total=total, page=query.page, per_page=query.per_page
    )


def get_record(*, session: Session, record_id: int) -> RecordDetail:
    """Record ``record_id`` with every field; raises ``NotFound`` when there is none."""
    person = record_store.get_person_or_raise(session=session, person_id=record_id)
    return _detail(session, person)


def list_owners(*, session: Session) -> list[OwnerRef]:
    """Every user who may own a record, by name."""
    return [
        OwnerRef(id=u.id, name=u.name, email=u.email)
        for u in record_store.list_users(session=session)
    ]


def list_tags(*, session: Session) -> list[tuple[str, int]]:
    """``[("python", 12), ...]``: tags in use and how many records have each."""
    return record_store.list_tags(session=session)


def create_record(
    *,
    session: Session,
    draft: PersonDraft,
    on_duplicate: OnDuplicate = "error",
    default_region: str | None = None,
) -> CreateOutcome:
    """``add_person`` for the faces: the duplicate check, past mail linked, a view back.

    Raises ``DraftError`` listing the draft's problems and, with ``on_duplicate="error"``,
    ``Conflict`` naming the duplicate (``find_duplicate_for_draft`` says which it is).
    """
    result = add_person(
        session=session, draft=draft, on_duplicate=on_duplicate, default_region=default_region
    )
    return CreateOutcome(
        record=_detail(session, result.person),
        is_created=result.is_created,
        duplicate=result.duplicate,
        changes=result.changes,
        warnings=never_collected(session=session, emails=draft.emails),
    )


def never_collected(*, session: Session, emails: Iterable[str]) -> tuple[str, ...]:
    """A warning for each of ``emails`` that matching never logs as a contact
    (docs/concepts.md, "Matching"): a user's own address (a sign-in email or a mail account's
    address) or one in an internal domain. A record with only such addresses never collects
    activities; the faces show these warnings when such an address is given."""
    own, internal = match_store.load_never_contacts(session=session)
    warnings: list[str] = []
    for raw in emails:
        key = normalize_address(raw)
        if key is None:
            continue
        if key in own:
            why = "a Postroom user's own address"
        else:
            domain = next((d for d in sorted(internal) if is_in_domain(key, frozenset({d}))), None)
            if domain is None:
                continue
            why = f"in the internal domain {domain}"
        warnings.append(
            f"{raw.strip()} is {why}, whose mail is never logged: this record will never "
            "collect activities through it"
        )
    return tuple(warnings)


def find_duplicate_for_draft(
    *, session: Session, draft: PersonDraft, default_region: str | None = None
) -> DuplicateCandidate | None:
    """The record ``draft`` would duplicate, with the reason; None when it duplicates none.

    Raises ``DraftError`` when the draft is not usable.
    """
    checked = check_draft(draft, default_region=default_region)
    match = find_duplicate_of(session=session, draft=checked)
    if match is None:
        return None
    return DuplicateCandidate(
        record=get_record(session=session, record_id=match.record_id), reason=match.reason
    )


def update_record(
    *,
    session: Session,
    record_id: int,
    draft: PersonDraft,
    default_region: str | None = None,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> RecordDetail:
    """Make record ``record_id`` say what ``draft`` says (an edit form's whole state; the
    draft's first email becomes the primary one). Past mail with a new address is linked.

    Raises ``NotFound``, ``DraftError`` for unusable values, ``Conflict`` when a new address
    is another record's (merge the two instead).
    """
    person = record_store.get_person_or_raise(session=session, person_id=record_id)
    checked = check_draft(draft, default_region=default_region)
    owner_id = resolve_owner_id(session=session, draft=checked)
    have = {e.address_key for e in person.emails}
    new_keys = [k for k in checked.email_keys if k not in have]
    if new_keys:
        probe = CheckedDraft(
            name=checked.name,
            name_key=checked.name_key,
            kind=checked.kind,
            emails=tuple(e for e in checked.emails if e.key in new_keys),
        )
        for other in record_store.find_duplicate_candidates(session=session, draft=probe):
            if other.id != record_id:
                shared = sorted(other.email_keys & set(new_keys))
                raise Conflict(
                    f"record #{other.id} ({other.name}) already has the email {shared[0]}",
                    advice="merge the two records instead (Find duplicates on this record)",
                )
    added = record_store.replace_person_values(
        session=session, person=person, draft=checked, owner_id=owner_id
    )
    _notify(on_addresses_added, session, person.id, added)
    return _detail(session, person)


def delete_record(*, session: Session, record_id: int) -> str:
    """Remove record ``record_id`` with its activities; returns its name.

    Raises ``NotFound`` when there is none.
    """
    person = record_store.get_person_or_raise(session=session, person_id=record_id)
    name = person.name
    record_store.delete_person(session=session, person=person)
    return name


def _duplicate_reason(person: Person, other: Person) -> str:
    mine = {e.address_key for e in person.emails}
    shared = sorted(mine & {e.address_key for e in other.emails})
    if shared:
        return f"same email {shared[0]}"
    numbers = sorted({p.number for p in person.phones} & {p.number for p in other.phones})
    if numbers:
        return f"same phone {format_phone(numbers[0])}"
    company = person.company.name if person.company else ""
    return f"same name and company {person.name} at {company}"


def find_duplicates(*, session: Session, record_id: int) -> list[DuplicateCandidate]:
    """Records that duplicate record ``record_id`` (same email, same phone, or same name and
    company: docs/concepts.md, Duplicate check), oldest first, each with why.

    Raises ``NotFound`` when there is no such record.
    """
    person = record_store.get_person_or_raise(session=session, person_id=record_id)
    return [
        DuplicateCandidate(record=_detail(session, other), reason=_duplicate_reason(person, other))
        for other in record_store.find_duplicates_of_person(session=session, person=person)
    ]


def merge_records(
    *,
    session: Session,
    survivor_id: int,
    other_id: int,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> MergeResult:
    """Merge record ``other_id`` into ``survivor_id`` and remove it: addresses, phones, tags,
    links, empty fields and activities move (an activity both had stays once).

    Raises ``NotFound`` for an unknown id, ``InputError`` when both ids are the same.
    """
    if survivor_id == other_id:
        raise InputError("a record cannot be merged into itself", advice="choose two records")
    survivor = record_store.get_person_or_raise(session=session, person_id=survivor_id)
    other = record_store.get_person_or_raise(session=session, person_id=other_id)
    removed_name = other.name
    outcome = record_store.merge_person_into(session=session, survivor=survivor, other=other)
    _notify(on_addresses_added, session, survivor.id, outcome.added_address_keys)
    return MergeResult(
        record=_detail(session, survivor), removed_name=removed_name, changes=outcome.changes
    )


def list_companies(
    *, session: Session, text: str | None = None, page: int = 1, per_page: int = 50
) -> CompanyList:
    """A page of companies by name with how many people each has; ``text`` is part of a name."""
    limit, offset = _page_bounds(page, per_page)
    total = record_store.count_companies(session=session, text=text)
    rows = record_store.list_companies(session=session, text=text, limit=limit, offset=offset)
    return CompanyList(
        rows=tuple(CompanyRow(c.id, c.name, c.domain, n) for c, n in rows),
        total=total,
        page=page,
        per_page=per_page,
    )


def get_company(
    *, session: Session, company_id: int, page: int = 1, per_page: int = 50
) -> CompanyDetail:
    """Company ``company_id`` with a page of its people; raises ``NotFound``."""
    company = record_store.get_company(session=session, company_id=company_id)
    if company is None:
        raise NotFound(f"company #{company_id} does not exist")
    people = list_records(
        session=session, query=RecordQuery(company_id=company_id, page=page, per_page=per_page)
    )
    return CompanyDetail(
        company=CompanyRow(company.id, company.name, company.domain, people.total), people=people
    )


# --- export ----------------------------------------------------------------------------------

EXPORT_HEADERS = (
    "Name",
    "Kind",
    "Email",
    "Phone",
    "Mobile Phone",
    "Work Phone",
    "Company",
    "Job Title",
    "Location",
    "Links",
    "Tags",
    "Notes",
    "Owner",
)
"""The columns of an export, named as ``services.importing`` reads them back."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str | None) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP "CSV injection")."""
    value = text or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_records_csv(*, session: Session, query: RecordQuery = RecordQuery()) -> str:
    """Every record ``query`` keeps (its page ignored), by name, as CSV text that
    ``services.importing.import_csv`` reads back: several emails (primary first), phones and
    tags in one cell each, separated by ``"; "``; phones in columns by their label.
    """
    where = _where(query)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADERS)
    offset, chunk = 0, 500
    while True:
        people = record_store.search_persons(
            session=session, where=where, sort=query.sort, limit=chunk, offset=offset
        )
        for p in people:
            emails = sorted(p.emails, key=lambda e: not e.is_primary)
            phones: dict[str, list[str]] = {"": [], "mobile": [], "work": []}
            for phone in p.phones:
                phones[phone.label if phone.label in ("mobile", "work") else ""].append(
                    phone.number
                )
            writer.writerow(
                (
                    _cell(p.name),
                    p.kind.value,
                    "; ".join(e.address for e in emails),
                    "; ".join(phones[""]),
                    "; ".join(phones["mobile"]),
                    "; ".join(phones["work"]),
                    _cell(p.company.name if p.company else None),
                    _cell(p.title),
                    _cell(p.location),
                    "; ".join(_cell(str(link)) for link in p.links),
                    "; ".join(_cell(t.tag) for t in p.tags),
                    _cell(p.notes),
                    p.owner.email if p.owner else "",
                )
            )
        if len(people) < chunk:
            return out.getvalue()
        offset += chunk  # the session's identity map is weak: done chunks are freed
