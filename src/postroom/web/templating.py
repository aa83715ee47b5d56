"""Jinja2 for the pages: autoescaped templates, dates in the user's time zone, flash messages.

Filters (see ``make_templates``):

* ``localtime(user)``: ``6 Dec 2026, 14:05 CET``: the user's zone, labelled.
* ``localdate(user)``: ``6 Dec 2026``.
* ``shortdate(user)``: ``14:05`` today, ``6 Dec`` this year, else ``6 Dec 2025`` (lists).
* ``ago``: ``3 days ago``.
* ``filesize``: ``1.2 MB``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from postroom import __version__
from postroom.services.users import UserView
from postroom.web.security import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _zone(user: UserView | None) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone if user is not None else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def localtime(value: datetime | None, user: UserView | None = None) -> str:
    if value is None:
        return "undated"
    local = value.astimezone(_zone(user))
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def localdate(value: datetime | None, user: UserView | None = None) -> str:
    if value is None:
        return ""
    local = value.astimezone(_zone(user))
    return f"{local.day} {local:%b %Y}"


def shortdate(
    value: datetime | None, user: UserView | None = None, now: datetime | None = None
) -> str:
    """The date as a mail list shows it: the time today, the day this year, else the date.

    >>> when = datetime(2026, 12, 6, 13, 5, tzinfo=UTC)
    >>> [shortdate(when, now=datetime(2026, m, d, 20, tzinfo=UTC)) for m, d in ((12, 6), (12, 9))]
    ['13:05', '6 Dec']
    >>> shortdate(when, now=datetime(2027, 1, 2, tzinfo=UTC))
    '6 Dec 2026'
    """
    if value is None:
        return ""
    zone = _zone(user)
    local = value.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if local.year == today.year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    for unit, size in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


def filesize(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 record``, ``2 records``, ``1,204 activities``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def flash(request: Request, message: str, kind: str = "success") -> None:
    """A message shown once, on the next page (after a redirect)."""
    request.session.setdefault("flash", []).append([kind, message])


def _take_flashes(request: Request) -> list[list[str]]:
    messages: list[list[str]] = request.session.pop("flash", [])
    return messages


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(
        localtime=localtime, localdate=localdate, shortdate=shortdate, ago=ago, filesize=filesize
    )
    env.globals.update(plural=plural, version=__version__)
    return templates


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render page ``name`` with the signed-in user, the CSRF token and flashes in context."""
    templates: Jinja2Templates = request.app.state.templates
    values: dict[str, Any] = {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf_token(request.session),
        "flashes": _take_flashes(request),
        "path": request.url.path,
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code)
