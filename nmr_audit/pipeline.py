"""The audit of canonical tables in one call: reconcile, facts, rule suites, findings.

Used whole by a partition of a scaled-out run; the single-process flow runs the same steps as
separate tasks so each shows in Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nmr_audit.facts import build_facts
from nmr_audit.findings import build_findings
from nmr_audit.gx_engine import validate
from nmr_audit.reference import ReferenceData
from nmr_audit.visits import reconcile_visits


@dataclass(frozen=True)
class Audited:
    visits: pd.DataFrame
    findings: pd.DataFrame


def audit_tables(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, note_services: pd.DataFrame,
                 reference: ReferenceData, suites: dict[str, Any], docs_dir: Path | None = None,
                 history: pd.DataFrame | None = None) -> Audited:
    visits = reconcile_visits(claim_lines, visit_notes, note_services, reference, history)
    facts = build_facts(claim_lines, visit_notes, note_services, visits, reference).by_grain()
    return Audited(visits, build_findings(validate(suites, facts, docs_dir), facts))
