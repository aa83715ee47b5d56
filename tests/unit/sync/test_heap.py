"""Tests for postroom.sync.heap, each in a fresh interpreter (the settings are process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

from postroom.sync import heap

PROBE = """
import gc, json
before = gc.get_freeze_count()
import postroom.sync.folder
from postroom.sync import heap
heap.settle()
frozen = gc.get_freeze_count()
garbage = []
garbage.append(garbage)  # a reference cycle, freed only by the collector
del garbage
print(json.dumps({"before": before, "frozen": frozen, "threshold": gc.get_threshold(),
                  "collected": gc.collect()}))
"""


def test_settle_freezes_what_is_loaded_and_collects_the_young_less_often():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    probe = json.loads(result.stdout)

    assert probe["before"] == 0
    assert probe["frozen"] > 50_000  # the modules and their objects: out of full collections
    assert probe["threshold"] == [heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS]
    assert probe["collected"] >= 1  # cycles made after it are still collected
