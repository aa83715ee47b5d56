"""Import Name records from CSV and vCard files, with the duplicate check of docs/concepts.md
("Duplicate check") against the database *and* within the file.

Two steps: ``parse_csv_records`` / ``parse_vcard_records`` turn bytes into ``SourceRecord``
values (pure: no database), then ``import_records`` stores them. ``import_csv`` and
``import_vcard`` do both.

Invariants:

* Nothing is silently dropped: every CSV row after the header (blank ones included) and every
  vCard block appears exactly once in the ``ImportReport``, as created, merged, skipped or an
  error with its reason. Columns or vCard properties that were not imported are listed in
  ``ImportReport.ignored_fields``.
* A duplicate within the file is caught like one in the database: rows are stored in file
  order, so a later row finds the record an earlier row created, and its reason says
  ``as line 2`` (or ``as card 2``) rather than a record id.
* Transactions: the import runs inside the caller's transaction and never commits. Each row is
  stored inside its own SAVEPOINT, so a row the database refuses is rolled back alone and
  reported, and the rows around it are kept; the caller commits once at the end. (On SQLite
  this needs the pysqlite savepoint fix in ``store.db``; until then each row is committed when
  its savepoint is released, so a crash mid-import keeps the rows before it.)
* A row is checked (``domain.records.check_draft``) before it is stored. A bad value (an
  address that is not one, a phone that is not a number, a title too long, an owner who is
  not a user) is left out and the rest of the row imported; the entry lists each value left
  out and why (``ImportEntry.left_out``), so no record is quietly missing a value. Only a
  row that cannot be a record at all (no name, an unknown kind, more fields than the
  header) is an error.

CSV: the encoding is UTF-16 when the file starts with its byte order mark, else UTF-8 (BOM
optional), else Windows-1252. The delimiter is sniffed from the header line among ``, ; TAB |``
(``csv.Sniffer``), falling back to a comma. Header names are matched loosely (case, spaces,
punctuation and numbering do not matter: ``E-mail 2``, ``Mobile Phone``, ``Job Title``...).

vCard: 2.1, 3.0 and 4.0 through ``vobject`` (folded lines, quoted-printable, several cards per
file). The file is first cut into ``BEGIN:VCARD`` ... ``END:VCARD`` blocks, so a broken card
is reported and the cards after it are still imported.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from itertools import pairwise
from typing import Any, Literal

import vobject
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from postroom.domain.records import (
    CheckedDraft,
    DraftError,
    DuplicateMatch,
    Kind,
    PersonDraft,
    PhoneEntry,
    check_draft,
    collapse_space,
)
from postroom.errors import InputError, PostroomError
from postroom.services.records import (
    LINK_PAST_MAIL,
    AddressesAddedHook,
    create_checked_person,
    find_duplicate_of,
    merge_checked_person,
    resolve_owner_id,
)

ImportPolicy = Literal["merge", "skip", "create"]
"""What to do with a row that duplicates a record: merge into it, skip it, or create anyway."""

Unit = Literal["line", "card"]

MAX_FILE_SIZE = 64 * 2**20
"""The largest file imported (bytes): larger ones are refused before they are read."""

MAX_CARD_SIZE = 2**20
"""The largest vCard read, without its pictures and sounds (never imported, dropped first)."""

MAX_CARD_NESTING = 2
"""How deep cards may nest (a vCard 2.1 AGENT's card inside a card)."""

MAX_ROW_LINES = 100
"""The most lines one CSV row may span (a quoted field with line breaks, such as notes): a
field that runs on longer is taken for an unclosed quote."""

MAX_ROW_SIZE = 64 * 2**10
"""The most characters one CSV row may hold, for the same reason (below ``csv``'s own field
limit, 128 KiB)."""


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A value of a row that was not imported, and why: ``phone 'abc' left out: not a
    valid number``. ``field`` is the draft's field (``email``, ``phone``, ``title``,
    ``owner``...); ``reason`` the problem ``check_draft`` found, without the field's name."""

    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        value = self.value if len(self.value) <= 40 else self.value[:39] + "…"
        return f"{self.field} {value!r} left out: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportEntry:
    """One input row's outcome.

    ``source`` is the row's first line in the CSV file (the header is line 1) or the card's
    position in the vCard file (1 = first). ``record_id`` is the record created, merged into,
    or (when skipped) duplicated; None for an error. ``reason`` says why it was merged, skipped
    or refused, e.g. ``"same email anna@acme.example as line 2: added phone +442079460958"``.
    ``left_out`` lists the values of a created or merged row that were not imported.
    """

    source: int
    name: str
    record_id: int | None = None
    reason: str | None = None
    left_out: tuple[LeftOut, ...] = ()

    @property
    def message(self) -> str:
        """The reason and every value left out, in one line (``""`` when there is none)."""
        return "; ".join([*([self.reason] if self.reason else []), *map(str, self.left_out)])


@dataclass(slots=True)
class ImportReport:
    """Every input row, exactly once, in one of four lists (each in file order)."""

    unit: Unit
    created: list[ImportEntry] = field(default_factory=list)
    merged: list[ImportEntry] = field(default_factory=list)
    skipped: list[ImportEntry] = field(default_factory=list)
    errors: list[ImportEntry] = field(default_factory=list)
    ignored_fields: list[str] = field(default_factory=list)
    """CSV column headers, or vCard property names, whose values were not imported."""

    @property
    def total(self) -> int:
        return len(self.created) + len(self.merged) + len(self.skipped) + len(self.errors)

    def list_outcomes(self) -> list[tuple[str, ImportEntry]]:
        """``[("created", entry), ("error", entry), ...]`` in file order."""
        outcomes = [
            *(("created", e) for e in self.created),
            *(("merged", e) for e in self.merged),
            *(("skipped", e) for e in self.skipped),
            *(("error", e) for e in self.errors),
        ]
        return sorted(outcomes, key=lambda pair: pair[1].source)

    def list_attention(self) -> list[tuple[str, ImportEntry]]:
        """The outcomes a user should look at (a big import's report shows these, not every
        row): errors first, then skipped rows, then rows imported with values left out, each
        in file order."""
        rank = {"error": 0, "skipped": 1}
        return sorted(
            (
                (outcome, entry)
                for outcome, entry in self.list_outcomes()
                if outcome in rank or entry.left_out
            ),
            key=lambda pair: rank.get(pair[0], 2),
        )

    @property
    def left_out_count(self) -> int:
        """How many rows were imported with values left out."""
        return sum(1 for e in (*self.created, *self.merged) if e.left_out)

    def count_left_out(self) -> list[tuple[str, str, int]]:
        """``[("phone", "not a valid number", 4998), ...]``: how many values were left out
        for each field and reason, most first (the summary of a big import)."""
        counts: dict[tuple[str, str], int] = {}
        for entry in (*self.created, *self.merged):
            for item in entry.left_out:
                counts[item.field, item.reason] = counts.get((item.field, item.reason), 0) + 1
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [(field, reason, count) for (field, reason), count in ranked]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One row or card of a file: a draft, or why there is none.

    Exactly one of ``draft``, ``error`` and ``skip_reason`` is set.
    """

    source: int
    draft: PersonDraft | None = None
    name: str = ""
    error: str | None = None
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The records a file holds, in file order, and the fields that were not read."""

    unit: Unit
    records: tuple[SourceRecord, ...]
    ignored_fields: tuple[str, ...] = ()


# --- text ----------------------------------------------------------------------------------


def check_file_size(size: int) -> None:
    """Raises ``InputError`` for a file over ``MAX_FILE_SIZE`` bytes (checked before reading)."""
    if size > MAX_FILE_SIZE:
        raise InputError(
            f"the file is {size / 2**20:,.1f} MB; at most {MAX_FILE_SIZE // 2**20} MB is "
            "imported at once",
            advice="split it into smaller files (whole rows or cards) and import each",
        )


def decode_text(data: bytes) -> str:
    """``data`` as text: UTF-16 with a BOM, else UTF-8 (BOM dropped), else Windows-1252.

    Raises ``InputError`` when it is none of them, or larger than ``MAX_FILE_SIZE``.
    """
    check_file_size(len(data))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError("the file starts like UTF-16 text but is not") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputError(
            "the file is not text: neither UTF-8 nor Windows-1252",
            advice="save it as CSV UTF-8 (or export the vCard as UTF-8)",
        ) from exc


# --- CSV -----------------------------------------------------------------------------------


class _Field(enum.Enum):
    NAME = "name"
    FIRST = "first name"
    MIDDLE = "middle name"
    LAST = "last name"
    EMAIL = "email"
    PHONE = "phone"
    COMPANY = "company"
    TITLE = "title"
    LOCATION = "location"
    LINKS = "links"
    TAGS = "tags"
    NOTES = "notes"
    KIND = "kind"
    OWNER = "owner"


_SINGLE = {
    _Field.NAME,
    _Field.FIRST,
    _Field.MIDDLE,
    _Field.LAST,
    _Field.COMPANY,
    _Field.TITLE,
    _Field.LOCATION,
    _Field.KIND,
    _Field.OWNER,
}
"""Fields filled from one column: only the best-matching columns are read, the others ignored
(``Title`` is a salutation when ``Job Title`` is there too)."""


def _aliases(target: _Field, priority: int, names: str) -> dict[str, tuple[_Field, int]]:
    return dict.fromkeys((n.strip() for n in names.split("|")), (target, priority))


_EXACT: dict[str, tuple[_Field, int]] = {
    **_aliases(_Field.NAME, 0, "name | full name | fullname"),
    **_aliases(_Field.NAME, 1, "display name | contact name | candidate name | contact"),
    **_aliases(_Field.FIRST, 0, "first name | firstname | first | given name | forename"),
    **_aliases(_Field.MIDDLE, 0, "middle name | middlename | additional name"),
    **_aliases(_Field.LAST, 0, "last name | lastname | last | surname | family name"),
    **_aliases(
        _Field.COMPANY,
        0,
        "company | company name | organisation | organization | organisation name"
        " | organization name | org",
    ),
    **_aliases(_Field.COMPANY, 1, "employer | current company"),
    **_aliases(_Field.TITLE, 0, "job title | jobtitle | organisation title | organization title"),
    **_aliases(_Field.TITLE, 1, "position | role | job"),
    **_aliases(_Field.TITLE, 2, "title"),
    **_aliases(_Field.LOCATION, 0, "location"),
    **_aliases(_Field.LOCATION, 1, "city | town | locality"),
    **_aliases(
        _Field.LINKS,
        0,
        "links | link | url | urls | website | web site | web page | webpage | homepage"
        " | profile url",
    ),
    **_aliases(_Field.TAGS, 0, "tags | tag | labels | categories | category | groups"),
    **_aliases(_Field.NOTES, 0, "notes | note | comments | comment | description"),
    **_aliases(_Field.KIND, 0, "kind | type | record type | person type | contact type"),
    **_aliases(_Field.OWNER, 0, "owner | owner email | recruiter | assigned to"),
}

_PHONE_WORDS = frozenset(
    {"phone", "telephone", "tel", "mobile", "cell", "cellphone", "mobilephone"}
)
_MOBILE_WORDS = frozenset({"mobile", "cell", "cellphone", "mobilephone"})
_WORK_WORDS = frozenset({"work", "business", "office"})
_DESCRIPTOR_WORDS = frozenset({"type", "label", "kind"})


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    header: str
    target: _Field
    priority: int = 0
    label: str | None = None


def _header_words(header: str) -> list[str]:
    """``"E-mail 2 - Value"`` -> ``["e", "mail"]``: case, punctuation, numbers and a trailing
    ``value`` (Google's export) do not matter."""
    words = [w for w in re.sub(r"[\W_]+", " ", header.casefold()).split() if not w.isdigit()]
    return words[:-1] if len(words) > 1 and words[-1] == "value" else words


def _match_header(index: int, header: str) -> _Column | None:
    words = _header_words(header)
    key = " ".join(words)
    if key in _EXACT:
        target, priority = _EXACT[key]
        return _Column(index, header, target, priority)
    present = set(words)
    if present & _DESCRIPTOR_WORDS:
        return None  # "E-mail 1 - Type", "Phone 2 - Label": about a value, not a value
    is_e_mail = ("e", "mail") in pairwise(words)
    if is_e_mail or any(w.startswith("email") for w in words) or key in {"mail", "mails"}:
        return _Column(index, header, _Field.EMAIL)
    if present & _PHONE_WORDS and "fax" not in present:
        if present & _MOBILE_WORDS:
            label: str | None = "mobile"
        elif present & _WORK_WORDS:
            label = "work"
        else:
            label = "home" if "home" in present else None
        return _Column(index, header, _Field.PHONE, label=label)
    if "linkedin" in present:
        return _Column(index, header, _Field.LINKS)
    if "city" in present:
        return _Column(index, header, _Field.LOCATION, priority=2)
    if present & {"company", "organisation", "organization", "employer"}:
        return _Column(index, header, _Field.COMPANY, priority=2)
    return None


def _map_columns(headers: Sequence[str]) -> tuple[list[_Column], list[str]]:
    """The columns to read and the headers ignored, both in column order."""
    matched = [(i, h, _match_header(i, h)) for i, h in enumerate(headers)]
    best: dict[_Field, int] = {}
    for _, _, column in matched:
        if column is not None and column.target in _SINGLE:
            best[column.target] = min(best.get(column.target, column.priority), column.priority)
    used: list[_Column] = []
    ignored: list[str] = []
    for _, header, column in matched:
        if column is None or (column.target in _SINGLE and column.priority > best[column.target]):
            if header.strip():
                ignored.append(header.strip())
        else:
            used.append(column)
    return used, ignored


def _sniff_delimiter(header_line: str) -> str:
    try:
        delimiter = csv.Sniffer().sniff(header_line, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","
    return delimiter if len(next(csv.reader([header_line], delimiter=delimiter))) > 1 else ","


def _split(text: str, pattern: str = r"[;,]") -> list[str]:
    return [part.strip() for part in re.split(pattern, text) if part.strip()]


def _split_emails(text: str) -> list[str]:
    """``"a@x.example; Bo <b@y.example>, c@z.example d@w.example"`` -> four addresses."""
    found: list[str] = []
    for part in _split(text):
        if "<" in part:
            found.append(parseaddr(part)[1] or part)
        else:
            found.extend(part.split())
    return found


def _draft_from_row(
    row: Sequence[str], columns: Sequence[_Column], default_kind: Kind
) -> PersonDraft:
    def values(target: _Field) -> list[tuple[_Column, str]]:
        return [
            (c, row[c.index].strip())
            for c in columns
            if c.target is target and c.index < len(row) and row[c.index].strip()
        ]

    def first(target: _Field) -> str | None:
        found = values(target)
        return found[0][1] if found else None

    name = first(_Field.NAME) or " ".join(
        v for v in (first(_Field.FIRST), first(_Field.MIDDLE), first(_Field.LAST)) if v
    )
    notes = "\n\n".join(v for _, v in values(_Field.NOTES))
    return PersonDraft(
        name=name,
        kind=first(_Field.KIND) or default_kind,
        emails=tuple(e for _, v in values(_Field.EMAIL) for e in _split_emails(v)),
        phones=tuple(
            PhoneEntry(number, c.label) for c, v in values(_Field.PHONE) for number in _split(v)
        ),
        company=first(_Field.COMPANY),
        title=first(_Field.TITLE),
        location=first(_Field.LOCATION),
        links=tuple(link for _, v in values(_Field.LINKS) for link in _split(v, r"[\s;,]+")),
        tags=tuple(tag for _, v in values(_Field.TAGS) for tag in _split(v)),
        notes=notes or None,
        owner_email=first(_Field.OWNER),
    )


class _RunawayRow(Exception):
    """A CSV row ran on past ``MAX_ROW_LINES`` lines or ``MAX_ROW_SIZE`` characters."""


class _RowLines:
    """The file's lines from ``start`` on, for one ``csv.reader`` row: raises
    ``_RunawayRow`` instead of giving a line past the row's limits."""

    def __init__(self, lines: Sequence[str], start: int) -> None:
        self.lines, self.next, self.start, self.size = lines, start, start, 0

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        line = self.lines[self.next]
        self.size += len(line)
        if self.next - self.start >= MAX_ROW_LINES or self.size > MAX_ROW_SIZE:
            raise _RunawayRow
        self.next += 1
        return line


def _is_unclosed(lines: Sequence[str], delimiter: str) -> bool:
    """Whether ``lines`` end inside a quoted field (the file ended before its closing quote)."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return True
    return False


def parse_csv_records(data: bytes, *, default_kind: Kind = "candidate") -> ParsedFile:
    """The records of a CSV file with a header row; ``source`` is each row's first line.

    Each row is read on its own, so a row that cannot be read is one error and the rows
    after it are read: a quoted field that runs on past ``MAX_ROW_LINES`` lines or
    ``MAX_ROW_SIZE`` characters, or to the end of the file, is taken for an unclosed quote;
    its first line is reported, and the lines after it are read as rows again (so none is
    swallowed unseen). Raises ``InputError`` when the file is empty, not text, or has no name
    column.
    """
    text = decode_text(data)
    if not text.strip() or not text.splitlines()[0].strip():
        raise InputError("the file is empty or its first line (the header) is blank")
    lines = io.StringIO(text, newline="").readlines()  # split as csv does: \n, \r\n, \r
    delimiter = _sniff_delimiter(lines[0].rstrip("\r\n"))
    try:
        header_lines = _RowLines(lines, 0)
        headers = next(csv.reader(header_lines, delimiter=delimiter))
    except (csv.Error, _RunawayRow) as exc:
        raise InputError(f"the header line cannot be read: {exc or 'too long'}") from exc
    columns, ignored = _map_columns(headers)
    if not {c.target for c in columns} & {_Field.NAME, _Field.FIRST, _Field.LAST}:
        raise InputError(
            f"the file has no name column (its columns: {', '.join(headers)})",
            advice="name a column 'Name', or 'First name' and 'Last name'",
        )
    records: list[SourceRecord] = []
    position = header_lines.next
    while position < len(lines):
        source = position + 1
        row_lines = _RowLines(lines, position)
        try:
            row = next(csv.reader(row_lines, delimiter=delimiter))
        except _RunawayRow:
            first_line = next(csv.reader([lines[position]], delimiter=delimiter), [])
            name = collapse_space(_draft_from_row(first_line, columns, default_kind).name)
            records.append(SourceRecord(source, name=name, error=_runaway(source)))
            position += 1
            continue
        except csv.Error as exc:
            records.append(SourceRecord(source, error=f"unreadable row: {exc}"))
            position += 1
            continue
        end = row_lines.next
        record = _record_from_row(source, row, len(headers), columns, default_kind)
        if end - position > 1 and (
            record.error is not None
            or (end == len(lines) and _is_unclosed(lines[position:end], delimiter))
        ):
            # a row over several lines that is broken, or ends the file inside quotes: an
            # unclosed quote swallowed the lines after it; report it, read them as rows
            reason = record.error or _runaway(source, to_end=True)
            records.append(replace(record, draft=None, error=reason, skip_reason=None))
            position += 1
            continue
        records.append(record)
        position = end
    return ParsedFile(unit="line", records=tuple(records), ignored_fields=tuple(ignored))


def _runaway(line: int, *, to_end: bool = False) -> str:
    where = (
        "to the end of the file"
        if to_end
        else f"past {MAX_ROW_LINES} lines or {MAX_ROW_SIZE // 1024} KB"
    )
    return (
        f"a quoted field that starts on line {line} runs on {where} (an unclosed quote?): "
        "the line is left out, and the lines after it are read as rows"
    )


def _record_from_row(
    source: int, row: list[str], width: int, columns: Sequence[_Column], default_kind: Kind
) -> SourceRecord:
    if not any(cell.strip() for cell in row):
        return SourceRecord(source, skip_reason="empty row")
    draft = _draft_from_row(row, columns, default_kind)
    if any(cell.strip() for cell in row[width:]):
        return SourceRecord(
            source,
            name=collapse_space(draft.name),
            error=f"the row has {len(row)} fields but the header has {width}",
        )
    return SourceRecord(source, draft=draft, name=collapse_space(draft.name))


# --- vCard ---------------------------------------------------------------------------------

_VCARD_READ = frozenset(
    {"fn", "n", "email", "tel", "org", "title", "url", "x-socialprofile", "note", "categories"}
    | {"adr", "version", "prodid", "uid", "rev", "kind"}
)
_VOBJECT_LINE = re.compile(r"^At line \d+: ")
_FN_LINE = re.compile(r"^FN(?:;[^:]*)?:(.*)$", re.IGNORECASE | re.MULTILINE)


_AGENT = re.compile(r"^(?:[\w-]+\.)?AGENT[;:]", re.IGNORECASE)
_MEDIA = re.compile(r"^(?:[\w-]+\.)?(PHOTO|LOGO|SOUND|KEY)[;:]", re.IGNORECASE)
"""A property that carries a picture, sound or key (``item1.PHOTO;ENCODING=b:...``): never
imported, and often megabytes of base64, so its lines are dropped before parsing."""


@dataclass(frozen=True, slots=True)
class _Block:
    text: str
    line: int
    """Where the block starts in the file (1-based)."""
    error: str | None = None
    dropped: frozenset[str] = frozenset()
    """The media properties (``PHOTO``...) whose lines were dropped before parsing."""


def _cut_cards(text: str) -> list[_Block]:
    """Cut ``text`` into ``BEGIN:VCARD`` ... ``END:VCARD`` blocks, in file order, so that one
    broken card is one error and the cards around it are read.

    A ``BEGIN:VCARD`` inside a card nests only right after an ``AGENT`` property (vCard 2.1
    embeds the agent's card so), at most ``MAX_CARD_NESTING`` deep; anywhere else it means
    the card before has no ``END:VCARD`` (that card is an error, a new one starts). Media
    properties (``_MEDIA``) are dropped with their continuation lines (folded, or the bare
    base64 lines of vCard 2.1). A card larger than ``MAX_CARD_SIZE`` (media dropped) or
    nested too deep is an error, not parsed. Text outside any card that is not blank becomes
    a block with an error, so every line of the file is accounted for.
    """
    blocks: list[_Block] = []
    current: list[str] = []
    current_line = 0
    size = 0
    deepest = 0
    dropped: set[str] = set()
    in_media = False
    after_agent = False
    stray: list[str] = []
    stray_line = 1
    depth = 0

    def flush_stray() -> None:
        text = "".join(stray)
        if text.strip():
            skipped = len(text) - len(text.lstrip("\r\n"))
            first = stray_line + text[:skipped].count("\n")
            ends = sum(1 for line in stray if line.strip().upper() == "END:VCARD")
            error = (
                "text outside any BEGIN:VCARD ... END:VCARD"
                if not ends
                else "END:VCARD without BEGIN:VCARD"
                if ends == 1
                else f"{ends} END:VCARD lines without BEGIN:VCARD"
            )
            blocks.append(_Block(text, first, f"{error} at line {first}"))
        stray.clear()

    def close_card(error: str | None) -> None:
        if deepest > MAX_CARD_NESTING:
            error = (
                f"the card at line {current_line} holds cards nested {deepest} deep "
                f"(at most {MAX_CARD_NESTING}): not read"
            )
        elif size > MAX_CARD_SIZE:
            error = (
                f"the card at line {current_line} is {size / 2**20:,.1f} MB without its "
                f"pictures (at most {MAX_CARD_SIZE // 2**20} MB): not read"
            )
        blocks.append(_Block("".join(current), current_line, error, frozenset(dropped)))

    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        word = line.strip().upper()
        is_continuation = line[:1] in (" ", "\t") or ":" not in line
        if in_media and is_continuation and word not in ("BEGIN:VCARD", "END:VCARD"):
            continue  # a continuation of the dropped property
        in_media = False
        if word == "BEGIN:VCARD" and not (depth > 0 and after_agent):
            if depth > 0:
                close_card(f"the card at line {current_line} has no END:VCARD")
                depth = 0
            else:
                flush_stray()
            current, current_line, size, deepest, dropped = [], number, 0, 0, set()
        if word == "BEGIN:VCARD":
            depth += 1
            deepest = max(deepest, depth)
        elif word == "END:VCARD" and depth == 0:
            if not stray:
                stray_line = number
            stray.append(line)
            continue
        elif word == "END:VCARD":
            depth -= 1
        elif depth > 0 and (media := _MEDIA.match(line)):
            dropped.add(media.group(1).upper())
            in_media = True
            continue
        elif depth == 0:
            if not stray:
                stray_line = number
            stray.append(line)
            continue
        after_agent = bool(_AGENT.match(line))
        size += len(line)
        if size <= MAX_CARD_SIZE and deepest <= MAX_CARD_NESTING:
            current.append(line)  # a card that will not be read is not kept either
        if word == "END:VCARD" and depth == 0:
            close_card(None)
    if depth > 0:
        close_card(f"the card at line {current_line} has no END:VCARD")
    flush_stray()
    return blocks


def _text_of(value: Any) -> str:
    """A property value as one string: lists (ORG, CATEGORIES parts) joined by spaces."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple):
        return " ".join(_text_of(v) for v in value if _text_of(v))
    return ""


def _list_of(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [text for v in value for text in _list_of(v)]
    text = _text_of(value)
    return [text] if text else []


def _types(line: Any) -> set[str]:
    """The TYPE tokens of a property, 2.1 bare parameters included, lower-case."""
    tokens = [*line.params.get("TYPE", []), *line.singletonparams]
    return {t.strip().lower() for token in tokens for t in str(token).split(",") if t.strip()}


def _preference(line: Any) -> int:
    """1 is most preferred (vCard 4 ``PREF=1``, 3.0 ``TYPE=PREF``, 2.1 ``PREF``); 100 is none."""
    for pref in line.params.get("PREF", []):
        if str(pref).strip().isdigit():
            return int(str(pref).strip())
    return 1 if "pref" in _types(line) else 100


def _lines(card: Any, name: str) -> list[Any]:
    lines = list(card.contents.get(name, []))
    return sorted(lines, key=_preference)  # stable: file order among equals


def _phone_label(line: Any) -> str | None:
    types = _types(line)
    if types & {"cell", "mobile"}:
        return "mobile"
    if "work" in types:
        return "work"
    return "home" if "home" in types else None


def _card_name(card: Any) -> str:
    for line in _lines(card, "fn"):
        if _text_of(line.value):
            return _text_of(line.value)
    for line in _lines(card, "n"):
        n = line.value
        parts = [getattr(n, part, "") for part in ("given", "additional", "family")]
        name = " ".join(_text_of(p) for p in parts if _text_of(p))
        if name:
            return name
    return ""


def _card_location(card: Any) -> str | None:
    for line in _lines(card, "adr"):
        adr = line.value
        parts = [_text_of(getattr(adr, part, "")) for part in ("city", "region", "country")]
        if any(parts):
            return ", ".join(p for p in parts if p)
    return None


def _draft_from_card(card: Any, default_kind: Kind) -> PersonDraft:
    orgs = [_list_of(line.value) for line in _lines(card, "org")]
    titles = [_text_of(line.value) for line in _lines(card, "title")]
    notes = [_text_of(line.value) for line in card.contents.get("note", [])]
    links = [_text_of(line.value) for line in card.contents.get("url", [])]
    links += [
        _text_of(line.value)
        for line in card.contents.get("x-socialprofile", [])
        if _text_of(line.value).lower().startswith(("http://", "https://"))
    ]
    return PersonDraft(
        name=_card_name(card),
        kind=default_kind,
        emails=tuple(_text_of(line.value) for line in _lines(card, "email")),
        phones=tuple(
            PhoneEntry(_text_of(line.value), _phone_label(line)) for line in _lines(card, "tel")
        ),
        company=next((org[0] for org in orgs if org), None),
        title=next((t for t in titles if t), None),
        location=_card_location(card),
        links=tuple(link for link in links if link),
        tags=tuple(
            tag for line in card.contents.get("categories", []) for tag in _list_of(line.value)
        ),
        notes="\n\n".join(n for n in notes if n) or None,
    )


def parse_vcard_records(data: bytes, *, default_kind: Kind = "candidate") -> ParsedFile:
    """The records of a vCard file (2.1, 3.0 or 4.0); ``source`` is each card's position.

    Raises ``InputError`` when the file is not text or holds no card at all.
    """
    blocks = _cut_cards(decode_text(data))
    if not blocks:
        raise InputError("the file holds no vCard (no BEGIN:VCARD line)")
    records: list[SourceRecord] = []
    ignored: set[str] = set()
    for number, block in enumerate(blocks, start=1):
        fn = _FN_LINE.search(block.text)
        fallback_name = collapse_space(fn.group(1)) if fn else ""
        ignored.update(block.dropped)
        if block.error is not None:
            records.append(SourceRecord(number, name=fallback_name, error=block.error))
            continue
        try:
            card = vobject.readOne(block.text)
            draft = _draft_from_card(card, default_kind)
        except RecursionError:
            error = f"unreadable card at line {block.line}: nested too deep"
            records.append(SourceRecord(number, name=fallback_name, error=error))
            continue
        except (vobject.base.VObjectError, ValueError, LookupError) as exc:
            # vobject's own "At line N" counts from an unclear origin: give the file's line.
            message = _VOBJECT_LINE.sub("", collapse_space(str(exc))) or type(exc).__name__
            error = f"unreadable card at line {block.line}: {message}"
            records.append(SourceRecord(number, name=fallback_name, error=error))
            continue
        ignored.update(name.upper() for name in card.contents if name not in _VCARD_READ)
        records.append(SourceRecord(number, draft=draft, name=collapse_space(draft.name)))
    return ParsedFile(unit="card", records=tuple(records), ignored_fields=tuple(sorted(ignored)))


# --- storing -------------------------------------------------------------------------------


def import_records(
    *,
    session: Session,
    parsed: ParsedFile,
    policy: ImportPolicy = "merge",
    default_region: str | None = None,
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> ImportReport:
    """Store ``parsed``'s records in file order, one SAVEPOINT each; never commits.

    Past mail with a record's new addresses is linked by default (``LINK_PAST_MAIL``; None
    turns it off). ``on_addresses_added`` runs inside the row's savepoint, so a row and the
    past mail linked to it are kept or rolled back together.
    """
    report = ImportReport(unit=parsed.unit, ignored_fields=list(parsed.ignored_fields))
    created_by: dict[int, int] = {}  # record id -> the source that created it in this import
    owners: dict[str, bool] = {}  # owner key -> whether it is a Postroom user
    for item in parsed.records:
        if item.skip_reason is not None:
            report.skipped.append(ImportEntry(item.source, item.name, None, item.skip_reason))
            continue
        if item.draft is None:
            report.errors.append(ImportEntry(item.source, item.name, None, item.error))
            continue
        try:
            checked, left_out = _check_leaving_out(item.draft, default_region)
        except DraftError as exc:
            report.errors.append(ImportEntry(item.source, item.name, None, str(exc)))
            continue
        if checked.owner_key is not None and not _is_user(session, checked, owners):
            left_out += (LeftOut("owner", checked.owner_key, "not a Postroom user"),)
            checked = replace(checked, owner_key=None)
        try:
            with session.begin_nested():
                outcome, entry = _store_record(
                    session,
                    item.source,
                    checked,
                    policy,
                    parsed.unit,
                    created_by,
                    on_addresses_added,
                )
        except (PostroomError, IntegrityError, DataError) as exc:
            message = str(exc.orig) if isinstance(exc, IntegrityError | DataError) else str(exc)
            report.errors.append(ImportEntry(item.source, checked.name, None, message))
            continue
        getattr(report, outcome).append(replace(entry, left_out=left_out))
    return report


def _is_user(session: Session, checked: CheckedDraft, known: dict[str, bool]) -> bool:
    """Whether the draft's owner is a Postroom user (asked once per import per owner)."""
    key = checked.owner_key or ""
    if key not in known:
        try:
            resolve_owner_id(session=session, draft=checked)
            known[key] = True
        except DraftError:
            known[key] = False
    return known[key]


def _problem(field_name: str, value: str, problems: Sequence[str]) -> LeftOut:
    """``LeftOut("phone", "abc", "not a valid number")`` from ``check_draft``'s problems
    about one value (``"phone 'abc' is not a valid number"``)."""
    reasons = []
    for problem in problems:
        for prefix in (f"{field_name} {value.strip()!r} ", f"{field_name} "):
            if problem.startswith(prefix):
                problem = problem[len(prefix) :]
                break
        reasons.append(problem.removeprefix("is "))
    return LeftOut(field_name, value.strip(), "; ".join(reasons))


def _check_leaving_out(
    draft: PersonDraft, default_region: str | None
) -> tuple[CheckedDraft, tuple[LeftOut, ...]]:
    """``draft`` checked, with each value ``check_draft`` refuses left out and listed.

    Each value is tried alone with ``check_draft`` (so the rules and messages are the
    domain's own); only rows with a problem pay for that. Raises ``DraftError`` with every
    problem when the row cannot be a record even without its bad values (no name, an
    unknown kind).
    """
    try:
        return check_draft(draft, default_region=default_region), ()
    except DraftError as exc:
        first_error = exc
    left_out: list[LeftOut] = []

    def problems(**values: Any) -> tuple[str, ...]:
        try:
            check_draft(PersonDraft(name="x", **values), default_region=default_region)
        except DraftError as exc:
            return exc.problems
        return ()

    def keep(field_name: str, values: Sequence[Any], text: Any, **as_draft: Any) -> list[Any]:
        kept = []
        for value in values:
            found = problems(**{key: make(value) for key, make in as_draft.items()})
            if found:
                left_out.append(_problem(field_name, text(value), found))
            else:
                kept.append(value)
        return kept

    def single(field_name: str, value: str | None, **as_draft: Any) -> str | None:
        if value is None:
            return None
        return next(iter(keep(field_name, [value], str, **as_draft)), None)

    cleaned = replace(
        draft,
        emails=tuple(keep("email", draft.emails, str, emails=lambda v: (v,))),
        phones=tuple(keep("phone", draft.phones, lambda p: p.number, phones=lambda p: (p,))),
        tags=tuple(keep("tag", draft.tags, str, tags=lambda v: (v,))),
        company=single("company", draft.company, company=lambda v: v),
        title=single("title", draft.title, title=lambda v: v),
        location=single("location", draft.location, location=lambda v: v),
        owner_email=single("owner", draft.owner_email, owner_email=lambda v: v),
    )
    try:
        return check_draft(cleaned, default_region=default_region), tuple(left_out)
    except DraftError:
        raise first_error from None


def _store_record(
    session: Session,
    source: int,
    checked: CheckedDraft,
    policy: ImportPolicy,
    unit: Unit,
    created_by: dict[int, int],
    on_addresses_added: AddressesAddedHook | None,
) -> tuple[Literal["created", "merged", "skipped"], ImportEntry]:
    """Apply ``policy`` to one checked record; ``created_by`` learns the records created."""
    match = find_duplicate_of(session=session, draft=checked)
    if match is None or policy == "create":
        result = create_checked_person(
            session=session, draft=checked, duplicate=match, on_addresses_added=on_addresses_added
        )
        created_by[result.person.id] = source
        reason = None
        if match is not None:
            reason = f"created anyway: {_where(match, unit, created_by)}"
        return "created", ImportEntry(source, checked.name, result.person.id, reason)
    where = _where(match, unit, created_by)
    if policy == "skip":
        return "skipped", ImportEntry(source, checked.name, match.record_id, where)
    result = merge_checked_person(
        session=session,
        person_id=match.record_id,
        draft=checked,
        duplicate=match,
        on_addresses_added=on_addresses_added,
    )
    changes = f"added {', '.join(result.changes)}" if result.changes else "nothing new"
    return "merged", ImportEntry(source, checked.name, match.record_id, f"{where}: {changes}")


def _where(match: DuplicateMatch, unit: Unit, created_by: dict[int, int]) -> str:
    """``"same email x as line 2"`` for a record this import made, else ``"... as record #7
    (Anna Berg)"``."""
    if match.record_id in created_by:
        return f"{match.reason} as {unit} {created_by[match.record_id]}"
    return f"{match.reason} as record #{match.record_id} ({match.record_name})"


def import_csv(
    *,
    session: Session,
    data: bytes,
    policy: ImportPolicy = "merge",
    default_region: str | None = None,
    default_kind: Kind = "candidate",
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> ImportReport:
    """Import the records of a CSV file (see the module docstring); never commits.

    Raises ``InputError`` for a file that cannot be read at all (empty, no name column).
    """
    parsed = parse_csv_records(data, default_kind=default_kind)
    return import_records(
        session=session,
        parsed=parsed,
        policy=policy,
        default_region=default_region,
        on_addresses_added=on_addresses_added,
    )


def import_vcard(
    *,
    session: Session,
    data: bytes,
    policy: ImportPolicy = "merge",
    default_region: str | None = None,
    default_kind: Kind = "candidate",
    on_addresses_added: AddressesAddedHook | None = LINK_PAST_MAIL,
) -> ImportReport:
    """Import the cards of a vCard file (see the module docstring); never commits.

    Raises ``InputError`` for a file that holds no card.
    """
    parsed = parse_vcard_records(data, default_kind=default_kind)
    return import_records(
        session=session,
        parsed=parsed,
        policy=policy,
        default_region=default_region,
        on_addresses_added=on_addresses_added,
    )
