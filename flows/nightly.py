"""The nightly audit: only export files no earlier run audited, each run in its own folder, each
night seeing its history (`nmr_audit.runtime.state`); one night at a time per output root.

    output_root/
      ledger.csv              every audited file by SHA-256, with the run that audited it
      runs/2026-11-23_ab12cd34ef56/   one folder per run (the audit's outputs)
      state/<run_id>/         the audited rows and findings of the look-back window
      latest.json, latest     the last run that succeeded

A rerun of the same night finds nothing new and changes nothing. A second run started while one
holds the root ends Cancelled at once (the command exits 75) and audits nothing. A run killed
anywhere leaves the root as its last committed night plus remains the next start recognises and
clears (`nmr_audit.runtime.root`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State

from flows.audit import AuditResult, audit_flow, publish
from flows.guard import flow_guard, mark_crashed
from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
from nmr_audit.errors import InputError
from nmr_audit.io.ledger_file import fingerprints, read_ledger
from nmr_audit.io.profile_file import load_profile
from nmr_audit.io.reference import load_reference
from nmr_audit.ledger import select_new, tables_seen
from nmr_audit.reference import ReferenceData
from nmr_audit.runtime.config import NightlyConfig
from nmr_audit.runtime.faults import checkpoint
from nmr_audit.runtime.guard import Guard
from nmr_audit.runtime.plan import discover_tables
from nmr_audit.runtime.root import RUNS, Night, commit_night, current_state_folder, recover
from nmr_audit.runtime.state import read_state, window_start

__all__ = ["NightlyConfig", "NightlyResult", "nightly_audit"]


@dataclass
class NightlyResult:
    output_root: str
    run_dir: str | None  # None when there was nothing new to audit
    new_files: list[str]
    reason: str
    run_id: str | None = None
    reexamined: dict[str, int] = field(default_factory=dict)  # earlier findings: found again, cleared


@task(name="discover inputs", cache_policy=NO_CACHE)
def discover_exports(config: NightlyConfig) -> dict[str, list[Path]] | InputError:
    """The export files in the folders the nightly run watches (`runtime.plan.discover_tables`);
    a remittance folder holding no 835 yet is no error (payers' files come when they come)."""
    try:
        files, _ = discover_tables(config.claims, config.notes, remits=config.remits, remits_may_be_empty=True)
    except InputError as problem:
        return problem
    get_run_logger().info("inputs: %d claim file(s), %d note file(s)%s", len(files[CLAIM_LINES]),
                          len(files[VISIT_NOTES]),
                          f", {len(files[REMITS])} remittance file(s)" if REMITS in files else "")
    return {table: list(paths) for table, paths in files.items()}


@task(name="select new files", cache_policy=NO_CACHE)
def select_new_files(files: dict[str, list[Path]], output_root: str, full: bool) -> pd.DataFrame:
    """Fingerprint the inputs and keep those the ledger does not hold (all of them with `full`)."""
    fresh = select_new(fingerprints(files), read_ledger(Path(output_root)), full)
    get_run_logger().info("%d new file(s) of %d (%s)", len(fresh), sum(len(v) for v in files.values()),
                          "full re-audit" if full else "by content hash against the ledger")
    return fresh


@task(name="recover output root", cache_policy=NO_CACHE)
def recover_root(guard: Guard) -> None:
    """The root brought back to its last committed night; runs killed before their commit marked
    abandoned, and their flow runs Crashed."""
    found = recover(guard.folder, guard.access)
    logger = get_run_logger()
    if found.latest_rolled_forward:
        logger.warning("latest pointed at an earlier run than the ledger's last (%s): moved forward", found.head)
    for run_id in found.abandoned:
        logger.warning("run %s never reached the ledger (killed or failed): marked abandoned, its files are "
                       "audited again tonight", run_id)
    for flow_run_id in found.crashed_flow_runs:
        mark_crashed(flow_run_id, "its process ended before the nightly run was recorded in the ledger")


@task(name="commit night", cache_policy=NO_CACHE)
def commit(night: Night, history: Path | None) -> Night:
    """State, ledger (the commit point) and latest, in that order (`runtime.root.commit_night`)."""
    return commit_night(night, read_state(history))


@flow(name="nmr-audit-nightly", log_prints=True)
def nightly_audit(config: NightlyConfig) -> NightlyResult | State:
    """Audit the export files that arrived since the last run into `output_root/runs/<date>_<id>`,
    with the earlier nights' rows of the patients and days they touch (dates of service within
    `look_back_days` of `as_of`). `config.remits`: where the payers' 835 remittances arrive;
    those no earlier night read are matched to tonight's claim lines and to the earlier nights'
    lines of the claims they answer (audited again tonight), and their outcomes go onto the
    findings. Holds the root for the whole run: a second run meanwhile ends Cancelled, auditing
    nothing."""
    with flow_guard(Path(config.output_root), "nightly", config.share_with_group) as guard:
        if isinstance(guard, State):
            return guard
        recover_root(guard)
        return _night(guard, config, config.as_of or date.today())


def _night(guard: Guard, config: NightlyConfig, as_of: date) -> NightlyResult | State:
    logger = get_run_logger()
    root = guard.folder
    files = discover_exports(config)
    if isinstance(files, InputError):
        return Failed(message=files.line())
    fresh = select_new_files(files, str(root), config.full)
    new = {table: fresh.loc[fresh["table"] == table, "file"].tolist() for table in (CLAIM_LINES, VISIT_NOTES, REMITS)}
    never = [t for t in (CLAIM_LINES, VISIT_NOTES) if not new[t] and t not in tables_seen(read_ledger(root))]
    if fresh.empty or never:
        reason = ("nothing new since the last run" if fresh.empty else
                  f"no {'claims' if CLAIM_LINES in never else 'notes'} export audited yet: waiting for the first one "
                  "(nothing audited, ledger unchanged)")
        logger.info(reason)
        create_markdown_artifact(key="nmr-audit-nightly", markdown=f"# nmr-audit nightly {as_of}\n\n{reason}\n")
        return NightlyResult(str(root), None, fresh["file"].tolist(), reason)
    run_id = f"{as_of:%Y-%m-%d}_{uuid.uuid4().hex[:12]}"
    run_dir = root / RUNS / run_id
    (root / RUNS).mkdir(mode=guard.access.folder, exist_ok=True)
    history = current_state_folder(root) if config.look_back_days > 0 else None
    tonight = config.night(new[CLAIM_LINES], new[VISIT_NOTES], run_dir, as_of, run_id, history,
                           window_start(as_of, config.look_back_days).date(), new[REMITS])
    state = audit_flow(tonight, return_state=True)
    if not state.is_completed():
        return Failed(message=f"run {run_id} failed, ledger and latest unchanged: {state.message}")
    result: AuditResult = state.result()
    checkpoint("nightly:audited")
    night = commit(Night(root, run_id, as_of, config.look_back_days, fresh, guard.access,
                         reference=_reference(config)), history)
    outcomes = night.reexamined["outcome"].value_counts().to_dict() if night.reexamined is not None else {}
    found = result.summary["findings"]
    publish(str(run_dir), result.summary, pd.read_parquet(run_dir / "findings.parquet"))  # on this flow run too
    earlier = (f" Earlier findings re-examined: {sum(outcomes.values())} ({outcomes.get('cleared', 0)} cleared, "
               f"{outcomes.get('found again', 0)} found again).") if outcomes else ""
    since = result.summary.get("since_last_night") or {}
    if since.get("previous_run_id"):
        earlier += (f" Since the last night (`{since['previous_run_id']}`): {since['new_findings']:,} new finding(s), "
                    f"{since['resolved_findings']:,} resolved (report.html → Since the last night).")
    create_markdown_artifact(key="nmr-audit-nightly", markdown=(
        f"# nmr-audit nightly {as_of}\n\nRun `{run_id}`: {len(fresh)} new file(s), {found['total']:,} findings, "
        f"${found['dollars_at_risk']:,.2f} at risk.{earlier} Outputs: `{run_dir.resolve()}`\n"))
    return NightlyResult(str(root), str(run_dir), fresh["file"].tolist(), "audited", run_id,
                         {str(k): int(v) for k, v in outcomes.items()})


def _reference(config: NightlyConfig) -> ReferenceData:
    """The reference tables the night's audit read (`--reference`, `--profile`), to price the
    therapy amounts its state keeps; the audit has read them already, so they load."""
    reference = load_reference(Path(config.reference) if config.reference else None)
    return load_profile(Path(config.profile), reference) if config.profile else reference
