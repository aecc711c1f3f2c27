"""A run's working state between its plan and its outputs, opened and closed in one `with`.

    with Workspace(config, plan, settings) as run:
        claims = run.read(CLAIM_LINES, log)          # or the head start's reading, taken over
        work = run.work(claims, notes)               # what every bucket's audit reads
        done = [run.executor.audit(b, work) for b in range(run.buckets)]

It holds the spill the inputs are read into (the command's head start's, when the flow takes it
over: `runtime.head_start.adopt`), the executor that audits the buckets (`runtime.executors`:
started as the workspace opens, so that worker processes start while the inputs are read), and
the folder GX Data Docs are written to. Closing stops the workers and removes the spill, the
executor's work folder and the Data Docs folder, whatever happened.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

from nmr_audit.errors import InputError
from nmr_audit.facts import held_rows
from nmr_audit.runtime import head_start
from nmr_audit.runtime.buckets import BucketWork, LaterCopies
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.executors import Executor, choose
from nmr_audit.runtime.memory import collector_sees_only_the_run, give_back_memory
from nmr_audit.runtime.plan import TABLES, RunPlan, Settings
from nmr_audit.runtime.reading import Log, TableIntake, read_table
from nmr_audit.runtime.spill import Spill


class Workspace:
    """See the module. `plan` is the flow's; a head start taken over brings its own (the same
    files and buckets, its spill folder)."""

    def __init__(self, config: RunConfig, plan: RunPlan, settings: Settings) -> None:
        self.config, self.settings = config, settings
        self.head = head_start.adopt(config, plan)
        self.plan = self.head.plan if self.head is not None else plan
        self._held = ExitStack()

    def __enter__(self) -> Workspace:
        try:
            self._held.enter_context(collector_sees_only_the_run())
            self.spill = self.head.spill if self.head is not None else Spill(self.plan.buckets, self.plan.spill)
            self._held.callback(self.spill.close)
            self.docs = (Path(tempfile.mkdtemp(prefix="nmr-audit-docs-"))
                         if self.config.data_docs and not self.config.partitioned else None)
            if self.docs is not None:
                self._held.callback(shutil.rmtree, self.docs, True)
            self.executor: Executor = choose(self.config, self.plan, self.settings.suites, self.docs,
                                             self.head.workers if self.head is not None else None)
            self._held.callback(self.executor.close)
        except BaseException:
            self._held.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._held.close()

    @property
    def buckets(self) -> int:
        return self.plan.buckets

    def read(self, table: str, log: Log) -> TableIntake | InputError:
        """One table read into the spill (`reading.read_table`), or the head start's reading of it."""
        if self.head is not None:
            return self.head.intake(table, log)
        return read_table(table, self.plan.files[table], self.settings.mapping, self.settings.reference, self.spill,
                          self.config.batch_rows, log)

    def read_all(self, log: Log) -> list[TableIntake | InputError]:
        """Claim lines and notes read side by side, in two threads of this process (Arrow's
        kernels leave the GIL: 30% less time than one after the other), whatever the executor.
        A run spilled to disk puts the keys aside (`TableIntake.put_keys_aside`); what the reading
        left in reference cycles and in the allocators goes back before the buckets start (at 10M
        claim lines 0.9 GiB, held while two workers audited beside it)."""
        with ThreadPoolExecutor(len(TABLES), thread_name_prefix="read") as pool:
            read = list(pool.map(lambda table: self.read(table, log), TABLES))
        if self.spill.folder is not None:  # a run spilled to disk: the keys wait beside the rows
            for table, intake in zip(TABLES, read, strict=True):
                if isinstance(intake, TableIntake):
                    intake.put_keys_aside(self.spill.folder / f"{table}-keys.parquet")
        give_back_memory()
        return read

    def work(self, claims: TableIntake, notes: TableIntake) -> BucketWork:
        """What every bucket's audit reads: the spill, the later copies of a unique key held back,
        the reference tables, the visit keys of the notes set aside at intake, whether the
        notes say which are progress reports, and, for a run spilled to disk, the folder its
        buckets' visits and canonical rows are written to (`runtime.visit_parts`, `canonical_parts`)."""
        return BucketWork(self.spill, LaterCopies(claims.duplicates, notes.duplicates), self.settings.reference,
                          held_rows(claims.quarantine, notes.quarantine), notes.progress_reports,
                          self.spill.folder / "parts" if self.spill.folder is not None else None)

    def stop_workers(self) -> None:
        """Once every bucket is audited: the worker processes' memory back to the system."""
        self.executor.close()
