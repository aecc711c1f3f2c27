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

from flows.partitions import audit_partition, merge_partitions, split_partitions
from nmr_audit import __version__
from nmr_audit.conform import Conformed
from nmr_audit.contract import CLAIM_LINES, SOURCE_FILE, VISIT_NOTES
from nmr_audit.denial import claim_risk
from nmr_audit.digest import summary_markdown, top_findings
from nmr_audit.errors import InputError
from nmr_audit.facts import build_facts
from nmr_audit.findings import build_findings
from nmr_audit.gx_engine import RuleEngineError, validate
from nmr_audit.intake import account, combine, conform_file, reader_quarantine
from nmr_audit.io.discover import discover
from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.io.profile_file import load_profile
from nmr_audit.io.readers import read_export
from nmr_audit.io.reference import default_reference_dir, load_reference
from nmr_audit.io.report_html import write_report_html
from nmr_audit.io.report_xlsx import write_report_xlsx
from nmr_audit.io.suites import default_expectations_dir, load_suites
from nmr_audit.io.writers import StagedOutputs, write_csv, write_json, write_parquet
from nmr_audit.mapping import IDENTITY, MappingProfile
from nmr_audit.masking import Masking
from nmr_audit.masking import mask_patients as apply_masking
from nmr_audit.reference import ReferenceData
from nmr_audit.report_data import build_report_data
from nmr_audit.summary import build_summary, findings_totals, rules_applied, unverified_rows, visit_totals
from nmr_audit.visits import reconcile_visits

Severity = Literal["info", "low", "medium", "high"]
MASK_KEY_VARIABLE = "NMR_AUDIT_MASK_KEY"


@dataclass
class TableIntake:
    """One table of the run after reading, mapping, validation and de-duplication."""

    conformed: Conformed
    files: pd.DataFrame  # table, source_file, format, sha256, rows_read
    seconds: float = 0.0


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


@dataclass
class RuleOutcome:
    findings: pd.DataFrame
    docs: Path | None
    seconds: float


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
def discover_inputs(claims: list[str], notes: list[str]
                    ) -> tuple[dict[str, list[Path]], list[str]] | InputError:
    try:
        claim_files, skipped_claims = discover(claims, CLAIM_LINES)
        note_files, skipped_notes = discover(notes, VISIT_NOTES)
    except InputError as problem:
        return problem
    get_run_logger().info("inputs: %d claim file(s), %d note file(s)", len(claim_files),
                          len(note_files))
    skipped = [str(p) for p in skipped_claims + skipped_notes]
    return {CLAIM_LINES: claim_files, VISIT_NOTES: note_files}, skipped


@task(name="read and validate", cache_policy=NO_CACHE)
def read_table(table: str, files: list[Path], mapping: MappingProfile, reference: ReferenceData
               ) -> TableIntake | InputError:
    """Read every file of one table, conform it to the contract, quarantine what breaks it."""
    logger = get_run_logger()
    started = time.perf_counter()
    table_mapping = mapping.for_table(table)
    parts, stats = [], []
    try:
        for path in files:
            raw = read_export(path, delimiter=table_mapping.delimiter, sheet=table_mapping.sheet)
            part = conform_file(raw.frame, table, table_mapping, reference, str(path))
            invalid = reader_quarantine(raw.invalid, table, str(path))
            parts.append(Conformed(part.rows, pd.concat([invalid, part.quarantine]), part.services))
            stats.append({"table": table, SOURCE_FILE: str(path), "format": raw.format,
                          "sha256": raw.sha256, "rows_read": raw.rows_read})
            logger.info("%s: read %d row(s) from %s, %d quarantined", table, raw.rows_read,
                        path.name, len(parts[-1].quarantine))
    except InputError as problem:
        return problem
    conformed = combine(parts, table)
    return TableIntake(conformed, pd.DataFrame(stats), time.perf_counter() - started)


@task(name="reconcile units", cache_policy=NO_CACHE)
def reconcile_units(claims: TableIntake, notes: TableIntake, reference: ReferenceData
                    ) -> tuple[pd.DataFrame, float]:
    """Billed 97112 units against what the notes' minutes support, one row per visit."""
    started = time.perf_counter()
    visits = reconcile_visits(claims.conformed.rows, notes.conformed.rows,
                              notes.conformed.services, reference)
    over = visits["excess_units_97112"] > 0
    get_run_logger().info("reconciled %d visit(s) with 97112: %d bill more units than documented "
                          "(%d excess unit(s))", len(visits), int(over.sum()),
                          int(visits["excess_units_97112"].sum()))
    return visits, time.perf_counter() - started


@task(name="apply rules", cache_policy=NO_CACHE)
def apply_rules(claims: TableIntake, notes: TableIntake, visits: pd.DataFrame, settings: Settings,
                data_docs: bool) -> RuleOutcome | RuleEngineError:
    """Facts in pandas, then the GX suites flag rows, then findings with dollars at risk."""
    logger = get_run_logger()
    started = time.perf_counter()
    facts = build_facts(claims.conformed.rows, notes.conformed.rows, notes.conformed.services, visits,
                        settings.reference)
    frames = facts.by_grain()
    logger.info("facts: %s", ", ".join(f"{len(f)} {g}" for g, f in frames.items()))
    docs = Path(tempfile.mkdtemp(prefix="nmr-audit-docs-")) if data_docs else None
    try:
        unexpected = validate(settings.suites, frames, docs)
    except RuleEngineError as problem:
        return problem
    logger.info("rule suites: %d expectation(s) over %d grain(s), %d unexpected row(s)",
                sum(len(s.expectations) for s in settings.suites.values()), len(frames), len(unexpected))
    findings = build_findings(unexpected, frames)
    logger.info("findings: %d (%s)", len(findings), ", ".join(
        f"{k} {v}" for k, v in findings["severity"].value_counts().items()) or "none")
    return RuleOutcome(findings, docs, time.perf_counter() - started)


@dataclass
class Sharing:
    """How patient ids appear in the human-facing outputs (CSV, HTML, XLSX)."""

    masking: Masking = "keep"
    key: bytes | None = None


@task(name="write outputs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def write_outputs(out: str, claims: TableIntake, notes: TableIntake, visits: pd.DataFrame,
                  rules: RuleOutcome, summary: dict[str, Any], reference: ReferenceData,
                  sharing: Sharing) -> list[str]:
    """Write every output aside and move them into `out` together."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    quarantine = pd.concat([claims.conformed.quarantine, notes.conformed.quarantine],
                           ignore_index=True)
    shown = apply_masking(rules.findings, sharing.masking, sharing.key)
    started = time.perf_counter()
    with StagedOutputs(target) as staged:
        write_parquet(visits, staged.path("visits.parquet"))
        write_parquet(rules.findings, staged.path("findings.parquet"))
        write_csv(shown, staged.path("findings.csv"))
        if rules.docs is not None:
            shutil.copytree(rules.docs, staged.path("data_docs"))
        write_parquet(quarantine, staged.path("quarantine.parquet"))
        write_parquet(claims.conformed.rows, staged.path("claim_lines.parquet"))
        write_parquet(notes.conformed.rows, staged.path("visit_notes.parquet"))
        write_parquet(notes.conformed.services, staged.path("note_services.parquet"))
        written = time.perf_counter()
        _write_reports(staged, summary, claims, visits, rules.findings, reference, sharing)
        summary["run"]["seconds"] |= {"write_outputs": round(written - started, 3),
                                      "reports": round(time.perf_counter() - written, 3)}
        write_json(summary, staged.path("summary.json"))
        names = sorted(p.name for p in staged.stage.iterdir())
    get_run_logger().info("outputs written to %s", target)
    return [str(target / name) for name in names]


def _write_reports(staged: StagedOutputs, summary: dict[str, Any], claims: TableIntake, visits: pd.DataFrame,
                   findings: pd.DataFrame, reference: ReferenceData, sharing: Sharing) -> None:
    """report.html and report.xlsx, from the same numbers, with patient ids as `sharing` says."""
    logger = get_run_logger()
    data = build_report_data(summary, visits, findings, int(claims.conformed.rows["claim_id"].nunique()))
    at_risk = claim_risk(findings, reference.denial_weights)
    context = {"run_id": summary["run"]["run_id"], "generated_at": summary["run"]["finished_at"],
               "version": summary["software"]["version"], "masking": sharing.masking,
               "inputs": f"{len(summary['inputs'])} file(s)"}
    shown_findings = apply_masking(findings, sharing.masking, sharing.key)
    write_report_html(staged.path("report.html"), data, shown_findings, at_risk, reference.denial_weights, context)
    logger.info("report.html written (%d chart(s), %d claim(s) ranked by denial risk)", 5, len(at_risk))
    write_report_xlsx(staged.path("report.xlsx"), data, shown_findings, at_risk,
                      apply_masking(visits, sharing.masking, sharing.key), context)
    logger.info("report.xlsx written")


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
) -> AuditResult | State:
    """Audit 97112 claim lines against visit notes and write the run's outputs to `out`.

    `partitioned` splits the work by clinic and month into mapped tasks (run the flow with
    prefect-dask's DaskTaskRunner to put them on a Dask cluster); the outputs are the same.
    `as_of` is the night a scheduled run audits (recorded in the summary). `mask_patients`
    (keep, hash, drop) sets how patient ids appear in findings.csv and the reports; `hash` takes
    its key from `mask_key_file` or the NMR_AUDIT_MASK_KEY environment variable.
    """
    started = datetime.now(UTC)
    sharing = sharing_settings(mask_patients, mask_key_file)
    if isinstance(sharing, InputError):
        return Failed(message=sharing.line())
    settings = load_settings(mapping, profile, reference, expectations)
    if isinstance(settings, InputError):
        return Failed(message=settings.line())
    mapping_profile, ref = settings.mapping, settings.reference
    plan = discover_inputs(claims, notes)
    if isinstance(plan, InputError):
        return Failed(message=plan.line())
    files, skipped = plan
    claim_intake = read_table(CLAIM_LINES, files[CLAIM_LINES], mapping_profile, ref)
    note_intake = read_table(VISIT_NOTES, files[VISIT_NOTES], mapping_profile, ref)
    for intake in (claim_intake, note_intake):
        if isinstance(intake, InputError):
            return Failed(message=intake.line())
    if partitioned:
        visits, rules, reconcile_seconds = _in_partitions(claim_intake, note_intake, ref, expectations, out)
    else:
        visits, reconcile_seconds = reconcile_units(claim_intake, note_intake, ref)
        rules = apply_rules(claim_intake, note_intake, visits, settings, data_docs)
    if isinstance(rules, RuleEngineError):
        return Failed(message=str(rules))
    accounting = pd.concat([
        account(claim_intake.files, claim_intake.conformed.rows, claim_intake.conformed.quarantine),
        account(note_intake.files, note_intake.conformed.rows, note_intake.conformed.quarantine),
    ], ignore_index=True)
    parameters = {"claims": claims, "notes": notes, "out": out, "mapping": mapping,
                  "as_of": as_of.isoformat() if as_of else None, "partitioned": partitioned,
                  "mask_patients": mask_patients,
                  "mapping_profile": mapping_profile.name, "profile": profile,
                  "reference": reference or str(default_reference_dir()), "fail_on": fail_on,
                  "expectations": expectations or str(default_expectations_dir()),
                  "rule_basis": dict(zip(ref.payer_rule_basis["payer_type"],
                                         ref.payer_rule_basis["rule_basis"], strict=True))}
    timing = {"run_id": run_id or uuid.uuid4().hex[:12], "started_at": started.isoformat(),
              "finished_at": datetime.now(UTC).isoformat(),
              "seconds": {"read_and_validate": round(claim_intake.seconds + note_intake.seconds, 3),
                          "reconcile_units": round(reconcile_seconds, 3),
                          "apply_rules": round(rules.seconds, 3)}}
    applied = rules_applied(settings.suites)
    summary = build_summary(accounting, rules.findings, parameters,
                            {"name": "nmr-audit", "version": __version__}, skipped, timing)
    summary["findings"] = findings_totals(rules.findings, applied)
    summary["visits"] = visit_totals(visits)
    summary["rules_applied"] = [{"rule_id": r, "severity": s} for r, s in applied.items()]
    summary["reference_unverified"] = unverified_rows(ref)
    try:
        outputs = write_outputs(out, claim_intake, note_intake, visits, rules, summary, ref, sharing)
    finally:
        if rules.docs is not None:
            shutil.rmtree(rules.docs, ignore_errors=True)
    publish(out, summary, rules.findings)
    return AuditResult(out=out, summary=summary, outputs=outputs)


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


def _in_partitions(claims: TableIntake, notes: TableIntake, reference: ReferenceData,
                   expectations: str | None, out: str) -> tuple[pd.DataFrame, RuleOutcome, float]:
    """Split, map one task per partition (on Dask when the flow runs with a DaskTaskRunner), merge."""
    started = time.perf_counter()
    work = Path(out) / f".work-{uuid.uuid4().hex[:12]}"
    try:
        folders = split_partitions(claims.conformed.rows, notes.conformed.rows, notes.conformed.services,
                                   str(work))
        done = audit_partition.map(folders, reference=unmapped(reference),
                                   expectations=unmapped(expectations)).result()
        visits, findings = merge_partitions(done)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    get_run_logger().info("partitioned audit: %d partition(s); Data Docs are written by single-process "
                          "runs only", len(folders))
    seconds = time.perf_counter() - started
    return visits, RuleOutcome(findings, None, seconds), seconds
