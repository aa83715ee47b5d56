"""Use cases for Name records: add one with the duplicate check, merge into one, add an address.

Every function takes keyword-only ``*, session`` and never commits; the caller owns the
transaction (one per user action; see ``services.importing`` for files).

The duplicate check (product.md section 1, rule in ``domain.records``) runs on every add; what
happens on a match is the caller's choice, ``on_duplicate``:

* ``"error"`` (default): raise ``Conflict`` naming the record and the reason;
* ``"merge"``: add the draft's missing values to that record (never overwriting);
* ``"create"``: create a new record anyway.

Whenever an email address is added to a record (create or merge), ``on_addresses_added`` is
called in the same transaction, after the flush, as ``hook(session, person_id, address_keys)``
so past mail from those addresses can be linked (``pipeline.link_past_messages``). It
is a parameter, not an import, so this module does not depend on the ingest pipeline.

A draft's owner must be an existing user: owners are never created from a draft, so a typo
in an import's owner column cannot invent a user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

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
from postroom.errors import Conflict, InputError
from postroom.store import records as record_store
from postroom.store.models import Person

OnDuplicate = Literal["error", "merge", "create"]

AddressesAddedHook = Callable[[Session, int, list[str]], object]
"""``hook(session, person_id, address_keys)``: called after addresses are added to a record."""


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
    """The stored record ``draft`` duplicates (product.md section 1), or None."""
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
    on_addresses_added: AddressesAddedHook | None = None,
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
    on_addresses_added: AddressesAddedHook | None = None,
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
    on_addresses_added: AddressesAddedHook | None = None,
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
    on_addresses_added: AddressesAddedHook | None = None,
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
    on_addresses_added: AddressesAddedHook | None = None,
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
