"""Where a run's buckets of patients are audited: one interface, three strategies.

The flow submits one task per bucket and calls `Executor.audit(bucket, work)` in it; it never
knows which executor ran. Every strategy audits the same buckets with the same function
(`runtime.buckets.audit_bucket`), so the outputs are identical:

- `InProcess`: the flow's own process, `threads` buckets at a time, each thread with a rule
  engine no other thread uses (a GX context is not shared between threads). A run held in memory
  (one bucket) and a run writing Data Docs (one GX site lists every bucket) audit here.
- `WorkerProcesses`: a run spilled to disk audits its buckets side by side in spawned worker
  processes (`runtime.workers`, one per core the run may use), which start while the inputs are
  read (or with the command: `runtime.head_start`); the flow's process only orchestrates.
- `Partitions`: each bucket audited wherever its task runs, with that thread's rule engine: on a
  Dask cluster when the flow runs with prefect-dask's task runner (the spill and the results are
  files in the output folder, which the workers must see). Buckets are sized by work (300,000
  claim lines by default), so each pays the rule engine's fixed cost once per bucket.

`choose` picks one from the run's configuration and plan.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from queue import Queue
from typing import Any

from nmr_audit.runtime.buckets import BucketAudit, BucketWork, StoredBucket, audit_bucket, stored
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.plan import RunPlan
from nmr_audit.runtime.workers import audit_in_worker, start_workers, thread_engine


class BucketWorkerError(RuntimeError):
    """A worker process died under a bucket (the system's out-of-memory killer, most likely)."""


class Executor(ABC):
    """Audits the buckets of one run (see the module). `workers`: worker processes that audit
    its buckets (summary.json: `bucket_workers`; 0: the flow's own process audits them)."""

    name: str = ""
    workers: int = 0

    @abstractmethod
    def audit(self, bucket: int, work: BucketWork) -> BucketAudit | StoredBucket:
        """One bucket audited: its `BucketAudit`, or a `StoredBucket` waiting in a file (the merge
        reads either a column at a time: `frames()`)."""

    def close(self) -> None:  # noqa: B027 (most executors start nothing to stop)
        """Stop what the executor started (worker processes); idempotent."""


class InProcess(Executor):
    """Buckets audited in this process, `threads` at a time (`docs`: GX Data Docs written there)."""

    name = "in process"

    def __init__(self, suites: dict[str, Any], threads: int = 1, docs: Path | None = None) -> None:
        from nmr_audit.gx_engine import RuleEngine

        self._engines: Queue[Any] = Queue()
        for _ in range(max(1, threads)):
            self._engines.put(RuleEngine(suites, docs))

    def audit(self, bucket: int, work: BucketWork) -> BucketAudit:
        engine = self._engines.get()
        try:
            return audit_bucket(bucket, work, engine)
        finally:
            self._engines.put(engine)


class WorkerProcesses(Executor):
    """Every bucket audited in one of `workers` worker processes (`pool`: those a head start
    started already, taken over; else started now, from `expectations`); the flow's process
    audits none.

    The flow's process only orchestrates while the workers audit: at 10M claim lines, a bucket
    audited there left 2 GiB in its allocator for the rest of the run (`malloc_trim` gives back
    only whole free pages), and every bucket it audited held the GIL against Prefect's threads.
    A worker's memory goes back to the system when the workers stop, before the outputs. Each
    worker hands its bucket's visits and findings back as a file (`StoredBucket`), which the
    flow's merge reads once every bucket is audited and the workers have stopped: the flow's
    process holds no bucket's rows while the workers hold theirs."""

    name = "worker processes"

    def __init__(self, workers: int, expectations: str | None, pool: ProcessPoolExecutor | None = None) -> None:
        self.workers = workers
        self._pool = pool or start_workers(workers, expectations)

    def audit(self, bucket: int, work: BucketWork) -> StoredBucket:
        try:
            return self._pool.submit(audit_in_worker, bucket, work).result()
        except BrokenProcessPool as exc:
            raise BucketWorkerError(
                f"the worker process auditing bucket {bucket + 1} of {work.spill.buckets} stopped (out of "
                "memory?): run again with a smaller --lines-per-bucket") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Partitions(Executor):
    """Each bucket audited in whichever process its task runs (a Dask worker under prefect-dask's
    task runner, else the flow's threads), with that thread's rule engine over the suites in
    `expectations`; its visits and findings go to `results` (inside the spill's folder, removed
    with it)."""

    name = "partitions"

    def __init__(self, expectations: str | None, results: Path) -> None:
        self.expectations = expectations
        self.results = results
        results.mkdir(mode=0o700, parents=True, exist_ok=True)

    def audit(self, bucket: int, work: BucketWork) -> StoredBucket:
        return stored(audit_bucket(bucket, work, thread_engine(self.expectations)), bucket, self.results)



def choose(config: RunConfig, plan: RunPlan, suites: dict[str, Any], docs: Path | None = None,
           pool: ProcessPoolExecutor | None = None) -> Executor:
    """The executor for a run: partitions when `config.partitioned`, worker processes for a run
    spilled to disk with workers planned (`pool`: started already by a head start), else this
    process (`docs`: the folder GX Data Docs are written to)."""
    if config.partitioned:
        assert plan.spill is not None, "a partitioned run spills to disk"
        return Partitions(config.expectations, plan.spill / "results")  # removed with the spill
    if plan.workers:
        return WorkerProcesses(plan.workers, config.expectations, pool)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
    return InProcess(suites, max(1, min(config.side_by_side, plan.buckets)), docs)

