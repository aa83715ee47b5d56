"""Name records as plain values: the draft a user or a file gives, its checked form, and the
duplicate check of docs/concepts.md ("Duplicate check"). Pure: no database, no I/O.

A ``PersonDraft`` is what was given, as given. ``check_draft`` turns it into a ``CheckedDraft``
(every value trimmed and normalised) or raises ``DraftError`` listing *every* problem as a line
a user can act on, e.g. ``email 'bob@' is not an address``. Nothing is dropped quietly: a value
that cannot be normalised is a problem, not a skipped value.

Invariants of a ``CheckedDraft``:

* ``name`` is non-empty, whitespace-collapsed; ``name_key == normalize_name_key(name)``.
* ``emails`` hold distinct keys (``normalize_address``); the first one is the primary address.
* ``phones`` hold distinct E.164 numbers (``+442079460958``), extensions removed.
* ``tags`` are distinct, lower-cased (casefolded) and whitespace-collapsed.
* Optional text fields are None rather than empty; every value fits its column.

Keys are deliberately conservative (the same stance as ``addresses.py``): a missed duplicate is
visible and can be merged by hand, a wrong merge silently mixes two people. So
``normalize_name_key`` folds case, Unicode compatibility forms and whitespace, but keeps accents:
``"José Núñez"`` and ``"Jose Nunez"`` stay distinct.

The duplicate rule: a draft duplicates an existing record when they share a normalised email
address, or an E.164 phone number, or the same name key *and* the same company key. Email beats
phone beats name and company; among records matched by the same rule the oldest (lowest id) wins.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from postroom.domain.addresses import normalize_address
from postroom.errors import InputError

Kind = Literal["candidate", "contact"]
"""A record's kind, spelled as ``store.models.PersonKind`` values."""

_KIND_WORDS: dict[str, Kind] = {
    "candidate": "candidate",
    "applicant": "candidate",
    "contact": "contact",
    "client": "contact",
    "client contact": "contact",
}

# Column sizes in store.models: checked here so both backends accept every checked draft
# (PostgreSQL refuses an over-long value, SQLite would keep it).
MAX_NAME = 300
MAX_TEXT = 300  # company, title, location
MAX_ADDRESS = 320
MAX_PHONE_LABEL = 40
MAX_TAG = 100

_SPACE = re.compile(r"\s+")


class DraftError(InputError):
    """Raised by ``check_draft`` when a draft cannot become a record; ``problems`` lists why."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class PhoneEntry:
    """A phone number as given, with an optional label (``mobile``, ``work``, ``home``)."""

    number: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class PersonDraft:
    """A Name record as a user or a file gives it; the first email is the primary one."""

    name: str
    kind: str = "candidate"
    emails: tuple[str, ...] = ()
    phones: tuple[PhoneEntry, ...] = ()
    company: str | None = None
    title: str | None = None
    location: str | None = None
    links: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str | None = None
    owner_email: str | None = None


@dataclass(frozen=True, slots=True)
class EmailValue:
    """An address as typed (trimmed) and its matching key."""

    address: str
    key: str


@dataclass(frozen=True, slots=True)
class PhoneValue:
    """An E.164 number and its label."""

    number: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedDraft:
    """A draft whose every value is valid and normalised (see the module invariants)."""

    name: str
    name_key: str
    kind: Kind
    emails: tuple[EmailValue, ...] = ()
    phones: tuple[PhoneValue, ...] = ()
    company: str | None = None
    company_key: str | None = None
    title: str | None = None
    location: str | None = None
    links: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    notes: str | None = None
    owner_key: str | None = None

    @property
    def email_keys(self) -> tuple[str, ...]:
        return tuple(e.key for e in self.emails)

    @property
    def phone_numbers(self) -> tuple[str, ...]:
        return tuple(p.number for p in self.phones)


class MatchRule(enum.Enum):
    """Why a draft duplicates a record, strongest first."""

    EMAIL = "email"
    PHONE = "phone"
    NAME_AND_COMPANY = "name_and_company"


@dataclass(frozen=True, slots=True)
class ExistingRecord:
    """What the duplicate check needs to know about a stored record."""

    id: int
    name: str
    name_key: str
    company_key: str | None = None
    email_keys: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """The record a draft duplicates, by which rule and on which value.

    ``value`` is the shared email key, the shared E.164 number, or ``"<name> at <company>"``.
    """

    record_id: int
    record_name: str
    rule: MatchRule
    value: str

    @property
    def reason(self) -> str:
        """``"same email anna@acme.example"``, ``"same phone +442079460958"``,
        ``"same name and company Anna Berg at Acme"``."""
        if self.rule is MatchRule.NAME_AND_COMPANY:
            return f"same name and company {self.value}"
        return f"same {self.rule.value} {self.value}"


def collapse_space(text: str) -> str:
    """``text`` trimmed, with every run of whitespace made one space."""
    return _SPACE.sub(" ", text).strip()


def normalize_name_key(name: str) -> str:
    """The duplicate-check key of a person's or company's name.

    ``normalize_name_key("  Anna\u00a0BERG ")`` -> ``"anna berg"``. NFKC, casefold (``ß`` ->
    ``ss``), whitespace collapsed; accents and punctuation are kept (see the module docstring).
    """
    return collapse_space(unicodedata.normalize("NFKC", name).casefold())


def fold_for_search(text: str) -> str:
    """``text`` as search compares it: NFKD with the accents dropped, casefolded, whitespace
    collapsed. ``fold_for_search("José  GARCÍA")`` -> ``"jose garcia"``; ``ß`` -> ``ss``.

    Both the stored search text of a record and the words a user types go through it, so
    ``garcia`` finds García on SQLite and PostgreSQL alike (neither needs an extension).
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return collapse_space(bare.casefold())


def normalize_tag(tag: str) -> str:
    """``" Remote  OK "`` -> ``"remote ok"``: tags are filters, their case carries no meaning."""
    return normalize_name_key(tag)


def parse_kind(text: str) -> Kind | None:
    """``"Candidate"`` -> ``"candidate"``, ``"client"`` -> ``"contact"``; None when unknown."""
    return _KIND_WORDS.get(normalize_name_key(text))


def normalize_phone(raw: str, default_region: str | None = None) -> str | None:
    """``raw`` as E.164 (``"+442079460958"``), or None when it is not a valid number.

    ``default_region`` (ISO 3166 code, e.g. ``"GB"``) is used for numbers written without a
    country code; without it such numbers are None. Extensions (``ext. 55``) are dropped: E.164
    has no place for them. Validity is ``phonenumbers.is_valid_number``, so typos and unallocated
    ranges (including the UK's fictional 07700 900xxx) are refused.
    """
    try:
        parsed = phonenumbers.parse(raw, default_region.upper() if default_region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_email(raw: str) -> EmailValue | None:
    """``" Anna@ACME.example "`` -> ``EmailValue("Anna@ACME.example", "anna@acme.example")``;
    None when ``raw`` is not an address (or too long for the column)."""
    address = raw.strip()
    key = normalize_address(address)
    if key is None or len(address) > MAX_ADDRESS:
        return None
    return EmailValue(address=address, key=key)


def _optional_text(value: str | None, field: str, limit: int, problems: list[str]) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > limit:
        problems.append(f"{field} is longer than {limit} characters")
    return text


def _is_not_a_number(text: str, default_region: str | None) -> bool:
    """Whether ``text`` is no phone number at all (``"hello"``), whatever its country code."""
    try:
        phonenumbers.parse(text, default_region.upper() if default_region else None)
    except phonenumbers.NumberParseException as exc:
        return exc.error_type == phonenumbers.NumberParseException.NOT_A_NUMBER
    return False


def _phone_problem(raw: str, default_region: str | None) -> str:
    text = raw.strip()
    if not text:
        return "phone is empty"
    if _is_not_a_number(text, default_region):
        return f"phone {text!r} is not a phone number (write it in digits, e.g. +44 20 7946 0958)"
    if not text.startswith(("+", "00")) and not default_region:
        return f"phone {text!r} has no country code (write it with + or give a default region)"
    return f"phone {text!r} is not a valid number"


def check_draft(draft: PersonDraft, *, default_region: str | None = None) -> CheckedDraft:
    """The checked, normalised form of ``draft``.

    Raises ``DraftError`` whose ``problems`` lists every reason the draft is unusable, e.g.
    ``("name is empty", "email 'bob@' is not an address")``.
    """
    problems: list[str] = []

    name = collapse_space(draft.name)
    if not name:
        problems.append("name is empty")
    elif len(name) > MAX_NAME:
        problems.append(f"name is longer than {MAX_NAME} characters")

    kind = parse_kind(draft.kind)
    if kind is None:
        problems.append(f"kind {draft.kind!r} is not candidate or contact")

    emails: list[EmailValue] = []
    for raw in draft.emails:
        email = check_email(raw)
        if email is None:
            problems.append(f"email {raw.strip()!r} is not an address")
        elif email.key not in {e.key for e in emails}:
            emails.append(email)

    phones: list[PhoneValue] = []
    for entry in draft.phones:
        number = normalize_phone(entry.number, default_region)
        label = _optional_text(entry.label, "phone label", MAX_PHONE_LABEL, problems)
        if number is None:
            problems.append(_phone_problem(entry.number, default_region))
        elif number not in {p.number for p in phones}:
            phones.append(PhoneValue(number=number, label=label.lower() if label else None))

    company = _optional_text(draft.company, "company", MAX_TEXT, problems)
    company = collapse_space(company) if company else None
    title = _optional_text(draft.title, "title", MAX_TEXT, problems)
    location = _optional_text(draft.location, "location", MAX_TEXT, problems)
    notes = draft.notes.strip() or None if draft.notes is not None else None

    links: list[str] = []
    for raw in draft.links:
        link = raw.strip()
        if link and link not in links:
            links.append(link)

    tags: list[str] = []
    for raw in draft.tags:
        tag = normalize_tag(raw)
        if len(tag) > MAX_TAG:
            problems.append(f"tag {raw.strip()!r} is longer than {MAX_TAG} characters")
        elif tag and tag not in tags:
            tags.append(tag)

    owner_key: str | None = None
    if draft.owner_email and draft.owner_email.strip():
        owner_key = normalize_address(draft.owner_email)
        if owner_key is None:
            problems.append(f"owner {draft.owner_email.strip()!r} is not an address")

    if problems or kind is None:
        raise DraftError(problems)
    return CheckedDraft(
        name=name,
        name_key=normalize_name_key(name),
        kind=kind,
        emails=tuple(emails),
        phones=tuple(phones),
        company=company,
        company_key=normalize_name_key(company) if company else None,
        title=title,
        location=location,
        links=tuple(links),
        tags=tuple(tags),
        notes=notes,
        owner_key=owner_key,
    )


def find_duplicate(
    draft: CheckedDraft, candidates: Iterable[ExistingRecord]
) -> DuplicateMatch | None:
    """The record ``draft`` duplicates among ``candidates``, or None.

    ``find_duplicate(draft_with("anna@acme.example"), [ExistingRecord(7, "Anna Berg", ...)])``
    -> ``DuplicateMatch(record_id=7, record_name="Anna Berg", rule=MatchRule.EMAIL,
    value="anna@acme.example")``. Rules in order: email, phone, name and company; within a
    rule, the draft's values in their order (primary email first), then the oldest record.
    """
    records = sorted(candidates, key=lambda r: r.id)
    for key in draft.email_keys:
        for record in records:
            if key in record.email_keys:
                return DuplicateMatch(record.id, record.name, MatchRule.EMAIL, key)
    for number in draft.phone_numbers:
        for record in records:
            if number in record.phones:
                return DuplicateMatch(record.id, record.name, MatchRule.PHONE, number)
    if draft.company_key is not None:
        for record in records:
            if record.name_key == draft.name_key and record.company_key == draft.company_key:
                value = f"{draft.name} at {draft.company}"
                return DuplicateMatch(record.id, record.name, MatchRule.NAME_AND_COMPANY, value)
    return None
