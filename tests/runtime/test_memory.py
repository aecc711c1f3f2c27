import gc
import os
import subprocess
import sys
import weakref

import pytest

from nmr_audit.runtime.memory import collector_sees_only_the_run, give_back_memory, undo_small_trim_threshold


class Node:
    def __init__(self) -> None:
        self.other: object = self


def test_a_run_hides_older_objects_from_the_collector_and_still_collects_its_own_cycles():
    before = Node()  # alive before the run: frozen for it
    with collector_sees_only_the_run():
        assert gc.get_freeze_count() > 0
        cycle = Node()
        gone = weakref.ref(cycle)
        del cycle
        give_back_memory()
        assert gone() is None  # a cycle made during the run is still collected
    assert gc.get_freeze_count() == 0  # let go: a process running flow after flow can collect again
    old = weakref.ref(before)
    del before
    gc.collect()
    assert old() is None


def test_garbage_left_before_a_run_is_collected_once_the_run_lets_go():
    """The run freezes what it finds without collecting first: cycles already garbage then wait,
    frozen, until the run ends, and are collected after it (a served process runs flow after flow)."""
    gc.disable()  # no automatic collection between making the garbage and the run
    try:
        cycle = Node()
        gone = weakref.ref(cycle)
        del cycle
        with collector_sees_only_the_run():
            give_back_memory()
        gc.collect()
        assert gone() is None
    finally:
        gc.enable()


LARGE_BLOCK_FAULTS = """
import resource, sys
import numpy as np
from nmr_audit.runtime.memory import undo_small_trim_threshold
if sys.argv[1] == "undo":
    assert undo_small_trim_threshold()
np.ones(2**19)  # glibc's default maps the first large block, then raises its threshold
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    block = np.ones(2**19)  # 4 MiB written: a fresh mapping faults in 1,024 pages
    del block
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_block(*argv: str, **environ: str) -> float:
    """Minor faults per 4 MiB block in a fresh process with `environ`: the variable only where
    given (a Dask nanny started in this test process leaves it in os.environ for good)."""
    inherited = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    done = subprocess.run([sys.executable, "-c", LARGE_BLOCK_FAULTS, *argv], capture_output=True, text=True,
                          env={**inherited, **environ}, check=True)
    return float(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_process_started_with_dask_s_trim_threshold_reuses_large_blocks_once_undone():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536: every large block is then
    mapped fresh and faulted in again (a bucket's pandas temporaries: 17 s of CPU instead of 11)."""
    assert faults_per_block("keep", MALLOC_TRIM_THRESHOLD_="65536") > 500
    assert faults_per_block("undo", MALLOC_TRIM_THRESHOLD_="65536") < 50
    assert faults_per_block("keep") < 100  # glibc's default (its sliding threshold), close to what the undo gives


def test_nothing_is_changed_where_the_trim_threshold_is_not_set(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    undo_small_trim_threshold.cache_clear()
    try:
        assert undo_small_trim_threshold() is False
    finally:
        undo_small_trim_threshold.cache_clear()
