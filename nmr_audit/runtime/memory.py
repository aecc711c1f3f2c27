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
import functools
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pyarrow as pa


def _libc(function: str) -> Callable[..., int] | None:
    """A function of the C library (glibc's `malloc_trim`, `mallopt`) where there is one (Linux);
    elsewhere nothing to call."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), function, None) if name else None
    except OSError:
        return None


_TRIM = _libc("malloc_trim")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)
LARGEST_HEAP_BLOCK = 32 * 2**20  # glibc's own ceiling for its sliding mmap threshold (64-bit)


@functools.cache
def undo_small_trim_threshold() -> bool:
    """Give glibc back its default handling of large blocks in a process started with
    `MALLOC_TRIM_THRESHOLD_` set, as Dask's nanny starts every worker (65,536 bytes, its
    `distributed.nanny.pre-spawn-environ`). Setting any threshold turns off glibc's sliding
    mmap threshold: every block above 128 KiB is then mapped fresh and unmapped when freed, and
    each bucket's pandas temporaries fault in new pages again and again: auditing a million
    claim lines took 17 s of CPU instead of 11 s in a Dask worker (measured; the same with the
    variable set in a plain process, and 11 s in a Dask worker once undone). Blocks up to
    32 MiB (the sliding threshold's own ceiling) come from the heap again and free memory stays
    up to 64 MiB; `give_back_memory` still hands the rest back after every bucket. Once per
    process; returns whether it changed anything (nothing where the variable is not set or there
    is no glibc)."""
    mallopt = _libc("mallopt")
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_") or mallopt is None:
        return False
    changed = [mallopt(M_MMAP_THRESHOLD, LARGEST_HEAP_BLOCK), mallopt(M_TRIM_THRESHOLD, 2 * LARGEST_HEAP_BLOCK)]
    return all(changed)


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
