"""Fixtures: every database test runs on SQLite *and* on PostgreSQL.

Each pytest-xdist worker migrates one database per backend once (Alembic, as in production);
each test then starts from empty tables (PostgreSQL: TRUNCATE; SQLite: a fresh copy of the
migrated file), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from postroom.store.db import create_db_engine, make_session_factory, upgrade
from postroom.store.models import Base
from tests.support.postgres import create_database, find_or_start_postgres

pytest_plugins = ["tests.dovecot_plugin", "tests.browser_plugin"]

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The team's shared corpus; tests that use it are left out when it is missing."""
    if not CORPUS.is_dir():
        raise RuntimeError(f"the shared corpus is missing: expected {CORPUS}")
    return CORPUS


def pytest_report_header(config: pytest.Config) -> str | None:
    if CORPUS.is_dir():
        return None
    return (
        f"shared corpus not found at {CORPUS}: the tests that use it are left out, "
        "the rest run (docs/testing.md)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the shared corpus, deselect exactly the tests that ask for ``corpus_dir``."""
    if CORPUS.is_dir():
        return
    kept, left_out = [], []
    for item in items:
        uses_corpus = "corpus_dir" in getattr(item, "fixturenames", ())
        (left_out if uses_corpus else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_engine(worker_id: str) -> Iterator[Engine]:
    server = find_or_start_postgres()
    url = create_database(server, f"postroom_test_{worker_id}_{os.getpid()}")
    engine = create_db_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "postroom.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        sqlite_engine = create_db_engine(f"sqlite:///{path}")
        yield sqlite_engine
        sqlite_engine.dispose()
    else:
        pg_engine: Engine = request.getfixturevalue("_postgres_engine")
        _truncate_all(pg_engine)
        yield pg_engine


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
