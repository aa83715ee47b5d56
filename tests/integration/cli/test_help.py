"""Help that reads well (issue 12): every command's ``--help`` fits an 80-column terminal,
shows no Python types such as ``<bool>`` or ``<list[str]>``, and every option and argument
says what it is for. Walks the real command tree, so a new command is checked too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner

from postroom.cli.main import app

Command = TyperCommand | TyperGroup


def walk(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command and group under ``command``, with the words that call it."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = dict(walk(typer.main.get_command(app)))


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "sync", "worker", "record add", "account add", "org private"} <= names
    assert len(names) > 25


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "postroom")
def test_help_fits_80_columns_and_shows_no_python_types(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    too_long = [line for line in result.output.splitlines() if len(line) > 80]
    assert too_long == []
    assert "<bool>" not in result.output
    assert "<list[" not in result.output


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "postroom")
def test_every_option_and_argument_has_help(path):
    command = COMMANDS[path]
    assert command.help, "the command says what it does"
    silent = [
        param.name
        for param in command.params
        if isinstance(param, TyperOption | TyperArgument) and not (param.help or "").strip()
    ]
    assert silent == []


def test_a_docstrings_line_breaks_do_not_show_in_a_command_list():
    """``worker``'s docstring breaks its line after "stops cleanly on": in a wide terminal the
    list of commands shows its whole summary on one line, not cut where the source breaks."""
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})

    [worker] = [line for line in result.output.splitlines() if "│ worker " in line]
    assert "stops cleanly on SIGTERM or SIGINT, and resumes where it stopped" in worker
