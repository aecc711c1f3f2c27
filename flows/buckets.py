"""One bucket of patients audited, in a thread of the flow or in a worker process of its own.

Two buckets audited in two threads of one process kept both cores only 60% busy: GX's
per-expectation bookkeeping and pandas' Python layers hold the GIL. A run that spills its
buckets to disk therefore audits them in worker processes, each loading its bucket from the
spill files, with a rule engine built once per process. Workers are spawned, not forked (the
flow's process runs threads, and a forked lock can stay locked), and import `nmr_audit` only,
never Prefect. A run held in memory (one bucket) or writing Data Docs (one GX site for the
whole run) audits in the flow's threads.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Any

import pandas as pd

from nmr_audit.buckets import patient_buckets
from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.gx_engine import RuleEngine
from nmr_audit.intake import drop_duplicates, keep_lineage
from nmr_audit.io.memory import give_back_memory, keep_imports_out_of_collections
from nmr_audit.io.spill import Spill
from nmr_audit.pipeline import Audited, audit_tables
from nmr_audit.reference import ReferenceData
from nmr_audit.therapy import TherapyHistory

THERAPY_AMOUNTS, TREATMENT_DAYS = "therapy_amounts", "treatment_days"  # earlier nights' rows, spilled by patient


class BucketWorkerError(RuntimeError):
    """A worker process died under a bucket (the system's out-of-memory killer, most likely)."""


@dataclass(frozen=True)
class LaterCopies:
    """The later copies of a unique key in each table (`intake.duplicate_keys`): held back from
    every bucket, so the first copy read is the one audited."""

    claim_lines: pd.DataFrame
    visit_notes: pd.DataFrame


@dataclass(frozen=True)
class BucketAudit:
    audited: Audited
    held: pd.DataFrame  # the later copies found in this bucket, for the quarantine
    claim_lines: int


def bucket_claims(spill: Spill, bucket: int, copies: LaterCopies) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One bucket's claim lines without the later copies of a unique key, and those copies."""
    return drop_duplicates(spill.load(CLAIM_LINES, bucket), copies.claim_lines, CLAIM_LINES)


def bucket_notes(spill: Spill, bucket: int, copies: LaterCopies) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One bucket's notes (later copies taken out), their minutes, and the copies."""
    visit_notes, held = drop_duplicates(spill.load(VISIT_NOTES, bucket), copies.visit_notes, VISIT_NOTES)
    return visit_notes, keep_lineage(spill.load(NOTE_SERVICES, bucket), visit_notes), held


def bucket_tables(spill: Spill, bucket: int, copies: LaterCopies
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One bucket's claim lines, notes and note minutes, and the later copies of a unique key."""
    lines, held_lines = bucket_claims(spill, bucket, copies)
    visit_notes, services, held_notes = bucket_notes(spill, bucket, copies)
    return lines, visit_notes, services, pd.concat([held_lines, held_notes], ignore_index=True)


def bucket_therapy(spill: Spill, bucket: int) -> TherapyHistory | None:
    """The bucket's patients' earlier therapy (the nightly state's `therapy_amounts` and
    `treatment_days`, spilled by `flows.audit.add_history`), or None in a run without history."""
    if THERAPY_AMOUNTS not in spill.tables and TREATMENT_DAYS not in spill.tables:
        return None
    none = TherapyHistory.none()
    return TherapyHistory(spill.load(THERAPY_AMOUNTS, bucket) if THERAPY_AMOUNTS in spill.tables else none.amounts,
                          spill.load(TREATMENT_DAYS, bucket) if TREATMENT_DAYS in spill.tables else none.days)


def audit_one(bucket: int, spill: Spill, copies: LaterCopies, reference: ReferenceData, rules: RuleEngine,
              quarantined_notes: pd.DataFrame | None = None, progress: bool = False) -> BucketAudit:
    """Load, audit and let go of one bucket in one call, so that nothing of it outlives the call
    in whichever process ran it. `quarantined_notes` (`facts.held_notes` of the run's quarantine)
    are cut to the bucket's patients; their earlier therapy (`bucket_therapy`) counts toward the
    KX threshold and progress reports; `progress`: the run's notes say which are progress reports."""
    lines, visit_notes, services, held = bucket_tables(spill, bucket, copies)
    if quarantined_notes is not None and len(quarantined_notes):
        quarantined_notes = quarantined_notes[patient_buckets(quarantined_notes["patient_id"], spill.buckets) == bucket]
    audited = audit_tables(lines, visit_notes, services, reference, rules, quarantine=quarantined_notes,
                           therapy=bucket_therapy(spill, bucket), progress=progress)
    count = len(lines)
    del lines, visit_notes, services
    give_back_memory()
    return BucketAudit(audited, held, count)


class BucketRunner:
    """Audits buckets side by side: in the flow's threads, each with a rule engine no other
    thread uses (a GX context is not shared between threads), and in `workers` spawned
    processes, which start (imports, rule engine: about 7 s of CPU each) while the inputs are read.

    The flow's own process keeps one bucket at a time even when workers share the load: its
    rule engine is built already, and one auditing thread has no other to contend with for the GIL.
    """

    def __init__(self, suites: dict[str, Any], threads: int, workers: int = 0, docs_dir: Path | None = None) -> None:
        self._slots: Queue[RuleEngine | None] = Queue()  # an engine of this process, or None: a worker
        for _ in range(threads):
            self._slots.put(RuleEngine(suites, docs_dir))
        self.workers = workers
        self._pool = None
        if workers:
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker, initargs=(suites,))
            for _ in range(workers):
                self._pool.submit(_ready)
                self._slots.put(None)

    def audit(self, bucket: int, spill: Spill, copies: LaterCopies, reference: ReferenceData,
              quarantined_notes: pd.DataFrame | None = None, progress: bool = False) -> BucketAudit:
        slot = self._slots.get()
        try:
            if slot is not None:
                return audit_one(bucket, spill, copies, reference, slot, quarantined_notes, progress)
            assert self._pool is not None
            try:
                return self._pool.submit(_audit_in_worker, bucket, spill, copies, reference,
                                         quarantined_notes, progress).result()
            except BrokenProcessPool as exc:
                raise BucketWorkerError(
                    f"the worker process auditing bucket {bucket + 1} of {spill.buckets} stopped (out of memory?): "
                    "run again with a smaller --lines-per-bucket") from exc
        finally:
            self._slots.put(slot)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


_ENGINE: list[RuleEngine] = []  # the worker process's own engine


def _start_worker(suites: dict[str, Any]) -> None:
    _ENGINE.append(RuleEngine(suites))
    keep_imports_out_of_collections()


def _ready() -> None:
    """Submitted once per worker so that every worker starts before the first bucket is due."""


def _audit_in_worker(bucket: int, spill: Spill, copies: LaterCopies, reference: ReferenceData,
                     quarantined_notes: pd.DataFrame | None = None, progress: bool = False) -> BucketAudit:
    return audit_one(bucket, spill, copies, reference, _ENGINE[0], quarantined_notes, progress)
