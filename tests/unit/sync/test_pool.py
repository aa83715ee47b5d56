"""Tests for postroom.sync.pool: real worker processes."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from postroom.imap.errors import ProtocolError
from postroom.imap.framing import frame
from postroom.sync import heap
from postroom.sync.pool import MIN_POOLED, ReadingPool, default_workers
from postroom.sync.reading import read_heads
from tests.support import processes


@pytest.fixture
def pool():
    pool = ReadingPool(workers=1)
    yield pool
    pool.shutdown()


def test_small_batches_are_read_in_process_and_start_nothing(pool):
    assert asyncio.run(pool.read(MIN_POOLED - 1, os.getpid)) == os.getpid()
    assert not pool.started


def test_big_batches_go_to_a_worker_once_it_runs(pool):
    # the first big batch does not wait for the workers to start: it is read in-process
    assert asyncio.run(pool.read(MIN_POOLED, os.getpid)) == os.getpid()
    assert pool.wait_ready(60)

    assert asyncio.run(pool.read(MIN_POOLED, os.getpid)) != os.getpid()


def test_workers_start_with_the_reading_code_imported_and_the_collector_settled(pool):
    assert pool.wait_ready(60)
    assert asyncio.run(pool.read(MIN_POOLED, gc.get_threshold)) == (
        heap.YOUNG_THRESHOLD,
        *heap.OLDER_THRESHOLDS,
    )
    # frozen after the import: the reading code's objects are left out of full collections
    assert asyncio.run(pool.read(MIN_POOLED, gc.get_freeze_count)) > 10_000


def test_the_sync_process_keeps_a_core_and_there_are_at_most_two_workers():
    assert [default_workers(cpus) for cpus in (1, 2, 3, 4, 64)] == [0, 1, 2, 2, 2]


def test_a_pool_without_workers_reads_everything_in_process():
    pool = ReadingPool(workers=0)
    assert asyncio.run(pool.read(10_000, os.getpid)) == os.getpid()
    assert pool.wait_ready(1) is False


def test_a_dead_worker_means_reading_in_process_from_then_on(pool):
    assert pool.wait_ready(60)
    worker = asyncio.run(pool.read(MIN_POOLED, os.getpid))
    os.kill(worker, signal.SIGKILL)
    time.sleep(0.2)

    assert asyncio.run(pool.read(MIN_POOLED, os.getpid)) == os.getpid()
    assert pool.workers == 0
    assert asyncio.run(pool.read(MIN_POOLED, os.getpid)) == os.getpid()


CHILD = """
import asyncio, os, sys, time
from postroom.sync.pool import ReadingPool
pool = ReadingPool(workers=2)
assert pool.wait_ready(60)
def parent_of(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
    except OSError:  # it ended meanwhile
        return None
pids = set()
while len(pids) < 2:
    pids |= {pid for pid in os.listdir("/proc") if pid.isdigit()
             and parent_of(pid) == str(os.getpid())}
    time.sleep(0.05)
print(" ".join(sorted(pids)), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_a_sync_process_killed_by_sigkill(tmp_path: Path):
    with subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as process:
        assert process.stdout is not None
        workers = [int(pid) for pid in process.stdout.readline().split()]
        assert len(workers) >= 2  # the workers (and multiprocessing's resource tracker)
        process.kill()

    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in workers if processes.is_alive(pid)]
        time.sleep(0.05)
    assert alive == []


def test_idle_workers_stop_and_start_again_for_the_next_big_batch():
    pool = ReadingPool(workers=1, idle_seconds=0.1)
    try:
        assert pool.wait_ready(60)

        async def read_then_idle() -> int:
            pid = await pool.read(MIN_POOLED, os.getpid)
            await asyncio.sleep(0.5)
            return pid

        assert asyncio.run(read_then_idle()) != os.getpid()
        assert not pool.started  # stopped after 0.1 s without work
        assert pool.wait_ready(60)
        assert asyncio.run(pool.read(MIN_POOLED, os.getpid)) != os.getpid()
    finally:
        pool.shutdown()


def test_a_protocol_error_in_a_worker_comes_back_as_itself(pool):
    broken = frame(b"* 1 FETCH (UID 10 RFC822.SIZE (((\r\n")
    assert pool.wait_ready(60)

    with pytest.raises(ProtocolError, match="cannot parse a FETCH response"):
        asyncio.run(pool.read(MIN_POOLED, read_heads, broken, frozenset({10})))
    assert pool.workers == 1  # an error of the batch, not a broken pool


SCRIPT = """
import asyncio, os, sys
from pathlib import Path
# this file's top level runs again in any process that imports it as its main script
Path(sys.argv[1], str(os.getpid())).touch()
from postroom.sync import heap
from postroom.sync.pool import MIN_POOLED, ReadingPool, default_workers

if __name__ == "__main__":
    pool = ReadingPool(workers=2)
    assert pool.wait_ready(60)
    workers = {asyncio.run(pool.read(MIN_POOLED, os.getpid)) for _ in range(20)}
    print(os.getpid(), " ".join(map(str, workers - {os.getpid()})), flush=True)
    pool.shutdown()
"""


def test_workers_do_not_run_the_parents_main_script(tmp_path: Path):
    # a console script (``postroom``) is a main without an import spec: spawned workers would
    # run it again and import the whole CLI, unless the pool hides it
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    markers = tmp_path / "markers"
    markers.mkdir()
    result = subprocess.run(
        [sys.executable, str(script), str(markers)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parent, *workers = result.stdout.split()
    assert workers
    assert sorted(p.name for p in markers.iterdir()) == [parent]
