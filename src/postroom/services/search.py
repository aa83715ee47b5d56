"""Search across the firm's records, companies and logged email (docs/web.md; the top bar's
box, ``/search`` and ``/api/v1/search``).

``search_everything`` parses what was typed once (``store.search.parse_query``: words ANDed,
the last a prefix, ``"phrases"``; accents and case never matter) and returns typed views:
the first people and companies, and one page of emails, each with its record, subject, date,
direction and a snippet: best match first, or newest first on request and always when more
than ``RANKED_AT_MOST`` match (ranking reads every match; the count stops there too).

Records and companies are the firm's, and so are activities; an activity's text was already
cut down to its account's visibility when it was stored, so nothing is filtered per viewer.
The viewer's own records come first among the people.

Highlights are computed here, never taken from the database as markup: a snippet is a tuple
of ``Segment`` (text, is it a match) that pages escape and wrap in ``<mark>`` themselves.
Matching folds each character as ``fold_for_search`` does (accents and case), so ``cafe``
highlights ``Café`` on both backends.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy.orm import Session

from postroom.domain.matching import Direction
from postroom.store import search as search_store
from postroom.store.models import ActivityKind, BodyState, PersonKind
from postroom.store.search import Order, SearchTerms, parse_query, sharp_s_forms

RANKED_AT_MOST = 5_000
"""Emails ranked at most: ranking reads every match (bm25 / ts_rank, microseconds each), so
a query matching more comes newest first (``ix_activity_occurred_at``), and its count stops
here (benchmarks/web.py measures both orders)."""

MAX_QUERY_LENGTH = 500
"""Characters of a query looked at; the rest is ignored."""

SNIPPET_CHARS = 220
"""About how long a snippet of an email's text is."""

_FIRST_SCAN_CHARS = 20_000
_SCAN_CHARS = 100_000
"""Characters of a text searched for the snippet's first match (as many as PostgreSQL's index
covers; the first ``_FIRST_SCAN_CHARS`` first)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a subject or snippet; ``is_match`` pieces are what the query matched."""

    text: str
    is_match: bool = False


@dataclass(frozen=True, slots=True)
class PersonResult:
    id: int
    name: str
    kind: PersonKind
    title: str | None
    company_name: str | None
    email: str | None
    is_mine: bool
    """The viewer owns this record."""
    name_marked: tuple[Segment, ...]
    """``name`` with the matched words marked."""


@dataclass(frozen=True, slots=True)
class CompanyResult:
    id: int
    name: str
    domain: str | None
    records: int
    name_marked: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class EmailResult:
    """One logged email (or bounce) that matched, on the record it is logged on."""

    activity_id: int
    record_id: int
    record_name: str
    kind: ActivityKind
    direction: Direction
    occurred_at: datetime | None
    subject: tuple[Segment, ...]
    snippet: tuple[Segment, ...]
    """Empty when the text is not stored (withheld by visibility, or still to be fetched)."""
    body_state: BodyState


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str
    """What was asked, trimmed."""
    is_empty_query: bool
    """Nothing searchable was typed (only spaces or punctuation)."""
    people: tuple[PersonResult, ...]
    people_total: int
    companies: tuple[CompanyResult, ...]
    companies_total: int
    emails: tuple[EmailResult, ...]
    emails_total: int
    """At most ``RANKED_AT_MOST``: counting stops there (``emails_more`` says it did)."""
    emails_more: bool
    """More emails match than ``emails_total``: they come newest first, unranked."""
    order: Order
    """How the emails are ordered: ``relevance`` (then newest) or ``newest``."""
    limit: int
    offset: int

    @property
    def total(self) -> int:
        return self.people_total + self.companies_total + self.emails_total


def search_everything(
    *,
    session: Session,
    query: str,
    viewer_id: int | None,
    limit: int = 20,
    offset: int = 0,
    order: Order | None = None,
    people_limit: int = 8,
    companies_limit: int = 6,
) -> SearchResults:
    """People, companies and one page of emails (``limit``, ``offset``) matching ``query``.

    People and companies are only the first few (with their totals): they are the short
    lists above the emails; paging applies to emails. Emails come by ``order``; by default
    by relevance, unless more than ``RANKED_AT_MOST`` match: ranking them all would take
    too long (a word in most emails), so they come newest first and the count stops there.
    """
    query = query.strip()[:MAX_QUERY_LENGTH]
    terms = parse_query(query)
    limit = max(1, min(limit, 100))
    offset = max(0, offset)
    if terms.is_empty:
        return SearchResults(
            query, True, (), 0, (), 0, (), 0, False, order or "relevance", limit, offset
        )
    people = search_store.search_persons(
        session=session, terms=terms, viewer_id=viewer_id, limit=people_limit
    )
    companies = search_store.search_companies(session=session, terms=terms, limit=companies_limit)
    counted = search_store.count_activities(
        session=session, terms=terms, at_most=RANKED_AT_MOST + 1
    )
    more = counted > RANKED_AT_MOST
    if order is None:
        order = "newest" if more else "relevance"
    elif more:
        order = "newest"  # too many to rank: see above
    # nothing past the (capped) count: no walk through a deep offset
    shown = min(counted, RANKED_AT_MOST)
    hits = (
        search_store.search_activities(
            session=session,
            terms=terms,
            limit=min(limit, shown - offset),
            offset=offset,
            order=order,
        )
        if offset < shown
        else []
    )
    return SearchResults(
        query=query,
        is_empty_query=False,
        people=tuple(
            PersonResult(
                id=p.person_id,
                name=p.name,
                kind=p.kind,
                title=p.title,
                company_name=p.company_name,
                email=p.email,
                is_mine=viewer_id is not None and p.owner_id == viewer_id,
                name_marked=highlight(p.name, terms),
            )
            for p in people
        ),
        people_total=(
            len(people)
            if len(people) < people_limit
            else search_store.count_persons(session=session, terms=terms)
        ),
        companies=tuple(
            CompanyResult(
                id=c.company_id,
                name=c.name,
                domain=c.domain,
                records=c.records,
                name_marked=highlight(c.name, terms),
            )
            for c in companies
        ),
        companies_total=(
            len(companies)
            if len(companies) < companies_limit
            else search_store.count_companies(session=session, terms=terms)
        ),
        emails=tuple(
            EmailResult(
                activity_id=h.activity_id,
                record_id=h.person_id,
                record_name=h.person_name,
                kind=h.kind,
                direction=h.direction,
                occurred_at=h.occurred_at,
                subject=highlight(h.subject or "", terms),
                snippet=snippet(h.text or "", terms),
                body_state=h.body_state,
            )
            for h in hits
        ),
        emails_total=min(counted, RANKED_AT_MOST),
        emails_more=more,
        order=order,
        limit=limit,
        offset=offset,
    )


# --- highlighting -------------------------------------------------------------------------


@cache
def _fold_table() -> dict[int, str]:
    """Each character below U+3000 that folds (``fold_for_search``) to one other character:
    ``É`` -> ``e``. Length-preserving, so a match's offsets are the original text's."""
    table: dict[int, str] = {}
    for code in range(0x3000):
        char = chr(code)
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        folded = bare.casefold()
        if len(folded) == 1 and folded != char:
            table[code] = folded
    return table


def _fold_same_length(text: str) -> str:
    return text.translate(_fold_table())


def _pattern(terms: SearchTerms) -> re.Pattern[str] | None:
    words = {*terms.words, *(w for p in terms.phrases for w in p)}
    whole = sorted({f for w in words for f in sharp_s_forms(w)}, key=len, reverse=True)
    parts = []
    if whole:
        parts.append("(?:" + "|".join(map(re.escape, whole)) + r")(?![^\W_])")
    if terms.prefix:
        prefixes = "|".join(map(re.escape, sharp_s_forms(terms.prefix)))
        parts.append(f"(?:{prefixes})" + r"[^\W_]*")
    if not parts:
        return None
    return re.compile(r"(?<![^\W_])(?:" + "|".join(parts) + ")")


def _segments(text: str, spans: list[tuple[int, int]], start: int, end: int) -> list[Segment]:
    out: list[Segment] = []
    at = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > at:
            out.append(Segment(text[at:s]))
        out.append(Segment(text[s:e], True))
        at = e
    if at < end:
        out.append(Segment(text[at:end]))
    return out


def _spans(text: str, terms: SearchTerms) -> list[tuple[int, int]]:
    pattern = _pattern(terms)
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(_fold_same_length(text))]


def highlight(text: str, terms: SearchTerms) -> tuple[Segment, ...]:
    """All of ``text`` with every word ``terms`` match marked."""
    return tuple(_segments(text, _spans(text, terms), 0, len(text)))


def snippet(text: str, terms: SearchTerms, size: int = SNIPPET_CHARS) -> tuple[Segment, ...]:
    """About ``size`` characters of ``text`` around its first match, matches marked, white
    space collapsed, with ``…`` where text was cut; the start of the text when nothing in it
    matched (the subject did)."""
    if not text.strip():
        return ()
    pattern = _pattern(terms)
    first = 0
    for limit in (_FIRST_SCAN_CHARS, _SCAN_CHARS):  # most matches are early: fold little
        found = pattern.search(_fold_same_length(text[:limit])) if pattern else None
        if found or limit >= len(text):
            first = found.start() if found else 0
            break
    start = max(0, first - size // 3)
    if start:
        space = text.rfind(" ", max(0, start - 20), start + 1)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.find(" ", end, end + 20)
        end = space if space >= 0 else end
    window = text[start:end]
    spans = [(s + start, e + start) for s, e in _spans(window, terms)]
    pieces = [
        p if p.is_match else Segment(_SPACES.sub(" ", p.text))
        for p in _segments(text, spans, start, end)
    ]
    if start > 0:
        pieces.insert(0, Segment("…"))
    elif pieces and not pieces[0].is_match:
        pieces[0] = Segment(pieces[0].text.lstrip())
    if end < len(text):
        pieces.append(Segment("…"))
    elif pieces and not pieces[-1].is_match:
        pieces[-1] = Segment(pieces[-1].text.rstrip())
    return tuple(p for p in pieces if p.text)


_SPACES = re.compile(r"\s+")
