"""``postroom account add|list|password`` and the org-wide settings (internal domains, private
list).

The password is never an option on the command line (it would land in the shell history and
in ``ps``): it is asked for without echo, or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from postroom.cli.runtime import console, make_table, open_runtime, user_errors
from postroom.domain.accounts import TlsMode
from postroom.errors import InputError
from postroom.services import accounts as account_service
from postroom.services import users
from postroom.services.accounts import Visibility
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
    smtp_host: Annotated[str | None, typer.Option()] = None,
    smtp_port: Annotated[int | None, typer.Option()] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add an IMAP account; its password is stored encrypted."""
    tls_mode = _choice(TlsMode, tls, "--tls")
    seen = _choice(Visibility, visibility, "--visibility")
    password = _read_password(password_stdin)
    runtime = open_runtime()
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
            visibility=seen,  # type: ignore[arg-type]
        )
        summary = (account.id, account.imap_host, account.imap_port, account.imap_tls.value)
    console.print(f"added account #{summary[0]} ({summary[1]}:{summary[2]}, {summary[3]})")


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
        "id", "user", "label", "server", "tls", "login", "own addresses", "visibility"
    )
    for a in accounts:
        table.add_row(
            str(a.id),
            a.owner_email,
            a.label,
            f"{a.imap_host}:{a.imap_port}",
            a.tls.value,
            a.username,
            ", ".join(a.own_addresses),
            a.visibility.value,
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
    if not yes:
        typer.confirm(
            f"Remove #{view.id} {view.label} ({view.username} on {view.imap_host})?", abort=True
        )
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
            console.print(f"removed {domain}")
        elif domain:
            console.print(
                f"added {account_service.add_internal_domain(session=session, domain=domain)}"
            )
        else:
            for d in account_service.list_internal_domains(session=session):
                console.print(d)


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
            console.print(f"removed {value}")
        elif value:
            entry = account_service.add_private_entry(session=session, value=value)
            console.print(f"added {entry.kind.value} {entry.value}")
        else:
            for e in account_service.list_private_entries(session=session):
                console.print(f"{e.kind.value:8} {e.value}")
