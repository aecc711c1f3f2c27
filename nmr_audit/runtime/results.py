"""What a run made of its buckets: the audit merged in the order of a whole run, the run's
quarantine, the accounting of every row read, and summary.json's content.

Pure but for the clock: frames and dicts in, frames and dicts out; the flow's tasks call them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from nmr_audit import __version__
from nmr_audit.contract import CLAIM_LINES, REMITS, SOURCE_FILE, SOURCE_ROW, VISIT_NOTES
from nmr_audit.editions import editions_summary
from nmr_audit.findings import FINDING_COLUMNS, FINDING_ORDER, finding_order
from nmr_audit.intake import account, rows_per_file
from nmr_audit.io.reference import default_reference_dir
from nmr_audit.io.suites import default_expectations_dir
from nmr_audit.runtime.buckets import FINDINGS, VISITS, BucketAudit, StoredBucket
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.memory import give_back_memory
from nmr_audit.runtime.plan import RunPlan, Settings
from nmr_audit.runtime.reading import TableIntake
from nmr_audit.runtime.remittances import RemitIntake
from nmr_audit.runtime.stored_frames import merged
from nmr_audit.runtime.visit_parts import VisitParts
from nmr_audit.summary import build_summary, findings_totals, rules_applied, unverified_rows, visit_totals
from nmr_audit.visits import VISIT_ORDER, visit_order


@dataclass
class Audit:
    """What the rules made of all buckets: visits, findings, the duplicates held back, the GX
    Data Docs folder (None without), stage times and the worker processes that helped."""

    visits: pd.DataFrame
    findings: pd.DataFrame
    quarantine: pd.DataFrame
    docs: Path | None
    seconds: dict[str, float]
    bucket_workers: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # rule_id → why it was not applied (summary.json)
    parts: VisitParts | None = None  # a run spilled to disk: `visits` has only KEPT_COLUMNS, all in the parts


@dataclass
class AuditResult:
    """What the audit flow returns: where it wrote, its summary and the files written."""

    out: str
    summary: dict[str, Any]
    outputs: list[str] = field(default_factory=list)


def merge_buckets(done: list[BucketAudit | StoredBucket], started: float, docs: Path | None, workers: int,
                  parts: Path | None = None) -> Audit:
    """The buckets' visits and findings in the order of a whole run, merged a column at a time
    (`runtime.stored_frames.merged`: a bucket that waits in a file is read one column at a time,
    and its file removed once merged; `done` is emptied). `started`: when the bucket phase began
    (`time.perf_counter`). `parts`: the folder a run spilled to disk wrote its buckets' visits to
    (`runtime.visit_parts`; `done[i]` is bucket i): the merged visits hold only `KEPT_COLUMNS` and
    `Audit.parts` says which part holds each."""
    seconds = {stage: sum(d.seconds[stage] for d in done) for stage in ("reconcile_units", "apply_rules")}
    skipped = {rule: why for d in done for rule, why in d.skipped.items()  # skipped by every bucket
               if all(rule in other.skipped for other in done)}
    held = pd.concat([d.held for d in done], ignore_index=True)
    frames = [d.frames() for d in done]
    findings, _ = merged(frames, FINDINGS, FINDING_ORDER, finding_order, FINDING_COLUMNS, list(FINDING_COLUMNS))
    visits, bucket = merged(frames, VISITS, VISIT_ORDER, visit_order)
    for d in done:
        d.discard()
    done.clear()
    stored = VisitParts(parts, len(frames), bucket) if parts is not None else None
    del frames
    give_back_memory()
    seconds["audit_buckets"] = time.perf_counter() - started
    return Audit(visits, findings, held, docs, seconds, workers, skipped, stored)


def run_quarantine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Every quarantined row of the run, by table, file and line."""
    held = pd.concat(parts, ignore_index=True)
    return held.sort_values(["table", SOURCE_FILE, SOURCE_ROW], kind="stable").reset_index(drop=True)


def accounting(claims: TableIntake, notes: TableIntake, quarantine: pd.DataFrame,
               remits: RemitIntake | None = None) -> pd.DataFrame:
    """Per file: rows read = rows audited + rows quarantined (`intake.account`; raises when not);
    the 835 files' too, where the run was given remittances."""
    parts = [account(i.files, i.audited_rows(), quarantine[quarantine["table"] == t])
             for t, i in ((CLAIM_LINES, claims), (VISIT_NOTES, notes))]
    if remits is not None:
        parts.append(account(remits.files, rows_per_file(remits.rows), quarantine[quarantine["table"] == REMITS]))
    return pd.concat(parts, ignore_index=True)


def run_summary(config: RunConfig, plan: RunPlan, settings: Settings, accounted: pd.DataFrame, audit: Audit,
                started: datetime, read_seconds: float, intakes: tuple[TableIntake, ...] = (),
                history: dict[str, Any] | None = None) -> dict[str, Any]:
    """summary.json's content (`summary.build_summary`): parameters, inputs and accounting,
    findings and visit totals, the rules applied, the stage times."""
    ref = settings.reference
    parameters = {"claims": list(config.claims), "notes": list(config.notes), "remits": list(config.remits),
                  "out": config.out,
                  "mapping": config.mapping, "as_of": config.as_of.isoformat() if config.as_of else None,
                  "partitioned": config.partitioned, "data_docs": audit.docs is not None,
                  "mask_patients": config.mask_patients,
                  "batch_rows": config.batch_rows, "lines_per_bucket": config.lines_per_bucket, "buckets": plan.buckets,
                  "buckets_at_once": config.buckets_at_once, "workbook_rows": config.workbook_rows,
                  "bucket_workers": audit.bucket_workers,
                  "mapping_profile": settings.mapping.name, "profile": config.profile,
                  "reference": config.reference or str(default_reference_dir()), "fail_on": config.fail_on,
                  "expectations": config.expectations or str(default_expectations_dir()),
                  "rule_basis": dict(zip(ref.payer_rule_basis["payer_type"],
                                         ref.payer_rule_basis["rule_basis"], strict=True))}
    timing: dict[str, Any] = {
        "run_id": config.run_id or uuid.uuid4().hex[:12], "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": {"read_and_validate": round(read_seconds, 3), **{k: round(v, 3) for k, v in audit.seconds.items()}}}
    if history is not None:
        timing["history"] = history
    applied = rules_applied(settings.suites)
    summary = build_summary(accounted, audit.findings, parameters, {"name": "nmr-audit", "version": __version__},
                            plan.skipped + [part for i in intakes for part in i.skipped], timing,
                            ignored_columns=[column for i in intakes for column in i.ignored_columns])
    summary["findings"] = findings_totals(audit.findings, applied)
    summary["visits"] = visit_totals(audit.visits)
    summary["rules_applied"] = [{"rule_id": r, "severity": s} for r, s in applied.items()]
    summary["rules_skipped"] = [{"rule_id": r, "reason": why} for r, why in sorted(audit.skipped.items())]
    summary["reference_unverified"] = unverified_rows(ref)
    summary["x12_envelope_issues"] = [issue for i in intakes for issue in i.x12_issues]  # SE/GE/IEA counts …
    summary["reference_editions"] = editions_summary(ref)  # what findings' reference_edition names, for appeals
    return summary
