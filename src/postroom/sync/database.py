"""Where the sync engine's database work runs: two dedicated threads per process.

The database layer is synchronous. Running it on the event loop would stall IMAP and IDLE for
every account, so it runs in threads. But asyncio's default pool grows to several threads, and
each thread gets its own malloc arena and its own pooled database connection. On a 100,000-message
first sync that showed up as resident memory growing with the mailbox. Two threads are enough:
one can commit a batch while another reads for the next batch.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="postroom-db")


async def run_db(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)`` on a database thread, awaited."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(function, *args, **kwargs))
