"""The home page: what is in Postroom, and what to do next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from postroom.services.overview import get_overview
from postroom.web.deps import CurrentUser, ReadSession
from postroom.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/")
def home(request: Request, user: CurrentUser, session: ReadSession) -> Response:
    overview = get_overview(session=session, user_id=user.id)
    return render(request, "home.html", {"overview": overview})
