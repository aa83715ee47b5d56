"""The command line run in-process (Typer's runner), as a user types it: ``cli`` against the
test's database (SQLite and PostgreSQL), ``run_cli`` with a data folder of its own (SQLite
there). Each returns ``(exit code, output)``; an exception that is not an exit is raised."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner

from postroom.cli.main import app
from postroom.cli.runtime import close_runtime, console, err_console

Run = Callable[..., tuple[int, str]]


def _runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setattr(console, "width", 400)
    monkeypatch.setattr(err_console, "width", 400)
    close_runtime()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), input=stdin)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    yield run
    close_runtime()


@pytest.fixture
def cli(engine, tmp_path, monkeypatch) -> Iterator[Run]:
    """``postroom ...`` against this test's database."""
    monkeypatch.setenv("POSTROOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POSTROOM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    yield from _runner(monkeypatch)


@pytest.fixture
def run_cli(tmp_path, monkeypatch) -> Iterator[Run]:
    """``postroom ...`` with its own data folder (the SQLite database a new user gets)."""
    monkeypatch.setenv("POSTROOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("POSTROOM_DATABASE_URL", raising=False)
    yield from _runner(monkeypatch)
