"""``/api/v1/accounts``: the signed-in user's mail accounts, their health, add, change, remove.

The same services as the pages (``services.accounts``, ``services.health``,
``services.connection_test``); the same rule: an account of another user is 404 (docs/web.md).
The password goes in (``POST``, ``PATCH``) and never comes back out, in no form (no mask, no
length). ``POST`` and a ``PATCH`` of the server or login test the settings on the server first
unless ``"test": false``; a failed test is a 422 problem with the steps. The SMTP server
(``smtp_host``, ``smtp_port``, ``smtp_tls``; null host: the account cannot send) is tested
with the same login; in a ``PATCH``, ``"smtp_host": ""`` removes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.responses import Response

from postroom.domain.accounts import TlsMode
from postroom.services import accounts, connection_test, health
from postroom.services.accounts import Visibility
from postroom.services.connection_test import ConnectionReport
from postroom.services.secrets import Secret, load_or_create_key
from postroom.web.deps import CurrentUser, ReadSession, get_runtime, write
from postroom.web.errors import problem

router = APIRouter(prefix="/api/v1", tags=["accounts"])

TlsName = Literal["implicit", "starttls", "plain"]
VisibilityName = Literal["everything", "subject", "metadata"]


class Account(BaseModel):
    """A mail account's settings; never its password."""

    id: int
    label: str
    imap_host: str
    imap_port: int
    tls: TlsName
    smtp_host: str | None
    """The SMTP server the account sends through, with the same login; null: it cannot send."""
    smtp_port: int | None
    smtp_tls: TlsName | None
    username: str
    own_addresses: list[str]
    visibility: VisibilityName
    is_enabled: bool
    needs_new_password: bool
    created_at: datetime


class Progress(BaseModel):
    done: int
    total: int
    percent: int


class FolderHealth(BaseModel):
    id: int
    name: str
    role: str | None
    is_tracked: bool
    status: Literal["new", "backfilling", "live", "resync", "behind", "not_synced"]
    status_text: str
    on_server: int | None
    synced: int
    matched: int
    quarantined: int
    behind: int
    first_sync: Progress | None
    last_success_at: datetime | None
    last_error: str | None


class QuarantinedMessage(BaseModel):
    folder: str | None
    uid: int | None
    error: str
    attempts: int
    last_attempt_at: datetime


class AccountHealth(BaseModel):
    account_id: int
    label: str
    state: Literal["ok", "retrying", "needs_password", "never_synced", "first_sync"]
    state_text: str
    state_label: str
    """``state_text`` short enough for a badge (the figures are in ``first_sync``)."""
    retry_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_advice: str | None
    first_sync: Progress | None
    settling: bool
    """True while a folder is not live yet (worth polling)."""
    folders: list[FolderHealth]
    quarantined: list[QuarantinedMessage]
    quarantined_total: int


class TestStep(BaseModel):
    __test__ = False  # not a pytest class

    step: Literal[
        "dns",
        "tcp",
        "tls",
        "login",
        "inbox",
        "sent",
        "smtp_dns",
        "smtp_tcp",
        "smtp_tls",
        "smtp_login",
    ]
    title: str
    outcome: Literal["ok", "failed", "warning", "skipped"]
    message: str
    advice: str | None


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = ""
    imap_host: str
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    tls: TlsName = "implicit"
    username: str
    password: SecretStr
    own_addresses: list[str] = []
    visibility: VisibilityName = "everything"
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_tls: TlsName | None = None
    """Default: implicit TLS, unless ``smtp_port`` is 587 or 25 (STARTTLS)."""
    test: bool = True
    """Test the settings on the server first and refuse them when the test fails."""


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = None
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    tls: TlsName | None = None
    username: str | None = None
    password: SecretStr | None = None
    own_addresses: list[str] | None = None
    visibility: VisibilityName | None = None
    smtp_host: str | None = None
    """``""`` removes the SMTP server (the account can no longer send)."""
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_tls: TlsName | None = None
    test: bool = True


def _account(view: accounts.AccountView) -> Account:
    return Account(
        id=view.id,
        label=view.label,
        imap_host=view.imap_host,
        imap_port=view.imap_port,
        tls=view.tls.value,
        smtp_host=view.smtp_host,
        smtp_port=view.smtp_port,
        smtp_tls=view.smtp_tls.value if view.smtp_tls is not None else None,
        username=view.username,
        own_addresses=list(view.own_addresses),
        visibility=view.visibility.value,
        is_enabled=view.is_enabled,
        needs_new_password=view.needs_reauth,
        created_at=view.created_at,
    )


def _progress(value: health.Progress | None) -> Progress | None:
    if value is None:
        return None
    return Progress(done=value.done, total=value.total, percent=value.percent)


def health_model(found: health.AccountHealth) -> AccountHealth:
    return AccountHealth(
        account_id=found.account_id,
        label=found.label,
        state=found.state.value,
        state_text=found.state_text,
        state_label=found.state_label,
        retry_at=found.retry_at,
        last_success_at=found.last_success_at,
        last_error=found.last_error,
        last_error_advice=found.last_error_advice,
        first_sync=_progress(found.first_sync),
        settling=found.is_settling,
        folders=[
            FolderHealth(
                id=f.id,
                name=f.name,
                role=f.role,
                is_tracked=f.is_tracked,
                status=f.status.value,
                status_text=f.status_text,
                on_server=f.on_server,
                synced=f.synced,
                matched=f.matched,
                quarantined=f.quarantined,
                behind=f.behind,
                first_sync=_progress(f.progress),
                last_success_at=f.last_success_at,
                last_error=f.last_error,
            )
            for f in found.folders
        ],
        quarantined=[
            QuarantinedMessage(
                folder=q.folder,
                uid=q.uid,
                error=q.error,
                attempts=q.attempts,
                last_attempt_at=q.last_attempt_at,
            )
            for q in found.quarantined
        ],
        quarantined_total=found.quarantined_total,
    )


class ConnectionTest(BaseModel):
    ok: bool
    steps: list[TestStep]
    extensions: list[str]
    """What the server offers of IDLE, QRESYNC, CONDSTORE, ESEARCH, SPECIAL-USE."""


def _steps(report: ConnectionReport) -> list[TestStep]:
    return [
        TestStep(
            step=s.step.value,
            title=s.title,
            outcome=s.outcome.value,
            message=s.message,
            advice=s.advice,
        )
        for s in report.steps
    ]


def _failed_test(report: ConnectionReport) -> Response:
    failed = report.failed
    assert failed is not None
    return problem(
        422,
        f"the connection test failed at {failed.title}: {failed.message}",
        failed.advice,
        steps=[step.model_dump() for step in _steps(report)],
    )


@router.get("/accounts", response_model=list[Account], summary="Your mail accounts")
def list_accounts(user: CurrentUser, session: ReadSession) -> list[Account]:
    return [_account(v) for v in accounts.list_account_views(session=session, owner_id=user.id)]


@router.get("/accounts/{account_id}", response_model=Account, summary="One of your accounts")
def get_account(account_id: int, user: CurrentUser, session: ReadSession) -> Account:
    return _account(
        accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    )


@router.get(
    "/accounts/{account_id}/health",
    response_model=AccountHealth,
    summary="The account's state, folders, first-sync progress and quarantined messages",
)
def get_health(account_id: int, user: CurrentUser, session: ReadSession) -> AccountHealth:
    found = health.get_account_health(session=session, account_id=account_id, owner_id=user.id)
    return health_model(found)


@router.post(
    "/accounts/{account_id}/test",
    response_model=ConnectionTest,
    summary="Test a saved account: DNS, connection, TLS certificate, login, INBOX and Sent;"
    " then DNS, connection, TLS certificate and login of its SMTP server",
)
def test_account(account_id: int, request: Request, user: CurrentUser) -> ConnectionTest:
    runtime = get_runtime(request)
    with runtime.read() as session:
        login = connection_test.saved_login(
            session=session,
            keyring=load_or_create_key(runtime.settings),
            settings=runtime.settings,
            account_id=account_id,
            owner_id=user.id,
        )
    report = connection_test.try_saved_login(login)
    return ConnectionTest(ok=report.ok, steps=_steps(report), extensions=list(report.extensions))


@router.post(
    "/accounts",
    response_model=Account,
    status_code=201,
    summary="Add a mail account (tested on the server first)",
    responses={422: {"description": "bad settings, or the connection test failed"}},
)
def create_account(body: AccountCreate, request: Request, user: CurrentUser) -> Response | Account:
    runtime = get_runtime(request)
    password = Secret(body.password.get_secret_value())
    tls = TlsMode(body.tls)
    smtp_tls = TlsMode(body.smtp_tls) if body.smtp_tls is not None else None
    if body.test:
        report = connection_test.try_new_server(
            settings=runtime.settings,
            imap_host=body.imap_host,
            imap_port=body.imap_port,
            tls=tls,
            username=body.username,
            password=password,
            smtp_host=body.smtp_host,
            smtp_port=body.smtp_port,
            smtp_tls=smtp_tls,
        )
        if not report.ok:
            return _failed_test(report)
    with write(request) as session:
        added = accounts.add_account(
            session=session,
            keyring=load_or_create_key(runtime.settings),
            user_email=user.email,
            label=body.label or body.username,
            imap_host=body.imap_host,
            imap_port=body.imap_port,
            tls=tls,
            username=body.username,
            password=password,
            own_addresses=body.own_addresses,
            allow_plaintext=TlsMode.PLAIN in (tls, smtp_tls),
            smtp_host=body.smtp_host,
            smtp_port=body.smtp_port,
            smtp_tls=smtp_tls,
            visibility=Visibility(body.visibility),
        )
        return _account(accounts.account_view(added))


@router.patch(
    "/accounts/{account_id}",
    response_model=Account,
    summary="Change an account (a new server or login is tested first)",
)
def update_account(
    account_id: int, body: AccountPatch, request: Request, user: CurrentUser
) -> Response | Account:
    runtime = get_runtime(request)
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        current = accounts.get_account_view(
            session=session, account_id=account_id, owner_id=user.id
        )
        login = connection_test.saved_login(
            session=session,
            keyring=keyring,
            settings=runtime.settings,
            account_id=account_id,
            owner_id=user.id,
        )
    password = Secret(body.password.get_secret_value()) if body.password is not None else None
    tls = TlsMode(body.tls) if body.tls is not None else None
    smtp_tls = TlsMode(body.smtp_tls) if body.smtp_tls is not None else None
    allow_plaintext = TlsMode.PLAIN in (tls, smtp_tls)
    login_changed = any(
        v is not None for v in (body.imap_host, body.imap_port, body.tls, body.username, password)
    )
    smtp_changed = any(v is not None for v in (body.smtp_host, body.smtp_port, smtp_tls))
    smtp = (
        accounts.changed_smtp_server(
            current=current.smtp,
            smtp_host=body.smtp_host,
            smtp_port=body.smtp_port,
            smtp_tls=smtp_tls,
            allow_plaintext=allow_plaintext,
        )
        if smtp_changed
        else current.smtp
    )
    if body.test and (login_changed or (smtp_changed and smtp is not None)):
        report = connection_test.try_new_server(
            settings=runtime.settings,
            imap_host=body.imap_host or current.imap_host,
            imap_port=body.imap_port
            if body.imap_port is not None
            else (current.imap_port if tls in (None, current.tls) else None),
            tls=tls or current.tls,
            username=body.username or current.username,
            password=password or login.password,
            smtp_host=smtp.host if smtp else None,
            smtp_port=smtp.port if smtp else None,
            smtp_tls=smtp.tls if smtp else None,
        )
        if not report.ok:
            return _failed_test(report)
    with write(request) as session:
        return _account(
            accounts.update_account(
                session=session,
                keyring=keyring,
                account_id=account_id,
                owner_id=user.id,
                label=body.label,
                imap_host=body.imap_host,
                imap_port=body.imap_port,
                tls=tls,
                username=body.username,
                password=password,
                own_addresses=body.own_addresses,
                visibility=Visibility(body.visibility) if body.visibility else None,
                allow_plaintext=allow_plaintext,
                smtp_host=body.smtp_host,
                smtp_port=body.smtp_port,
                smtp_tls=smtp_tls,
            )
        )


@router.delete(
    "/accounts/{account_id}",
    status_code=204,
    summary="Remove an account (the emails it logged stay on the records)",
)
def delete_account(account_id: int, request: Request, user: CurrentUser) -> Response:
    with write(request) as session:
        accounts.remove_account(session=session, account_id=account_id, owner_id=user.id)
    return Response(status_code=204)
