"""Sign in, sign out, and the first admin (``/setup``, with the token ``serve`` printed)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from postroom.errors import PostroomError
from postroom.services import users
from postroom.web.deps import OptionalUser, RuntimeDep, write
from postroom.web.security import LoginThrottle
from postroom.web.templating import flash, render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another one."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _client(request: Request) -> str:
    return f"client:{request.client.host if request.client else '?'}"


def start_session(request: Request, user: users.UserView) -> None:
    """A fresh session for ``user`` (a new CSRF token: nothing from before sign-in carries)."""
    request.session.clear()
    request.session.update(uid=user.id, epoch=user.auth_epoch)
    request.state.user = user


@router.get("/login")
def login_page(
    request: Request, user: OptionalUser, runtime: RuntimeDep, next: str | None = None
) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    with runtime.read() as session:
        if users.needs_first_admin(session=session):
            return RedirectResponse("/setup", status_code=303)
    return render(request, "auth/login.html", {"next": _safe_next(next), "email": ""})


@router.post("/login")
def login(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    throttle: LoginThrottle = request.app.state.throttle
    keys = (f"email:{email.strip().lower()}", _client(request))
    wait = throttle.wait_seconds(*keys)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return render(
            request,
            "auth/login.html",
            {
                "next": _safe_next(next),
                "email": email,
                "error": f"Too many failed sign-ins. Try again in {minutes} minute"
                f"{'' if minutes == 1 else 's'}, or ask an admin to reset your password.",
            },
            status_code=429,
        )
    with runtime.write() as session:
        user = users.authenticate(session=session, email=email, password=password)
    if user is None:
        throttle.fail(*keys)
        return render(
            request,
            "auth/login.html",
            {
                "next": _safe_next(next),
                "email": email,
                "error": "That email and password do not match an active user.",
            },
            status_code=401,
        )
    throttle.succeed(*keys)
    start_session(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    flash(request, "You are signed out.")
    return RedirectResponse("/login", status_code=303)


def _setup_allowed(request: Request, runtime: RuntimeDep) -> bool:
    with runtime.read() as session:
        return users.needs_first_admin(session=session)


@router.get("/setup")
def setup_page(request: Request, runtime: RuntimeDep, token: str = "") -> Response:
    if not _setup_allowed(request, runtime):
        return RedirectResponse("/login", status_code=303)
    return render(request, "auth/setup.html", {"token": token, "form": {}})


@router.post("/setup")
def setup(
    request: Request,
    runtime: RuntimeDep,
    name: Annotated[str, Form()],
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    password_again: Annotated[str, Form()],
    token: Annotated[str, Form()] = "",
) -> Response:
    if not _setup_allowed(request, runtime):
        return RedirectResponse("/login", status_code=303)
    form = {"name": name, "email": email}
    expected: str | None = request.app.state.setup_token
    if not expected or not secrets.compare_digest(token.strip().encode(), expected.encode()):
        error = (
            "The setup token is not right. Copy it from the terminal where `postroom serve` "
            "runs, or create the admin there with `postroom user add --admin`."
        )
        return render(
            request,
            "auth/setup.html",
            {"token": token, "form": form, "error": error},
            status_code=403,
        )
    if password != password_again:
        return render(
            request,
            "auth/setup.html",
            {"token": token, "form": form, "error": "The two passwords differ."},
            status_code=422,
        )
    try:
        with write(request) as session:
            user = users.create_first_admin(
                session=session, email=email, password=password, name=name
            )
    except PostroomError as exc:
        return render(
            request,
            "auth/setup.html",
            {"token": token, "form": form, "error": str(exc)},
            status_code=422,
        )
    request.app.state.setup_token = None  # used once
    start_session(request, user)
    flash(request, f"Welcome, {user.display_name}. You are the admin of this Postroom.")
    return RedirectResponse("/", status_code=303)
