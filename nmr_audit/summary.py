"""The run's `summary.json`: what was read, what was audited, what was found, by what."""

from __future__ import annotations

from typing import Any

import pandas as pd

from nmr_audit.contract import SEVERITIES
from nmr_audit.findings import dollars_per_line


def build_summary(
    accounting: pd.DataFrame,
    findings: pd.DataFrame,
    parameters: dict[str, Any],
    software: dict[str, str],
    skipped: list[dict[str, str]],
    timing: dict[str, Any],
    ignored_columns: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The run's summary.json.

    `accounting`: one row per table read (a file, or one sheet of a workbook: source_file is
    `path#sheet`, with `file` and `sheet` beside it) with rows read, audited, quarantined.
    `skipped`: the files and sheets not read, each {kind: file|sheet, source, reason} (a README,
    a hidden sheet); `skipped_files` keeps v1's list of the files' paths.
    `ignored_columns`: columns set aside unread, each {table, source_file, column} (a
    `minutes_*` column whose suffix is no procedure code).
    """
    by_table = accounting.groupby("table")[["rows_read", "rows_audited", "rows_quarantined"]].sum()
    inputs = accounting.astype(object).where(accounting.notna(), None).to_dict("records")
    return {
        "software": software,
        "run": {**timing, "parameters": parameters},
        "inputs": inputs,
        "skipped_files": [s["source"] for s in skipped if s.get("kind") == "file"],
        "skipped": skipped,
        "ignored_columns": ignored_columns or [],
        "totals": {t: {k: int(v) for k, v in row.items()} for t, row in by_table.iterrows()},
        "findings": findings_totals(findings),
    }


def findings_totals(findings: pd.DataFrame, rules: dict[str, str] | None = None) -> dict[str, Any]:
    """Counts by rule and severity, and the money, counted once.

    Several findings can put the same claim line at risk (no note, and units beyond the
    minutes); the total counts, per line, the largest amount any finding puts on it. The
    per-rule figures are each rule's own, so they add up to more than the total.
    """
    counts = findings["rule_id"].value_counts()
    by_rule = {r: int(counts.get(r, 0)) for r in sorted(set(rules or {}) | set(counts.index))}
    by_severity = findings["severity"].value_counts()
    dollars = findings["dollars_at_risk"].astype("float64").fillna(0)
    per_line = dollars_per_line(findings)
    return {
        "total": len(findings),
        "by_rule": by_rule,
        "by_severity": {s: int(by_severity.get(s, 0)) for s in reversed(SEVERITIES)},
        "excess_units_by_rule": {k: int(v) for k, v in findings.groupby("rule_id")["excess_units"]
                                 .sum().items() if v},
        "dollars_at_risk": round(float(per_line.sum()), 2),
        "dollars_at_risk_by_rule": {k: round(float(v), 2) for k, v in dollars.groupby(findings["rule_id"])
                                    .sum().items() if v},
        "claim_lines_at_risk": int((per_line > 0).sum()),
    }


def at_or_above(findings: pd.DataFrame, severity: str) -> bool:
    """Whether any finding is at least as severe as `severity` (for `--fail-on`)."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    if severity not in rank:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    return bool(findings["severity"].map(rank).ge(rank[severity]).any()) if len(findings) else False


def checked_excess(visits: pd.DataFrame) -> pd.Series:
    """`excess_units_97112` (units, int64) of the visits whose units could be checked, 0 elsewhere.

    A visit whose note was quarantined (`note_quarantined`) or whose unit inputs were unreadable
    (`unit_inputs_unreadable`) has no supported units to compare: its billed units are not
    "excess" (NOTE_QUARANTINED / FIELD_UNREADABLE say what to fix), so no total counts them."""
    return visits["excess_units_97112"].where(~unit_unchecked(visits), 0).astype("int64")


def flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """bool column `column` of `frame` (missing values False), all False where the frame lacks it."""
    if column not in frame:
        return pd.Series(False, index=frame.index)
    return frame[column].fillna(False).astype("bool")


def unit_unchecked(visits: pd.DataFrame) -> pd.Series:
    """bool per visit: its units could not be checked (note quarantined, unit inputs unreadable);
    all False for a frame without those columns."""
    return flag(visits, "note_quarantined") | flag(visits, "unit_inputs_unreadable")


def visit_totals(visits: pd.DataFrame) -> dict[str, Any]:
    """The reconciliation at a glance: visits, and 97112 units billed beyond the notes.

    Visits whose units could not be checked (`unit_unchecked`: a quarantined note, unreadable
    unit inputs) are counted apart (`units_unchecked`, `note_quarantined`), never as excess or as
    visits without a note."""
    excess = checked_excess(visits)
    unchecked = unit_unchecked(visits)
    held = flag(visits, "note_quarantined")
    return {
        "total": len(visits),
        "by_rule_basis": {k: int(v) for k, v in visits["rule_basis"].value_counts().sort_index().items()},
        "without_note": int((visits["note_id"].isna() & ~held).sum()),
        "note_quarantined": int(held.sum()),
        "units_unchecked": int(unchecked.sum()),
        "billed_units_97112_unchecked": int(visits.loc[unchecked, "billed_units_97112"].sum()),
        "billed_units_97112": int(visits["billed_units_97112"].sum()),
        "supported_units_97112": int(visits["supported_units_97112"].sum()),
        "with_excess_units_97112": int((excess > 0).sum()),
        "excess_units_97112": int(excess.sum()),
        "timed_units_beyond_total": int((visits["billed_timed_units"] - visits["supported_timed_units"])
                                        .clip(lower=0).where(~unchecked, 0).sum()),
    }


def rules_applied(suites: dict[str, Any]) -> dict[str, str]:
    """rule_id → severity of every expectation the run's suites hold."""
    return {e.meta["rule_id"]: e.meta["severity"] for suite in suites.values() for e in suite.expectations}


def unverified_rows(reference: Any) -> dict[str, int]:
    """Reference rows marked unverified, per table: figures that rest on them need a check."""
    tables = {name: getattr(reference, name, None) for name in ("ncci_ptp", "mue", "fee_schedule", "payment_policy",
                                                                 "denial_weights", "payer_rule_basis", "payers",
                                                                 "payer_edits", "therapy_thresholds")}
    return {name: int((~t["verified"]).sum()) for name, t in tables.items() if t is not None and "verified" in t.columns}
