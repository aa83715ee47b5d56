"""What routes depend on: the runtime, a reading session, the signed-in user, CSRF checks.

Routes that write open their own unit of work with ``write(request)`` and commit before they
answer (a redirect then shows what was saved). Reads use ``ReadSession``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from postroom.services import users
from postroom.services.runtime import Runtime
from postroom.services.users import UserView
from postroom.web.security import CSRF_FIELD, CSRF_HEADER, is_csrf_valid

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No valid session or token: pages redirect to the sign-in page, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but not allowed (an admin page for a user): 403."""


class CsrfFailed(Exception):
    """A change that rides on the session cookie came without its CSRF token: 403."""


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.read() as session:
        yield session


ReadSession = Annotated[Session, Depends(read_session)]


@contextmanager
def write(request: Request) -> Iterator[Session]:
    """One unit of work for a change, committed when the block ends."""
    with get_runtime(request).write() as session:
        yield session


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def optional_user(request: Request, runtime: RuntimeDep) -> UserView | None:
    """The user of the API token or of the session cookie, or None."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = bearer_token(request)
    user: UserView | None = None
    if token is not None:
        with runtime.write() as session:  # notes the token's last use
            user = users.get_user_by_api_token(session=session, token=token)
        if user is None:
            raise SignInRequired("the API token is unknown or revoked")
    else:
        user_id, epoch = request.session.get("uid"), request.session.get("epoch")
        if isinstance(user_id, int) and isinstance(epoch, int):
            with runtime.read() as session:
                user = users.get_signed_in_user(session=session, user_id=user_id, auth_epoch=epoch)
            if user is None:
                request.session.clear()
    request.state.user = user
    return user


def current_user(user: Annotated[UserView | None, Depends(optional_user)]) -> UserView:
    if user is None:
        raise SignInRequired("sign in first")
    return user


def admin_user(user: Annotated[UserView, Depends(current_user)]) -> UserView:
    if not user.is_admin:
        raise Forbidden("only an admin may do this")
    return user


CurrentUser = Annotated[UserView, Depends(current_user)]
AdminUser = Annotated[UserView, Depends(admin_user)]
OptionalUser = Annotated[UserView | None, Depends(optional_user)]


async def verify_csrf(request: Request) -> None:
    """Every change riding on the session cookie must carry the session's CSRF token.

    Applied to the whole app, so no form can forget it. Bearer-token requests carry no
    ambient credential and are exempt.
    """
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not is_csrf_valid(request.session, given):
        raise CsrfFailed("the form has expired or did not come from this site")
