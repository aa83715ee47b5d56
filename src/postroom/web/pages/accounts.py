"""Mail accounts and their health (docs/concepts.md, "Mail accounts"; docs/web.md): the
list, add with "Test connection", the health page with live first-sync progress, a new
password, edit, remove, and which folders to sync.

Pages call ``services.accounts``, ``services.health``, ``services.connection_test`` and
``services.folders`` only (docs/web.md). Every route that takes an account id passes the
signed-in user as ``owner_id``: another user's account (an admin's too) is 404. The password
is never put back into a page: a form re-rendered after an error keeps every value but it.
The SMTP server (for sending) is part of the same form and test; it uses the same login.

Routes that talk to the IMAP server are plain ``def`` routes: FastAPI runs them in a worker
thread, where the service runs its own event loop for the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from postroom.domain.accounts import TlsMode
from postroom.errors import InputError, PostroomError
from postroom.services import accounts, connection_test, folders, health
from postroom.services.accounts import Visibility
from postroom.services.connection_test import ConnectionReport
from postroom.services.secrets import Secret, load_or_create_key
from postroom.services.syncing import AccountLogin
from postroom.web.deps import CurrentUser, ReadSession, get_runtime, write
from postroom.web.templating import flash, render

router = APIRouter(tags=["pages"], include_in_schema=False)

STATE_KINDS = {
    health.AccountState.OK: "success",
    health.AccountState.RETRYING: "warning",
    health.AccountState.NEEDS_PASSWORD: "danger",
    health.AccountState.FIRST_SYNC: "info",
    health.AccountState.NEVER_SYNCED: "neutral",
}
TLS_CHOICES = (
    (TlsMode.IMPLICIT, "Implicit TLS (port 993)"),
    (TlsMode.STARTTLS, "STARTTLS (port 143, TLS required)"),
    (TlsMode.PLAIN, "Plain text: only for a server on this machine"),
)
SMTP_TLS_CHOICES = (
    (TlsMode.IMPLICIT, "Implicit TLS (port 465)"),
    (TlsMode.STARTTLS, "STARTTLS (port 587, TLS required)"),
    (TlsMode.PLAIN, "Plain text (port 25): only for a server on this machine"),
)
"""The modes of ``TLS_CHOICES``, with the ports of SMTP."""
VISIBILITY_CHOICES = (
    (Visibility.EVERYTHING, "Everything", "subject, participants and the text"),
    (Visibility.SUBJECT, "Subject only", "subject and participants, no text"),
    (Visibility.METADATA, "Metadata only", "participants and date only"),
)


@dataclass
class AccountForm:
    """What the account form holds between tries: everything but the password."""

    label: str = ""
    addresses: str = ""
    imap_host: str = ""
    imap_port: str = ""
    tls: str = TlsMode.IMPLICIT.value
    username: str = ""
    visibility: str = Visibility.EVERYTHING.value
    smtp_host: str = ""
    smtp_port: str = ""
    smtp_tls: str = TlsMode.IMPLICIT.value
    signature: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def address_list(self) -> list[str]:
        return [a.strip() for a in self.addresses.replace(",", "\n").splitlines() if a.strip()]

    def tls_mode(self) -> TlsMode:
        try:
            return TlsMode(self.tls)
        except ValueError:
            raise InputError(f"TLS mode {self.tls!r} is not one of the choices") from None

    def smtp_tls_mode(self) -> TlsMode | None:
        """The SMTP TLS mode chosen; None without an SMTP server (the choice means nothing)."""
        if not self.smtp_host:
            return None
        try:
            return TlsMode(self.smtp_tls)
        except ValueError:
            raise InputError(f"SMTP TLS mode {self.smtp_tls!r} is not one of the choices") from None

    def smtp_port_number(self) -> int | None:
        """The SMTP port given; None for the usual one, or without an SMTP server."""
        return _port_number(self.smtp_port, "SMTP port") if self.smtp_host else None

    def allow_plaintext(self) -> bool:
        """Choosing plain text on the form is the explicit permission (loopback hosts only)."""
        return TlsMode.PLAIN in (self.tls_mode(), self.smtp_tls_mode())

    def visibility_choice(self) -> Visibility:
        try:
            return Visibility(self.visibility)
        except ValueError:
            raise InputError(f"visibility {self.visibility!r} is not one of the choices") from None

    def port(self) -> int | None:
        return _port_number(self.imap_port, "port")

    @classmethod
    def of(cls, view: accounts.AccountView) -> AccountForm:
        smtp = view.smtp
        return cls(
            label=view.label,
            addresses="\n".join(view.own_addresses),
            imap_host=view.imap_host,
            imap_port=str(view.imap_port),
            tls=view.tls.value,
            username=view.username,
            visibility=view.visibility.value,
            smtp_host=smtp.host if smtp else "",
            smtp_port=str(smtp.port) if smtp else "",
            smtp_tls=smtp.tls.value if smtp else TlsMode.IMPLICIT.value,
            signature=view.signature,
        )


def _port_number(value: str, what: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(
            f"{what} {text!r} is not a number", advice="leave it empty for the usual port"
        ) from None


FormText = Annotated[str, Form()]


def _posted_form(
    label: FormText = "",
    addresses: FormText = "",
    imap_host: FormText = "",
    imap_port: FormText = "",
    tls: FormText = TlsMode.IMPLICIT.value,
    username: FormText = "",
    visibility: FormText = Visibility.EVERYTHING.value,
    smtp_host: FormText = "",
    smtp_port: FormText = "",
    smtp_tls: FormText = TlsMode.IMPLICIT.value,
    signature: FormText = "",
) -> AccountForm:
    """The account form as posted to add or edit (a dependency of both), trimmed; the password
    is a parameter of the route, never part of the form."""
    return AccountForm(
        label=label.strip(),
        addresses=addresses,
        imap_host=imap_host.strip(),
        imap_port=imap_port.strip(),
        tls=tls,
        username=username.strip(),
        visibility=visibility,
        smtp_host=smtp_host.strip(),
        smtp_port=smtp_port.strip(),
        smtp_tls=smtp_tls,
        signature=signature,
    )


PostedForm = Annotated[AccountForm, Depends(_posted_form)]


def _state_kind(value: health.AccountState) -> str:
    return STATE_KINDS[value]


def _context(**values: Any) -> dict[str, Any]:
    return {
        "tls_choices": TLS_CHOICES,
        "smtp_tls_choices": SMTP_TLS_CHOICES,
        "visibility_choices": VISIBILITY_CHOICES,
        "state_kind": _state_kind,
        "Outcome": connection_test.Outcome,
        "FolderStatus": health.FolderStatus,
        **values,
    }


# --- the list ------------------------------------------------------------------------------


@router.get("/accounts")
def list_page(request: Request, user: CurrentUser, session: ReadSession) -> Response:
    found = health.list_account_health(session=session, owner_id=user.id)
    worker = health.worker_summary(session=session)
    return render(request, "accounts/list.html", _context(accounts=found, worker=worker))


# --- add -----------------------------------------------------------------------------------


def _new_page(
    request: Request,
    form: AccountForm,
    *,
    report: ConnectionReport | None = None,
    error: PostroomError | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/new.html",
        _context(form=form, report=report, error=error),
        status_code=status_code,
    )


@router.get("/accounts/new")
def new_page(request: Request, user: CurrentUser) -> Response:
    return _new_page(request, AccountForm(addresses=user.email, username=user.email))


@router.post("/accounts/new")
def add_account(
    request: Request,
    user: CurrentUser,
    form: PostedForm,
    password: FormText = "",
    action: FormText = "save",
) -> Response:
    """ "Test connection" (action=test) or "Save", which tests first and saves only when the
    test passes."""
    runtime = get_runtime(request)
    try:
        if not password:
            raise InputError("the password is empty", advice="give the mailbox's password")
        if not form.username:
            raise InputError("the username is empty", advice="usually your email address")
        report = connection_test.try_new_server(
            settings=runtime.settings,
            imap_host=form.imap_host,
            imap_port=form.port(),
            tls=form.tls_mode(),
            username=form.username,
            password=Secret(password),
            smtp_host=form.smtp_host,
            smtp_port=form.smtp_port_number(),
            smtp_tls=form.smtp_tls_mode(),
        )
        if action == "test" or not report.ok:
            return _new_page(
                request, form, report=report, status_code=200 if action == "test" else 422
            )
        keyring = load_or_create_key(runtime.settings)
        with write(request) as session:
            added = accounts.add_account(
                session=session,
                keyring=keyring,
                user_email=user.email,
                label=form.label or form.username,
                imap_host=form.imap_host,
                imap_port=form.port(),
                tls=form.tls_mode(),
                username=form.username,
                password=Secret(password),
                own_addresses=form.address_list(),
                allow_plaintext=form.allow_plaintext(),
                smtp_host=form.smtp_host,
                smtp_port=form.smtp_port_number(),
                smtp_tls=form.smtp_tls_mode(),
                visibility=form.visibility_choice(),
                signature=form.signature,
            )
            account_id = added.id
    except PostroomError as exc:
        return _new_page(request, form, error=exc, status_code=422)
    flash(request, "The account is saved. Its first sync starts within a few seconds.")
    return RedirectResponse(f"/accounts/{account_id}", status_code=303)


# --- health --------------------------------------------------------------------------------


def _health_page(
    request: Request,
    user: CurrentUser,
    account_id: int,
    *,
    report: ConnectionReport | None = None,
    error: PostroomError | None = None,
    status_code: int = 200,
) -> Response:
    runtime = get_runtime(request)
    with runtime.read() as session:
        found = health.get_account_health(session=session, account_id=account_id, owner_id=user.id)
        view = accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    return render(
        request,
        "accounts/health.html",
        _context(health=found, account=view, report=report, error=error),
        status_code=status_code,
    )


@router.get("/accounts/{account_id}")
def health_page(request: Request, user: CurrentUser, account_id: int) -> Response:
    return _health_page(request, user, account_id)


def _saved_login(
    request: Request, user: CurrentUser, account_id: int
) -> connection_test.SavedLogin:
    runtime = get_runtime(request)
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        return connection_test.saved_login(
            session=session,
            keyring=keyring,
            settings=runtime.settings,
            account_id=account_id,
            owner_id=user.id,
        )


@router.post("/accounts/{account_id}/test")
def test_account(request: Request, user: CurrentUser, account_id: int) -> Response:
    report = connection_test.try_saved_login(_saved_login(request, user, account_id))
    return _health_page(request, user, account_id, report=report)


@router.post("/accounts/{account_id}/password")
def new_password(
    request: Request,
    user: CurrentUser,
    account_id: int,
    password: FormText = "",
    skip_test: Annotated[bool, Form()] = False,
) -> Response:
    """A new password: tried on the server first (unless told not to), then saved."""
    login = _saved_login(request, user, account_id)
    if not password:
        error = InputError("the password is empty", advice="give the mailbox's new password")
        return _health_page(request, user, account_id, error=error, status_code=422)
    if not skip_test:
        report = connection_test.try_saved_login(replace(login, password=Secret(password)))
        if not report.ok:
            return _health_page(request, user, account_id, report=report, status_code=422)
    runtime = get_runtime(request)
    with write(request) as session:
        accounts.set_account_password(
            session=session,
            keyring=load_or_create_key(runtime.settings),
            account_id=account_id,
            password=Secret(password),
            owner_id=user.id,
        )
    flash(request, "The new password is saved. The sync uses it within a few seconds.")
    return RedirectResponse(f"/accounts/{account_id}", status_code=303)


# --- edit ----------------------------------------------------------------------------------


def _edit_page(
    request: Request,
    account: accounts.AccountView,
    form: AccountForm,
    *,
    report: ConnectionReport | None = None,
    error: PostroomError | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/edit.html",
        _context(account=account, form=form, report=report, error=error),
        status_code=status_code,
    )


@router.get("/accounts/{account_id}/edit")
def edit_page(
    request: Request, user: CurrentUser, session: ReadSession, account_id: int
) -> Response:
    view = accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    return _edit_page(request, view, AccountForm.of(view))


@router.post("/accounts/{account_id}/edit")
def edit_account(
    request: Request,
    user: CurrentUser,
    account_id: int,
    form: PostedForm,
    password: FormText = "",
    action: FormText = "save",
    skip_test: Annotated[bool, Form()] = False,
) -> Response:
    """Save the settings: tested first (with the stored password when none is given) unless
    "save without testing" is ticked."""
    runtime = get_runtime(request)
    login = _saved_login(request, user, account_id)
    with runtime.read() as session:
        view = accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    secret = Secret(password) if password else None
    try:
        if action == "test" or not skip_test:
            report = connection_test.try_new_server(
                settings=runtime.settings,
                imap_host=form.imap_host,
                imap_port=form.port(),
                tls=form.tls_mode(),
                username=form.username,
                password=secret or login.password,
                smtp_host=form.smtp_host,
                smtp_port=form.smtp_port_number(),
                smtp_tls=form.smtp_tls_mode(),
            )
            if action == "test" or not report.ok:
                code = 200 if action == "test" else 422
                return _edit_page(request, view, form, report=report, status_code=code)
        with write(request) as session:
            accounts.update_account(
                session=session,
                keyring=load_or_create_key(runtime.settings),
                account_id=account_id,
                owner_id=user.id,
                label=form.label,
                imap_host=form.imap_host,
                imap_port=form.port(),
                tls=form.tls_mode(),
                username=form.username,
                password=secret,
                own_addresses=form.address_list(),
                visibility=form.visibility_choice(),
                allow_plaintext=form.allow_plaintext(),
                smtp_host=form.smtp_host,  # empty: the account sends no more
                smtp_port=form.smtp_port_number(),
                smtp_tls=form.smtp_tls_mode(),
                signature=form.signature,
            )
    except PostroomError as exc:
        return _edit_page(request, view, form, error=exc, status_code=422)
    flash(request, "The account's settings are saved.")
    return RedirectResponse(f"/accounts/{account_id}", status_code=303)


# --- remove --------------------------------------------------------------------------------


@router.get("/accounts/{account_id}/remove")
def remove_page(
    request: Request, user: CurrentUser, session: ReadSession, account_id: int
) -> Response:
    view = accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    found = health.get_account_health(session=session, account_id=account_id, owner_id=user.id)
    return render(request, "accounts/remove.html", _context(account=view, health=found))


@router.post("/accounts/{account_id}/remove")
def remove_account(request: Request, user: CurrentUser, account_id: int) -> Response:
    with write(request) as session:
        removed = accounts.remove_account(session=session, account_id=account_id, owner_id=user.id)
    flash(
        request,
        f"{removed.label} is removed. The emails it logged stay on the records.",
    )
    return RedirectResponse("/accounts", status_code=303)


# --- folders -------------------------------------------------------------------------------


def _folder_login(request: Request, user: CurrentUser, account_id: int) -> AccountLogin:
    runtime = get_runtime(request)
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        return folders.load_login(
            session=session,
            keyring=keyring,
            settings=runtime.settings,
            account_id=account_id,
            owner_id=user.id,
        )


def _folders_page(
    request: Request,
    user: CurrentUser,
    account_id: int,
    *,
    error: PostroomError | None = None,
    status_code: int = 200,
) -> Response:
    runtime = get_runtime(request)
    with runtime.read() as session:
        view = accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    login = _folder_login(request, user, account_id)
    choices: list[folders.FolderChoice] = []
    server_error: PostroomError | None = None
    try:
        listed = folders.list_server_folders(login)
    except PostroomError as exc:  # the server could not be reached, or refused the login
        server_error = exc
    else:
        with runtime.read() as session:
            choices = folders.folder_choices(
                session=session, account_id=account_id, owner_id=user.id, on_server=listed
            )
    return render(
        request,
        "accounts/folders.html",
        _context(account=view, choices=choices, server_error=server_error, error=error),
        status_code=status_code,
    )


@router.get("/accounts/{account_id}/folders")
def folders_page(request: Request, user: CurrentUser, account_id: int) -> Response:
    return _folders_page(request, user, account_id)


@router.post("/accounts/{account_id}/folders")
def change_folder(
    request: Request,
    user: CurrentUser,
    account_id: int,
    name: FormText,
    action: FormText,
) -> Response:
    """Track (action=track) or stop syncing (action=untrack) the folder ``name``."""
    runtime = get_runtime(request)
    with runtime.read() as session:  # not the user's: 404, not a form error
        accounts.get_account_view(session=session, account_id=account_id, owner_id=user.id)
    try:
        if action == "track":
            listed = folders.list_server_folders(_folder_login(request, user, account_id))
            with write(request) as session:
                folders.track_folders(
                    session=session,
                    account_id=account_id,
                    owner_id=user.id,
                    on_server=listed,
                    names=[name],
                )
            flash(request, f"{name} is synced from now on: its history first, then new mail.")
        else:
            with write(request) as session:
                folders.untrack_folders(
                    session=session, account_id=account_id, owner_id=user.id, names=[name]
                )
            flash(request, f"{name} is no longer synced. What it brought stays logged.")
    except PostroomError as exc:
        return _folders_page(request, user, account_id, error=exc, status_code=422)
    return RedirectResponse(f"/accounts/{account_id}/folders", status_code=303)
