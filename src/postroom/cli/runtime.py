"""What every command needs: settings, a migrated database, the key ring, and one-line errors.

The database is created and migrated on first use, so ``postroom`` works on a fresh machine
with nothing set up. Errors a user can cause end the command with one red line (what happened,
and what to do) and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from postroom.config import Settings
from postroom.errors import PostroomError
from postroom.services.runtime import Runtime as Runtime
from postroom.services.runtime import redact_url as redact_url
from postroom.services.runtime import start_runtime

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def open_runtime() -> Runtime:
    """Settings from the environment and a database at the newest schema."""
    return start_runtime(Settings.from_env())


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


def shown(text: object) -> str:
    r"""Text from outside (mail, servers, files, paths) made safe to print with Rich: control
    and bidirectional characters removed, then Rich markup escaped, so ``[/b]`` or
    ``[link=...]`` prints as it is and no escape sequence reaches the terminal.

    >>> shown("hello [/b] world\x1b[31m")
    'hello \\[/b] world[31m'
    """
    return escape(_UNPRINTABLE.sub("", str(text)))


def fail(message: str, advice: str | None = None) -> NoReturn:
    """Print one error line (and its advice) and exit with code 1. The texts are shown as
    they are (a ``[`` in a message is not Rich markup; see :func:`shown`)."""
    err_console.print(
        f"[bold red]error:[/] {shown(message)}" + (f" [dim]({shown(advice)})[/]" if advice else "")
    )
    sys.exit(1)


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
            fail(str(exc.args[0]) if exc.args else type(exc).__name__, exc.advice or None)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(
                f"the database cannot be reached: {reason}",
                "check POSTROOM_DATABASE_URL, or unset it to use the SQLite file",
            )
        except SQLAlchemyError as exc:
            logging.getLogger("postroom.cli").debug("database error", exc_info=True)
            fail(f"database error: {type(exc).__name__}", "run `postroom status` for details")
        except KeyboardInterrupt:
            fail(
                "interrupted (Ctrl-C); a change it had not finished was not saved",
                "run the command again",
            )
        except Exception as exc:  # a bug, not the user's doing: say so, keep the trace for -v
            logging.getLogger("postroom.cli").info("internal error", exc_info=True)
            fail(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in Postroom; run again with -v for the details and report it",
            )

    return wrapper
