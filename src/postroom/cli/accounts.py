"""``postroom account add|edit|remove|list|password`` and the org-wide settings (internal
domains, private list). An account's SMTP server (``--smtp-host``, ``--smtp-port``,
``--smtp-tls``) is optional: without one it cannot send; it is used with the IMAP login.

The password is never an option on the command line (it would land in the shell history and
in ``ps``): it is asked for without echo, or read from standard input with ``--password-stdin``.

Nothing entered is stuck (docs/concepts.md, "Mail accounts"): ``add`` and ``edit`` test the
connection (``services.connection_test``) before they save, and refuse to save settings that
fail, naming the failing step and what to do, unless ``--no-test`` is given; ``remove`` takes
an account away with its folders and sync state, while the activities it logged stay.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from postroom.cli.runtime import console, make_table, open_runtime, printable, shown, user_errors
from postroom.config import Settings
from postroom.domain.accounts import TlsMode
from postroom.domain.addresses import normalize_address
from postroom.errors import InputError
from postroom.services import accounts as account_service
from postroom.services import connection_test, users
from postroom.services.accounts import Visibility
from postroom.services.connection_test import ConnectionReport, Outcome
from postroom.services.secrets import Secret, load_or_create_key

app = typer.Typer(help="Mail accounts.", no_args_is_help=True)
org_app = typer.Typer(
    help="Firm-wide settings: internal domains, the private list.", no_args_is_help=True
)


def _choice(enum_type: type[TlsMode] | type[Visibility], value: str, option: str) -> object:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise InputError(f"{option} {value!r}", advice=f"use one of {allowed}") from None


@app.command("add")
@user_errors
def add(
    user: Annotated[str, typer.Option(help="the Postroom user's email (created when new)")],
    host: Annotated[str, typer.Option(help="IMAP server host name")],
    username: Annotated[str, typer.Option(help="IMAP login")],
    label: Annotated[str | None, typer.Option(help="a name for the account")] = None,
    port: Annotated[int | None, typer.Option(help="default 993 (TLS), else 143")] = None,
    tls: Annotated[
        str, typer.Option(help="implicit, starttls, or plain (loopback only)")
    ] = "implicit",
    allow_plaintext: Annotated[
        bool, typer.Option(help="allow --tls plain to a loopback host")
    ] = False,
    address: Annotated[
        list[str] | None, typer.Option("--address", help="own address or alias (repeatable)")
    ] = None,
    visibility: Annotated[str, typer.Option(help="everything, subject or metadata")] = "everything",
    smtp_host: Annotated[
        str | None, typer.Option(help="SMTP server host name, for sending (optional)")
    ] = None,
    smtp_port: Annotated[
        int | None, typer.Option(help="default 465 (TLS); 587 or 25 mean STARTTLS")
    ] = None,
    smtp_tls: Annotated[
        str | None,
        typer.Option(help="implicit, starttls, or plain (loopback only); default: by the port"),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    no_test: Annotated[
        bool, typer.Option("--no-test", help="save without testing the connection first")
    ] = False,
) -> None:
    """Add an IMAP account, after testing its connection and login, and those of its SMTP
    server (unless --no-test); its password is stored encrypted. The SMTP server is used with
    the same username and password."""
    tls_mode = _choice(TlsMode, tls, "--tls")
    smtp_mode = None if smtp_tls is None else _choice(TlsMode, smtp_tls, "--smtp-tls")
    seen = _choice(Visibility, visibility, "--visibility")
    password = _read_password(password_stdin)
    runtime = open_runtime()
    if not no_test:
        smtp = account_service.check_smtp_server(
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_tls=smtp_mode,  # type: ignore[arg-type]
            allow_plaintext=allow_plaintext,
        )
        _test_connection(
            runtime.settings,
            imap_host=host,
            imap_port=port,
            tls=tls_mode,  # type: ignore[arg-type]
            username=username,
            password=Secret(password),
            allow_plaintext=allow_plaintext,
            smtp=smtp,
            what="account",
        )
    keyring = load_or_create_key(runtime.settings)
    with runtime.sessions.begin() as session:
        account = account_service.add_account(
            session=session,
            keyring=keyring,
            user_email=user,
            label=label or username,
            imap_host=host,
            imap_port=port,
            tls=tls_mode,  # type: ignore[arg-type]
            username=username,
            password=Secret(password),
            own_addresses=address or (),
            allow_plaintext=allow_plaintext,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_tls=smtp_mode,  # type: ignore[arg-type]
            visibility=seen,  # type: ignore[arg-type]
        )
        view = account_service.account_view(account)
    console.print(
        f"added account #{view.id} ({shown(view.imap_host)}:{view.imap_port}, {view.tls.value});"
        f" sending: {_sending(view.smtp)}"
    )


@app.command("edit")
@user_errors
def edit(
    account: Annotated[int, typer.Argument(help="account id (see `postroom account list`)")],
    label: Annotated[str | None, typer.Option(help="a new name for the account")] = None,
    host: Annotated[str | None, typer.Option(help="IMAP server host name")] = None,
    port: Annotated[
        int | None, typer.Option(help="IMAP port (with a new --tls alone: 993, else 143)")
    ] = None,
    tls: Annotated[
        str | None, typer.Option(help="implicit, starttls, or plain (loopback only)")
    ] = None,
    allow_plaintext: Annotated[
        bool, typer.Option("--allow-plaintext", help="allow --tls plain to a loopback host")
    ] = False,
    username: Annotated[str | None, typer.Option(help="IMAP login")] = None,
    address: Annotated[
        list[str] | None,
        typer.Option("--address", help="own addresses: replaces the list (repeatable)"),
    ] = None,
    add_address: Annotated[
        list[str] | None, typer.Option("--add-address", help="add an own address (repeatable)")
    ] = None,
    remove_address: Annotated[
        list[str] | None,
        typer.Option("--remove-address", help="remove an own address (repeatable)"),
    ] = None,
    visibility: Annotated[str | None, typer.Option(help="everything, subject or metadata")] = None,
    smtp_host: Annotated[
        str | None,
        typer.Option(help='SMTP server host name, for sending ("": no SMTP server, cannot send)'),
    ] = None,
    smtp_port: Annotated[
        int | None,
        typer.Option(help="SMTP port (with a new --smtp-tls alone: 465, 587 or 25)"),
    ] = None,
    smtp_tls: Annotated[
        str | None,
        typer.Option(help="SMTP security: implicit, starttls, or plain (loopback only)"),
    ] = None,
    ask_password: Annotated[
        bool, typer.Option("--password", help="ask for a new password (not echoed)")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read a new password from standard input")
    ] = False,
    no_test: Annotated[
        bool, typer.Option("--no-test", help="save without testing the connection first")
    ] = False,
) -> None:
    """Change an account's settings. A new server, port, TLS mode, login or password, or a
    new SMTP server, is tested before it is saved (with the stored password unless a new one
    is given; unless --no-test); a running `postroom worker` takes the settings at its next
    account list reload."""
    tls_mode = None if tls is None else _choice(TlsMode, tls, "--tls")
    smtp_mode = None if smtp_tls is None else _choice(TlsMode, smtp_tls, "--smtp-tls")
    seen = None if visibility is None else _choice(Visibility, visibility, "--visibility")
    changes_server = any(v is not None for v in (host, port, tls_mode, username))
    changes_smtp = any(v is not None for v in (smtp_host, smtp_port, smtp_mode))
    changes_password = ask_password or password_stdin
    changes_addresses = any(v is not None for v in (address, add_address, remove_address))
    if not (
        changes_server or changes_smtp or changes_password or changes_addresses or label or seen
    ):
        raise InputError(
            "nothing to change",
            advice="give the settings to change, e.g. --tls starttls (see --help)",
        )
    new_password = Secret(_read_password(password_stdin)) if changes_password else None
    runtime = open_runtime()
    keyring = load_or_create_key(runtime.settings)
    with runtime.read() as session:
        view = account_service.get_account_view(session=session, account_id=account, owner_id=None)
    smtp = (
        account_service.changed_smtp_server(
            current=view.smtp,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_tls=smtp_mode,  # type: ignore[arg-type]
            allow_plaintext=allow_plaintext,
        )
        if changes_smtp
        else view.smtp
    )
    tests = (
        changes_server or changes_password or (changes_smtp and smtp is not None)
    ) and not no_test
    own = _own_addresses(view, address, add_address, remove_address) if changes_addresses else None
    if tests:
        if new_password is None:
            with runtime.read() as session:
                stored = connection_test.saved_login(
                    session=session,
                    keyring=keyring,
                    settings=runtime.settings,
                    account_id=account,
                    owner_id=None,
                ).password
        new_tls = view.tls if tls_mode is None else tls_mode
        keeps_tls = tls_mode is None or tls_mode is view.tls
        _test_connection(
            runtime.settings,
            imap_host=view.imap_host if host is None else host,
            imap_port=port if port is not None else (view.imap_port if keeps_tls else None),
            tls=new_tls,  # type: ignore[arg-type]
            username=view.username if username is None else username,
            password=new_password if new_password is not None else stored,
            allow_plaintext=allow_plaintext or (new_tls is TlsMode.PLAIN and tls_mode is None),
            smtp=smtp,
            what=f"account #{account}",
        )
    with runtime.write() as session:
        after = account_service.update_account(
            session=session,
            keyring=keyring,
            account_id=account,
            owner_id=None,
            label=label,
            imap_host=host,
            imap_port=port,
            tls=tls_mode,  # type: ignore[arg-type]
            username=username,
            password=new_password,
            own_addresses=own,
            visibility=seen,  # type: ignore[arg-type]
            allow_plaintext=allow_plaintext,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_tls=smtp_mode,  # type: ignore[arg-type]
        )
    console.print(
        f"account #{after.id} saved: {shown(after.label)}, {shown(after.imap_host)}:"
        f"{after.imap_port} ({after.tls.value}), login {shown(after.username)}, "
        f"own addresses {shown(', '.join(after.own_addresses) or 'none')}, "
        f"visibility {after.visibility.value}, sending: {_sending(after.smtp)}"
    )


def _sending(smtp: account_service.SmtpSettings | None) -> str:
    """``"smtp.firm.example:465 (implicit)"``, or that the account cannot send; printable."""
    if smtp is None:
        return "no SMTP server (cannot send)"
    return f"{shown(smtp.host)}:{smtp.port} ({smtp.tls.value})"


def _own_addresses(
    view: account_service.AccountView,
    replace: list[str] | None,
    add: list[str] | None,
    remove: list[str] | None,
) -> list[str]:
    """The account's own addresses after ``--address`` (the whole list), ``--add-address``
    and ``--remove-address``; an address to remove must be one of them."""
    wanted = list(view.own_addresses if replace is None else replace) + list(add or ())
    for gone in remove or ():
        key = normalize_address(gone)
        kept = [a for a in wanted if normalize_address(a) != key]
        if key is None or len(kept) == len(wanted):
            raise InputError(
                f"{gone.strip()!r} is not an own address of account #{view.id}",
                advice="see `postroom account list` for its addresses",
            )
        wanted = kept
    return wanted


@app.command("password")
@user_errors
def password(
    account: Annotated[int, typer.Argument(help="account id (see `postroom account list`)")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Give an account a new password (after a refused login, or a change on the server).
    A running `postroom worker` takes it at its next account list reload."""
    secret = Secret(_read_password(password_stdin))
    runtime = open_runtime()
    keyring = load_or_create_key(runtime.settings)
    with runtime.sessions.begin() as session:
        account_service.set_account_password(
            session=session, keyring=keyring, account_id=account, password=secret
        )
    console.print(f"account #{account}: new password stored (encrypted)")


_MARKS = {
    Outcome.OK: "[green]✓[/]",
    Outcome.FAILED: "[red]✗[/]",
    Outcome.WARNING: "[yellow]![/]",
}


def _print_report(report: ConnectionReport) -> None:
    """The steps that ran, one line each; a warning's advice under it (a failure's advice
    goes into the error line)."""
    console.print(
        f"testing {shown(report.username)} on {shown(report.host)}:{report.port} "
        f"({report.tls.value})"
    )
    if report.smtp_host is not None and report.smtp_tls is not None:
        console.print(
            f"and sending through {shown(report.smtp_host)}:{report.smtp_port} "
            f"({report.smtp_tls.value})"
        )
    for step in report.steps:
        if step.outcome is Outcome.SKIPPED:
            continue
        console.print(f"{_MARKS[step.outcome]} {shown(step.title)}: {shown(step.message)}")
        if step.advice and step.outcome is Outcome.WARNING:
            console.print(f"  what to do: {shown(step.advice)}")


def _test_connection(
    settings: Settings,
    *,
    imap_host: str,
    imap_port: int | None,
    tls: TlsMode,
    username: str,
    password: Secret,
    allow_plaintext: bool,
    smtp: account_service.SmtpSettings | None,
    what: str,
) -> None:
    """Test the settings before they are saved, with the SMTP server ``smtp`` (checked by the
    caller) when there is one; raises ``InputError`` naming the failing step and what to do
    (the IMAP settings are checked as ``add_account`` checks them, first)."""
    account_service.check_imap_server(
        imap_host=imap_host, imap_port=imap_port, tls=tls, allow_plaintext=allow_plaintext
    )
    report = connection_test.try_new_server(
        settings=settings,
        imap_host=imap_host,
        imap_port=imap_port,
        tls=tls,
        username=username,
        password=password,
        smtp_host=smtp.host if smtp else None,
        smtp_port=smtp.port if smtp else None,
        smtp_tls=smtp.tls if smtp else None,
    )
    _print_report(report)
    failed = report.failed
    if failed is not None:
        raise InputError(
            f"{what} not saved: the {failed.title} step failed: {failed.message}",
            advice=(f"{failed.advice}; " if failed.advice else "")
            + "or give --no-test to save without testing",
        )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    else:
        text = typer.prompt("IMAP password", hide_input=True)
    if not text:
        raise InputError("empty password", advice="give the IMAP password")
    return text


@app.command("list")
@user_errors
def list_(user: Annotated[str | None, typer.Option(help="only this user's")] = None) -> None:
    """List mail accounts (passwords are never shown)."""
    runtime = open_runtime()
    with runtime.read() as session:
        owner = None if user is None else users.get_user_by_email(session=session, email=user)
        accounts = (
            []
            if user is not None and owner is None
            else account_service.list_account_views(
                session=session, owner_id=owner.id if owner is not None else None
            )
        )
    table = make_table(
        "id", "user", "label", "server", "tls", "login", "own addresses", "visibility", "sending"
    )
    for a in accounts:
        table.add_row(
            str(a.id),
            shown(a.owner_email),
            shown(a.label),
            shown(f"{a.imap_host}:{a.imap_port}"),
            a.tls.value,
            shown(a.username),
            shown(", ".join(a.own_addresses)),
            a.visibility.value,
            _sending(a.smtp),
        )
    console.print(table if accounts else "no mail accounts: add one with `postroom account add`")


@app.command("remove")
@user_errors
def remove(
    account: Annotated[int, typer.Argument(help="account id (see `postroom account list`)")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Remove an account: its folders and messages go; the activities it logged stay on the
    records."""
    runtime = open_runtime()
    with runtime.read() as session:
        view = account_service.get_account_view(session=session, account_id=account, owner_id=None)
    if not yes and not typer.confirm(
        f"Remove account #{view.id} {printable(view.label)} ({printable(view.username)} on "
        f"{printable(view.imap_host)}), its"
        " folders and sync state? The activities it logged stay on the records",
        default=False,
    ):
        console.print("nothing removed")
        raise typer.Exit(code=1)
    with runtime.write() as session:
        account_service.remove_account(session=session, account_id=account, owner_id=None)
    console.print(f"removed account #{view.id}; the activities it logged stay on the records")


@org_app.command("internal-domain")
@user_errors
def internal_domain(
    domain: Annotated[str | None, typer.Argument(help="domain to add (none: list)")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove it instead")] = False,
) -> None:
    """Add, remove or list the firm's own domains (never treated as contacts)."""
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        if domain and remove:
            account_service.remove_internal_domain(session=session, domain=domain)
            console.print(f"removed {shown(domain)}")
        elif domain:
            added = account_service.add_internal_domain(session=session, domain=domain)
            console.print(f"added {shown(added)}")
        else:
            for d in account_service.list_internal_domains(session=session):
                console.print(shown(d))


@org_app.command("private")
@user_errors
def private(
    value: Annotated[
        str | None, typer.Argument(help="address or domain to add (none: list)")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove it instead")] = False,
) -> None:
    """Add, remove or list the private list: mail to, from or mentioning these is never logged."""
    runtime = open_runtime()
    with runtime.sessions.begin() as session:
        if value and remove:
            account_service.remove_private_entry(session=session, value=value)
            console.print(f"removed {shown(value)}")
        elif value:
            entry = account_service.add_private_entry(session=session, value=value)
            console.print(f"added {entry.kind.value} {shown(entry.value)}")
        else:
            for e in account_service.list_private_entries(session=session):
                console.print(f"{e.kind.value:8} {shown(e.value)}")
