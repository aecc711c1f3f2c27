"""Hand memory freed between a run's batches and buckets back to the operating system.

Frames that end up in reference cycles live until Python's next full collection, and Arrow's
allocator (mimalloc) and glibc's malloc keep freed memory for reuse, so a process that has
validated a batch or audited a bucket stays as large as its largest steps together. Collected
and released between steps, the peak stays near one step's working set (measured at 10M claim
lines: buckets had reached 7.6 GiB before a full collection brought them back to 4.2 GiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow as pa


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim where there is one (Linux); elsewhere nothing to call."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_TRIM = _malloc_trim()


def give_back_memory(collect: bool = True) -> None:
    """Freed memory back to the system; `collect`: a full collection first (frames caught in
    reference cycles wait for one otherwise: 2–3 GiB of a 10M-line run's buckets). A collection
    walks every object the process tracks (Prefect's and GX's too, until `gc.freeze`): reading
    10M lines in 250k-row batches spent 9 s of its 42 in them, for 90 MiB less at its peak."""
    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)


def keep_imports_out_of_collections() -> None:
    """Move every object tracked now (modules, Prefect, GX: some 350,000 of them) out of sight of
    later full collections: each `gc.collect()` walked them all, 0.2–0.3 s a call and 11 s of a
    10M-line run. Objects freed later by their reference counts are still freed. No collection
    first: it too walked them all (0.2 s of every run, the 500-visit sample's included) to free
    the few hundred objects imports leave in reference cycles; those wait, frozen, until
    `collector_sees_only_the_run` lets go (or the process ends)."""
    gc.freeze()


@contextmanager
def collector_sees_only_the_run() -> Iterator[None]:
    """`keep_imports_out_of_collections` for one run, let go afterwards: a process that runs flow
    after flow (a served deployment, the tests) can still collect what a run left in cycles."""
    keep_imports_out_of_collections()
    try:
        yield
    finally:
        gc.unfreeze()
