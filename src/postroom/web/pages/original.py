"""Open original: an activity's email as it is now on the server, rendered safely.

``/activities/{id}/original`` is the page (headers, attachments, the body in a frame).
The body comes from its own URL, ``.../original/body``, shown in an ``<iframe sandbox>``
without ``allow-scripts`` or ``allow-same-origin``, and served with a Content-Security-Policy
of its own (``body_policy``) that lets it load nothing but our inline-image URLs, and remote
images only after "Show images" (``?images=1``, that one response). Attachments download
from ``.../original/parts/{part}`` as ``application/octet-stream`` attachments, never inline.
``{part}`` is the IMAP part number (``2``, ``1.2``; RFC 9051 section 6.4.5), the number
``activity.attachments`` keeps, so a record's timeline links its files here too; anything
else in its place (not digits and dots, too long) is a 404, as is a part the email lacks.

Inline ``cid:`` images load from ``.../original/inline/{part}?t=...``: the sandboxed frame has
an opaque origin, so the browser sends it no session cookie; the signed token names the
viewer instead (``services.original.sign_inline_image``). See docs/web.md.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, Response

from postroom.mail.filenames import display_filename
from postroom.services import original
from postroom.services.original import OriginalBody, PartContent
from postroom.web.deps import CurrentUser, RuntimeDep
from postroom.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
"""Links in the mail open in a new tab; nothing in the frame may run or reach our origin."""


def body_policy(origin: str, *, remote_images: bool) -> str:
    """The body frame's Content-Security-Policy: no script, no fetch, no form, no base; our
    origin's inline images (and any http/https image when the viewer asked for them)."""
    images = f"{origin} http: https:" if remote_images else origin
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "font-src 'none'; media-src 'none'; form-action 'none'; base-uri 'none'; "
        f"frame-ancestors 'self'; sandbox {FRAME_SANDBOX}"
    )


DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def origin_of(request: Request) -> str:
    """``http://host:port`` of the app, as the browser reached it."""
    return f"{request.url.scheme}://{request.url.netloc}"


@router.get("/activities/{activity_id}/original")
async def original_page(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    activity_id: int,
    images: Annotated[bool, Query()] = False,
) -> Response:
    view = await original.open_original(runtime=runtime, user_id=user.id, activity_id=activity_id)
    body_url = f"/activities/{activity_id}/original/body" + ("?images=1" if images else "")
    return render(
        request,
        "original/view.html",
        {
            "view": view,
            "states": original.OriginalState,
            "images": images,
            "body_url": body_url,
            "part_url": lambda number: f"/activities/{activity_id}/original/parts/{number}",
            "mail_urls": _mail_urls(view.mail_location),
            "frame_sandbox": FRAME_SANDBOX,
        },
    )


@router.get("/activities/{activity_id}/original/body")
async def original_body(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    activity_id: int,
    images: Annotated[bool, Query()] = False,
) -> Response:
    origin = origin_of(request)

    def image_url(number: str) -> str:
        token = original.sign_inline_image(
            runtime=runtime, user_id=user.id, activity_id=activity_id, number=number
        )
        return f"{origin}/activities/{activity_id}/original/inline/{number}?t={token}"

    body = await original.get_original_body(
        runtime=runtime,
        user_id=user.id,
        activity_id=activity_id,
        allow_remote_images=images,
        image_url=image_url,
    )
    return body_response(request, body, remote_images=images)


@router.get("/activities/{activity_id}/original/parts/{number}")
async def original_part(
    user: CurrentUser, runtime: RuntimeDep, activity_id: int, number: str
) -> Response:
    part = await original.get_original_part(
        runtime=runtime, user_id=user.id, activity_id=activity_id, number=number
    )
    return download_response(part)


@router.get("/activities/{activity_id}/original/inline/{number}")
async def original_inline_image(
    runtime: RuntimeDep,
    activity_id: int,
    number: str,
    t: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    part = await original.get_inline_image(
        runtime=runtime, token=t, activity_id=activity_id, number=number
    )
    return inline_image_response(part)


def content_disposition(kind: str, filename: str) -> str:
    """``attachment; filename="cv.pdf"; filename*=UTF-8''cv.pdf`` (RFC 6266): an ASCII
    fallback without quotes or controls, and the safe display name
    (``mail.filenames.display_filename``: no path, controls or bidirectional marks)
    percent-encoded."""
    filename = display_filename(filename, "download")
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    encoded = quote(filename, safe="")
    return f"{kind}; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{encoded}"


def body_response(request: Request, body: OriginalBody, *, remote_images: bool) -> Response:
    """The body frame's page: sanitised ``body`` under ``body_policy``, framed by us only."""
    # not render(): the frame must neither take the session's flash messages nor touch it
    templates: Jinja2Templates = request.app.state.templates
    response = HTMLResponse(templates.get_template("original/body.html").render(body=body))
    policy = body_policy(origin_of(request), remote_images=remote_images)
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def download_response(part: PartContent) -> Response:
    """A part to save, never to render: opaque type, ``attachment``, no sniffing."""
    return Response(
        part.data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": content_disposition("attachment", part.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": DOWNLOAD_POLICY,
            "Cache-Control": "private, no-store",
        },
    )


def inline_image_response(part: PartContent) -> Response:
    """An inline image for the body frame (a raster type the service checked)."""
    return Response(
        part.data,
        media_type=part.content_type,
        headers={
            "Content-Disposition": content_disposition("inline", part.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": DOWNLOAD_POLICY,
            "Cache-Control": "private, max-age=600",
        },
    )


def _mail_urls(location: tuple[int, str, int, int] | None) -> dict[str, str]:
    """The mail client's links for the email (open it there, reply): none when it was not
    read from a mailbox."""
    if location is None:
        return {}
    account_id, folder, uidvalidity, uid = location
    query = urlencode({"folder": folder, "v": uidvalidity, "uid": uid})
    return {
        "open": f"/mail/{account_id}/message?{query}",
        "reply": f"/mail/{account_id}/compose?mode=reply&{query}",
    }
