"""The JSON API for records, their activities, and companies (``/api/v1``).

Thin: each route calls ``services.records`` or ``services.timeline`` and shapes the view with
``web/api/schemas.py``. Errors are problem JSON (``web/errors.py``): an unknown id 404, a
duplicate 409 (with the record it duplicates in ``detail``), bad input 422. Auth: a personal
API token (``Authorization: Bearer ...``) or the session cookie with ``X-CSRF-Token`` on
changes (``web/deps.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from postroom.domain.records import PersonDraft, PhoneEntry
from postroom.services import records, timeline
from postroom.services.records import RecordList, RecordQuery
from postroom.web.api.schemas import (
    ActivityListOut,
    ActivityOut,
    CompanyDetailOut,
    CompanyListOut,
    CompanyOut,
    PhoneIn,
    RecordIn,
    RecordListOut,
    RecordOut,
    RecordPatch,
    RecordRowOut,
)
from postroom.web.deps import CurrentUser, ReadSession, write

router = APIRouter(prefix="/api/v1", tags=["records"])
company_router = APIRouter(prefix="/api/v1", tags=["companies"])

Page = Annotated[int, Query(ge=1, description="from 1")]
PerPage = Annotated[int, Query(ge=1, le=records.MAX_PER_PAGE)]


def _list_out(found: RecordList) -> RecordListOut:
    return RecordListOut(
        items=[RecordRowOut.model_validate(r) for r in found.rows],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@router.get("/records", response_model=RecordListOut, summary="Search and list records")
def list_records(
    user: CurrentUser,
    session: ReadSession,
    q: Annotated[
        str | None, Query(description="name, email, phone, company or tag; accents ignored")
    ] = None,
    kind: Literal["candidate", "contact"] | None = None,
    tag: str | None = None,
    company_id: int | None = None,
    owner_id: int | None = None,
    sort: Literal["name", "last_contact"] = "name",
    page: Page = 1,
    per_page: PerPage = 50,
) -> RecordListOut:
    query = RecordQuery(
        text=q,
        kind=kind,
        tag=tag,
        company_id=company_id,
        owner_id=owner_id,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    return _list_out(records.list_records(session=session, query=query))


@router.post(
    "/records",
    response_model=RecordOut,
    status_code=201,
    summary="Add a record (duplicate check; past mail linked)",
    responses={
        200: {"model": RecordOut, "description": "merged into the record it duplicates"},
        409: {"description": "duplicates a record (on_duplicate=error)"},
    },
)
def create_record(
    user: CurrentUser, request: Request, body: RecordIn, response: Response
) -> RecordOut:
    draft = PersonDraft(
        name=body.name,
        kind=body.kind,
        emails=tuple(body.emails),
        phones=tuple(PhoneEntry(p.number, p.label) for p in body.phones),
        company=body.company,
        title=body.title,
        location=body.location,
        links=tuple(body.links),
        tags=tuple(body.tags),
        notes=body.notes,
        owner_email=body.owner_email,
    )
    with write(request) as session:
        outcome = records.create_record(
            session=session,
            draft=draft,
            on_duplicate=body.on_duplicate,
            default_region=body.default_region,
        )
    if not outcome.is_created:
        response.status_code = 200  # merged into an existing record
    response.headers["Location"] = f"/api/v1/records/{outcome.record.id}"
    return RecordOut.model_validate(outcome.record)


@router.get("/records/{record_id}", response_model=RecordOut, summary="One record")
def get_record(user: CurrentUser, session: ReadSession, record_id: int) -> RecordOut:
    return RecordOut.model_validate(records.get_record(session=session, record_id=record_id))


@router.patch("/records/{record_id}", response_model=RecordOut, summary="Change a record")
def update_record(
    user: CurrentUser, request: Request, record_id: int, body: RecordPatch
) -> RecordOut:
    with write(request) as session:
        now = records.get_record(session=session, record_id=record_id)
        primary = [e.address for e in now.emails if e.is_primary]
        current = RecordPatch(
            name=now.name,
            kind=now.kind,  # type: ignore[arg-type]
            emails=primary + [e.address for e in now.emails if not e.is_primary],
            phones=[PhoneIn(number=p.number, label=p.label) for p in now.phones],
            company=now.company.name if now.company else None,
            title=now.title,
            location=now.location,
            links=list(now.links),
            tags=list(now.tags),
            notes=now.notes,
            owner_email=now.owner.email if now.owner else None,
        )
        wanted = current.model_copy(update={k: getattr(body, k) for k in body.model_fields_set})
        draft = PersonDraft(
            name=wanted.name or "",
            kind=wanted.kind or now.kind,
            emails=tuple(wanted.emails or ()),
            phones=tuple(PhoneEntry(p.number, p.label) for p in wanted.phones or ()),
            company=wanted.company,
            title=wanted.title,
            location=wanted.location,
            links=tuple(wanted.links or ()),
            tags=tuple(wanted.tags or ()),
            notes=wanted.notes,
            owner_email=wanted.owner_email,
        )
        saved = records.update_record(
            session=session, record_id=record_id, draft=draft, default_region=body.default_region
        )
    return RecordOut.model_validate(saved)


@router.delete(
    "/records/{record_id}", status_code=204, summary="Remove a record and its activities"
)
def delete_record(user: CurrentUser, request: Request, record_id: int) -> Response:
    with write(request) as session:
        records.delete_record(session=session, record_id=record_id)
    return Response(status_code=204)


@router.get(
    "/records/{record_id}/activities",
    response_model=ActivityListOut,
    summary="A record's timeline, newest first",
)
def list_activities(
    user: CurrentUser,
    session: ReadSession,
    record_id: int,
    kind: Literal["email", "bounce"] | None = None,
    direction: Literal["received", "sent"] | None = None,
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=timeline.MAX_PER_PAGE)] = 25,
) -> ActivityListOut:
    found = timeline.get_timeline(
        session=session,
        record_id=record_id,
        kind=kind,
        direction=direction,
        page=page,
        per_page=per_page,
    )
    return ActivityListOut(
        items=[ActivityOut.of(e) for e in found.entries],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@router.get("/activities/{activity_id}", response_model=ActivityOut, summary="One activity")
def get_activity(user: CurrentUser, session: ReadSession, activity_id: int) -> ActivityOut:
    return ActivityOut.of(timeline.get_activity(session=session, activity_id=activity_id))


@company_router.get("/companies", response_model=CompanyListOut, summary="List companies")
def list_companies(
    user: CurrentUser,
    session: ReadSession,
    q: Annotated[str | None, Query(description="part of the name")] = None,
    page: Page = 1,
    per_page: PerPage = 50,
) -> CompanyListOut:
    found = records.list_companies(session=session, text=q, page=page, per_page=per_page)
    return CompanyListOut(
        items=[CompanyOut.model_validate(c) for c in found.rows],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@company_router.get(
    "/companies/{company_id}", response_model=CompanyDetailOut, summary="A company and its people"
)
def get_company(
    user: CurrentUser,
    session: ReadSession,
    company_id: int,
    page: Page = 1,
    per_page: PerPage = 50,
) -> CompanyDetailOut:
    found = records.get_company(
        session=session, company_id=company_id, page=page, per_page=per_page
    )
    company = found.company
    return CompanyDetailOut(
        id=company.id,
        name=company.name,
        domain=company.domain,
        people_count=company.people_count,
        people=_list_out(found.people),
    )
