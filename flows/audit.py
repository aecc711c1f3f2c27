"""The audit as a Prefect flow: tasks over the functions of `nmr_audit`, wired in a run's order.

`nmr-audit audit` runs this flow; the nightly flow runs it once a night. It takes one typed
configuration (`nmr_audit.runtime.config.RunConfig`) and only orchestrates: plan the run, read
the inputs into the run's spill, audit every bucket of patients through the run's executor,
merge, summarize, write, publish. How the buckets are executed (this process, worker processes,
a Dask cluster) is the executor's business (`nmr_audit.runtime.executors`), chosen from the
configuration; the outputs are the same. Tasks pass frames in memory (cache off: hashing
millions of rows would cost more than the work) and file paths. Input that cannot be audited
ends the flow in a Failed state whose message is the one line the command prints.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.guard import flow_guard
from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
from nmr_audit.denial import learnt_summary, learnt_weights
from nmr_audit.digest import summary_markdown, top_findings
from nmr_audit.errors import InputError
from nmr_audit.gx_engine import RuleEngineError
from nmr_audit.remits import Remittances, with_outcomes
from nmr_audit.runtime import plan as planning
from nmr_audit.runtime.buckets import BucketAudit, BucketWork
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.executors import BucketWorkerError, Executor, StoredBucket
from nmr_audit.runtime.faults import checkpoint
from nmr_audit.runtime.history import History
from nmr_audit.runtime.history import add_history as add_earlier_rows
from nmr_audit.runtime.last_night import compare_nights
from nmr_audit.runtime.outputs import CanonicalTables, Sharing, WorkbookWriter, sharing_settings
from nmr_audit.runtime.outputs import write_outputs as write_run_outputs
from nmr_audit.runtime.permissions import Access
from nmr_audit.runtime.plan import RunPlan, Settings
from nmr_audit.runtime.reading import TableIntake
from nmr_audit.runtime.remittances import RemitIntake
from nmr_audit.runtime.remittances import match_remittances as match_to_lines
from nmr_audit.runtime.remittances import read_remits as read_remit_files
from nmr_audit.runtime.results import Audit, AuditResult, accounting, merge_buckets, run_quarantine, run_summary
from nmr_audit.runtime.workspace import Workspace
from nmr_audit.since_last_night import SinceLastNight

__all__ = ["AuditResult", "RunConfig", "audit_flow", "publish"]


@task(name="load settings", cache_policy=NO_CACHE)
def load_settings(config: RunConfig) -> Settings | InputError:
    """Mapping profile, reference tables (with the audit profile's changes) and rule suites."""
    try:
        return planning.load_settings(config)
    except InputError as problem:
        return problem


@task(name="discover inputs", cache_policy=NO_CACHE)
def plan_run(config: RunConfig) -> RunPlan | InputError:
    """The files to read and the buckets they are audited in (`runtime.plan.plan_run`)."""
    try:
        plan = planning.plan_run(config, allow_empty=config.history is not None)
    except InputError as problem:
        return problem
    logger = get_run_logger()
    logger.info("inputs: %d claim file(s), %d note file(s)%s", len(plan.files[CLAIM_LINES]), len(plan.files[VISIT_NOTES]),
                f", {len(plan.files[REMITS])} remittance file(s)" if REMITS in plan.files else "")
    if plan.buckets > 1:
        logger.info("about %d claim line(s): auditing in %d bucket(s) of patients", plan.expected_lines, plan.buckets)
    if config.partitioned and config.data_docs:
        logger.info("partitioned: every bucket a task of its own; Data Docs are written by runs not partitioned")
    return plan


@task(name="read and validate", cache_policy=NO_CACHE)
def read_inputs(run: Workspace) -> list[TableIntake | InputError]:
    """Claim lines and notes read side by side into the run's spill (`Workspace.read_all`)."""
    return run.read_all(get_run_logger())


@task(name="read remittances", cache_policy=NO_CACHE)
def read_remits(files: tuple[Path, ...]) -> RemitIntake | InputError:
    """Every 835 file read whole (`runtime.remittances.read_remits`)."""
    return read_remit_files(files, get_run_logger())


@task(name="match remittances", cache_policy=NO_CACHE)
def match_remittances(remits: RemitIntake, run: Workspace, work: BucketWork) -> Remittances:
    """The remittances matched to the run's audited claim lines, with each answered line's
    outcome (`runtime.remittances.match_remittances`)."""
    return match_to_lines(remits, run.spill, work.copies, run.settings.reference, get_run_logger())


@task(name="add history", cache_policy=NO_CACHE)
def add_history(run: Workspace, remits: RemitIntake | None) -> History:
    """Earlier nights' rows of the patients and days tonight's rows touch (`runtime.history`);
    a remittance reopens the earlier nights' visits of the claims it answers."""
    config = run.config
    return add_earlier_rows(run.spill, Path(str(config.history)), config.history_since,
                            [str(p) for paths in run.plan.files.values() for p in paths], get_run_logger(),
                            remits.claim_ids if remits is not None else None)


@task(name="audit bucket", cache_policy=NO_CACHE)
def audit_bucket(bucket: int, work: BucketWork, executor: Executor) -> BucketAudit | StoredBucket:
    """Reconcile and apply the rules to one bucket of patients, wherever the executor runs it."""
    checkpoint("bucket")
    done = executor.audit(bucket, work)
    get_run_logger().info("bucket %d/%d: %d claim line(s), %d visit(s) with 97112 (%d bill more units than "
                          "documented), %d finding(s)", bucket + 1, work.spill.buckets, *done.counts().values())
    return done


@task(name="compare with the last night", cache_policy=NO_CACHE)
def compare_with_last_night(config: RunConfig, findings: pd.DataFrame, summary: dict[str, Any],
                            history: History | None) -> SinceLastNight:
    """Tonight's findings against the nightly root's previous run (`runtime.last_night`)."""
    compared = compare_nights(Path(str(config.nightly_root)), Path(config.history) if config.history else None,
                              config.history_since, config.as_of, findings, summary,
                              history.touched if history is not None else None)
    totals = summary["since_last_night"]
    get_run_logger().info(
        "since the last night (%s): %s", totals["previous_run_id"] or "none: first run in this root",
        "nothing to compare with" if compared.first_night else
        f"{totals['new_findings']} new finding(s) (${totals['new_dollars_at_risk']:,.2f}), "
        f"{totals['resolved_findings']} resolved (${totals['resolved_dollars_at_risk']:,.2f}) of "
        f"{totals['reexamined_findings']} examined again")
    return compared


@task(name="write outputs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def write_outputs(config: RunConfig, canonical: CanonicalTables, audit: Audit,
                  quarantine: pd.DataFrame, summary: dict[str, Any], settings: Settings, sharing: Sharing,
                  workbooks: WorkbookWriter, since: SinceLastNight | None, remitted: Remittances | None,
                  learnt: pd.DataFrame | None) -> list[str]:
    """Every output written aside and moved into the output folder together (`runtime.outputs`)."""
    return write_run_outputs(config.out, canonical, audit, quarantine, summary, settings.reference, sharing,
                             config.workbook_rows, workbooks, get_run_logger(), since, remitted, learnt)


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
def audit_flow(config: RunConfig) -> AuditResult | State:
    """Audit 97112 claim lines against visit notes as `config` says and write the run's outputs
    to `config.out`, holding that folder for the whole run (`nmr_audit.runtime.guard`): one run
    at a time (a second ends Cancelled), outputs private to their owner (or shared with the
    group), temporary files inside it, what killed runs left there removed."""
    with flow_guard(Path(config.out), "run", config.share_with_group) as guard:
        if isinstance(guard, State):
            return guard
        return _run(config, guard.access)


def _run(config: RunConfig, access: Access) -> AuditResult | State:
    started = datetime.now(UTC)
    sharing = sharing_settings(config, access)
    if isinstance(sharing, InputError):
        return Failed(message=sharing.line())
    settings = load_settings(config)
    if isinstance(settings, InputError):
        return Failed(message=settings.line())
    plan = plan_run(config)
    if isinstance(plan, InputError):
        return Failed(message=plan.line())
    with Workspace(config, plan, settings) as run:
        return _audit(run, sharing, started)


def _audit(run: Workspace, sharing: Sharing, started: datetime) -> AuditResult | State:
    """Read, audit bucket by bucket, summarize and write: the flow's body once its settings hold."""
    config = run.config
    reading = time.perf_counter()
    claims, notes = read_inputs(run)
    read_seconds = time.perf_counter() - reading
    for intake in (claims, notes):
        if isinstance(intake, InputError):
            return Failed(message=intake.line())
    remits = read_remits(run.plan.files[REMITS]) if run.plan.files.get(REMITS) else None
    if isinstance(remits, InputError):
        return Failed(message=remits.line())
    history = add_history(run, remits) if config.history else None
    work, began = run.work(claims, notes), time.perf_counter()
    try:
        futures = [audit_bucket.submit(b, work, run.executor) for b in range(run.buckets)]
        results = [future.result() for future in futures]
        del futures  # a future holds its bucket: merged below, no bucket may stay twice
    except (RuleEngineError, BucketWorkerError) as problem:
        return Failed(message=str(problem))
    finally:
        run.stop_workers()  # their memory back before the outputs are written
    remitted = match_remittances(remits, run, work) if remits is not None else None  # before the spill is let go
    canonical = CanonicalTables(Path(config.out), run.spill, claims, notes, [d.names for d in results],
                                work.parts)  # written beside the merge
    workbooks = WorkbookWriter(own_process=run.spill.folder is not None)
    try:
        audit = merge_buckets(results, began, run.docs, run.executor.workers, work.parts)
        get_run_logger().info("audited %d bucket(s) (%s): %d visit(s) with 97112, %d finding(s) (%s)", run.buckets,
                              run.plan.strategy, len(audit.visits), len(audit.findings), ", ".join(
                                  f"{k} {v}" for k, v in audit.findings["severity"].value_counts().items()) or "none")
        learnt = None
        if remitted is not None:  # each finding's actual outcome, and the weights the clinic's denials teach
            audit.findings = with_outcomes(audit.findings, remitted.outcomes)
            learnt = learnt_weights(audit.findings, run.settings.reference.denial_weights)
        quarantine = run_quarantine([claims.quarantine, notes.quarantine, audit.quarantine,
                                     *([remits.quarantine] if remits is not None else [])])
        summary = run_summary(config, run.plan, run.settings, accounting(claims, notes, quarantine, remits), audit,
                              started, read_seconds, (claims, notes), history.summary if history is not None else None)
        if remitted is not None:
            summary["x12_envelope_issues"] += remits.issues
            summary["remits"] = remitted.totals() | {"findings_with_outcome": int(audit.findings["outcome"].notna().sum())}
            summary["denial_weights"] = learnt_summary(learnt)
        since = compare_with_last_night(config, audit.findings, summary, history) if config.nightly_root else None
        outputs = write_outputs(config, canonical, audit, quarantine, summary, run.settings, sharing,
                                workbooks, since, remitted, learnt)
    finally:
        canonical.close()
        workbooks.close()
    publish(config.out, summary, audit.findings)
    return AuditResult(out=config.out, summary=summary, outputs=outputs)
