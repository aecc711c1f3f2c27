"""Reading that starts with the command, before Prefect, GX and the Prefect server are up.

`nmr-audit audit` spent 8–30 s before it looked at its input: Prefect and GX import in the
command's process (GX alone 3–13 s on the 2-core box) while the temporary Prefect server
starts in another, and only then does the flow run its read task. Here the command reads and
validates its inputs at once, in two threads of its own process (claim lines and notes side by
side, as the flow reads them), while the rest starts; when the flow reaches its read task, the
task takes over: it waits for what is not done yet, and the log lines written meanwhile go to
the task's log (the Prefect UI shows them as the task's). The work and its result are the ones
the flow's own read would give: the same function, files, settings and patient buckets.

Nothing here imports Prefect or GX. The flow takes over a head start only when everything the
read depends on matches (`adopt`); otherwise it reads as before (a nightly run, a Dask run, a
flow called from Python).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from nmr_audit.buckets import bucket_count, patient_buckets
from nmr_audit.conform import Conformed
from nmr_audit.contract import (
    CLAIM_LINES,
    LINEAGE,
    NOTE_SERVICES,
    QUARANTINE_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    UNIQUE_KEYS,
    VISIT_NOTES,
)
from nmr_audit.errors import InputError
from nmr_audit.intake import conform_file, conventions_for, duplicate_keys, reader_quarantine
from nmr_audit.io.discover import discover, estimated_rows
from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.io.memory import give_back_memory
from nmr_audit.io.profile_file import load_profile
from nmr_audit.io.readers import ReadOptions, open_export
from nmr_audit.io.reference import load_reference
from nmr_audit.io.spill import Spill
from nmr_audit.mapping import IDENTITY, MappingProfile
from nmr_audit.reference import ReferenceData
from nmr_audit.runtime.faults import checkpoint
from nmr_audit.sizes import BATCH_ROWS, BUCKETS_AT_ONCE, LINES_PER_BUCKET


class Log(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...


def process_started() -> float:
    """When this process started, in seconds since the epoch (Linux: from /proc; elsewhere: when
    this module was imported, which misses the interpreter's own start-up)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rpartition(")")[2].split()[19])
        booted = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                      if line.startswith("btime "))
        return booted + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED


_IMPORTED = time.time()
_first_open = threading.Lock()
_opened: list[float] = []


def first_file_opened(path: Path, log: Log) -> None:
    """Log once per process how long after the process started its first input file was opened
    (`bench/compare.py` reads this line; the issue's target is 3 s)."""
    with _first_open:
        if _opened:
            return
        _opened.append(time.time() - process_started())
    log.info("first input file opened %.2f s after the command started (%s)", _opened[0], path.name)


@dataclass
class TableIntake:
    """One table of the run after reading, mapping and validation; its rows wait in the spill.

    What stays in memory is small: each canonical row's unique key and lineage (to decide, over
    all buckets at once, which copy of a key is first), the quarantine and the files read.
    """

    keys: pd.DataFrame  # unique key columns, source_file (categorical), source_row; file then line order
    duplicates: pd.DataFrame  # later copies of a key (`intake.duplicate_keys`), quarantined bucket by bucket
    quarantine: pd.DataFrame
    files: pd.DataFrame  # table, source_file (path, or path#sheet), file, sheet, format, sha256, rows_read
    skipped: list[dict[str, str]] = field(default_factory=list)  # parts not read (hidden sheets): source, reason
    ignored_columns: list[dict[str, str]] = field(default_factory=list)  # table, source_file, column


def read_table_rows(table: str, files: list[Path], mapping: MappingProfile, reference: ReferenceData, spill: Spill,
                    batch_rows: int, log: Log) -> TableIntake | InputError:
    """Read every file of one table a batch at a time, conform it to the contract, quarantine what
    breaks it, and spill the canonical rows by patient bucket (the flow's read task, and a head start)."""
    if not files:  # a nightly run with history and nothing new of this table
        return TableIntake(pd.DataFrame({c: pd.Series(dtype="str") for c in (*UNIQUE_KEYS[table], *LINEAGE)}),
                           duplicate_keys(pd.DataFrame(columns=[*UNIQUE_KEYS[table], *LINEAGE]), table),
                           pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
                           pd.DataFrame(columns=["table", SOURCE_FILE, "file", "sheet", "format", "sha256", "rows_read"]))
    table_mapping = mapping.for_table(table)
    keys, held, stats, skipped, ignored = [], [], [], [], []
    options = ReadOptions(delimiter=table_mapping.delimiter, sheet=table_mapping.sheet,
                          decimal_mark=table_mapping.decimal_mark)
    try:
        exports = []
        for path in files:  # a workbook's sheets are tables of their own
            first_file_opened(path, log)
            exports.append(open_export(path, options))
        source = pd.CategoricalDtype([raw.source for export in exports for raw in export.tables])
        for export in exports:
            skipped += [{"kind": "sheet", "source": part.source, "reason": part.reason} for part in export.skipped]
            for raw in export.tables:
                conventions = conventions_for(raw.format, raw.delimiter, table_mapping)
                quarantined = done = 0
                columns: set[str] = set()
                for frame in raw.batches(batch_rows):
                    part = conform_file(frame, table, table_mapping, reference, raw.source, conventions)
                    _spill(spill, table, part)
                    checkpoint("reading")
                    keys.append(part.rows[[*UNIQUE_KEYS[table], *LINEAGE]].astype({SOURCE_FILE: source}))
                    held.append(part.quarantine)
                    columns.update(part.ignored_columns)
                    quarantined += len(part.quarantine)
                    done += len(frame)
                    del frame, part
                    give_back_memory()
                    if done >= batch_rows:
                        log.info("%s: %s: %d row(s) validated so far", table, raw.source, done)
                held.append(reader_quarantine(raw.invalid, table, raw.source))  # complete once the batches are read
                quarantined += len(raw.invalid)
                ignored += [{"table": table, SOURCE_FILE: raw.source, "column": c} for c in sorted(columns)]
                stats.append({"table": table, SOURCE_FILE: raw.source, "file": str(raw.path), "sheet": raw.sheet,
                              "format": raw.format, "sha256": raw.sha256, "rows_read": raw.rows_read})
                log.info("%s: read %d row(s) from %s, %d quarantined", table, raw.rows_read,
                         Path(raw.source).name, quarantined)
    except InputError as problem:
        return problem
    all_keys = pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(
        {**{c: pd.Series(dtype="str") for c in UNIQUE_KEYS[table]}, SOURCE_FILE: pd.Series(dtype=source),
         SOURCE_ROW: pd.Series(dtype="int64")})
    return TableIntake(all_keys, duplicate_keys(all_keys, table), pd.concat(held, ignore_index=True),
                       pd.DataFrame(stats), skipped, ignored)


def _spill(spill: Spill, table: str, part: Conformed) -> None:
    """A batch's canonical rows (and a note's minutes, with their note) into their patients' buckets."""
    bucket = patient_buckets(part.rows["patient_id"], spill.buckets)
    spill.add(table, part.rows, bucket)
    if part.services is not None:
        note_row = pd.Index(part.rows[SOURCE_ROW]).get_indexer(part.services[SOURCE_ROW])
        spill.add(NOTE_SERVICES, part.services.loc[note_row >= 0], bucket[note_row[note_row >= 0]])


class CancelledError(Exception):
    """The command ended before its flow took the head start over: the read stops at its next line."""


class HeldLog:
    """Log lines held until a Prefect logger takes them (then passed on as they come); the first
    input file's line also goes to stderr at once, so a person sees that the command started.
    The read logs at least once per batch: that is where a cancelled head start stops."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, tuple[Any, ...]]] = []
        self._target: Log | None = None
        self._lock = threading.Lock()
        self.cancelled = threading.Event()

    def info(self, msg: str, *args: Any) -> None:
        if self.cancelled.is_set():
            raise CancelledError
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


@dataclass(frozen=True)
class Plan:
    """Everything the read depends on: a flow adopts a head start only when its own plan is equal."""

    files: tuple[tuple[str, tuple[Path, ...]], ...]
    mapping: str | None
    profile: str | None
    reference: str | None
    batch_rows: int
    buckets: int
    expectations: str | None
    workers: int  # bucket worker processes the flow would start


def _start_bucket_worker(expectations: str | None) -> None:
    """A bucket worker's start (`flows.buckets`), its suites loaded in the worker itself: the
    command's process has not imported GX yet."""
    from flows.buckets import _start_worker
    from nmr_audit.io.suites import load_suites

    _start_worker(load_suites(Path(expectations) if expectations else None))


def start_workers(count: int, expectations: str | None) -> ProcessPoolExecutor:
    """`count` bucket worker processes, started now (spawned: imports and rule engine, about 7 s
    of CPU each) so that they are ready when the flow audits its first buckets, as they were when
    the flow started them while it read."""
    return ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_bucket_worker, initargs=(expectations,))


class HeadStart:
    """Both tables being read into one spill, in two threads of the command's process, and the
    bucket worker processes of a run spilled to disk starting meanwhile."""

    def __init__(self, plan: Plan, spill: Spill, files: dict[str, list[Path]], mapping: MappingProfile,
                 reference: ReferenceData, workers: ProcessPoolExecutor | None = None) -> None:
        self.plan = plan
        self.spill = spill
        self.workers = workers
        self.started = time.perf_counter()
        self.logs = {table: HeldLog() for table in files}
        self._pool = ThreadPoolExecutor(len(files), thread_name_prefix="head-start")
        self._reads: dict[str, Future[TableIntake | InputError]] = {
            table: self._pool.submit(read_table_rows, table, paths, mapping, reference, spill, plan.batch_rows,
                                     self.logs[table])
            for table, paths in files.items()}
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
            for log in self.logs.values():
                log.cancelled.set()
        for read in self._reads.values():
            read.exception()
        if not self.adopted:
            self.spill.close()
        if self.workers is not None:  # the flow's runner shut them down already, if it took them
            self.workers.shutdown(wait=True, cancel_futures=True)


_current: list[HeadStart] = []


def begin(claims: list[str], notes: list[str], out: Path, mapping: str | None = None, profile: str | None = None,
          reference: str | None = None, data_docs: bool = True, lines_per_bucket: int = LINES_PER_BUCKET,
          buckets_at_once: int = BUCKETS_AT_ONCE, batch_rows: int = BATCH_ROWS,
          expectations: str | None = None) -> HeadStart:
    """Find the inputs, load the settings the read needs and start reading (the flow's own steps,
    in the same order), and start the bucket workers a run spilled to disk audits in. Raises
    InputError at once for a bad path, mapping, profile or reference folder: before any server
    starts."""
    files = {CLAIM_LINES: discover(claims, CLAIM_LINES)[0], VISIT_NOTES: discover(notes, VISIT_NOTES)[0]}
    settings = load_reference(Path(reference) if reference else None)
    if profile:
        settings = load_profile(Path(profile), settings)
    profile_of_mapping = load_mapping(Path(mapping)) if mapping else IDENTITY
    side_by_side = 1 if data_docs else buckets_at_once
    buckets = bucket_count(estimated_rows(files[CLAIM_LINES]), lines_per_bucket, side_by_side)
    spill = Spill(buckets, out / f".spill-{uuid.uuid4().hex[:12]}" if buckets > 1 else None)
    workers = bucket_workers(buckets, side_by_side)
    plan = Plan(tuple((t, tuple(p)) for t, p in files.items()), mapping, profile, reference, batch_rows, buckets,
                expectations, workers)
    head = HeadStart(plan, spill, files, profile_of_mapping, settings,
                     start_workers(workers, expectations) if workers else None)
    _current[:] = [head]
    return head


def bucket_workers(buckets: int, side_by_side: int) -> int:
    """Worker processes a run audits its buckets in (`flows.audit.bucket_runner`): a run spilled to
    disk audits one bucket in the flow's process and the others of `side_by_side` in workers."""
    return max(1, min(side_by_side, buckets)) - 1 if buckets > 1 else 0


def adopt(files: dict[str, list[Path]], buckets: int, mapping: str | None, profile: str | None,
          reference: str | None, batch_rows: int, expectations: str | None = None,
          workers: int = 0) -> HeadStart | None:
    """This process's head start, when it reads exactly what the flow would; taken once."""
    plan = Plan(tuple((t, tuple(p)) for t, p in files.items()), mapping, profile, reference, batch_rows, buckets,
                expectations, workers)
    if not _current or _current[0].plan != plan or _current[0].adopted:
        return None
    _current[0].adopted = True
    return _current[0]
