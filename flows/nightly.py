"""The nightly audit: only export files no earlier run audited, each run in its own folder.

    output_root/
      ledger.csv              every audited file by SHA-256, with the run that audited it
      runs/2026-11-23_ab12cd34ef56/   one folder per run (the audit's outputs)
      latest.json, latest     the last run that succeeded

A rerun of the same night finds nothing new and changes nothing. A run that fails leaves its
folder without `summary.json` (outputs are staged) and moves neither the ledger nor `latest`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State

from flows.audit import AuditResult, audit_flow, discover_inputs
from nmr_audit.contract import CLAIM_LINES, VISIT_NOTES
from nmr_audit.errors import InputError
from nmr_audit.io.ledger_file import fingerprints, point_latest, read_ledger, write_ledger
from nmr_audit.ledger import record, select_new

Severity = Literal["info", "low", "medium", "high"]


@dataclass
class NightlyResult:
    output_root: str
    run_dir: str | None  # None when there was nothing new to audit
    new_files: list[str]
    reason: str


@task(name="select new files", cache_policy=NO_CACHE)
def select_new_files(files: dict[str, list[Path]], output_root: str, full: bool) -> pd.DataFrame:
    """Fingerprint the inputs and keep those the ledger does not hold (all of them with `full`)."""
    fresh = select_new(fingerprints(files), read_ledger(Path(output_root)), full)
    get_run_logger().info("%d new file(s) of %d (%s)", len(fresh), sum(len(v) for v in files.values()),
                          "full re-audit" if full else "by content hash against the ledger")
    return fresh


@task(name="record in ledger", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=2)
def record_ledger(output_root: str, audited: pd.DataFrame, run_id: str, as_of: date) -> None:
    root = Path(output_root)
    write_ledger(root, record(read_ledger(root), audited, run_id, as_of.isoformat(),
                              datetime.now(UTC).isoformat(timespec="seconds")))


@task(name="point latest", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=2)
def move_latest(output_root: str, run_dir: str, run_id: str, as_of: date) -> None:
    point_latest(Path(output_root), Path(run_dir), {"run_id": run_id, "as_of": as_of.isoformat(),
                                                    "finished_at": datetime.now(UTC).isoformat(timespec="seconds")})


@flow(name="nmr-audit-nightly", log_prints=True)
def nightly_audit(
    claims: list[str],
    notes: list[str],
    output_root: str,
    as_of: date | None = None,
    full: bool = False,
    mapping: str | None = None,
    profile: str | None = None,
    reference: str | None = None,
    expectations: str | None = None,
    partitioned: bool = False,
    data_docs: bool = True,
    fail_on: Severity | None = None,
) -> NightlyResult | State:
    """Audit the export files that arrived since the last run into `output_root/runs/<date>_<id>`."""
    logger = get_run_logger()
    as_of = as_of or date.today()
    plan = discover_inputs(claims, notes)
    if isinstance(plan, InputError):
        return Failed(message=plan.line())
    files, _ = plan
    fresh = select_new_files(files, output_root, full)
    new = {table: fresh.loc[fresh["table"] == table, "file"].tolist() for table in (CLAIM_LINES, VISIT_NOTES)}
    if not new[CLAIM_LINES] or not new[VISIT_NOTES]:
        reason = ("nothing new since the last run" if fresh.empty else
                  f"new {'claim' if new[CLAIM_LINES] else 'note'} files only: waiting for the matching "
                  f"{'notes' if new[CLAIM_LINES] else 'claims'} export (nothing audited, ledger unchanged)")
        logger.info(reason)
        create_markdown_artifact(key="nmr-audit-nightly", markdown=f"# nmr-audit nightly {as_of}\n\n{reason}\n")
        return NightlyResult(output_root, None, fresh["file"].tolist(), reason)
    run_id = f"{as_of:%Y-%m-%d}_{uuid.uuid4().hex[:12]}"
    run_dir = Path(output_root) / "runs" / run_id
    state = audit_flow(claims=new[CLAIM_LINES], notes=new[VISIT_NOTES], out=str(run_dir), mapping=mapping,
                       profile=profile, reference=reference, expectations=expectations, data_docs=data_docs,
                       partitioned=partitioned, as_of=as_of, run_id=run_id, fail_on=fail_on, return_state=True)
    if not state.is_completed():
        return Failed(message=f"run {run_id} failed, ledger and latest unchanged: {state.message}")
    result: AuditResult = state.result()
    record_ledger(output_root, fresh, run_id, as_of)
    move_latest(output_root, str(run_dir), run_id, as_of)
    found = result.summary["findings"]
    create_markdown_artifact(key="nmr-audit-nightly", markdown=(
        f"# nmr-audit nightly {as_of}\n\nRun `{run_id}`: {len(fresh)} new file(s), {found['total']:,} findings, "
        f"${found['dollars_at_risk']:,.2f} at risk. Outputs: `{run_dir.resolve()}`\n"))
    return NightlyResult(output_root, str(run_dir), fresh["file"].tolist(), "audited")
