"""One place that turns errors into answers: pages get a page, the API a problem body.

``NotFound`` 404, ``Conflict`` 409, ``InputError`` 422, a retryable error (a mail server that
cannot be asked now) 503, no sign-in 401 (pages: a redirect to the sign-in page), not
allowed 403. API answers are RFC 9457 problem details
(``application/problem+json``) with the error's ``advice`` when it has one.
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from postroom.errors import Conflict, InputError, NotFound, PostroomError
from postroom.web.deps import CsrfFailed, Forbidden, SignInRequired
from postroom.web.templating import render

API_PREFIX = "/api/"


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def problem(status: int, detail: str, advice: str | None = None, **extra: object) -> JSONResponse:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if advice:
        body["advice"] = advice
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="postroom"'} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _answer(request: Request, status: int, detail: str, advice: str | None = None) -> Response:
    if is_api(request):
        return problem(status, detail, advice)
    return render(
        request,
        "error.html",
        {"status": status, "title": HTTPStatus(status).phrase, "detail": detail, "advice": advice},
        status_code=status,
    )


def status_of(exc: PostroomError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InputError):
        return 422
    if exc.retryable:  # a server that cannot be asked now (the mail server)
        return 503
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if is_api(request):
            return problem(401, str(exc), "send Authorization: Bearer <your API token>")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _answer(request, 403, str(exc), "ask an admin of your firm")

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return _answer(request, 403, str(exc), "go back, reload the page and try again")

    @app.exception_handler(PostroomError)
    async def postroom_error(request: Request, exc: PostroomError) -> Response:
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        return _answer(request, status_of(exc), message, exc.advice or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in exc.errors()
        )
        if is_api(request):
            return problem(422, details or "the request is not valid")
        return _answer(request, 422, details or "the request is not valid")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and not is_api(request):
            detail = "there is no such page"
        response = _answer(request, exc.status_code, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
