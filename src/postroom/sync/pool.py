"""Worker processes for the CPU-bound reading of big batches (``sync.reading``).

A first sync spends most of its CPU parsing: imapclient's lexer, the header fields, the text
of the messages that are logged. One Python process uses one core, so a big batch is read in
a worker process while the sync process goes on with the I/O: the next batch's FETCH, the
database commit of the previous one.

``read(n, function, *args)`` runs ``function(*args)`` (a pure, picklable function) in a
worker when the batch is big (``size >= MIN_POOLED``) and the pool is up, and in the calling
process otherwise, so that small batches (new mail, seconds after it arrives) pay no
inter-process round trip. The first big batch starts the pool (``start``) and is read
in-process while the workers start, so nothing waits for them. Workers stop after
``IDLE_SECONDS`` without work and start again when a big batch comes.

Invariants:

* Workers never outlive the sync process: each asks the kernel for SIGKILL when its parent
  dies (Linux ``PR_SET_PDEATHSIG``) and exits at once if the parent is already gone; they
  ignore SIGINT (a terminal's Ctrl-C goes to the whole process group: the parent decides).
* A broken pool (a worker killed, out of memory, a worker that could not start) is not an
  error of the sync: the batch, and every later one, is read in-process.
* ``workers`` is 0 on a one-core machine: everything is read in-process.
* Workers import only what reading needs, never the parent's main script (the CLI): see
  ``_main_script_hidden``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from postroom.sync import heap

log = logging.getLogger(__name__)

MIN_POOLED = 50
"""Batches of fewer messages are read in-process."""
IDLE_SECONDS = 120.0
"""Workers stop after this long without a big read (a first sync is over): a worker that
runs around the clock keeps no idle processes."""
_PR_SET_PDEATHSIG = 1

_P = ParamSpec("_P")
_T = TypeVar("_T")


def default_workers(cpus: int | None = None) -> int:
    """One core fewer than the machine has, at most two. In a first sync the sync process
    itself keeps about one core busy (the event loop's framing, the database threads, the
    workers' results), so a second worker on two cores only competes with it: on two cores
    one worker used about 5% less CPU than two, for the same or a shorter time
    (benchmarks/first_sync.py), and 45 MB less memory. Each worker holds about 45 MB, so there
    are never more than two: the whole sync stays under 200 MB."""
    return max(0, min(2, (cpus or os.cpu_count() or 1) - 1))


class ReadingPool:
    """A lazily started pool of worker processes; see the module docstring."""

    def __init__(self, workers: int | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
        self.workers = default_workers() if workers is None else workers
        self.idle_seconds = idle_seconds
        self._executor: ProcessPoolExecutor | None = None
        self._ready: Future[int] | None = None
        self._busy = 0
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def started(self) -> bool:
        """True once the workers have been started (they may still be starting)."""
        return self._executor is not None

    def start(self) -> None:
        """Start the workers (in the background) unless they run already."""
        if self._executor is not None or self.workers <= 0:
            return
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        with _main_script_hidden():
            self._ready = self._executor.submit(os.getpid)

    def wait_ready(self, timeout: float) -> bool:
        """Start the workers and block until one runs (for warm-ups and tests): True when
        ready, False when there are none or they did not start in time."""
        self.start()
        if self._ready is None:
            return False
        try:
            self._ready.result(timeout)
        except Exception:
            return False
        return True

    async def read(
        self, size: int, function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """``function(*args)``, in a worker when ``size`` is big and a worker is ready."""
        if size < MIN_POOLED or self.workers <= 0:
            return function(*args, **kwargs)
        self.start()
        if self._ready is None or not self._ready.done() or self._executor is None:
            return function(*args, **kwargs)  # the workers are still starting
        self._busy += 1
        try:
            with _main_script_hidden():  # a submit may start a worker
                future = self._executor.submit(function, *args, **kwargs)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            log.warning("a reading worker died: reading in-process from now on")
            self.shutdown()
            self.workers = 0
            return function(*args, **kwargs)
        finally:
            self._busy -= 1
            self._stop_when_idle()

    def _stop_when_idle(self) -> None:
        """(Re)arm the timer that stops the workers after ``idle_seconds`` without a read."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = asyncio.get_running_loop().call_later(
            self.idle_seconds, self._stop_if_idle
        )

    def _stop_if_idle(self) -> None:
        self._idle_timer = None
        if self._busy == 0:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the workers (they also die with this process); a later big read starts
        them again."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        executor, self._executor, self._ready = self._executor, None, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Start workers without the parent's main script.

    A spawned worker runs the parent's ``__main__`` file again when that module has no import
    spec (multiprocessing's rule), as for a console script such as ``postroom``: each worker
    would import the whole CLI (SQLAlchemy, Typer, Rich), about 40 MB and 0.4 s of CPU it never
    uses. Workers are started only inside this block (``submit`` starts them, in this thread),
    with the file name hidden, so they import only what their work needs.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _start_worker(parent: int) -> None:
    """Worker initializer: die with the parent, leave SIGINT to it; import the reading code
    and settle the collector (``sync.heap``) before the first batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)
    importlib.import_module("postroom.sync.reading")
    heap.settle()


_pool: ReadingPool | None = None


def get_pool() -> ReadingPool:
    """The process-wide pool (every account and folder shares it)."""
    global _pool
    if _pool is None:
        _pool = ReadingPool()
    return _pool
