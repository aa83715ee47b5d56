"""``/settings/privacy`` (admins): the firm's internal domains and the private list
(docs/concepts.md, "Privacy and visibility"; ``services.accounts``).

Internal domains are the firm's own: their addresses are colleagues, never contacts. Mail to,
from or mentioning an entry of the private list is never logged. A value a user gets wrong
re-renders the page with the message and the value typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from postroom.errors import PostroomError
from postroom.services import accounts
from postroom.web.deps import AdminUser, get_runtime, write
from postroom.web.templating import flash, render

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE = "/settings/privacy"


def _page(request: Request, *, status_code: int = 200, **values: Any) -> Response:
    with get_runtime(request).read() as session:
        domains = accounts.list_internal_domains(session=session)
        private = [(e.kind.value, e.value) for e in accounts.list_private_entries(session=session)]
    return render(
        request,
        "privacy/privacy.html",
        {"domains": domains, "private": private, **values},
        status_code=status_code,
    )


@router.get(PAGE)
def privacy_page(request: Request, admin: AdminUser) -> Response:
    return _page(request)


@router.post(PAGE + "/domains")
def add_domain(request: Request, admin: AdminUser, domain: Annotated[str, Form()] = "") -> Response:
    try:
        with write(request) as session:
            added = accounts.add_internal_domain(session=session, domain=domain)
    except PostroomError as exc:
        return _page(request, domain_error=exc, domain_value=domain, status_code=422)
    flash(request, f"{added} is an internal domain: its addresses are colleagues.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/domains/remove")
def remove_domain(request: Request, admin: AdminUser, domain: Annotated[str, Form()]) -> Response:
    with write(request) as session:
        accounts.remove_internal_domain(session=session, domain=domain)
    flash(request, f"{domain} is no longer an internal domain.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/private")
def add_private(request: Request, admin: AdminUser, value: Annotated[str, Form()] = "") -> Response:
    try:
        with write(request) as session:
            entry = accounts.add_private_entry(session=session, value=value)
            shown = entry.value
    except PostroomError as exc:
        return _page(request, private_error=exc, private_value=value, status_code=422)
    flash(request, f"{shown} is on the private list: mail with it is never logged from now on.")
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/private/remove")
def remove_private(request: Request, admin: AdminUser, value: Annotated[str, Form()]) -> Response:
    with write(request) as session:
        accounts.remove_private_entry(session=session, value=value)
    flash(request, f"{value} is off the private list.")
    return RedirectResponse(PAGE, status_code=303)
