"""Find a PostgreSQL server for the tests, or start a private one.

Order: ``POSTROOM_TEST_PG_URL``; a server on 127.0.0.1:5432 (user postgres, trust auth); else a
private cluster made with ``initdb`` in a temp folder and started with ``pg_ctl`` on a free port
(run as the ``postgres`` system user when the tests run as root). It is stopped at exit.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run .ci/run (apt postgresql)")
    return found if isinstance(found, str) else found[0]


def _start_private_cluster() -> str:
    folder = tempfile.mkdtemp(prefix="postroom-pg-")
    data = os.path.join(folder, "data")
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, _pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_user,
            _pg_bin("pg_ctl"),
            "-D",
            data,
            "-l",
            os.path.join(folder, "log"),
            "-w",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    atexit.register(
        subprocess.run,
        [*as_user, _pg_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"],
        capture_output=True,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(50):
        if _reachable(url):
            return url
        time.sleep(0.1)
    raise RuntimeError(f"private PostgreSQL did not start (see {folder}/log)")


def find_or_start_postgres() -> str:
    """A URL of a PostgreSQL server where the tests may create databases."""
    url = os.environ.get("POSTROOM_TEST_PG_URL") or DEFAULT_URL
    if _reachable(url):
        return url
    return _start_private_cluster()


def create_database(server_url: str, name: str) -> str:
    """(Re)create database ``name`` and return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"
