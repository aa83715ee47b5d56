"""What every face (CLI, web) needs to run: settings, a migrated database, sessions.

The database is created and migrated on first use (Alembic ``upgrade``), so Postroom works
on a fresh machine with nothing set up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from postroom.config import Settings
from postroom.errors import ConfigError
from postroom.store.db import create_db_engine, make_session_factory, reading, transaction, upgrade


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

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
    """The data folder made, the database at the newest schema, and a session factory."""
    make_data_folder(settings)
    engine = create_db_engine(settings.database_url)
    upgrade(engine)
    return Runtime(settings, engine, make_session_factory(engine))


def make_data_folder(settings: Settings) -> None:
    """The data folder (``POSTROOM_HOME``) made if missing; a ``ConfigError`` that names the
    setting when the path is a file, or cannot be made."""
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
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


def redact_url(url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
