"""Writing a run's outputs: the canonical tables from the spill, the findings and the reports.

The canonical tables need nothing the merge of the buckets makes, so they start the moment the
buckets are audited, in two threads (Parquet encoding leaves the GIL) beside the merge, the
summary and the reports, which mostly hold it. A large run writes its workbook in a process of
its own (XlsxWriter is pure Python). At 10M lines all of this had taken 34 s after the last
bucket, one core idle for half of it; now 29 s.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.denial import claim_risk, weights_in_use
from nmr_audit.errors import InputError
from nmr_audit.io.data_docs import make_offline
from nmr_audit.io.report_html import write_report_html
from nmr_audit.io.report_xlsx import Workbook, ready, visits_listed, workbook, write_workbook
from nmr_audit.io.writers import ParquetParts, StagedOutputs, write_csv, write_json, write_parquet
from nmr_audit.masking import Masking
from nmr_audit.masking import mask_patients as apply_masking
from nmr_audit.names import Names, combine, names_from_reference
from nmr_audit.reference import ReferenceData
from nmr_audit.remits import Remittances
from nmr_audit.report_data import build_report_data, unreadable_keys, visit_number
from nmr_audit.rule_catalogue import rule_catalogue
from nmr_audit.runtime.buckets import LaterCopies, bucket_claims, bucket_notes
from nmr_audit.runtime.canonical_parts import join_parts
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.memory import give_back_memory
from nmr_audit.runtime.permissions import PRIVATE, Access
from nmr_audit.runtime.reading import TableIntake
from nmr_audit.runtime.results import Audit
from nmr_audit.runtime.spill import Spill
from nmr_audit.since_last_night import SinceLastNight

CANONICAL_FILES = ("claim_lines.parquet", "visit_notes.parquet", "note_services.parquet")
MASK_KEY_VARIABLE = "NMR_AUDIT_MASK_KEY"


class Log(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...

    def warning(self, msg: str, *args: Any) -> None: ...


@dataclass
class Sharing:
    """How patient ids appear in the human-facing outputs (CSV, HTML, XLSX)."""

    masking: Masking = "keep"
    key: bytes | None = None
    access: Access = PRIVATE  # modes of the committed files (owner only, or the group too)


def sharing_settings(config: RunConfig, access: Access = PRIVATE) -> Sharing | InputError:
    """The masking mode and its key (`config.mask_patients`, `config.mask_key_file`, else the
    NMR_AUDIT_MASK_KEY environment variable); a missing key for `hash` is an input problem, said
    plainly. `access`: the modes the committed outputs get."""
    if config.mask_patients != "hash":
        return Sharing(config.mask_patients, access=access)
    if config.mask_key_file:
        path = Path(config.mask_key_file)
        if not path.exists():
            return InputError(path, "mask key file not found")
        key = path.read_bytes().strip()
    else:
        key = os.environ.get(MASK_KEY_VARIABLE, "").encode()
    if not key:
        return InputError(Path(config.mask_key_file or MASK_KEY_VARIABLE), "hashing patient ids needs a key",
                          f"set {MASK_KEY_VARIABLE} or pass --mask-key-file FILE (keep the same key per client)")
    return Sharing("hash", key, access)


class CanonicalTables:
    """The audited rows in canonical form, written to a folder of their own inside `out`: read
    back from the spill a bucket at a time (patients grouped by bucket), claim lines in one thread,
    notes and their minutes in another, each table's spill files removed once it is written; or,
    for a run whose buckets wrote their canonical rows to part files (`parts`:
    `runtime.canonical_parts`), joined from those, the spill's rows let go at once.

    `names`: per bucket, the provider and clinic names its claim lines and notes carry (the
    optional columns `rendering_provider_name`, `clinic_name`; `BucketAudit.names`), for the
    reports: `names()`."""

    def __init__(self, out: Path, spill: Spill, claims: TableIntake, notes: TableIntake,
                 names: list[tuple[Names, Names] | None], parts: Path | None = None) -> None:
        self.folder = out / f".canonical-{uuid.uuid4().hex[:12]}"
        self.folder.mkdir(parents=True)
        self._spill = spill
        self._copies = LaterCopies(claims.duplicates, notes.duplicates)
        self._intakes = {CLAIM_LINES: claims, VISIT_NOTES: notes}
        found = [pair[number] for number in (0, 1) for pair in names if pair is not None]  # claim lines first
        named = [part for part in found if part.any]
        self._names = combine(*named) if named else Names()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="canonical")
        if parts is not None:
            for table in (CLAIM_LINES, VISIT_NOTES, NOTE_SERVICES):
                spill.release(table)  # the buckets wrote their rows: the spill's copy goes now
            self._written = [self._pool.submit(self._join, parts, (CLAIM_LINES,)),
                             self._pool.submit(self._join, parts, (VISIT_NOTES, NOTE_SERVICES))]
        else:
            self._written = [self._pool.submit(self._claim_lines), self._pool.submit(self._visit_notes)]

    def _join(self, parts: Path, tables: tuple[str, ...]) -> None:
        for table in tables:
            join_parts(parts, table, self._spill.buckets, self.folder / f"{table}.parquet")

    def _claim_lines(self) -> None:
        with ParquetParts(self.folder / "claim_lines.parquet") as out:
            for bucket in range(self._spill.buckets):
                out.write(bucket_claims(self._spill, bucket, self._copies)[0])
        self._spill.release(CLAIM_LINES)

    def _visit_notes(self) -> None:
        with ParquetParts(self.folder / "visit_notes.parquet") as note_out, \
                ParquetParts(self.folder / "note_services.parquet") as service_out:
            for bucket in range(self._spill.buckets):
                kept, services, _ = bucket_notes(self._spill, bucket, self._copies)
                note_out.write(kept)
                service_out.write(services)
        self._spill.release(VISIT_NOTES)
        self._spill.release(NOTE_SERVICES)

    def lineage(self, findings: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Each table's keys with source_file that FIELD_UNREADABLE `findings` name (the reports
        place those in their files: `report_data.unreadable_keys`), from the intakes (read back
        where a run put its keys aside: `TableIntake.keys_named`)."""
        return {table: intake.keys_named(*unreadable_keys(findings, table)) for table, intake in self._intakes.items()}

    def claims_audited(self) -> int:
        """Distinct claim ids audited (the reports' headline)."""
        return self._intakes[CLAIM_LINES].distinct_claims()

    def names(self) -> Names:
        """The names the audited rows carry (claim lines first)."""
        return self._names

    def link_into(self, staged: StagedOutputs) -> None:
        """Wait for the tables and link them into the staged outputs (linked, not moved: a
        retried write finds them still here)."""
        for written in self._written:
            written.result()
        for name in CANONICAL_FILES:
            target = staged.path(name)
            target.unlink(missing_ok=True)
            try:
                os.link(self.folder / name, target)
            except OSError:  # a filesystem without hard links
                shutil.copyfile(self.folder / name, target)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)


class WorkbookWriter:
    """report.xlsx written in a spawned process of its own (started early: it imports while the
    run goes on) for a large run, or here."""

    def __init__(self, own_process: bool) -> None:
        self._pool = (ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
                      if own_process else None)
        if self._pool is not None:
            self._pool.submit(ready)  # from a module that imports no Prefect or GX, as the process needs none

    def submit(self, path: Path, cut: Workbook) -> Future[Path]:
        if self._pool is not None:
            return self._pool.submit(write_workbook, path, cut)
        done: Future[Path] = Future()
        done.set_result(write_workbook(path, cut))
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def write_outputs(out: str, canonical: CanonicalTables, audit: Audit, quarantine: pd.DataFrame,
                  summary: dict[str, Any], reference: ReferenceData, sharing: Sharing, workbook_rows: int,
                  workbooks: WorkbookWriter, log: Log, since: SinceLastNight | None = None,
                  remits: Remittances | None = None, learnt: pd.DataFrame | None = None) -> list[str]:
    """Write every output aside (visits, findings, quarantine and canonical tables as Parquet,
    findings.csv, report.html, report.xlsx, remits.parquet and remits_unmatched.csv where
    remittances were given, Data Docs, summary.json last) and move them into `out` together
    (`io.writers.StagedOutputs`: the crash-safe commit). `since`: a nightly run's comparison with
    the root's previous run, shown in both reports. `remits`: the run's matched remittances and
    `learnt` the denial weights learnt from them (the reports show them beside the defaults; the
    claims' risk uses them). Returns the paths written."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    shown = apply_masking(audit.findings, sharing.masking, sharing.key)
    started = time.perf_counter()
    with StagedOutputs(target, sharing.access) as staged:
        workbook_written = _write_reports(staged, summary, canonical.claims_audited(), audit, shown,
                                          quarantine, canonical, reference, sharing, workbook_rows, workbooks, log,
                                          since, remits, learnt)
        give_back_memory()  # the reports' frames (gigabytes at 10M lines) before the tables are written
        reported = time.perf_counter()
        if remits is not None:  # no patient id in either: claim ids, codes, amounts, CARCs
            write_parquet(remits.rows, staged.path("remits.parquet"))
            write_csv(remits.unmatched, staged.path("remits_unmatched.csv"))
        if audit.parts is not None:  # streamed from the buckets' parts, in the merged order
            audit.parts.write(staged.path("visits.parquet"))
        else:
            write_parquet(audit.visits, staged.path("visits.parquet"))
        write_parquet(audit.findings, staged.path("findings.parquet"))
        write_csv(shown, staged.path("findings.csv"))
        if audit.docs is not None:
            shutil.copytree(audit.docs, staged.path("data_docs"))
            for left in make_offline(staged.path("data_docs")):
                log.warning("data_docs still load an external asset: %s", left)
        write_parquet(quarantine, staged.path("quarantine.parquet"))
        canonical.link_into(staged)
        written = time.perf_counter()
        workbook_written.result()
        log.info("report.xlsx written (detail sheets: up to %d row(s) each)", workbook_rows)
        began = datetime.fromisoformat(summary["run"]["started_at"])
        summary["run"]["seconds"] |= {"write_outputs": round(written - reported, 3),
                                      "reports": round(time.perf_counter() - started - (written - reported), 3),
                                      "total": round((datetime.now(UTC) - began).total_seconds(), 3)}
        write_json(summary, staged.path("summary.json"))
        names = sorted(p.name for p in staged.stage.iterdir())
    log.info("outputs written to %s", target)
    return [str(target / name) for name in names]


def _write_reports(staged: StagedOutputs, summary: dict[str, Any], claims: int, audit: Audit,
                   shown_findings: pd.DataFrame, quarantine: pd.DataFrame, canonical: CanonicalTables,
                   reference: ReferenceData, sharing: Sharing, workbook_rows: int, workbooks: WorkbookWriter,
                   log: Log, since: SinceLastNight | None = None, remits: Remittances | None = None,
                   learnt: pd.DataFrame | None = None) -> Future[Path]:
    """report.html, and report.xlsx on its way: from the same numbers, with patient ids as
    `sharing` says. The workbook is cut to its sheets and handed to `workbooks` first, so that
    a large run writes it while this process writes the rest."""
    names = combine(canonical.names(), names_from_reference(reference.providers, reference.clinics))
    if since is not None:  # patient ids as the findings show them
        since = since.shown(lambda frame: apply_masking(frame, sharing.masking, sharing.key))
    shown = visits_listed(audit.visits, audit.findings)  # the visits the reports list, with every column
    listed = audit.parts.with_details(audit.visits, shown) if audit.parts is not None else audit.visits[shown]
    data = build_report_data(summary, audit.visits, audit.findings, claims, rules=rule_catalogue(),
                             quarantine=quarantine, names=names, lineage=canonical.lineage(audit.findings),
                             since_last_night=since, remits=remits, learnt=learnt, listed=listed)
    give_back_memory()  # each step's temporaries (a gigabyte at 10M lines) before the next step's
    shown_findings = shown_findings.assign(visit=visit_number(audit.findings))
    weights = weights_in_use(reference.denial_weights, learnt)  # the learnt ones where remittances were given
    at_risk = claim_risk(audit.findings, weights)
    give_back_memory()
    context = {"run_id": summary["run"]["run_id"], "generated_at": summary["run"]["finished_at"],
               "version": summary["software"]["version"], "masking": sharing.masking,
               "inputs": f"{len(summary['inputs'])} file(s)", "data_docs": audit.docs is not None}
    cut = workbook(data, shown_findings.drop(columns="visit"), at_risk,
                   apply_masking(listed, sharing.masking, sharing.key), context, workbook_rows)
    written = workbooks.submit(staged.path("report.xlsx"), cut)
    del listed, cut  # the sheets are cut from the listed visits (0.4 GiB at 10M lines): gone before the HTML
    give_back_memory()
    write_report_html(staged.path("report.html"), data, shown_findings, at_risk, reference.denial_weights, context)
    if remits is not None:
        log.info("remits.parquet written (%d row(s)); %d 835 service line(s) unmatched "
                 "(remits_unmatched.csv)", len(remits.rows), len(remits.unmatched))
    log.info("report.html written (%d chart(s), %d claim(s) ranked by denial risk, %d quarantined "
                          "row(s) listed)", 5 + (since is not None), len(at_risk), len(quarantine))
    return written
