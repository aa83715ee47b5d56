"""Companies: the list (name, how many people, search) and a company with its people.

Pages call ``services.records`` only (docs/web.md); the search and paging stay in the URL.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from postroom.services import records
from postroom.web.deps import CurrentUser, ReadSession
from postroom.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

PER_PAGE = 50


@router.get("/companies")
def list_page(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    found = records.list_companies(
        session=session, text=q.strip() or None, page=page, per_page=PER_PAGE
    )

    def url(page: int = 1) -> str:
        values = {k: v for k, v in {"q": q.strip(), "page": page}.items() if v not in ("", 1)}
        return "/companies" + (f"?{urlencode(values)}" if values else "")

    return render(request, "companies/list.html", {"found": found, "q": q, "url": url})


@router.get("/companies/{company_id}")
def company_page(
    request: Request,
    user: CurrentUser,
    session: ReadSession,
    company_id: int,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    company = records.get_company(
        session=session, company_id=company_id, page=page, per_page=PER_PAGE
    )

    def url(page: int = 1) -> str:
        return f"/companies/{company_id}" + (f"?page={page}" if page != 1 else "")

    return render(request, "companies/detail.html", {"detail": company, "url": url})
