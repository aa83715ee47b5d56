"""Engines, sessions, migrations and the few places where SQLite and PostgreSQL differ.

Invariants:

* Sessions are short: one unit of work (a batch of messages, one import) per transaction.
* SQLite runs in WAL mode with foreign keys on; every transaction is ``BEGIN IMMEDIATE``, so
  concurrent units of work (two folders committing at once) wait their turn, never fail.
  Read-only units of work (``reading``) are plain deferred transactions instead: a snapshot
  that neither waits for a writer nor holds one up.
* The schema is made only by Alembic migrations (``upgrade``), never by ``create_all``.
* A SQLite database is private to the user who runs Postroom: its folder is made 0700 and the
  file 0600 before SQLite opens it; SQLite gives the ``-wal`` and ``-shm`` files it makes
  the database file's mode (docs/architecture.md, "The data folder").
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.dml import Insert

from postroom.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_db_engine(url: str) -> Engine:
    """Build the engine for ``url``; a SQLite file is made private (``make_private_sqlite_file``)
    first."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            make_private_sqlite_file(path)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database {backend!r}",
        advice="set POSTROOM_DATABASE_URL to a sqlite:/// or postgresql:// URL",
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def make_private_sqlite_file(path: Path) -> None:
    """``path``'s folder made (0700) if missing, and the file made empty with mode 0600 if
    missing (an empty file is an empty SQLite database), so that no umask makes the
    database, or the ``-wal`` and ``-shm`` files SQLite gives the same mode, readable by
    other users. An existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling commits a SAVEPOINT that opens a transaction when it
    # is released; SQLAlchemy's documented recipe: let SQLAlchemy emit BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "postroom_read_only"
"""Connection execution option: this transaction only reads (see ``reading``)."""


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE: a deferred transaction that reads first and writes later fails at once with
    # "database is locked" when another connection wrote in between (its WAL snapshot is stale;
    # the busy timeout does not apply). IMMEDIATE takes the write lock up front, waiting up to
    # the busy timeout for it, so concurrent units of work queue instead of failing. A
    # read-only one needs no lock: deferred, it reads a WAL snapshot alongside any writer.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with factory.begin() as session:
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that only reads. On SQLite it neither waits for a writer (a commit of
    another folder) nor makes one wait. Writing in it is a mistake: on SQLite it may fail
    with "database is locked" instead of waiting its turn."""
    with factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic); safe to call on every start."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision, or None when the database is empty."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def insert_ignoring_duplicates(
    engine_or_session: Engine | Session, table: Table | type[DeclarativeBase]
) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's backend.

    The unique keys (one activity per message and record, one message per identity key) are
    what make replays harmless: a row already there is left as it is.
    """
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return insert_ignoring_for(bind.dialect, table_of(table))


def table_of(table: Table | type[DeclarativeBase]) -> Table:
    """The Core table of a model (Core statements skip the ORM's per-statement machinery)."""
    return table if isinstance(table, Table) else cast(Table, table.__table__)


def insert_ignoring_for(dialect: Dialect, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``dialect``."""
    if dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise ConfigError(f"unsupported database {dialect.name!r}")


def chunked(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """Slices of at most ``size`` items: keeps ``IN (...)`` lists under backend limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
