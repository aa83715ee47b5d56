"""``postroom serve`` as a user runs it: prints where it is and the setup link, serves, and
stops cleanly (exit 0) on SIGTERM and on Ctrl-C (SIGINT), its sync stopped with it."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support import cli
from tests.support.browser import free_port

SETUP_URL = re.compile(r"(http://127\.0\.0\.1:\d+/setup\?token=\S+)")


def _setup_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = SETUP_URL.search(line)
        if found:
            return found.group(1)
    raise AssertionError(f"no setup link printed: {lines!r}")


def _get(url: str, deadline: float) -> int:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                return int(response.status)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_answers_and_stops_cleanly_on_a_signal(engine, tmp_path, stop):
    env = {**cli.postroom_env(engine, tmp_path / "home"), "COLUMNS": "300"}
    port = free_port()
    process = cli.start(env, "serve", "--port", str(port))
    try:
        url = _setup_url(process, time.monotonic() + 60)
        assert url.startswith(f"http://127.0.0.1:{port}/setup?token=")
        assert _get(url, time.monotonic() + 30) == 200
        process.send_signal(stop)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Postroom stopped." in out
    assert "Traceback" not in err
