"""What every command needs: settings, a migrated database, the key ring, and one-line errors.

The database is created and migrated on first use, so ``postroom`` works on a fresh machine
with nothing set up. Errors a user can cause end the command with one red line (what happened,
and what to do) and exit code 1, never a traceback.
"""

from __future__ import annotations

import errno
import functools
import logging
import re
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from postroom.config import Settings
from postroom.errors import PostroomError
from postroom.services.runtime import Runtime as Runtime
from postroom.services.runtime import redact_url as redact_url
from postroom.services.runtime import start_runtime

console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
"""Neither highlights nor turns ``:smile:`` codes into emoji: text from outside is printed as
it is (with :func:`shown`)."""

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def open_runtime() -> Runtime:
    """Settings from the environment and a database at the newest schema; a data folder or
    database file open to other users is warned about on stderr (once per process)."""
    runtime = start_runtime(Settings.from_env())
    for warning in runtime.warnings:
        err_console.print(f"[yellow]warning:[/] {shown(warning)}")
    return runtime


def make_table(*columns: str, title: str | None = None, show_header: bool = True) -> Table:
    """A table that folds long cells instead of cutting them: output piped to a file or a
    narrow terminal never loses an address."""
    table = Table(title=title, show_header=show_header)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def close_runtime() -> None:
    """Release the database connections (tests, and processes that outlive a command)."""
    if open_runtime.cache_info().currsize:
        open_runtime().engine.dispose()
    open_runtime.cache_clear()


_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
"""Control characters (C0 but tab and newline, DEL, C1: terminal escape sequences start
here), bidirectional controls and invisible characters."""

_BRACKET = re.compile(r"(\\*)(\[(?:[a-z#/@][^[]*?\])?)")
"""A ``[`` with the backslashes before it; with the rest of a Rich tag when it starts one."""

_TRAILING_BACKSLASHES = re.compile(r"\\+$")


def printable(text: object) -> str:
    """``text`` without control, bidirectional and invisible characters: safe for a terminal
    when printed without markup (``markup=False``, a ``Text``, a prompt)."""
    try:
        return _UNPRINTABLE.sub("", str(text))
    except Exception:  # a __str__ that fails: never let the printing of an error fail
        return f"<{type(text).__name__}>"


def _escape_bracket(match: re.Match[str]) -> str:
    backslashes, bracket = match.groups()
    if len(bracket) > 1:  # a tag: each backslash doubled, and one more escapes the tag
        return f"{backslashes}{backslashes}\\{bracket}"
    return f"{backslashes}\\{bracket}"  # Rich drops one backslash before a lone "["


def shown(text: object) -> str:
    r"""Text from outside (mail, servers, files, paths) made safe to print with Rich markup:
    control and bidirectional characters removed (:func:`printable`), then every ``[``
    escaped, so ``[/b]`` or ``[link=...]`` prints as it is and no escape sequence reaches
    the terminal. Trailing backslashes are doubled so that they never escape a tag that
    follows (``f"[bold]{shown(path)}[/]"``); at the very end of a line they show doubled.

    >>> shown("hello [/b] world\x1b[31m")
    'hello \\[/b] world\\[31m'
    """
    escaped = _BRACKET.sub(_escape_bracket, printable(text))
    return _TRAILING_BACKSLASHES.sub(lambda m: m.group() * 2, escaped)


def fail(message: object, advice: object | None = None) -> NoReturn:
    """Print one error line (and its advice) and exit with code 1. Neither text is read as
    markup (a ``[`` in a message is shown as it is), so printing an error never fails."""
    line = Text.assemble(("error:", "bold red"), " ", printable(message))
    if advice:
        line.append(f" ({printable(advice)})", style="dim")
    err_console.print(line)
    sys.exit(1)


def _database_error(exc: OperationalError) -> NoReturn:
    """A database that is locked, full or out of reach, each with its own advice."""
    reason = printable(str(exc.orig).strip() if exc.orig else str(exc)).splitlines() or [""]
    text = reason[0]
    lowered = str(exc).lower()
    if "database is locked" in lowered or "database table is locked" in lowered:
        fail(
            f"the database is locked: another process is writing to it ({text})",
            "try again in a moment; if it stays locked, stop the other program that writes to "
            "it (a second `postroom worker`, `serve` or `sync --once`, or a tool that has the "
            "file open)",
        )
    if any(mark in lowered for mark in _DISK_FULL):
        fail(
            f"the disk is full: the database cannot write ({text}); nothing of this command "
            "was saved",
            "free disk space where the database is (see `postroom init` or "
            "POSTROOM_DATABASE_URL) and run the command again",
        )
    fail(
        f"the database cannot be reached: {text}",
        "check POSTROOM_DATABASE_URL, or unset it to use the SQLite file",
    )


_DISK_FULL = ("database or disk is full", "no space left", "disk full", "could not extend file")
"""How SQLite (SQLITE_FULL, an I/O error with ENOSPC) and PostgreSQL (53100 disk_full) say
that the disk is full."""


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except typer.Abort:  # Ctrl-C or end of input at a prompt (click turns both into Abort)
            if "password_stdin" in kwargs:  # the command asked for a password
                fail(
                    "no password was given (Ctrl-C or end of input at the prompt); "
                    "nothing was changed",
                    "run the command again and type the password, or pipe it in with "
                    "--password-stdin",
                )
            console.line()  # end the prompt's line (click does so only after a hidden input)
            fail(
                "stopped at a prompt (Ctrl-C or end of input); nothing was changed",
                "run the command again and answer the prompt",
            )
        except PostroomError as exc:
            fail(exc.args[0] if exc.args else type(exc).__name__, exc.advice or None)
        except OperationalError as exc:
            _database_error(exc)
        except SQLAlchemyError as exc:
            logging.getLogger("postroom.cli").debug("database error", exc_info=True)
            fail(f"database error: {type(exc).__name__}", "run `postroom status` for details")
        except KeyboardInterrupt:
            fail(
                "interrupted (Ctrl-C); a change it had not finished was not saved",
                "run the command again",
            )
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                _internal_error(exc)
            fail(
                f"the disk is full: {printable(exc.filename or exc.strerror)}",
                "free disk space there and run the command again",
            )
        except Exception as exc:  # a bug, not the user's doing: say so, keep the trace for -v
            _internal_error(exc)

    return wrapper


def _internal_error(exc: BaseException) -> NoReturn:
    """A bug, not the user's doing: one line that says so; the trace is logged for ``-v``."""
    logging.getLogger("postroom.cli").info("internal error", exc_info=exc)
    fail(
        f"internal error: {type(exc).__name__}: {printable(exc)}",
        "this is a bug in Postroom; run again with -v for the details and report it",
    )
