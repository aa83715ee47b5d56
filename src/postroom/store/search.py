"""Search queries: activities by full text, records by their search text, companies by name.

The full-text index is made by migration 0005 (see it for the DDL), outside the models:

* SQLite: ``activity_fts``, an external-content FTS5 table over ``activity(subject, text)``
  with ``unicode61 remove_diacritics 2``; triggers keep it current in the transaction of every
  INSERT, UPDATE OF subject/text and DELETE of an activity (bulk inserts, ``fill_body``, the
  cascade of a deleted record).
* PostgreSQL: ``activity.search_vector``, a stored generated ``tsvector`` (subject weight A,
  text weight B) over text folded as ``domain.records.fold_for_search`` folds (accents and
  case dropped), with the GIN index ``ix_activity_search_vector``.

``SCHEMA_OUTSIDE_MODELS`` names these objects so the schema check can leave them out of its
comparison with the models, and nothing else.

Invariant: user input never reaches a query's syntax. ``parse_query`` keeps only the words of
what was typed (runs of letters and digits, folded); the FTS5 MATCH string quotes each one and
the ``tsquery`` quotes each lexeme, and both are passed as bound parameters. So ``"``, ``*``,
``NEAR(``, ``AND OR``, ``'`` and ``--`` are plain words or nothing, never operators.

Queries: words are ANDed; the last word typed (outside quotes) matches as a prefix when it has
at least ``MIN_PREFIX`` characters; ``"two words"`` is a phrase; ``ß`` and ``ss`` are one.
Activities come ranked (FTS5 bm25 with the subject weighted 4:1; PostgreSQL ``ts_rank`` with
weights A and B), then newest; or newest first (``ix_activity_occurred_at``), which costs the
same however many match, where ranking reads every match (``services.search`` chooses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from postroom.domain.matching import Direction
from postroom.domain.records import fold_for_search
from postroom.store.bulk import dialect_of
from postroom.store.models import (
    Activity,
    ActivityKind,
    BodyState,
    Company,
    Person,
    PersonEmail,
    PersonKind,
)

SCHEMA_OUTSIDE_MODELS = {
    "tables": frozenset(
        # the FTS5 table and the shadow tables FTS5 makes for it (SQLite)
        {
            "activity_fts",
            "activity_fts_data",
            "activity_fts_idx",
            "activity_fts_docsize",
            "activity_fts_config",
            "activity_fts_content",
        }
    ),
    "columns": frozenset({("activity", "search_vector")}),  # PostgreSQL
    # PostgreSQL's GIN index; both backends' newest-first index (DESC NULLS LAST on PostgreSQL)
    "indexes": frozenset({"ix_activity_search_vector", "ix_activity_occurred_at"}),
}
"""The search objects of migration 0005 that the models do not declare (see the module doc)."""

MIN_PREFIX = 2
"""A last word shorter than this matches whole words only (``a*`` would read most of the
index)."""

MAX_TERMS = 12
"""Words and phrases beyond this many are ignored: a query stays cheap however long."""

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class SearchTerms:
    """What a query asks for, each word folded (``fold_for_search``).

    ``words`` must each appear whole; ``phrases`` must appear as consecutive words; ``prefix``
    (the last word typed, when long enough) must begin a word.
    """

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    prefix: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.phrases or self.prefix)

    @property
    def all_words(self) -> tuple[str, ...]:
        """Every word of the query (phrases' words included), prefix last."""
        inner = tuple(w for phrase in self.phrases for w in phrase)
        return self.words + inner + ((self.prefix,) if self.prefix else ())


def words_of(value: str) -> list[str]:
    """The words of ``value`` as the indexes see them: folded, split at anything that is not
    a letter or a digit (as FTS5's unicode61 tokenizer splits)."""
    return _WORD.findall(fold_for_search(value))


def parse_query(query: str) -> SearchTerms:
    """The terms of what a user typed. Text between double quotes is a phrase (an unclosed
    quote runs to the end); everything else is words, the last of which is a prefix."""
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    prefix: str | None = None
    parts = query.split('"')  # odd parts are inside quotes
    for index, part in enumerate(parts):
        tokens = words_of(part)
        if not tokens:
            continue
        if index % 2 == 1:  # inside quotes
            if len(tokens) == 1:
                words.append(tokens[0])
            else:
                phrases.append(tuple(tokens))
            continue
        if index == len(parts) - 1 and len(tokens[-1]) >= MIN_PREFIX:  # typed last, unquoted
            prefix = tokens.pop()
        words.extend(tokens)
    words = list(dict.fromkeys(words))
    phrases = list(dict.fromkeys(phrases))
    budget = MAX_TERMS - (1 if prefix else 0)
    phrases = phrases[:budget]
    words = words[: max(0, budget - len(phrases))]
    return SearchTerms(words=tuple(words), phrases=tuple(phrases), prefix=prefix)


def sharp_s_forms(word: str) -> tuple[str, ...]:
    """``word`` and, when it has ``ss``, its spelling with ``ß``: folding makes ``ß`` ``ss``
    (as PostgreSQL's index does), but FTS5's unicode61 keeps ``ß``, so both are asked for."""
    return (word, word.replace("ss", "ß")) if "ss" in word else (word,)


def fts5_match(terms: SearchTerms) -> str:
    """The FTS5 MATCH expression of ``terms``: each word a quoted string (never an operator)."""

    def either(word: str, star: str = "") -> str:
        forms = [f'"{form}"{star}' for form in sharp_s_forms(word)]
        return forms[0] if len(forms) == 1 else "(" + " OR ".join(forms) + ")"

    parts = [either(w) for w in terms.words]
    parts += ['"' + " ".join(p) + '"' for p in terms.phrases]
    if terms.prefix:
        parts.append(either(terms.prefix, "*"))
    return " ".join(parts)


def tsquery(terms: SearchTerms) -> str:
    """The PostgreSQL ``to_tsquery`` text of ``terms``: each lexeme quoted, ANDed."""
    parts = [f"'{w}'" for w in terms.words]
    parts += ["(" + " <-> ".join(f"'{w}'" for w in p) + ")" for p in terms.phrases]
    if terms.prefix:
        parts.append(f"'{terms.prefix}':*")
    return " & ".join(parts)


# --- activities -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityHit:
    """One activity found, with what the results page needs (``text`` for its snippet)."""

    activity_id: int
    person_id: int
    person_name: str
    kind: ActivityKind
    direction: Direction
    occurred_at: datetime | None
    subject: str
    text: str | None
    body_state: BodyState


_HIT_COLUMNS = (
    Activity.id,
    Activity.person_id,
    Person.name,
    Activity.kind,
    Activity.direction,
    Activity.occurred_at,
    Activity.subject,
    Activity.text,
    Activity.body_state,
)


def _matches_tsquery(terms: SearchTerms) -> ColumnElement[bool]:
    return _VECTOR.op("@@")(_ts_query(terms))


def _ts_query(terms: SearchTerms) -> ColumnElement[Any]:
    return func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(terms))


_VECTOR: ColumnElement[Any] = literal_column("activity.search_vector")


Order = Literal["relevance", "newest"]


def search_activities(
    *,
    session: Session,
    terms: SearchTerms,
    limit: int = 20,
    offset: int = 0,
    order: Order = "relevance",
) -> list[ActivityHit]:
    """The activities matching ``terms``: by ``relevance`` (rank, then newest, then latest
    id) or ``newest`` first (date, then latest id; undated last).

    Ranking reads every match (bm25 / ts_rank, some microseconds each): keep it for result
    sets of a few thousand (``count_activities(..., at_most=...)`` says how many there are);
    ``newest`` walks ``ix_activity_occurred_at`` and stops at the page, whatever the count.
    """
    if terms.is_empty:
        return []
    sqlite = dialect_of(session) == "sqlite"
    # the page's ids first, ordered; their columns (text included) only for those
    if sqlite:
        matching = text(
            "SELECT rowid FROM activity_fts WHERE activity_fts MATCH :match"
        ).bindparams(match=fts5_match(terms))
        if order == "relevance":
            ranked = (
                text(
                    "SELECT rowid AS id, bm25(activity_fts, 4.0, 1.0) AS rank "
                    "FROM activity_fts WHERE activity_fts MATCH :match"
                )
                .bindparams(match=fts5_match(terms))
                .columns(id=Integer(), rank=Float())
                .subquery("ranked")
            )
            ids = (
                select(Activity.id)
                .join(ranked, ranked.c.id == Activity.id)
                .order_by(ranked.c.rank, Activity.occurred_at.desc(), Activity.id.desc())
            )
        else:
            # +id: look the matches up as a set and walk the date index, not one by one
            ids = (
                select(Activity.id)
                .where(literal_column("+activity.id", Integer()).in_(matching))
                .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            )
    else:
        newest = (Activity.occurred_at.desc().nulls_last(), Activity.id.desc())
        ids = select(Activity.id).where(_matches_tsquery(terms))
        if order == "relevance":
            ids = ids.order_by(func.ts_rank(_VECTOR, _ts_query(terms)).desc(), *newest)
        else:
            ids = ids.order_by(*newest)
    page = list(session.scalars(ids.limit(limit).offset(offset)))
    if not page:
        return []
    rows = session.execute(
        select(*_HIT_COLUMNS)
        .join(Person, Person.id == Activity.person_id)
        .where(Activity.id.in_(page))
    )
    by_id = {row[0]: ActivityHit(*row) for row in rows}
    return [by_id[i] for i in page if i in by_id]


def count_activities(*, session: Session, terms: SearchTerms, at_most: int | None = None) -> int:
    """How many activities match ``terms``; counting stops at ``at_most`` when given (a
    common word can match most of the firm's mail: counting it all costs what ranking does)."""
    if terms.is_empty:
        return 0
    if dialect_of(session) == "sqlite":
        matching = "SELECT rowid FROM activity_fts WHERE activity_fts MATCH :match"
        if at_most is not None:
            matching += f" LIMIT {int(at_most)}"
        found = session.execute(
            text(f"SELECT count(*) FROM ({matching})"), {"match": fts5_match(terms)}
        )
    else:
        inner: Select[Any] = (
            select(literal_column("1")).select_from(Activity).where(_matches_tsquery(terms))
        )
        if at_most is not None:
            inner = inner.limit(at_most)
        found = session.execute(select(func.count()).select_from(inner.subquery()))
    return int(found.scalar_one())


# --- records and companies --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonHit:
    person_id: int
    name: str
    kind: PersonKind
    title: str | None
    company_name: str | None
    email: str | None
    """The record's primary address (else its first)."""
    owner_id: int | None


@dataclass(frozen=True, slots=True)
class CompanyHit:
    company_id: int
    name: str
    domain: str | None
    records: int


def _contains_all(
    column: ColumnElement[str] | InstrumentedAttribute[str], needles: Sequence[str]
) -> ColumnElement[bool]:
    # needles are folded words (letters and digits only): no LIKE wildcard can be in them
    return and_(*(column.contains(n, autoescape=True) for n in needles))


def _needles(terms: SearchTerms) -> list[str]:
    return [*terms.words, *(" ".join(p) for p in terms.phrases), *filter(None, [terms.prefix])]


def _person_filter(terms: SearchTerms) -> ColumnElement[bool]:
    return _contains_all(Person.search_text, _needles(terms))


def search_persons(
    *, session: Session, terms: SearchTerms, viewer_id: int | None, limit: int = 10
) -> list[PersonHit]:
    """Records whose search text (name, company, emails, phones, tags; folded) contains every
    term: the viewer's own records first, then by name."""
    if terms.is_empty:
        return []
    email = (
        select(PersonEmail.address)
        .where(PersonEmail.person_id == Person.id)
        .order_by(PersonEmail.is_primary.desc(), PersonEmail.id)
        .limit(1)
        .scalar_subquery()
    )
    order: list[Any] = [Person.name_key, Person.id]
    if viewer_id is not None:
        order.insert(0, case((Person.owner_id == viewer_id, 0), else_=1))
    query = (
        select(
            Person.id,
            Person.name,
            Person.kind,
            Person.title,
            Company.name,
            email,
            Person.owner_id,
        )
        .outerjoin(Company, Company.id == Person.company_id)
        .where(_person_filter(terms))
        .order_by(*order)
        .limit(limit)
    )
    return [PersonHit(*row) for row in session.execute(query)]


def count_persons(*, session: Session, terms: SearchTerms) -> int:
    if terms.is_empty:
        return 0
    query = select(func.count()).select_from(Person).where(_person_filter(terms))
    return int(session.execute(query).scalar_one())


def folded(session: Session, column: InstrumentedAttribute[str]) -> ColumnElement[str]:
    """``column`` folded as ``fold_for_search`` folds, in SQL: PostgreSQL with built-in
    functions (as migration 0005), SQLite with ``fold_for_search`` itself, registered on the
    connection as ``postroom_fold`` (deterministic). ``column`` holds casefolded, collapsed
    values (a ``name_key``): an ASCII one is its own fold, so SQLite skips Python for it."""
    if dialect_of(session) == "sqlite":
        raw = session.connection().connection.driver_connection
        raw.create_function("postroom_fold", 1, _fold_or_none, deterministic=True)  # type: ignore[union-attr]
        # a casefolded ASCII value is folded already: Python is called for the others only
        return case(
            (column.op("GLOB")("*[^ -~]*"), func.postroom_fold(column)),
            else_=column,
        )
    marks = "[\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f]"
    stripped = func.regexp_replace(func.normalize(column, literal_column("NFKD")), marks, "", "g")
    return func.replace(func.lower(stripped), "ß", "ss")


def _fold_or_none(value: str | None) -> str | None:
    return None if value is None else fold_for_search(value)


def _company_filter(session: Session, terms: SearchTerms) -> ColumnElement[bool]:
    needles = _needles(terms)
    domain = func.coalesce(Company.domain, "")
    return or_(
        _contains_all(folded(session, Company.name_key), needles),
        _contains_all(domain, needles),
    )


def search_companies(*, session: Session, terms: SearchTerms, limit: int = 10) -> list[CompanyHit]:
    """Companies whose name (folded) or domain contains every term, by name, with how many
    records each has."""
    if terms.is_empty:
        return []
    records = (
        select(func.count())
        .select_from(Person)
        .where(Person.company_id == Company.id)
        .scalar_subquery()
    )
    query = (
        select(Company.id, Company.name, Company.domain, records)
        .where(_company_filter(session, terms))
        .order_by(Company.name_key, Company.id)
        .limit(limit)
    )
    return [CompanyHit(*row) for row in session.execute(query)]


def count_companies(*, session: Session, terms: SearchTerms) -> int:
    if terms.is_empty:
        return 0
    query = select(func.count()).select_from(Company).where(_company_filter(session, terms))
    return int(session.execute(query).scalar_one())
