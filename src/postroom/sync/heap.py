"""The garbage collector of a sync process and of its reading workers, set for a first sync.

A first sync allocates millions of short-lived objects (FETCH responses, header fields, rows)
in a process that already holds hundreds of thousands of long-lived ones (the modules,
SQLAlchemy's metadata). CPython's defaults collect the young objects every 700 allocations,
and every so often run a full collection that goes over every object the process holds. On
a 20,000-message first sync that was about a tenth of all the sync's CPU
(benchmarks/first_sync.py, two cores).

``settle()``, once the process has imported what it works with:

* ``gc.freeze()``: what exists now lives as long as the process; full collections skip it;
* young collections every ``YOUNG_THRESHOLD`` allocations: each one costs about the same per
  object, but objects of a batch in hand are no longer promoted to the older generations,
  which are then collected less often.

Reference cycles are still collected; a cyclic garbage object just waits longer (a few MB at
most). Acyclic garbage, the most of it, is freed by reference counting as before.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations between two collections of the young generation (CPython's default: 700)."""
OLDER_THRESHOLDS = (20, 20)
"""Young collections per middle-aged one, middle-aged ones per full one (default: 10, 10)."""


def settle() -> None:
    """Set this process's collector for sync work; see the module docstring."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
