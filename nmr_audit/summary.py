"""The run's `summary.json`: what was read, what was audited, what was found, by what."""

from __future__ import annotations

from typing import Any

import pandas as pd

from nmr_audit.contract import SEVERITIES


def build_summary(
    accounting: pd.DataFrame,
    findings: pd.DataFrame,
    parameters: dict[str, Any],
    software: dict[str, str],
    skipped_files: list[str],
    timing: dict[str, Any],
) -> dict[str, Any]:
    by_table = accounting.groupby("table")[["rows_read", "rows_audited", "rows_quarantined"]].sum()
    return {
        "software": software,
        "run": {**timing, "parameters": parameters},
        "inputs": accounting.to_dict("records"),
        "skipped_files": skipped_files,
        "totals": {t: {k: int(v) for k, v in row.items()} for t, row in by_table.iterrows()},
        "findings": findings_totals(findings),
    }


def findings_totals(findings: pd.DataFrame) -> dict[str, Any]:
    by_severity = findings["severity"].value_counts() if len(findings) else pd.Series(dtype=int)
    return {
        "total": len(findings),
        "by_rule": {k: int(v) for k, v in findings["rule_id"].value_counts().sort_index().items()}
        if len(findings) else {},
        "by_severity": {s: int(by_severity.get(s, 0)) for s in reversed(SEVERITIES)},
        "excess_units": int(findings["excess_units"].fillna(0).sum()) if len(findings) else 0,
        "dollars_at_risk": round(float(findings["dollars_at_risk"].fillna(0).sum()), 2)
        if len(findings) else 0.0,
    }


def at_or_above(findings: pd.DataFrame, severity: str) -> bool:
    """Whether any finding is at least as severe as `severity` (for `--fail-on`)."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    if severity not in rank:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    return bool(findings["severity"].map(rank).ge(rank[severity]).any()) if len(findings) else False


def visit_totals(visits: pd.DataFrame) -> dict[str, Any]:
    """The reconciliation at a glance: visits, and 97112 units billed beyond the notes."""
    over = visits["excess_units_97112"] > 0
    return {
        "total": len(visits),
        "by_rule_basis": {k: int(v) for k, v in visits["rule_basis"].value_counts().sort_index().items()},
        "without_note": int(visits["note_id"].isna().sum()),
        "billed_units_97112": int(visits["billed_units_97112"].sum()),
        "supported_units_97112": int(visits["supported_units_97112"].sum()),
        "with_excess_units_97112": int(over.sum()),
        "excess_units_97112": int(visits["excess_units_97112"].sum()),
        "timed_units_beyond_total": int((visits["billed_timed_units"] - visits["supported_timed_units"])
                                        .clip(lower=0).sum()),
    }
