"""The audit of canonical tables in one call: reconcile, facts, rule suites, findings.

Used whole for each patient bucket of a run and for each partition of a scaled-out run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from nmr_audit.editions import with_fee_editions
from nmr_audit.explain import with_quarantined_lines, with_quarantined_notes
from nmr_audit.facts import build_facts
from nmr_audit.findings import build_findings

if TYPE_CHECKING:
    from nmr_audit.gx_engine import RuleEngine
from nmr_audit.reference import ReferenceData
from nmr_audit.therapy import TherapyHistory, progress_recorded
from nmr_audit.visits import match_notes, reconcile_visits


@dataclass(frozen=True)
class Audited:
    visits: pd.DataFrame
    findings: pd.DataFrame
    seconds: dict[str, float]  # reconcile_units, apply_rules: the run's stage times, summed over buckets
    skipped: dict[str, str] = field(default_factory=dict)  # rule_id → why it could not be applied to these rows


def audit_tables(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, note_services: pd.DataFrame,
                 reference: ReferenceData, rules: RuleEngine, history: pd.DataFrame | None = None,
                 quarantine: pd.DataFrame | None = None, therapy: TherapyHistory | None = None,
                 progress: bool | None = None) -> Audited:
    """Visits and findings of canonical tables. `history`: where an unbilled visit finds its
    payer (default: these claim lines); `quarantine`: the quarantined rows of the same patients
    (their notes' visit keys make NOTE_QUARANTINED instead of NO_NOTE, their 97112 lines'
    LINE_QUARANTINED instead of UNBILLED_97112); `therapy`: the same
    patients' earlier therapy from outside these rows (KX totals, treatment days); `progress`:
    the run's notes say which are progress reports (else: whether these notes or `therapy` do).
    `Audited.skipped` names PROGRESS_REPORT_OVERDUE when nothing says so."""
    started = time.perf_counter()
    visit_notes = match_notes(claim_lines, visit_notes)  # once, for the reconciliation and the facts
    visits = reconcile_visits(claim_lines, visit_notes, note_services, reference, history)
    reconciled = time.perf_counter()
    recorded = bool(progress) or progress_recorded(visit_notes, therapy)
    facts = build_facts(claim_lines, visit_notes, note_services, visits, reference, quarantine, therapy,
                        recorded).by_grain()
    # visits.parquet says which visits' notes were quarantined: their units are not counted as excess
    visits = with_quarantined_lines(with_quarantined_notes(
        visits.assign(note_quarantined=facts["visits"]["note_quarantined"].to_numpy(dtype="bool"),
                      line_quarantined=facts["visits"]["line_quarantined"].to_numpy(dtype="bool"))))
    findings = with_fee_editions(build_findings(rules.validate(facts), facts), reference)
    skipped = {} if recorded else {"PROGRESS_REPORT_OVERDUE": PROGRESS_SKIPPED}
    return Audited(visits, findings, {"reconcile_units": reconciled - started,
                                      "apply_rules": time.perf_counter() - reconciled}, skipped)


PROGRESS_SKIPPED = ("the notes export has no progress_report column (no note says whether it is a progress "
                    "report): map one in the mapping profile to check progress reports")
