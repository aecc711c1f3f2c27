"""Processes that audit buckets: spawned bucket workers, and the rule engine a Dask worker keeps.

Two buckets audited in two threads of one process kept both cores only 60% busy: GX's
per-expectation bookkeeping and pandas' Python layers hold the GIL. A run that spills its
buckets to disk therefore audits them in worker processes as well, each loading its bucket from
the spill files, with a rule engine built once per process. Workers are spawned, not forked (the
flow's process runs threads, and a forked lock can stay locked), and import `nmr_audit` only,
never Prefect; they load the rule suites themselves (the command starts them before it has
imported GX: `runtime.head_start`).

A Dask worker auditing a partitioned run keeps one engine per thread (`thread_engine`), built
for its first bucket (`dask_setup` builds it as the worker starts, with `--preload
nmr_audit.runtime.workers`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from nmr_audit.runtime.buckets import BucketWork, StoredBucket, audit_bucket, stored
from nmr_audit.runtime.imports import defer_unused_imports
from nmr_audit.runtime.memory import keep_imports_out_of_collections, undo_small_trim_threshold

QUIET_SCRATCH = "NMR_AUDIT_QUIET_SCRATCH_CLEANUP"  # set by the command's local cluster (`cli.local_cluster`)
_ENGINE: list[Any] = []  # the worker process's own rule engine
_ENGINES = threading.local()  # a GX context is never shared between threads


def rule_engine(expectations: str | None) -> Any:
    """A new rule engine over the suites in `expectations` (the shipped ones when None), with GX
    set up for it (`gx_engine.setup_gx`). Raises InputError for a missing or invalid suite."""
    from nmr_audit.gx_engine import RuleEngine
    from nmr_audit.io.suites import load_suites

    return RuleEngine(load_suites(Path(expectations) if expectations else None))


def start_workers(count: int, expectations: str | None) -> ProcessPoolExecutor:
    """`count` bucket worker processes, started now (spawned: imports and rule engine, about 7 s
    of CPU each), so that they are ready when the run audits its first buckets."""
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(expectations,))
    for _ in range(count):
        pool.submit(ready)  # every worker starts now, not when its first bucket is due
    return pool


def _start_worker(expectations: str | None) -> None:
    defer_unused_imports()  # as the command does: GX's SciPy statistics wait until used (runtime.imports)
    _ENGINE.append(rule_engine(expectations))
    keep_imports_out_of_collections()


def ready() -> None:
    """Submitted once per worker so that every worker starts before the first bucket is due."""


def audit_in_worker(bucket: int, work: BucketWork) -> StoredBucket:
    """One bucket audited in a worker process, with the engine it built as it started; its
    visits and findings wait in a file of the run's work folder (`buckets.StoredBucket`)."""
    return stored(audit_bucket(bucket, work, _ENGINE[0]), bucket, work.spill.folder / "results")


def thread_engine(expectations: str | None) -> Any:
    """This thread's rule engine for the suites in `expectations` (the shipped ones if None), built
    for its first bucket and kept: a Dask worker audits bucket after bucket, and building an
    engine (a GX context, a batch per expectation) costs seconds. Keyed by the suites' files, so an
    edited suite counts from the next bucket on. In a process Dask's nanny started, glibc's
    handling of large blocks is given back first (`memory.undo_small_trim_threshold`)."""
    from nmr_audit.io.suites import default_expectations_dir, suites_fingerprint

    undo_small_trim_threshold()
    folder = Path(expectations) if expectations else default_expectations_dir()
    key = (str(folder), suites_fingerprint(folder))
    if getattr(_ENGINES, "key", None) != key:
        _ENGINES.engine, _ENGINES.key = rule_engine(str(folder)), key
    return _ENGINES.engine


def dask_setup(worker: Any) -> None:
    """Dask's preload hook (`dask worker --preload nmr_audit.runtime.workers`): the shipped rule
    engine built in the worker's thread pool as it starts, before the first bucket is due, and
    what lives then kept out of later full collections (`_ready_for_buckets`)."""
    if os.environ.get(QUIET_SCRATCH):  # a cluster the command started (`cli.local_cluster`)
        quiet_scratch_cleanup()
    pool = getattr(worker, "executors", {}).get("default")
    if pool is not None:
        pool.submit(_ready_for_buckets)


def _ready_for_buckets() -> None:
    """A Dask worker's thread made ready: glibc's defaults back (`thread_engine`), the rule
    engine built, and every object alive then (Dask's, Prefect's, GX's) out of sight of the full
    collection after each bucket (`memory.keep_imports_out_of_collections`): in a Dask worker
    those collections took 17 s of a 10M-line run's two workers, 1.3 s in the command's own."""
    thread_engine(None)
    keep_imports_out_of_collections()


def quiet_scratch_cleanup() -> None:
    """Silence `distributed.diskutils` in this process (the command's, and each worker of the
    local cluster it starts: `dask_setup` with `QUIET_SCRATCH` set). As that cluster closes after
    a successful run, its nanny, worker and scheduler remove the same scratch folders (inside the
    command's temporary folder, removed whole at its end) and Dask logs each second removal as an
    ERROR ("Failed to remove … No such file or directory"): three alarming lines on every
    `--dask-address local` run. A user's own cluster logs as it did."""
    logging.getLogger("distributed.diskutils").setLevel(logging.CRITICAL)
