"""The data folder and the database are private to the user who runs Postroom (issue 11, item
7): folder 0700, database, ``-wal``, ``-shm`` and key file 0600 whatever the umask; a folder
already open to other users is warned about with the ``chmod`` that closes it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from postroom.config import Settings
from postroom.services.runtime import start_runtime
from postroom.services.secrets import load_or_create_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give users (022: files 0644, folders 0755)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def settings_in(home: Path) -> Settings:
    return Settings.from_env({"POSTROOM_HOME": str(home)})


def test_a_new_data_folder_database_and_key_are_private_under_a_usual_umask(tmp_path, usual_umask):
    home = tmp_path / "postroom"
    runtime = start_runtime(settings_in(home))
    load_or_create_key(runtime.settings)
    database = home / "postroom.db"
    try:
        with runtime.write() as session:  # the -wal and -shm files exist while it is open
            session.execute(text("CREATE TABLE probe (x INTEGER)"))
            wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
            assert wal.exists()
            assert shm.exists()
            assert {p.name: oct(mode(p)) for p in (database, wal, shm)} == {
                p.name: oct(0o600) for p in (database, wal, shm)
            }
    finally:
        runtime.engine.dispose()

    assert mode(home) == 0o700
    assert mode(runtime.settings.key_path) == 0o600
    assert runtime.warnings == ()


def test_a_database_outside_the_data_folder_is_private_too(tmp_path, usual_umask):
    database = tmp_path / "elsewhere" / "crm.db"
    settings = Settings.from_env(
        {"POSTROOM_HOME": str(tmp_path / "home"), "POSTROOM_DATABASE_URL": f"sqlite:///{database}"}
    )
    runtime = start_runtime(settings)
    runtime.engine.dispose()

    assert mode(database.parent) == 0o700
    assert mode(database) == 0o600


def test_a_data_folder_open_to_others_is_warned_about_with_the_chmod_to_run(tmp_path):
    home = tmp_path / "my data"
    home.mkdir(mode=0o755)
    home.chmod(0o755)

    runtime = start_runtime(settings_in(home))
    runtime.engine.dispose()

    assert runtime.warnings == (
        f"the data folder {home} is open to other users (mode 0755): run `chmod 700 '{home}'`",
    )
    assert mode(home) == 0o755  # the user's folder is left as it is


def test_a_database_file_others_may_read_is_warned_about(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    database = shared / "crm.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    settings = Settings.from_env(
        {"POSTROOM_HOME": str(tmp_path / "home"), "POSTROOM_DATABASE_URL": f"sqlite:///{database}"}
    )

    runtime = start_runtime(settings)
    runtime.engine.dispose()

    assert runtime.warnings == (
        f"the database file {database} is open to other users (mode 0644): "
        f"run `chmod 600 {database}`",
    )
