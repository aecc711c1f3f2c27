"""The audit as a Prefect flow: coarse tasks over the pure functions of `nmr_audit`.

`nmr-audit audit` runs this flow; a deployment can run it nightly. Tasks pass frames in
memory (cache off: hashing millions of rows would cost more than the work) and file paths.
Input that cannot be audited ends the flow in a Failed state whose message is the one line
the CLI prints, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.buckets import BucketAudit, BucketRunner, BucketWorkerError, LaterCopies, bucket_claims, bucket_tables, bucket_therapy
from flows.outputs import CanonicalTables, Sharing, WorkbookWriter, write_outputs
from flows.partitions import audit_partition, merge_partitions, split_partitions
from flows.prefect_server import flow_guard
from nmr_audit import __version__
from nmr_audit.buckets import bucket_count, patient_buckets
from nmr_audit.conform import Conformed
from nmr_audit.contract import (
    CLAIM_LINES,
    LINEAGE,
    NOTE_SERVICES,
    QUARANTINE_COLUMNS,
    REMITS,
    SOURCE_FILE,
    SOURCE_ROW,
    UNIQUE_KEYS,
    VISIT_NOTES,
)
from nmr_audit.denial import learnt_summary, learnt_weights
from nmr_audit.digest import summary_markdown, top_findings
from nmr_audit.editions import editions_summary
from nmr_audit.errors import InputError
from nmr_audit.facts import held_rows
from nmr_audit.findings import ordered
from nmr_audit.gx_engine import RuleEngineError
from nmr_audit.intake import (
    account,
    audited_per_file,
    conform_file,
    conventions_for,
    duplicate_keys,
    reader_quarantine,
    replaced_in_later_files,
    rows_per_file,
)
from nmr_audit.io.discover import discover, estimated_rows
from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.io.memory import collector_sees_only_the_run, give_back_memory
from nmr_audit.io.profile_file import load_profile
from nmr_audit.io.readers import ReadOptions, open_export, recognise
from nmr_audit.io.reference import default_reference_dir, load_reference
from nmr_audit.io.spill import Spill
from nmr_audit.io.suites import default_expectations_dir, load_suites
from nmr_audit.mapping import IDENTITY, MappingProfile
from nmr_audit.masking import Masking
from nmr_audit.pipeline import PROGRESS_SKIPPED
from nmr_audit.reference import ReferenceData
from nmr_audit.remits import Remittances, outcome_counts, remittances, with_outcomes
from nmr_audit.runtime.faults import checkpoint
from nmr_audit.runtime.last_night import earlier_nights, state_findings
from nmr_audit.runtime.permissions import Access
from nmr_audit.runtime.state import (
    PATIENT_DAY,
    THERAPY_AMOUNTS,
    TREATMENT_DAYS,
    read_state,
    rows_to_reaudit,
    therapy_history,
    touched_days,
)
from nmr_audit.since_last_night import SinceLastNight, since_last_night
from nmr_audit.sizes import BATCH_ROWS, BUCKETS_AT_ONCE, LINES_PER_BUCKET, WORKBOOK_ROWS
from nmr_audit.summary import build_summary, findings_totals, rules_applied, unverified_rows, visit_totals
from nmr_audit.therapy import TherapyHistory, progress_recorded, therapy_amounts, treatment_days
from nmr_audit.visits import in_visit_order

Severity = Literal["info", "low", "medium", "high"]
MASK_KEY_VARIABLE = "NMR_AUDIT_MASK_KEY"


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


@dataclass
class AuditResult:
    out: str
    summary: dict[str, Any]
    outputs: list[str] = field(default_factory=list)


@dataclass
class Settings:
    mapping: MappingProfile
    reference: ReferenceData
    suites: dict[str, Any]


@task(name="load settings", cache_policy=NO_CACHE)
def load_settings(mapping: str | None, profile: str | None, reference: str | None,
                  expectations: str | None) -> Settings | InputError:
    try:
        ref = load_reference(Path(reference) if reference else None)
        if profile:
            ref = load_profile(Path(profile), ref)
        suites = load_suites(Path(expectations) if expectations else None)
        return Settings(load_mapping(Path(mapping)) if mapping else IDENTITY, ref, suites)
    except InputError as problem:
        return problem


@task(name="discover inputs", cache_policy=NO_CACHE)
def discover_inputs(claims: list[str], notes: list[str], allow_empty: bool = False, remits: list[str] | None = None,
                    remits_may_be_empty: bool = False) -> tuple[dict[str, list[Path]], list[dict[str, str]]] | InputError:
    """The files to read; a table given no path at all is allowed only with `allow_empty` (a
    nightly run whose history holds that table's rows). `remits`: 835 remittance paths (`--remits`;
    the files are listed under `remits` only when some are given); with `remits_may_be_empty` (the
    nightly flow: payers' files come when they come) remittance folders holding no 835 yet are
    no error, but a path that does not exist still is."""
    try:
        claim_files, skipped_claims = discover(claims, CLAIM_LINES) if claims or not allow_empty else ([], [])
        note_files, skipped_notes = discover(notes, VISIT_NOTES) if notes or not allow_empty else ([], [])
        remit_files, skipped_remits = [], []
        if remits and not (remits_may_be_empty and all(Path(p).is_dir() and not any(_readable_835(Path(p)))
                                                       for p in remits)):
            remit_files, skipped_remits = discover(remits, REMITS)
    except InputError as problem:
        return problem
    get_run_logger().info("inputs: %d claim file(s), %d note file(s)%s", len(claim_files),
                          len(note_files), f", {len(remit_files)} remittance file(s)" if remits else "")
    skipped = [{"kind": "file", "source": s.source, "reason": s.reason}
               for s in skipped_claims + skipped_notes + skipped_remits]
    files = {CLAIM_LINES: claim_files, VISIT_NOTES: note_files}
    return (files | {REMITS: remit_files} if remits else files), skipped


def _readable_835(folder: Path) -> list[Path]:
    """The 835 files a remittance folder holds now (none: nothing new from the payers)."""
    return [p for p in folder.rglob("*") if p.is_file() and recognise(p, table=REMITS).reader is not None]


@dataclass
class RemitIntake:
    """The run's 835 remittance rows (every file's, with `source_file`), what could not be read,
    the files read (as `TableIntake.files`) and their envelope issues."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    files: pd.DataFrame
    issues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def claim_ids(self) -> pd.Series:
        return pd.Series(self.rows["claim_id"].dropna().unique(), dtype="str") if len(self.rows) else pd.Series(
            dtype="str")


@task(name="read remittances", cache_policy=NO_CACHE)
def read_remits(files: list[Path]) -> RemitIntake | InputError:
    """Every 835 file read whole (remittances are a fraction of the claims' size): rows, rows that
    could not be read (to the quarantine, table `remits`), files and envelope issues."""
    frames, held, stats, issues = [], [], [], []
    try:
        for path in files:
            export = open_export(path, table=REMITS)
            for raw in export.tables:
                frames.append(raw.frame.assign(**{SOURCE_FILE: raw.source}))
                held.append(reader_quarantine(raw.invalid, REMITS, raw.source))
                issues += [{"table": REMITS, SOURCE_FILE: raw.source, **i.as_dict()} for i in getattr(raw, "issues", [])]
                stats.append({"table": REMITS, SOURCE_FILE: raw.source, "file": str(raw.path), "sheet": None,
                              "format": raw.format, "sha256": raw.sha256, "rows_read": raw.rows_read})
    except InputError as problem:
        return problem
    rows = pd.concat(frames, ignore_index=True)
    get_run_logger().info("remittances: %d row(s) of %d service line(s) from %d file(s), %d could not be read",
                          len(rows), int((rows["level"] == "line").sum()) if len(rows) else 0, len(files),
                          sum(len(h) for h in held))
    return RemitIntake(rows, pd.concat(held, ignore_index=True), pd.DataFrame(stats), issues)


@task(name="match remittances", cache_policy=NO_CACHE)
def match_remittances(remits: RemitIntake, spill: Spill, claims: TableIntake, notes: TableIntake,
                      reference: ReferenceData) -> Remittances:
    """The remittances matched to the run's audited claim lines (read back from the spill, only
    those of the claims the remittances name), with each answered line's outcome."""
    copies = LaterCopies(claims.duplicates, notes.duplicates)
    wanted = set(remits.claim_ids)
    columns = ["claim_id", "line_number", "cpt_code", "modifiers", "date_of_service", "line_control_number"]
    parts = []
    for bucket in range(spill.buckets):
        lines = bucket_claims(spill, bucket, copies)[0]
        lines = lines[lines["claim_id"].isin(wanted).to_numpy()]
        parts.append(lines[[c for c in columns if c in lines.columns]])
    lines = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    found = remittances(remits.rows, lines, reference.carcs)
    get_run_logger().info("remittances: %d claim line(s) answered (%s); %d service line(s) unmatched",
                          len(found.outcomes), ", ".join(f"{k} {v}" for k, v in outcome_counts(found.outcomes).items()
                                                        if v) or "none", len(found.unmatched))
    return found


@task(name="read and validate", cache_policy=NO_CACHE)
def read_table(table: str, files: list[Path], mapping: MappingProfile, reference: ReferenceData, spill: Spill,
               batch_rows: int) -> TableIntake | InputError:
    """Read every file of one table a batch at a time, conform it to the contract, quarantine what
    breaks it, and spill the canonical rows by patient bucket."""
    logger = get_run_logger()
    if not files:  # a nightly run with history and nothing new of this table
        return TableIntake(pd.DataFrame({c: pd.Series(dtype="str") for c in (*UNIQUE_KEYS[table], *LINEAGE)}),
                           duplicate_keys(pd.DataFrame(columns=[*UNIQUE_KEYS[table], *LINEAGE]), table),
                           pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
                           pd.DataFrame(columns=["table", SOURCE_FILE, "file", "sheet", "format", "sha256", "rows_read"]))
    table_mapping = mapping.for_table(table)
    keys, held, stats, skipped, ignored, issues, replacements = [], [], [], [], [], [], []
    progress = False
    options = ReadOptions(delimiter=table_mapping.delimiter, sheet=table_mapping.sheet,
                          decimal_mark=table_mapping.decimal_mark, x12=dict(table_mapping.x12) or None)
    try:
        exports = [open_export(path, options, table) for path in files]  # a workbook's sheets are tables of their own
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
                    progress = progress or ("progress_report" in part.rows.columns
                                            and bool(part.rows["progress_report"].notna().any()))
                    held.append(part.quarantine)
                    columns.update(part.ignored_columns)
                    quarantined += len(part.quarantine)
                    done += len(frame)
                    del frame, part
                    give_back_memory()
                    if done >= batch_rows:
                        logger.info("%s: %s: %d row(s) validated so far", table, raw.source, done)
                held.append(reader_quarantine(raw.invalid, table, raw.source))  # complete once the batches are read
                issues += [{"table": table, SOURCE_FILE: raw.source, **i.as_dict()} for i in getattr(raw, "issues", [])]
                if hasattr(raw, "replacements"):  # 837P: its replacement and void claims, for the run's other files
                    replacements.append(raw.replacements().assign(**{SOURCE_FILE: raw.source}))
                quarantined += len(raw.invalid)
                ignored += [{"table": table, SOURCE_FILE: raw.source, "column": c} for c in sorted(columns)]
                stats.append({"table": table, SOURCE_FILE: raw.source, "file": str(raw.path), "sheet": raw.sheet,
                              "format": raw.format, "sha256": raw.sha256, "rows_read": raw.rows_read})
                logger.info("%s: read %d row(s) from %s, %d quarantined", table, raw.rows_read,
                            Path(raw.source).name, quarantined)
    except InputError as problem:
        return problem
    all_keys = pd.concat(keys, ignore_index=True) if keys else pd.DataFrame(
        {**{c: pd.Series(dtype="str") for c in UNIQUE_KEYS[table]}, SOURCE_FILE: pd.Series(dtype=source),
         SOURCE_ROW: pd.Series(dtype="int64")})
    return TableIntake(all_keys, later_copies_of(all_keys, replacements, list(source.categories), table),
                       pd.concat(held, ignore_index=True), pd.DataFrame(stats), skipped, ignored,
                       progress_reports=progress, x12_issues=issues)


def later_copies_of(keys: pd.DataFrame, replacements: list[pd.DataFrame], sources: list[str], table: str
                    ) -> pd.DataFrame:
    """The rows held back from every bucket: claim lines a later file's 837P replacement or void
    takes back (`intake.replaced_in_later_files`, a stage over all claim lines of the run), then
    the later copies of a unique key among the rest (`intake.duplicate_keys`)."""
    if not replacements:
        return duplicate_keys(keys, table)
    superseded = replaced_in_later_files(keys, pd.concat(replacements, ignore_index=True), sources)
    if superseded.empty:
        return duplicate_keys(keys, table)
    taken = pd.MultiIndex.from_frame(keys[list(LINEAGE)].astype({SOURCE_FILE: "str"})).isin(
        pd.MultiIndex.from_frame(superseded[list(LINEAGE)]))
    return pd.concat([superseded, duplicate_keys(keys[~taken], table)], ignore_index=True)


def _spill(spill: Spill, table: str, part: Conformed) -> None:
    """A batch's canonical rows (and a note's minutes, with their note) into their patients' buckets."""
    bucket = patient_buckets(part.rows["patient_id"], spill.buckets)
    spill.add(table, part.rows, bucket)
    if part.services is not None:
        note_row = pd.Index(part.rows[SOURCE_ROW]).get_indexer(part.services[SOURCE_ROW])
        spill.add(NOTE_SERVICES, part.services.loc[note_row >= 0], bucket[note_row[note_row >= 0]])


@dataclass
class Audit:
    """What the rules made of all buckets: visits, findings, and the duplicates held back."""

    visits: pd.DataFrame
    findings: pd.DataFrame
    quarantine: pd.DataFrame
    docs: Path | None
    seconds: dict[str, float]
    bucket_workers: int = 0  # worker processes that audited buckets beside the flow's own
    skipped: dict[str, str] = field(default_factory=dict)  # rule_id → why it was not applied (summary.json)


@task(name="audit bucket", cache_policy=NO_CACHE)
def audit_bucket(bucket: int, spill: Spill, copies: LaterCopies, reference: ReferenceData,
                 runner: BucketRunner, quarantined_notes: pd.DataFrame | None = None,
                 progress: bool = False) -> BucketAudit:
    """Reconcile and apply the rules to one bucket of patients (in this process's threads or in
    a worker process: `flows.buckets`); `quarantined_notes` (the run's notes and 97112 lines,
    `facts.held_rows`) raise NOTE_QUARANTINED and LINE_QUARANTINED;
    `progress`: the run's notes say which are progress reports."""
    checkpoint("bucket")
    done = runner.audit(bucket, spill, copies, reference, quarantined_notes, progress)
    visits, findings = done.audited.visits, done.audited.findings
    get_run_logger().info("bucket %d/%d: %d claim line(s), %d visit(s) with 97112 (%d bill more units than "
                          "documented), %d finding(s)", bucket + 1, spill.buckets, done.claim_lines, len(visits),
                          int((visits["excess_units_97112"] > 0).sum()), len(findings))
    return done


def bucket_runner(spill: Spill, settings: Settings, docs: Path | None, at_once: int) -> BucketRunner:
    """Buckets spilled to disk: one at a time in this process and the rest of `at_once` in worker
    processes. A run held in memory stays in this process, and so does a run writing Data Docs,
    whose `at_once` is 1 (one engine, so that one site lists every bucket)."""
    side_by_side = max(1, min(at_once, spill.buckets))
    if spill.folder is not None and side_by_side > 1:
        return BucketRunner(settings.suites, threads=1, workers=side_by_side - 1)
    return BucketRunner(settings.suites, threads=side_by_side, docs_dir=docs)


@dataclass
class Buckets:
    """Every bucket audited, not yet merged into the run's visits and findings."""

    done: list[BucketAudit]
    started: float
    workers: int


def audit_all(spill: Spill, claims: TableIntake, notes: TableIntake, settings: Settings,
              runner: BucketRunner) -> Buckets | RuleEngineError | BucketWorkerError:
    """Every bucket through `runner`."""
    started = time.perf_counter()
    copies = LaterCopies(claims.duplicates, notes.duplicates)
    held = held_rows(claims.quarantine, notes.quarantine)  # small: the visit keys of the notes and lines set aside
    try:
        futures = [audit_bucket.submit(b, spill, copies, settings.reference, runner, held, notes.progress_reports)
                   for b in range(spill.buckets)]
        return Buckets([future.result() for future in futures], started, runner.workers)
    except (RuleEngineError, BucketWorkerError) as problem:
        return problem


def merge_buckets(buckets: Buckets, docs: Path | None) -> Audit:
    """The buckets' visits and findings in the order of a whole run."""
    done = buckets.done
    seconds = {stage: sum(d.audited.seconds[stage] for d in done) for stage in ("reconcile_units", "apply_rules")}
    skipped = {rule: why for d in done for rule, why in d.audited.skipped.items()  # skipped by every bucket
               if all(rule in other.audited.skipped for other in done)}
    held = pd.concat([d.held for d in done], ignore_index=True)
    findings = ordered(pd.concat([d.audited.findings for d in done], ignore_index=True))
    visits = pd.concat([d.audited.visits for d in done], ignore_index=True)
    count = len(done)
    done.clear()
    visits = in_visit_order(visits)
    give_back_memory()
    seconds["audit_buckets"] = time.perf_counter() - buckets.started
    get_run_logger().info("audited %d bucket(s): %d visit(s) with 97112, %d finding(s) (%s)", count,
                          len(visits), len(findings), ", ".join(
                              f"{k} {v}" for k, v in findings["severity"].value_counts().items()) or "none")
    return Audit(visits, findings, held, docs, seconds, buckets.workers, skipped)


@task(name="publish", cache_policy=NO_CACHE)
def publish(out: str, summary: dict[str, Any], findings: pd.DataFrame) -> None:
    """Prefect artifacts: the run's summary, its top findings and links to what it wrote."""
    target = Path(out).resolve()
    links = {name: (target / name).as_uri() for name in ("findings.csv", "data_docs/index.html",
                                                          "report.html", "report.xlsx", "summary.json")
             if (target / name).exists()}
    create_markdown_artifact(key="nmr-audit-summary", markdown=summary_markdown(summary, links),
                             description="nmr-audit: counts, units and dollars at risk")
    create_table_artifact(key="nmr-audit-top-findings", table=top_findings(findings),
                          description="Findings with the most dollars at risk (no patient identifiers)")
    for name, url in links.items():  # key: nmr-audit-report-html, nmr-audit-data-docs-index-html, …
        key = "nmr-audit-" + name.replace("/", "-").replace("_", "-").replace(".", "-")
        create_link_artifact(key=key, link=url, link_text=name)


@flow(name="nmr-audit", log_prints=True,
      task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count() or 1))  # CPU-bound: a thread per core
def audit_flow(
    claims: list[str],
    notes: list[str],
    out: str,
    mapping: str | None = None,
    profile: str | None = None,
    reference: str | None = None,
    fail_on: Severity | None = None,
    expectations: str | None = None,
    data_docs: bool = True,
    partitioned: bool = False,
    as_of: date | None = None,
    run_id: str | None = None,
    mask_patients: Masking = "keep",
    mask_key_file: str | None = None,
    batch_rows: int = BATCH_ROWS,
    lines_per_bucket: int = LINES_PER_BUCKET,
    buckets_at_once: int = BUCKETS_AT_ONCE,
    workbook_rows: int = WORKBOOK_ROWS,
    share_with_group: bool = False,
    history: str | None = None,
    history_since: date | None = None,
    nightly_root: str | None = None,
    remits: list[str] | None = None,
) -> AuditResult | State:
    """Audit 97112 claim lines against visit notes and write the run's outputs to `out`
    (`_audit_into`), holding `out` for the whole run (`nmr_audit.runtime.guard`): one run at a
    time (a second ends Cancelled), outputs private to their owner (or `share_with_group`),
    temporary files inside `out`, what killed runs left there removed. `history` is a folder of
    earlier nights' state (`nmr_audit.runtime.state`): its rows dated `history_since` or later of
    the patients and days the inputs touch are audited again beside them. `nightly_root`: the
    nightly output root this run belongs to; the reports then compare it with the root's
    previous run (`nmr_audit.since_last_night`). `remits`: X12 835 remittance files, folders or
    globs: matched to the claim lines (remits.parquet), each finding's actual outcome, and the
    denial weights learnt from them (`nmr_audit.remits`, `nmr_audit.denial`)."""
    given = {k: v for k, v in locals().items() if k != "share_with_group"}
    with flow_guard(Path(out), "run", share_with_group) as guard:
        if isinstance(guard, State):
            return guard
        return _audit_into(guard.access, **given)


def _audit_into(
    access: Access,
    claims: list[str],
    notes: list[str],
    out: str,
    mapping: str | None = None,
    profile: str | None = None,
    reference: str | None = None,
    fail_on: Severity | None = None,
    expectations: str | None = None,
    data_docs: bool = True,
    partitioned: bool = False,
    as_of: date | None = None,
    run_id: str | None = None,
    mask_patients: Masking = "keep",
    mask_key_file: str | None = None,
    batch_rows: int = BATCH_ROWS,
    lines_per_bucket: int = LINES_PER_BUCKET,
    buckets_at_once: int = BUCKETS_AT_ONCE,
    workbook_rows: int = WORKBOOK_ROWS,
    history: str | None = None,
    history_since: date | None = None,
    nightly_root: str | None = None,
    remits: list[str] | None = None,
) -> AuditResult | State:
    """Audit 97112 claim lines against visit notes and write the run's outputs to `out`.

    Inputs are read and validated `batch_rows` rows at a time. A run of more than
    `lines_per_bucket` claim lines is audited in buckets of patients, `buckets_at_once` at a
    time (one per core), the other buckets' rows spilled to a work folder inside `out`
    meanwhile; the outputs are the same.
    `partitioned` splits the work by clinic and month into mapped tasks (run the flow with
    prefect-dask's DaskTaskRunner to put them on a Dask cluster); the outputs are the same.
    `as_of` is the night a scheduled run audits (recorded in the summary). `mask_patients`
    (keep, hash, drop) sets how patient ids appear in findings.csv and the reports; `hash` takes
    its key from `mask_key_file` or the NMR_AUDIT_MASK_KEY environment variable.
    `workbook_rows` caps each detail sheet of report.xlsx (every row is in the Parquet and CSV).
    """
    started = datetime.now(UTC)
    sharing = sharing_settings(mask_patients, mask_key_file)
    if isinstance(sharing, InputError):
        return Failed(message=sharing.line())
    sharing.access = access
    settings = load_settings(mapping, profile, reference, expectations)
    if isinstance(settings, InputError):
        return Failed(message=settings.line())
    plan = discover_inputs(claims, notes, allow_empty=history is not None, remits=remits)
    if isinstance(plan, InputError):
        return Failed(message=plan.line())
    files, skipped = plan
    expected_lines = estimated_rows(files[CLAIM_LINES])
    side_by_side = 1 if data_docs else buckets_at_once  # one GX site is written by one engine
    buckets = 1 if partitioned else bucket_count(expected_lines, lines_per_bucket, side_by_side)
    spill = Spill(buckets, Path(out) / f".spill-{uuid.uuid4().hex[:12]}" if buckets > 1 else None)
    if buckets > 1:
        get_run_logger().info("about %d claim line(s): auditing in %d bucket(s) of patients", expected_lines, buckets)
    with collector_sees_only_the_run():
        try:
            return _audit(spill, files, skipped, settings, sharing, started, {
                "claims": claims, "notes": notes, "out": out, "mapping": mapping,
                "as_of": as_of.isoformat() if as_of else None, "partitioned": partitioned, "mask_patients": mask_patients,
                "profile": profile, "fail_on": fail_on, "reference": reference, "expectations": expectations,
                "run_id": run_id, "data_docs": data_docs, "batch_rows": batch_rows, "lines_per_bucket": lines_per_bucket,
                "history": history, "history_since": history_since, "nightly_root": nightly_root,
                "buckets": buckets, "buckets_at_once": buckets_at_once, "side_by_side": side_by_side,
                "workbook_rows": workbook_rows, "remits": remits or []})
        finally:
            spill.close()


def _audit(spill: Spill, files: dict[str, list[Path]], skipped: list[dict[str, str]], settings: Settings,
           sharing: Sharing, started: datetime, given: dict[str, Any]) -> AuditResult | State:
    """Read, audit bucket by bucket, summarize and write: the flow's body once its settings hold."""
    docs = Path(tempfile.mkdtemp(prefix="nmr-audit-docs-")) if given["data_docs"] and not given["partitioned"] else None
    canonical = workbooks = None
    try:
        done = _read_and_audit(spill, files, settings, docs, given)
        if isinstance(done, State):
            return done
        claim_intake, note_intake, read_seconds, audited = done
        remit_intake: RemitIntake | None = given["remit_intake"]
        remitted = (match_remittances(remit_intake, spill, claim_intake, note_intake, settings.reference)
                    if remit_intake is not None else None)  # before the spill's claim lines are written and let go
        canonical = CanonicalTables(Path(given["out"]), spill, claim_intake, note_intake)  # beside the merge
        workbooks = WorkbookWriter(own_process=spill.folder is not None)
        audit = audited if isinstance(audited, Audit) else merge_buckets(audited, docs)
        learnt = None
        if remitted is not None:  # each finding's actual outcome, and the weights the clinic's denials teach
            audit.findings = with_outcomes(audit.findings, remitted.outcomes)
            learnt = learnt_weights(audit.findings, settings.reference.denial_weights)
        quarantine = run_quarantine([claim_intake.quarantine, note_intake.quarantine, audit.quarantine,
                                     *([remit_intake.quarantine] if remit_intake is not None else [])])
        accounting = pd.concat([account(i.files, audited_per_file(i.keys, i.duplicates), quarantine[quarantine["table"] == t])
                                for t, i in ((CLAIM_LINES, claim_intake), (VISIT_NOTES, note_intake))]
                               + ([account(remit_intake.files, rows_per_file(remit_intake.rows),
                                           quarantine[quarantine["table"] == REMITS])] if remit_intake is not None else []),
                               ignore_index=True)
        summary = _summary(settings, given, skipped, accounting, audit, started, read_seconds,
                           (claim_intake, note_intake))
        if remitted is not None:
            summary["x12_envelope_issues"] += remit_intake.issues
            summary["remits"] = remitted.totals() | {"findings_with_outcome": int(audit.findings["outcome"].notna().sum())}
            summary["denial_weights"] = learnt_summary(learnt)
        since = compare_with_last_night(given, audit.findings, summary) if given["nightly_root"] else None
        outputs = write_outputs(given["out"], canonical, claim_intake, audit, quarantine, summary, settings.reference,
                                sharing, given["workbook_rows"], workbooks, since, remitted, learnt)
    finally:
        for writer in (canonical, workbooks):
            if writer is not None:
                writer.close()
        if docs is not None:
            shutil.rmtree(docs, ignore_errors=True)
    publish(given["out"], summary, audit.findings)
    return AuditResult(out=given["out"], summary=summary, outputs=outputs)


def _read_and_audit(spill: Spill, files: dict[str, list[Path]], settings: Settings, docs: Path | None,
                    given: dict[str, Any]) -> tuple[TableIntake, TableIntake, float, Audit | Buckets] | State:
    """The inputs read into the spill and every bucket audited; worker processes (if any) start
    while the inputs are read and stop once the buckets are audited."""
    runner = None if given["partitioned"] else bucket_runner(spill, settings, docs, given["side_by_side"])
    try:
        reading = time.perf_counter()
        claim_intake, note_intake = _read_tables(files, settings, spill, given["batch_rows"], given["partitioned"])
        read_seconds = time.perf_counter() - reading
        for intake in (claim_intake, note_intake):
            if isinstance(intake, InputError):
                return Failed(message=intake.line())
        remit_intake = read_remits(files[REMITS]) if files.get(REMITS) else None
        if isinstance(remit_intake, InputError):
            return Failed(message=remit_intake.line())
        given["remit_intake"] = remit_intake
        if given["history"]:  # a remittance reopens the earlier nights' visits of the claims it answers
            given["history_rows"], given["touched"] = add_history(
                spill, Path(given["history"]), given["history_since"], files,
                remit_intake.claim_ids if remit_intake is not None else None)
        if runner is None:
            audit = _in_partitions(spill, claim_intake, note_intake, settings.reference, given["expectations"],
                                   given["out"])
        else:
            audit = audit_all(spill, claim_intake, note_intake, settings, runner)
    finally:
        if runner is not None:
            runner.close()
    if isinstance(audit, RuleEngineError | BucketWorkerError):
        return Failed(message=str(audit))
    return claim_intake, note_intake, read_seconds, audit


def _read_tables(files: dict[str, list[Path]], settings: Settings, spill: Spill, batch_rows: int, partitioned: bool
                 ) -> list[TableIntake | InputError]:
    """Claim lines and notes read side by side in the flow's threads (Arrow's kernels leave the
    other core free: 30% less time); one after the other in a partitioned run, which may have a
    Dask task runner, whose workers are other processes."""
    tables = (CLAIM_LINES, VISIT_NOTES)
    if partitioned:
        return [read_table(t, files[t], settings.mapping, settings.reference, spill, batch_rows) for t in tables]
    futures = [read_table.submit(t, files[t], settings.mapping, settings.reference, spill, batch_rows) for t in tables]
    return [future.result() for future in futures]


def run_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Every quarantined row of the run, by table, file and line."""
    held = pd.concat(parts, ignore_index=True)
    return held.sort_values(["table", SOURCE_FILE, SOURCE_ROW], kind="stable").reset_index(drop=True)


def _summary(settings: Settings, given: dict[str, Any], skipped: list[dict[str, str]], accounting: pd.DataFrame,
             audit: Audit, started: datetime, read_seconds: float,
             intakes: tuple[TableIntake, ...] = ()) -> dict[str, Any]:
    ref = settings.reference
    parameters = {**{k: given[k] for k in ("claims", "notes", "remits", "out", "mapping", "as_of", "partitioned",
                                           "mask_patients", "batch_rows", "lines_per_bucket", "buckets",
                                           "buckets_at_once", "workbook_rows")},
                  "bucket_workers": audit.bucket_workers,
                  "mapping_profile": settings.mapping.name, "profile": given["profile"],
                  "reference": given["reference"] or str(default_reference_dir()), "fail_on": given["fail_on"],
                  "expectations": given["expectations"] or str(default_expectations_dir()),
                  "rule_basis": dict(zip(ref.payer_rule_basis["payer_type"],
                                         ref.payer_rule_basis["rule_basis"], strict=True))}
    timing = {"run_id": given["run_id"] or uuid.uuid4().hex[:12], "started_at": started.isoformat(),
              "finished_at": datetime.now(UTC).isoformat(),
              "seconds": {"read_and_validate": round(read_seconds, 3),
                          **{k: round(v, 3) for k, v in audit.seconds.items()}}}
    if given.get("history_rows") is not None:
        timing["history"] = given["history_rows"]
    applied = rules_applied(settings.suites)
    summary = build_summary(accounting, audit.findings, parameters,
                            {"name": "nmr-audit", "version": __version__},
                            skipped + [part for i in intakes for part in i.skipped], timing,
                            ignored_columns=[column for i in intakes for column in i.ignored_columns])
    summary["findings"] = findings_totals(audit.findings, applied)
    summary["visits"] = visit_totals(audit.visits)
    summary["rules_applied"] = [{"rule_id": r, "severity": s} for r, s in applied.items()]
    summary["rules_skipped"] = [{"rule_id": r, "reason": why} for r, why in sorted(audit.skipped.items())]
    summary["reference_unverified"] = unverified_rows(ref)
    summary["x12_envelope_issues"] = [issue for i in intakes for issue in i.x12_issues]  # SE/GE/IEA counts …
    summary["reference_editions"] = editions_summary(ref)  # what findings' reference_edition names, for appeals
    return summary


def sharing_settings(masking: Masking, key_file: str | None) -> Sharing | InputError:
    """The masking mode and its key; a missing key for `hash` is an input problem, said plainly."""
    if masking != "hash":
        return Sharing(masking)
    if key_file:
        path = Path(key_file)
        if not path.exists():
            return InputError(path, "mask key file not found")
        key = path.read_bytes().strip()
    else:
        key = os.environ.get(MASK_KEY_VARIABLE, "").encode()
    if not key:
        return InputError(Path(key_file or MASK_KEY_VARIABLE), "hashing patient ids needs a key",
                          f"set {MASK_KEY_VARIABLE} or pass --mask-key-file FILE (keep the same key per client)")
    return Sharing("hash", key)


def _in_partitions(spill: Spill, claims: TableIntake, notes: TableIntake, reference: ReferenceData,
                   expectations: str | None, out: str) -> Audit:
    """Split, map one task per partition (on Dask when the flow runs with a DaskTaskRunner), merge."""
    started = time.perf_counter()
    work = Path(out) / f".work-{uuid.uuid4().hex[:12]}"
    lines, visit_notes, services, held = bucket_tables(spill, 0, LaterCopies(claims.duplicates, notes.duplicates))
    therapy = run_therapy(lines, visit_notes, reference, bucket_therapy(spill, 0))  # a partition sees its patients' year
    progress = notes.progress_reports or progress_recorded(visit_notes, therapy)
    try:
        set_aside = held_rows(claims.quarantine, notes.quarantine)
        folders = split_partitions(lines, visit_notes, services, str(work), set_aside, therapy)
        done = audit_partition.map(folders, reference=unmapped(reference), expectations=unmapped(expectations),
                                   progress=unmapped(progress)).result()
        visits, findings = merge_partitions(done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    get_run_logger().info("partitioned audit: %d partition(s); Data Docs are written by single-process "
                          "runs only", len(folders))
    seconds = time.perf_counter() - started
    skipped = {} if progress else {"PROGRESS_REPORT_OVERDUE": PROGRESS_SKIPPED}
    return Audit(visits, findings, held, None, {"audit_buckets": seconds}, skipped=skipped)


def run_therapy(lines: pd.DataFrame, visit_notes: pd.DataFrame, reference: ReferenceData,
                earlier: TherapyHistory | None) -> TherapyHistory:
    """Every patient's therapy of the run (amounts and treatment days), after the earlier
    nights' (`earlier`, where the run has a nightly state), each claim line and note once: a
    partition audits one clinic and month, and counts the rest of its patients' year from this."""
    amounts, days = therapy_amounts(lines, reference), treatment_days(visit_notes, reference)
    if earlier is not None:
        amounts = pd.concat([earlier.amounts, amounts], ignore_index=True)
        days = pd.concat([earlier.days, days], ignore_index=True)
    return TherapyHistory(amounts.drop_duplicates(["claim_id", "line_number"], keep="last").reset_index(drop=True),
                          days.drop_duplicates(["note_id"], keep="last").reset_index(drop=True))


@task(name="add history", cache_policy=NO_CACHE)
def add_history(spill: Spill, folder: Path, since: date | None, files: dict[str, list[Path]],
                remit_claims: pd.Series | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Earlier nights' rows of the patients and days tonight's rows touch, into the spill beside
    them (`runtime.state.rows_to_reaudit`), cast to tonight's dtypes. Tonight's remittances touch
    the days of the earlier claim lines they answer (`remit_claims`: their claim ids), so a
    remittance that arrives nights after its claim finds the line audited again tonight. Returns
    what was added (for the summary: rows per table, patient-days touched, the window's first
    date) and the patient-days touched (`runtime.state.touched_days`)."""
    state = read_state(folder)
    tonight = {t: pd.concat([spill.load(t, b) for b in range(spill.buckets)], ignore_index=True)
               if t in spill.tables else None for t in (CLAIM_LINES, VISIT_NOTES)}
    new_files = [str(p) for paths in files.values() for p in paths]
    patients = pd.concat([f["patient_id"] for f in tonight.values() if f is not None] or [pd.Series(dtype="str")])
    therapy = therapy_history(state, patients, new_files)
    if therapy is not None:  # the beneficiaries' year: KX totals and treatment days, beside their rows
        for name, rows in ((THERAPY_AMOUNTS, therapy.amounts), (TREATMENT_DAYS, therapy.days)):
            spill.add(name, rows, patient_buckets(rows["patient_id"].astype("str"), spill.buckets))
    touched = touched_days(*(f if f is not None else pd.DataFrame(columns=PATIENT_DAY) for f in tonight.values()))
    earlier_lines = state.table(CLAIM_LINES)
    if remit_claims is not None and len(remit_claims) and earlier_lines is not None and len(earlier_lines):
        answered = earlier_lines.loc[earlier_lines["claim_id"].isin(remit_claims).to_numpy(), PATIENT_DAY]
        touched = pd.concat([touched, answered], ignore_index=True).drop_duplicates().reset_index(drop=True)
    start = pd.Timestamp(since) if since else pd.Timestamp.min
    due = rows_to_reaudit(state, touched, {t: f for t, f in tonight.items() if f is not None}, new_files, start)
    added = {}
    for table in (CLAIM_LINES, VISIT_NOTES):
        rows = due[table]
        if tonight[table] is not None and not rows.empty:
            template = tonight[table]
            rows = rows[list(template.columns)].astype(template.dtypes.to_dict())
        if rows.columns.empty:
            continue
        bucket = patient_buckets(rows["patient_id"], spill.buckets)
        spill.add(table, rows, bucket)
        if table == VISIT_NOTES and not due[NOTE_SERVICES].columns.empty:  # even none: the table's columns
            services = due[NOTE_SERVICES]
            if NOTE_SERVICES in spill.tables:
                template = spill.load(NOTE_SERVICES, 0)
                services = services[list(template.columns)].astype(template.dtypes.to_dict())
            note_of = pd.MultiIndex.from_frame(rows[list(LINEAGE)].astype("str")).get_indexer(
                pd.MultiIndex.from_frame(services[list(LINEAGE)].astype("str")))
            spill.add(NOTE_SERVICES, services.loc[note_of >= 0], bucket[note_of[note_of >= 0]])
        added[table] = len(rows)
    get_run_logger().info("history: %d patient-day(s) touched; %d claim line(s) and %d note(s) of earlier nights "
                          "audited again", len(touched), added.get(CLAIM_LINES, 0), added.get(VISIT_NOTES, 0))
    return {"rows_audited_again": added, "patient_days_touched": len(touched),
            "since": start.date().isoformat() if since else None,
            "therapy_rows": {"therapy_amounts": len(therapy.amounts), "treatment_days": len(therapy.days)}
            if therapy is not None else None}, touched


@task(name="compare with the last night", cache_policy=NO_CACHE)
def compare_with_last_night(given: dict[str, Any], findings: pd.DataFrame, summary: dict[str, Any]) -> SinceLastNight:
    """Tonight's findings against the nightly root's previous run (read through its ledger) and
    the state it left (`nmr_audit.since_last_night`); the figures go into `summary`
    (`since_last_night`) so that later nights read them back for their series."""
    root = Path(given["nightly_root"])
    earlier = earlier_nights(root)
    since_day = given["history_since"]
    look_back = (date.fromisoformat(given["as_of"]) - since_day).days if since_day and given["as_of"] else 0
    touched = given.get("touched")
    compared = since_last_night(
        findings, summary["findings"]["dollars_at_risk"], summary["run"]["run_id"], given["as_of"] or "",
        earlier.previous, earlier.previous_findings, state_findings(Path(given["history"]) if given["history"] else None),
        touched if touched is not None else pd.DataFrame(columns=PATIENT_DAY),
        pd.Timestamp(since_day) if since_day else pd.Timestamp.min, earlier.series, look_back)
    summary["since_last_night"] = compared.totals()
    totals = summary["since_last_night"]
    get_run_logger().info(
        "since the last night (%s): %s", totals["previous_run_id"] or "none: first run in this root",
        "nothing to compare with" if compared.first_night else
        f"{totals['new_findings']} new finding(s) (${totals['new_dollars_at_risk']:,.2f}), "
        f"{totals['resolved_findings']} resolved (${totals['resolved_dollars_at_risk']:,.2f}) of "
        f"{totals['reexamined_findings']} examined again")
    return compared
