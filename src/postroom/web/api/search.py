"""``GET /api/v1/search?q=``: the search of the ``/search`` page as JSON.

The same service (``services.search.search_everything``) and the same query language (words
ANDed, the last a prefix, ``"phrases"``; accents and case never matter). Highlights come as
segments (``{"text": ..., "match": true}``), never as markup: a client renders them as it
likes, escaping the text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from postroom.services.search import Segment, search_everything
from postroom.web.deps import CurrentUser, ReadSession

router = APIRouter(prefix="/api/v1", tags=["search"])


class TextSegment(BaseModel):
    """A piece of a name, subject or snippet; ``match`` pieces are what the query matched."""

    text: str
    match: bool


class PersonHit(BaseModel):
    id: int
    name: str
    kind: Literal["candidate", "contact"]
    title: str | None
    company: str | None
    email: str | None
    is_mine: bool = Field(description="The signed-in user owns this record")
    url: str


class CompanyHit(BaseModel):
    id: int
    name: str
    domain: str | None
    records: int
    url: str


class EmailHit(BaseModel):
    activity_id: int
    record_id: int
    record_name: str
    kind: Literal["email", "bounce"]
    direction: Literal["sent", "received"]
    occurred_at: datetime | None
    subject: str
    subject_marked: list[TextSegment]
    snippet: list[TextSegment] = Field(
        description="Text around the first match; empty when the text is not stored"
    )
    text_state: Literal["present", "pending", "withheld"]
    url: str = Field(description="The record page the email is logged on")


class SearchAnswer(BaseModel):
    query: str
    people: list[PersonHit]
    people_total: int
    companies: list[CompanyHit]
    companies_total: int
    emails: list[EmailHit]
    emails_total: int = Field(description="Counting stops at 5,000 (see emails_more)")
    emails_more: bool = Field(description="More emails match than emails_total")
    order: Literal["relevance", "newest"] = Field(
        description="Best match first, or newest first (always when emails_more)"
    )
    limit: int
    offset: int


def _segments(segments: tuple[Segment, ...]) -> list[TextSegment]:
    return [TextSegment(text=s.text, match=s.is_match) for s in segments]


@router.get("/search", response_model=SearchAnswer, summary="Search people, companies and email")
def search(
    user: CurrentUser,
    session: ReadSession,
    q: Annotated[str, Query(max_length=500, description="Words; the last is a prefix")] = "",
    limit: Annotated[int, Query(ge=1, le=100, description="Emails per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=200_000)] = 0,
    order: Annotated[
        Literal["relevance", "newest"] | None,
        Query(description="Emails best match first (the default) or newest first"),
    ] = None,
) -> SearchAnswer:
    found = search_everything(
        session=session, query=q, viewer_id=user.id, limit=limit, offset=offset, order=order
    )
    return SearchAnswer(
        query=found.query,
        people=[
            PersonHit(
                id=p.id,
                name=p.name,
                kind=p.kind.value,
                title=p.title,
                company=p.company_name,
                email=p.email,
                is_mine=p.is_mine,
                url=f"/records/{p.id}",
            )
            for p in found.people
        ],
        people_total=found.people_total,
        companies=[
            CompanyHit(
                id=c.id,
                name=c.name,
                domain=c.domain,
                records=c.records,
                url=f"/companies/{c.id}",
            )
            for c in found.companies
        ],
        companies_total=found.companies_total,
        emails=[
            EmailHit(
                activity_id=e.activity_id,
                record_id=e.record_id,
                record_name=e.record_name,
                kind=e.kind.value,
                direction=e.direction.value,
                occurred_at=e.occurred_at,
                subject="".join(s.text for s in e.subject),
                subject_marked=_segments(e.subject),
                snippet=_segments(e.snippet),
                text_state=e.body_state.value,
                url=f"/records/{e.record_id}",
            )
            for e in found.emails
        ],
        emails_total=found.emails_total,
        emails_more=found.emails_more,
        order=found.order,
        limit=found.limit,
        offset=found.offset,
    )
