"""Settings: your profile (name, time zone, password) and, for admins, the firm's users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from postroom.errors import PostroomError
from postroom.services import users
from postroom.web.deps import AdminUser, CurrentUser, ReadSession, write
from postroom.web.pages.auth import start_session
from postroom.web.templating import flash, render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _profile(
    request: Request, user: users.UserView, *, error: str | None = None, status_code: int = 200
) -> Response:
    return render(
        request,
        "settings/profile.html",
        {"time_zones": users.list_time_zones(), "error": error},
        status_code=status_code,
    )


@router.get("/settings")
def profile_page(request: Request, user: CurrentUser) -> Response:
    return _profile(request, user)


@router.post("/settings/profile")
def update_profile(
    request: Request,
    user: CurrentUser,
    name: Annotated[str, Form()],
    time_zone: Annotated[str, Form()],
) -> Response:
    try:
        with write(request) as session:
            updated = users.update_user(
                session=session, user_id=user.id, name=name, time_zone=time_zone
            )
    except PostroomError as exc:
        return _profile(request, user, error=str(exc), status_code=422)
    request.state.user = updated
    flash(request, "Your profile is saved.")
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/password")
def change_password(
    request: Request,
    user: CurrentUser,
    current: Annotated[str, Form()],
    password: Annotated[str, Form()],
    password_again: Annotated[str, Form()],
) -> Response:
    if password != password_again:
        return _profile(request, user, error="The two new passwords differ.", status_code=422)
    try:
        with write(request) as session:
            if users.authenticate(session=session, email=user.email, password=current) is None:
                return _profile(
                    request, user, error="Your current password is not right.", status_code=422
                )
            updated = users.set_password(session=session, user_id=user.id, password=password)
    except PostroomError as exc:
        return _profile(request, user, error=str(exc), status_code=422)
    start_session(request, updated)  # this session stays; every other one ends
    flash(request, "Your password is changed. Other sessions are signed out.")
    return RedirectResponse("/settings", status_code=303)


@router.get("/settings/users")
def users_page(request: Request, admin: AdminUser, session: ReadSession) -> Response:
    return render(
        request, "settings/users.html", {"people": users.list_users(session=session), "form": {}}
    )


@router.post("/settings/users")
def add_user(
    request: Request,
    admin: AdminUser,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "user",
) -> Response:
    try:
        with write(request) as session:
            added = users.add_user(
                session=session, email=email, password=password, name=name, role=role
            )
    except PostroomError as exc:
        with write(request) as session:
            people = users.list_users(session=session)
        return render(
            request,
            "settings/users.html",
            {
                "people": people,
                "error": str(exc),
                "form": {"email": email, "name": name, "role": role},
            },
            status_code=422,
        )
    flash(request, f"{added.email} can now sign in.")
    return RedirectResponse("/settings/users", status_code=303)


@router.post("/settings/users/{user_id}")
def update_user(
    request: Request,
    admin: AdminUser,
    user_id: int,
    role: Annotated[str, Form()],
    is_active: Annotated[bool, Form()] = False,
) -> Response:
    with write(request) as session:
        changed = users.update_user(
            session=session, user_id=user_id, role=role, is_active=is_active
        )
    flash(request, f"{changed.email} is saved.")
    return RedirectResponse("/settings/users", status_code=303)


@router.get("/settings/tokens")
def tokens_page(request: Request, user: CurrentUser, session: ReadSession) -> Response:
    return render(
        request,
        "settings/tokens.html",
        {"tokens": users.list_api_tokens(session=session, user_id=user.id), "new_token": None},
    )


@router.post("/settings/tokens")
def create_token(
    request: Request, user: CurrentUser, name: Annotated[str, Form()] = ""
) -> Response:
    try:
        with write(request) as session:
            view, token = users.create_api_token(session=session, user_id=user.id, name=name)
            tokens = users.list_api_tokens(session=session, user_id=user.id)
    except PostroomError as exc:
        with write(request) as session:
            tokens = users.list_api_tokens(session=session, user_id=user.id)
        return render(
            request,
            "settings/tokens.html",
            {"tokens": tokens, "new_token": None, "error": str(exc)},
            status_code=422,
        )
    # shown once, on this answer only: never stored, never in a redirect or the session
    return render(
        request,
        "settings/tokens.html",
        {"tokens": tokens, "new_token": token, "new_name": view.name},
        status_code=201,
    )


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, user: CurrentUser, token_id: int) -> Response:
    with write(request) as session:
        users.revoke_api_token(session=session, user_id=user.id, token_id=token_id)
    flash(request, "The token is revoked: integrations using it stop working now.")
    return RedirectResponse("/settings/tokens", status_code=303)
