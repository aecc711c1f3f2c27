"""Hand memory freed between a run's batches and buckets back to the operating system.

Arrow's allocator (mimalloc) and glibc's malloc keep freed memory for reuse, so a process that
has validated a batch or audited a bucket stays as large as its largest step plus what the
next one fragments. Released between steps, the peak stays near one step's working set
(measured on 3M claim lines: 0.8 GiB less at the start of each bucket).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import pyarrow as pa


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim where there is one (Linux); elsewhere nothing to call."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_TRIM = _malloc_trim()


def give_back_memory() -> None:
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
