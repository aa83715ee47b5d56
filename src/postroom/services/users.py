"""Use cases for Postroom users: add, sign in, change a password, list; the first admin.

Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106's
second recommended parameters); a hash made with older parameters is replaced at the next
sign-in. The password itself is never stored, logged or returned.

``auth_epoch`` grows at every password change and deactivation: a session made before it no
longer counts (``get_signed_in_user``).

Every function takes keyword-only ``*, session`` and never commits: the caller owns the
transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postroom.errors import Conflict, InputError, NotFound
from postroom.store import records as record_store
from postroom.store.models import ApiToken, UserAccount, UserRole, utcnow

MIN_PASSWORD = 10
"""Characters a password needs at least (NIST SP 800-63B asks for 8; we ask a little more)."""

MAX_PASSWORD = 1024
"""Characters a password may have at most: argon2 of a megabyte of text is a cheap attack."""

TOKEN_PREFIX = "pr_"  # noqa: S105 (a prefix, not a secret)
"""Personal API tokens start with it, so a leaked one is easy to recognise in a scan."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("a password nobody has, to spend the same time on unknown users")


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the faces (CLI, web, API) see one: never the password hash."""

    id: int
    email: str
    name: str
    role: UserRole
    is_active: bool
    has_password: bool
    auth_epoch: int
    time_zone: str
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    @property
    def display_name(self) -> str:
        return self.name or self.email


def _view(user: UserAccount) -> UserView:
    return UserView(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        is_active=user.is_active,
        has_password=user.password_hash is not None,
        auth_epoch=user.auth_epoch,
        time_zone=user.time_zone,
        created_at=user.created_at,
    )


def check_password(password: str) -> str:
    """``password`` when it is acceptable; raises ``InputError`` saying why not."""
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"the password is too short ({len(password)} characters)",
            advice=f"use at least {MIN_PASSWORD} characters; a few words make a good one",
        )
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password is longer than {MAX_PASSWORD} characters")
    if not password.strip():
        raise InputError("the password is only spaces")
    return password


def check_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone (``Europe/London``); raises ``InputError``."""
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"{name!r} is not a time zone", advice="use an IANA name such as Europe/London"
        ) from exc
    return name


def list_time_zones() -> list[str]:
    """Every IANA time zone name, sorted (for a picker)."""
    return sorted(available_timezones())


def _role(value: UserRole | str) -> UserRole:
    try:
        return value if isinstance(value, UserRole) else UserRole(value)
    except ValueError as exc:
        raise InputError(f"role {value!r}", advice="use admin or user") from exc


def add_user(
    *,
    session: Session,
    email: str,
    password: str | None,
    name: str = "",
    role: UserRole | str = UserRole.USER,
) -> UserView:
    """Add a user who can sign in (``password`` None: one who cannot yet).

    A user who exists without a password (made for a mail account) gets the password, name and
    role instead. Raises ``Conflict`` when the address already signs in, ``InputError`` for a
    bad address or password.
    """
    checked = None if password is None else check_password(password)
    existing = record_store.get_user_by_email(session=session, email=email)
    if existing is not None and existing.password_hash is not None:
        raise Conflict(
            f"user {existing.email} already exists",
            advice="change their password with `postroom user password` instead",
        )
    user = existing or record_store.find_or_create_user(session=session, email=email, name=name)
    if name.strip():
        user.name = name.strip()
    user.role = _role(role)
    user.is_active = True
    if checked is not None:
        user.password_hash = _hasher.hash(checked)
        user.auth_epoch += 1
    session.flush()
    return _view(user)


def set_password(*, session: Session, user_id: int, password: str) -> UserView:
    """Give user ``user_id`` a new password; every session made before it ends.

    Raises ``NotFound`` for an unknown id, ``InputError`` for an unacceptable password.
    """
    checked = check_password(password)
    user = _get_or_raise(session, user_id)
    user.password_hash = _hasher.hash(checked)
    user.auth_epoch += 1
    session.flush()
    return _view(user)


def update_user(
    *,
    session: Session,
    user_id: int,
    name: str | None = None,
    time_zone: str | None = None,
    role: UserRole | str | None = None,
    is_active: bool | None = None,
) -> UserView:
    """Change a user's name, time zone, role or whether they may sign in.

    Raises ``NotFound``, ``InputError`` (a bad time zone or role), and ``Conflict`` when the
    change would leave the firm without an active admin who can sign in.
    """
    user = _get_or_raise(session, user_id)
    if name is not None:
        user.name = name.strip()[:200]
    if time_zone is not None:
        user.time_zone = check_time_zone(time_zone)
    new_role = user.role if role is None else _role(role)
    new_active = user.is_active if is_active is None else is_active
    if user.role is UserRole.ADMIN and (new_role is not UserRole.ADMIN or not new_active):
        others = session.scalar(
            select(func.count())
            .select_from(UserAccount)
            .where(
                UserAccount.role == UserRole.ADMIN,
                UserAccount.is_active.is_(True),
                UserAccount.password_hash.is_not(None),
                UserAccount.id != user.id,
            )
        )
        if not others:
            raise Conflict(
                f"{user.email} is the last admin", advice="make another user an admin first"
            )
    if new_active != user.is_active and not new_active:
        user.auth_epoch += 1
    user.role, user.is_active = new_role, new_active
    session.flush()
    return _view(user)


def authenticate(*, session: Session, email: str, password: str) -> UserView | None:
    """The user whose address and password these are, or None (unknown, wrong, inactive).

    An unknown address costs the same argon2 work as a known one, so timing does not tell
    which addresses are users. A hash made with older parameters is renewed.
    """
    try:
        user = record_store.get_user_by_email(session=session, email=email)
    except InputError:
        user = None
    if len(password) > MAX_PASSWORD:
        return None
    encoded = user.password_hash if user is not None else None
    try:
        _hasher.verify(encoded or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or encoded is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(encoded):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return _view(user)


def get_user(*, session: Session, user_id: int) -> UserView | None:
    """User ``user_id``, or None."""
    user = session.get(UserAccount, user_id)
    return None if user is None else _view(user)


def get_signed_in_user(*, session: Session, user_id: int, auth_epoch: int) -> UserView | None:
    """The user a session names, when it still counts: active, with a password, and made
    since the last password change; else None."""
    user = session.get(UserAccount, user_id)
    if user is None or not user.is_active or user.password_hash is None:
        return None
    if user.auth_epoch != auth_epoch:
        return None
    return _view(user)


def get_user_by_email(*, session: Session, email: str) -> UserView | None:
    """The user with address ``email``, or None; ``InputError`` when it is no address."""
    user = record_store.get_user_by_email(session=session, email=email)
    return None if user is None else _view(user)


def list_users(*, session: Session) -> list[UserView]:
    """Every user, by address."""
    return [_view(u) for u in session.scalars(select(UserAccount).order_by(UserAccount.email))]


def needs_first_admin(*, session: Session) -> bool:
    """True while no active admin can sign in: the first visit then creates one."""
    found = session.scalar(
        select(UserAccount.id)
        .where(
            UserAccount.role == UserRole.ADMIN,
            UserAccount.is_active.is_(True),
            UserAccount.password_hash.is_not(None),
        )
        .limit(1)
    )
    return found is None


def create_first_admin(*, session: Session, email: str, password: str, name: str = "") -> UserView:
    """The first admin, on a database where no admin can sign in yet.

    Raises ``Conflict`` once an admin exists (a second visitor cannot take the firm).
    """
    if not needs_first_admin(session=session):
        raise Conflict("Postroom already has an admin", advice="sign in instead")
    return add_user(session=session, email=email, password=password, name=name, role="admin")


def new_setup_token() -> str:
    """A one-time token that proves the person creating the first admin runs the server."""
    return secrets.token_urlsafe(24)


def _get_or_raise(session: Session, user_id: int) -> UserAccount:
    user = session.get(UserAccount, user_id)
    if user is None:
        raise NotFound(f"user #{user_id} does not exist")
    return user


# --- personal API tokens --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiTokenView:
    """A token as listed: its name and dates, never the token."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(*, session: Session, user_id: int, name: str) -> tuple[ApiTokenView, str]:
    """A new token for user ``user_id``: its view, and the token itself (shown only now)."""
    name = " ".join(name.split())[:200]
    if not name:
        raise InputError("a token needs a name", advice="say what it is for, e.g. 'Zapier'")
    _get_or_raise(session, user_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, name=name, token_hash=_token_hash(token))
    session.add(row)
    session.flush()
    return ApiTokenView(row.id, row.name, row.created_at, None), token


def list_api_tokens(*, session: Session, user_id: int) -> list[ApiTokenView]:
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    )
    return [ApiTokenView(r.id, r.name, r.created_at, r.last_used_at) for r in rows]


def revoke_api_token(*, session: Session, user_id: int, token_id: int) -> None:
    """Delete token ``token_id`` of user ``user_id``; ``NotFound`` when that user has none
    such (another user's token is not found either)."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"API token #{token_id} does not exist")
    session.delete(row)


def get_user_by_api_token(*, session: Session, token: str) -> UserView | None:
    """The active user a token belongs to, or None; notes when it was last used."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    user = session.get(UserAccount, row.user_id)
    if user is None or not user.is_active:
        return None
    row.last_used_at = utcnow()
    return _view(user)
