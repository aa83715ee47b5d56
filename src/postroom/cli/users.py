"""``postroom user add|password|list``: who signs in to the web app."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from postroom.cli.runtime import console, make_table, open_runtime, shown, user_errors
from postroom.errors import InputError, NotFound
from postroom.services import users

app = typer.Typer(help="Users who sign in to the web app.", no_args_is_help=True)


def _read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            text = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        except (EOFError, typer.Abort) as exc:
            raise InputError(
                "no password was given", advice="type it at the prompt, or use --password-stdin"
            ) from exc
    if not text:
        raise InputError("empty password", advice="give a password of at least 10 characters")
    return users.check_password(text)


@app.command("add")
@user_errors
def add(
    email: Annotated[str, typer.Argument(help="the address they sign in with")],
    name: Annotated[str, typer.Option(help="full name")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="may manage users and settings")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a user who can sign in (asks for the password; never give it as an argument)."""
    password = _read_new_password(password_stdin)
    runtime = open_runtime()
    with runtime.write() as session:
        user = users.add_user(
            session=session,
            email=email,
            password=password,
            name=name,
            role="admin" if admin else "user",
        )
    console.print(f"added user #{user.id} {shown(user.email)} ({user.role.value})")


@app.command("password")
@user_errors
def password(
    email: Annotated[str, typer.Argument(help="the user's address")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Give a user a new password; their other sessions end."""
    new = _read_new_password(password_stdin)
    runtime = open_runtime()
    with runtime.write() as session:
        user = users.get_user_by_email(session=session, email=email)
        if user is None:
            raise NotFound(f"no user {email}", advice="see `postroom user list`")
        users.set_password(session=session, user_id=user.id, password=new)
    console.print(f"{shown(user.email)}: new password set; their other sessions are signed out")


@app.command("list")
@user_errors
def list_() -> None:
    """List users, their role and whether they can sign in."""
    runtime = open_runtime()
    with runtime.read() as session:
        people = users.list_users(session=session)
    table = make_table("id", "email", "name", "role", "sign-in")
    for u in people:
        state = (
            "yes"
            if u.has_password and u.is_active
            else ("deactivated" if not u.is_active else "no password yet")
        )
        table.add_row(str(u.id), shown(u.email), shown(u.name), u.role.value, state)
    console.print(table if people else "no users: `postroom user add EMAIL --admin`")
