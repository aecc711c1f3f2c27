"""Reading that starts with the command, before Prefect, GX and the Prefect server are up.

`nmr-audit audit` spent 8–30 s before it looked at its input: Prefect and GX import in the
command's process (GX alone 3–13 s on the 2-core box) while the temporary Prefect server
starts in another, and only then does the flow run its read task. Here the command reads and
validates its inputs at once, in two threads of its own process (claim lines and notes side by
side, as the flow reads them), and starts the bucket worker processes of a run spilled to disk,
while the rest starts; when the flow reaches its read task, the task takes over: it waits for
what is not done yet, and the log lines written meanwhile go to the task's log (the Prefect UI
shows them as the task's). The work and its result are the ones the flow's own read would give:
the same configuration, plan (`runtime.plan`) and function (`runtime.reading.read_table`).

Nothing here imports Prefect or GX. The flow takes over a head start only when its
configuration and plan match (`adopt`); otherwise it reads as before (a nightly run, a Dask run,
a flow called from Python).
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from nmr_audit.errors import InputError
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.plan import TABLES, RunPlan, Settings, load_settings, plan_run, same_reading
from nmr_audit.runtime.reading import Log, TableIntake, read_table
from nmr_audit.runtime.spill import Spill
from nmr_audit.runtime.workers import start_workers


class HeldLog:
    """Log lines held until a Prefect logger takes them (then passed on as they come); the first
    input file's line also goes to stderr at once, so a person sees that the command started."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, tuple[Any, ...]]] = []
        self._target: Log | None = None
        self._lock = threading.Lock()

    def info(self, msg: str, *args: Any) -> None:
        with self._lock:
            if self._target is None:
                self._lines.append((msg, args))
                if msg.startswith("first input file opened"):
                    stamp = datetime.now().strftime("%H:%M:%S.%f")[:-3]
                    print(f"{stamp} | INFO    | nmr-audit - {msg % args}", file=sys.stderr, flush=True)
                return
        self._target.info(msg, *args)

    def hand_to(self, logger: Log) -> None:
        with self._lock:
            for msg, args in self._lines:
                logger.info(msg, *args)
            self._lines.clear()
            self._target = logger


class HeadStart:
    """Both tables being read into the run's spill, in two threads of the command's process, and
    the bucket worker processes of a run spilled to disk starting meanwhile."""

    def __init__(self, config: RunConfig, plan: RunPlan, settings: Settings,
                 workers: ProcessPoolExecutor | None = None) -> None:
        self.config, self.plan, self.settings, self.workers = config, plan, settings, workers
        self.spill = Spill(plan.buckets, plan.spill)
        self.started = time.perf_counter()
        self.stop = threading.Event()
        self.logs = {table: HeldLog() for table in TABLES}
        self._pool = ThreadPoolExecutor(len(TABLES), thread_name_prefix="head-start")
        self._reads: dict[str, Future[TableIntake | InputError]] = {
            table: self._pool.submit(read_table, table, plan.files[table], settings.mapping, settings.reference,
                                     self.spill, config.batch_rows, self.logs[table], self.stop)
            for table in TABLES}
        self._pool.shutdown(wait=False)
        self.adopted = False

    def intake(self, table: str, logger: Log) -> TableIntake | InputError:
        """The table's read, waited for; its log lines so far go to `logger`, later ones as they come."""
        self.logs[table].hand_to(logger)
        waited = time.perf_counter()
        result = self._reads[table].result()
        logger.info("%s: read by the command while Prefect started (%.1f s before this task; waited %.1f s)",
                    table, waited - self.started, time.perf_counter() - waited)
        return result

    def close(self) -> None:
        """Stop the reads (unless a flow adopted them), wait for them, and remove the spill of a
        head start no flow adopted (an adopted spill is the flow's to remove)."""
        if not self.adopted:
            self.stop.set()
        for read in self._reads.values():
            read.exception()
        if not self.adopted:
            self.spill.close()
        if self.workers is not None:  # the flow's executor shut them down already, if it took them
            self.workers.shutdown(wait=True, cancel_futures=True)


_current: list[HeadStart] = []


def begin(config: RunConfig) -> HeadStart:
    """Plan the run and load the settings the read needs (`runtime.plan`, as the flow does; the
    rule suites are left to the workers), start reading, and start the bucket workers of a run
    spilled to disk. Raises InputError for a bad path, mapping, profile or reference folder (the
    command's pre-flight has checked them already)."""
    plan = plan_run(config)
    settings = load_settings(config, suites=False)
    head = HeadStart(config, plan, settings, start_workers(plan.workers, config.expectations) if plan.workers else None)
    _current[:] = [head]
    return head


def adopt(config: RunConfig, plan: RunPlan) -> HeadStart | None:
    """This process's head start, when it reads exactly what the flow would (the same
    configuration, files and buckets); taken once."""
    if not _current or _current[0].adopted:
        return None
    head = _current[0]
    if head.config != config or not same_reading(head.plan, plan):
        return None
    head.adopted = True
    return head
