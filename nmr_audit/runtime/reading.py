"""Reading a run's inputs into its spill: every file of a table read, conformed to the contract
and spilled by patient bucket, with what stays in memory kept small (`TableIntake`).

Reading k files costs O(k): small files are conformed together (consecutive files of one format,
header and conventions, up to `batch_rows` rows at a time), so the fixed cost of a validation
pass (tens of milliseconds of pandas) and of handing memory back to the system is paid per batch
of rows, not per file; the run's source files become categories once, at the end; the per-file
log lines stop after the first `LOGGED_FILES` files (then a progress line every
`PROGRESS_FILES`), and even those files are validated with the batch they fall in (each line is
logged once its file's rows are validated), not one by one; memory is handed back after batches
of `GIVE_BACK_ROWS` rows or more (without a full collection: `memory.give_back_memory`). Before,
2,000 one-row CSV files took 710 s, the time per file growing from 0.08 s to 0.44 s: a full
garbage collection and `malloc_trim` after every file walked everything the run held so far, and
every file's keys were re-encoded against all the run's files. Nothing here imports Prefect or
GX: the flow's read task and the command's head start (`runtime.head_start`) call `read_table`
with a logger of their own.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nmr_audit.conform import Conformed
from nmr_audit.contract import LINEAGE, NOTE_SERVICES, QUARANTINE_COLUMNS, SOURCE_FILE, SOURCE_ROW, UNIQUE_KEYS
from nmr_audit.errors import InputError
from nmr_audit.intake import (
    audited_per_file,
    conform_file,
    conventions_for,
    duplicate_keys,
    reader_quarantine,
    replaced_in_later_files,
)
from nmr_audit.io.readers import RawTable, ReadOptions, open_export
from nmr_audit.io.writers import write_parquet
from nmr_audit.mapping import MappingProfile
from nmr_audit.reference import ReferenceData
from nmr_audit.runtime.buckets import patient_buckets
from nmr_audit.runtime.faults import checkpoint
from nmr_audit.runtime.memory import give_back_memory
from nmr_audit.runtime.spill import Spill

FILE_COLUMNS = ["table", SOURCE_FILE, "file", "sheet", "format", "sha256", "rows_read"]
LOGGED_FILES = 20  # files whose read is logged one by one; after them, a progress line now and then
PROGRESS_FILES = 500
GIVE_BACK_ROWS = 50_000  # batches at least this long hand their memory back to the system once validated


class CancelledError(Exception):
    """The read was asked to stop (a head start the flow did not take over)."""


class Log(Protocol):
    """Where reading reports: a Prefect run logger, or a head start's held log."""

    def info(self, msg: str, *args: Any) -> None: ...


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
    progress_reports: bool = False  # some note has a progress_report value (PROGRESS_REPORT_OVERDUE applies)
    x12_issues: list[dict[str, Any]] = field(default_factory=list)  # table, source_file, segment, code, message

    keys_file: Path | None = None  # where `keys` wait once put aside (`put_keys_aside`)
    audited: pd.Series | None = None  # rows audited per file, counted before the keys were put aside
    claim_ids: int | None = None  # distinct claim ids among the keys, counted likewise

    def put_keys_aside(self, path: Path) -> None:
        """Count what the run needs of every key (rows audited per file, distinct claim ids),
        write the keys to `path` (inside the run's spill) and let go of them: the keys of 10M claim
        lines are half a gigabyte, held by the flow's process beside both bucket workers and then
        beside the reports. `keys_named` reads back the few a finding names."""
        self.audited = self.audited_rows()
        self.claim_ids = self.distinct_claims()
        write_parquet(self.keys, path)
        self.keys_file, self.keys = path, self.keys.iloc[:0]

    def audited_rows(self) -> pd.Series:
        """Rows audited per file (`intake.audited_per_file`: every key but the later copies)."""
        return self.audited if self.audited is not None else audited_per_file(self.keys, self.duplicates)

    def distinct_claims(self) -> int:
        """Distinct claim ids audited (0 for a table without them)."""
        if self.claim_ids is not None:
            return self.claim_ids
        return int(self.keys["claim_id"].nunique()) if "claim_id" in self.keys.columns else 0

    def keys_named(self, column: str, values: np.ndarray) -> pd.DataFrame:
        """The keys whose `column` is one of `values` (read back from `keys_file` where put aside)."""
        if self.keys_file is None:
            return self.keys[self.keys[column].isin(values)]
        if not len(values):
            return self.keys.iloc[:0]
        table = pq.read_table(self.keys_file, filters=pc.field(column).isin(pa.array(values, pa.string())))
        return table.to_pandas()


def empty_intake(table: str) -> TableIntake:
    """A table given no file (a nightly run with history and nothing new of it)."""
    keys = pd.DataFrame({c: pd.Series(dtype="str") for c in (*UNIQUE_KEYS[table], *LINEAGE)})
    return TableIntake(keys, duplicate_keys(pd.DataFrame(columns=[*UNIQUE_KEYS[table], *LINEAGE]), table),
                       pd.DataFrame(columns=list(QUARANTINE_COLUMNS)), pd.DataFrame(columns=FILE_COLUMNS))


def spill_rows(spill: Spill, table: str, part: Conformed) -> None:
    """A batch's canonical rows (and a note's minutes, with their note) into their patients' buckets."""
    bucket = patient_buckets(part.rows["patient_id"], spill.buckets)
    spill.add(table, part.rows, bucket)
    if part.services is not None:  # a note's row: its line, and its file where the batch holds several files
        rows, services = part.rows, part.services
        files = rows[SOURCE_FILE]
        if len(files) and (files != files.iloc[0]).any():
            note_row = pd.MultiIndex.from_frame(rows[list(LINEAGE)].astype({SOURCE_FILE: "str"})).get_indexer(
                pd.MultiIndex.from_frame(services[list(LINEAGE)].astype({SOURCE_FILE: "str"})))
        else:
            note_row = pd.Index(rows[SOURCE_ROW]).get_indexer(services[SOURCE_ROW])
        spill.add(NOTE_SERVICES, services.loc[note_row >= 0], bucket[note_row[note_row >= 0]])


@dataclass
class _Pending:
    """Frames of consecutive small tables waiting to be conformed together."""

    shape: tuple[Any, ...] | None = None
    frames: list[pd.DataFrame] = field(default_factory=list)
    tables: list[RawTable] = field(default_factory=list)
    rows: int = 0


class _TableReader:
    """One table's files read in order into the spill (see the module)."""

    def __init__(self, table: str, mapping: MappingProfile, reference: ReferenceData, spill: Spill,
                 batch_rows: int, log: Log, stop: threading.Event | None = None) -> None:
        self.table, self.reference, self.spill, self.batch_rows, self.log = table, reference, spill, batch_rows, log
        self.stop = stop
        self.mapping = mapping.for_table(table)
        self.keys: list[pd.DataFrame] = []
        self.held: list[pd.DataFrame] = []
        self.stats: list[dict[str, Any]] = []
        self.ignored: list[dict[str, str]] = []
        self.quarantined: dict[str, int] = {}
        self.issues: list[dict[str, Any]] = []  # X12 envelope issues (SE/GE/IEA counts …)
        self.replacements: list[pd.DataFrame] = []  # 837P replacement and void claims, for the run's other files
        self.pending = _Pending()
        self.files_done = 0
        self.progress = False  # some note says whether it is a progress report
        self.unlogged: list[RawTable] = []  # the first files read, waiting for their batch's validation to be logged

    def read(self, raw: RawTable) -> None:
        conventions = conventions_for(raw.format, raw.delimiter, self.mapping)
        done = 0
        for frame in raw.batches(self.batch_rows):
            if self.stop is not None and self.stop.is_set():
                raise CancelledError
            shape = (raw.format, conventions, tuple(frame.columns), tuple(str(t) for t in frame.dtypes))
            if self.pending.frames and (shape != self.pending.shape or self.pending.rows + len(frame) > self.batch_rows):
                self.flush()
            self.pending.shape = shape
            self.pending.frames.append(frame)
            if not self.pending.tables or self.pending.tables[-1] is not raw:
                self.pending.tables.append(raw)
            self.pending.rows += len(frame)
            done += len(frame)
            if self.pending.rows >= self.batch_rows:
                self.flush()
                self.log.info("%s: %s: %d row(s) validated so far", self.table, raw.source, done)
        if raw.rows_read > raw.rows:  # rows the parser could not split, complete once the batches are read
            self.held.append(reader_quarantine(raw.invalid, self.table, raw.source))
        self.issues += [{"table": self.table, SOURCE_FILE: raw.source, **i.as_dict()} for i in getattr(raw, "issues", [])]
        if hasattr(raw, "replacements"):
            self.replacements.append(raw.replacements().assign(**{SOURCE_FILE: raw.source}))
        self.stats.append({"table": self.table, SOURCE_FILE: raw.source, "file": str(raw.path), "sheet": raw.sheet,
                           "format": raw.format, "sha256": raw.sha256, "rows_read": raw.rows_read})
        self.files_done += 1
        if self.files_done <= LOGGED_FILES:
            self.unlogged.append(raw)  # its line once its rows are validated (with the batch they are in)
            if not any(t is raw for t in self.pending.tables):
                self._log_files()
        elif self.files_done % PROGRESS_FILES == 0:
            self.log.info("%s: %d file(s) read", self.table, self.files_done)

    def _log_files(self) -> None:
        """The lines of the files read and validated whole since the last ones were logged."""
        for raw in self.unlogged:
            quarantined = self.quarantined.get(raw.source, 0) + raw.rows_read - raw.rows
            self.log.info("%s: read %d row(s) from %s, %d quarantined", self.table, raw.rows_read,
                          Path(raw.source).name, quarantined)
        self.unlogged.clear()

    def flush(self) -> None:
        """Conform the pending frames together and spill them (one validation pass per batch)."""
        pending, self.pending = self.pending, _Pending()
        if not pending.frames:
            return
        frame = pending.frames[0] if len(pending.frames) == 1 else pd.concat(pending.frames, ignore_index=True)
        rows = len(frame)
        raw = pending.tables[0]  # a header problem is the first file's (they share the header)
        conventions = pending.shape[1] if pending.shape else None
        part = conform_file(frame, self.table, self.mapping, self.reference, raw.source, conventions)
        spill_rows(self.spill, self.table, part)
        checkpoint("reading")
        self.keys.append(part.rows[[*UNIQUE_KEYS[self.table], *LINEAGE]].astype({SOURCE_FILE: "category"}))
        self.progress = self.progress or ("progress_report" in part.rows.columns
                                          and bool(part.rows["progress_report"].notna().any()))
        self.held.append(part.quarantine)
        if len(part.quarantine):
            for source, count in part.quarantine[SOURCE_FILE].astype("str").value_counts().items():
                self.quarantined[str(source)] = self.quarantined.get(str(source), 0) + int(count)
        self.ignored += [{"table": self.table, SOURCE_FILE: t.source, "column": c}
                         for t in pending.tables for c in sorted(set(part.ignored_columns))]
        del frame, part, pending
        if rows >= GIVE_BACK_ROWS:  # not after a few rows; no full collection (the run's reading ends with one)
            give_back_memory(collect=False)
        self._log_files()

    def intake(self, sources: list[str], skipped: list[dict[str, str]]) -> TableIntake:
        self.flush()
        source = pd.CategoricalDtype(sources)  # each batch's few files re-coded to all files' once, at the end
        parts = [k.assign(**{SOURCE_FILE: k[SOURCE_FILE].cat.set_categories(sources)}) for k in self.keys]
        keys = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {**{c: pd.Series(dtype="str") for c in UNIQUE_KEYS[self.table]}, SOURCE_FILE: pd.Series(dtype=source),
             SOURCE_ROW: pd.Series(dtype="int64")}))
        self.keys.clear()
        held = (pd.concat(self.held, ignore_index=True) if self.held
                else reader_quarantine(pd.DataFrame({SOURCE_ROW: pd.Series(dtype="int64"),
                                                     "reason": pd.Series(dtype="str"),
                                                     "record": pd.Series(dtype="str")}), self.table, ""))
        if self.files_done > LOGGED_FILES:
            self.log.info("%s: read %d row(s) from %d file(s), %d quarantined", self.table,
                          sum(s["rows_read"] for s in self.stats), self.files_done, len(held))
        ignored = sorted({(i["table"], i[SOURCE_FILE], i["column"]): i for i in self.ignored}.values(),
                         key=lambda i: (sources.index(i[SOURCE_FILE]), i["column"]))
        return TableIntake(keys, later_copies_of(keys, self.replacements, sources, self.table), held,
                           pd.DataFrame(self.stats, columns=FILE_COLUMNS), skipped, ignored,
                           progress_reports=self.progress, x12_issues=self.issues)


def later_copies_of(keys: pd.DataFrame, replacements: list[pd.DataFrame], sources: list[str], table: str
                    ) -> pd.DataFrame:
    """The rows held back from every bucket: claim lines a later file's 837P replacement or void
    takes back (`intake.replaced_in_later_files`, a stage over all claim lines of the run), then
    the later copies of a unique key among the rest (`intake.duplicate_keys`). `keys`: unique key
    columns, source_file, source_row of every canonical row; `replacements`: each 837P file's
    replacement and void claims (`X12Table.replacements`, with source_file); `sources`: the run's
    files in reading order."""
    if not replacements:
        return duplicate_keys(keys, table)
    superseded = replaced_in_later_files(keys, pd.concat(replacements, ignore_index=True), sources)
    if superseded.empty:
        return duplicate_keys(keys, table)
    taken = pd.MultiIndex.from_frame(keys[list(LINEAGE)].astype({SOURCE_FILE: "str"})).isin(
        pd.MultiIndex.from_frame(superseded[list(LINEAGE)]))
    return pd.concat([superseded, duplicate_keys(keys[~taken], table)], ignore_index=True)


def read_table(table: str, files: list[Path] | tuple[Path, ...], mapping: MappingProfile, reference: ReferenceData,
               spill: Spill, batch_rows: int, log: Log, stop: threading.Event | None = None
               ) -> TableIntake | InputError:
    """Read every file of one table a batch at a time, conform it to the contract, quarantine what
    breaks it, and spill the canonical rows by patient bucket. Returns the problem (InputError,
    one line naming the file) for a file that cannot be read or mapped, instead of raising it.
    Raises `CancelledError` at the next batch once `stop` is set."""
    if not files:
        return empty_intake(table)
    table_mapping = mapping.for_table(table)
    options = ReadOptions(delimiter=table_mapping.delimiter, sheet=table_mapping.sheet,
                          decimal_mark=table_mapping.decimal_mark, x12=dict(table_mapping.x12) or None)
    reader = _TableReader(table, mapping, reference, spill, batch_rows, log, stop)
    try:
        exports = []
        for path in files:  # a workbook's sheets are tables of their own
            first_file_opened(path, log)
            exports.append(open_export(path, options, table))
        skipped = [{"kind": "sheet", "source": part.source, "reason": part.reason}
                   for export in exports for part in export.skipped]
        for export in exports:
            for raw in export.tables:
                reader.read(raw)
        return reader.intake([raw.source for export in exports for raw in export.tables], skipped)
    except InputError as problem:
        return problem



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
    (`bench/compare.py` reads this line; issue 21's target is 3 s)."""
    with _first_open:
        if _opened:
            return
        _opened.append(time.time() - process_started())
    log.info("first input file opened %.2f s after the command started (%s)", _opened[0], path.name)
