"""What every face (CLI, web) needs to run: settings, a migrated database, sessions.

The database is created and migrated on first use (Alembic ``upgrade``), so Postroom works
on a fresh machine with nothing set up.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from postroom.config import Settings
from postroom.errors import ConfigError
from postroom.store.db import (
    create_db_engine,
    make_session_factory,
    reading,
    sqlite_path,
    transaction,
    upgrade,
)


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    warnings: tuple[str, ...] = ()
    """What the faces should tell the user at start (a data folder open to other users)."""

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads (on SQLite it never waits for the sync's commits)."""
        with reading(self.sessions) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work that writes: committed at the end, rolled back on any error."""
        with transaction(self.sessions) as session:
            yield session


def start_runtime(settings: Settings) -> Runtime:
    """The data folder made, the database at the newest schema, and a session factory; the
    runtime's ``warnings`` name a data folder or database file other users may read."""
    warnings = make_data_folder(settings)
    database = sqlite_path(settings.database_url)
    engine = create_db_engine(settings.database_url)
    upgrade(engine)
    if database is not None and _is_open_folder(database.parent):
        warnings += check_private(database, "database file", "600")
    return Runtime(settings, engine, make_session_factory(engine), warnings)


def make_data_folder(settings: Settings) -> tuple[str, ...]:
    """The data folder (``POSTROOM_HOME``) made with mode 0700 if missing: it holds all mail
    text and contact data. Returns a warning when it was there already and other users may
    read it; raises a ``ConfigError`` that names the setting when the path is a file, or
    cannot be made."""
    home = settings.home
    existed = home.is_dir()
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (home, *home.parents) if p.exists() and not p.is_dir()), home)
        raise ConfigError(
            f"the data folder {home} cannot be made: {blocker} is a file, not a folder",
            advice="set POSTROOM_HOME to a folder, unset it for the default, "
            "or move that file away",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"the data folder {home} cannot be made: {exc.strerror}",
            advice="set POSTROOM_HOME to a folder you may write to",
        ) from exc
    return check_private(home, "data folder", "700") if existed else ()


def _is_open_folder(folder: Path) -> bool:
    """Whether group or others may enter ``folder`` (so its files' own modes matter)."""
    try:
        return bool(folder.stat().st_mode & 0o011)
    except OSError:
        return False


def check_private(path: Path, what: str, mode: str) -> tuple[str, ...]:
    """A one-line warning, with the ``chmod`` to run, when group or others have any access
    to ``path``; none on a system without POSIX modes, or when ``path`` is gone."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return ()
    if os.name != "posix" or not current & 0o077:
        return ()
    return (
        f"the {what} {path} is open to other users (mode {current:04o}): "
        f"run `chmod {mode} {shlex.quote(str(path))}`",
    )


def redact_url(url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
