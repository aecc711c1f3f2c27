"""Findings: the rows GX found unexpected, turned into the contract's findings table.

One finding per (rule, claim line or note, field). Its message is the expectation's template
filled from the fact row; its excess units and dollars at risk come from the fact columns the
expectation names; its `field` is the expectation's `field`, or the fact column `field_column`
names (FIELD_UNREADABLE: the unreadable column); its `reference_edition` the fact column
`edition` names (the edition of the CMS or payer table row it rested on: `ncci_ptp 2026Q1`),
to which the audit adds the fee table's (`nmr_audit.editions`). `outcome` and `carcs` stay empty
here: a run given remittances fills them (`nmr_audit.remits.with_outcomes`). A rule the registry files about a visit but
evaluates per note (the plan of care, one-on-one time, canalith) is raised once per visit, on its
lowest note. `finding_id` is a hash of what the finding is about, so the same input gives the
same ids on every run.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd

from nmr_audit.contract import RULES, SEVERITIES, VISIT_KEY
from nmr_audit.keys import in_order, order_of

FINDING_COLUMNS = {
    "finding_id": "str",
    "rule_id": "str",
    "severity": "str",
    "claim_id": "str",
    "line_number": "Int64",
    "note_id": "str",
    "patient_id": "str",
    "date_of_service": "datetime64[s]",
    "rendering_npi": "str",
    "clinic_id": "str",
    "payer_type": "str",
    "field": "str",
    "message": "str",
    "excess_units": "Int64",
    "dollars_at_risk": "Float64",
    # added (issue 18): the reference edition the finding rests on (for appeals), and, where the
    # run was given remittances (`--remits`), what the payer did with the finding's claim line
    "reference_edition": "str",
    "outcome": "str",
    "carcs": "str",
}
IDENTITY = ["rule_id", "claim_id", "line_number", "note_id", "field", "patient_id", "date_of_service",
            "rendering_npi"]
MISSING_TEXT = "—"
ONCE_PER_VISIT = frozenset(r.rule_id for r in RULES if r.grain == "visit" and r.suite == "notes")


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in FINDING_COLUMNS.items()})


def build_findings(unexpected: pd.DataFrame, facts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The findings table from GX's unexpected rows and the fact frames they point into."""
    parts = [_from_expectation(group, facts[grain])
             for (grain, _), group in unexpected.groupby(["grain", "expectation"], sort=True)]
    if not parts:
        return empty_findings()
    found = pd.concat(parts, ignore_index=True).astype(
        {c: t for c, t in FINDING_COLUMNS.items() if c != "finding_id"})
    found = _once_per_visit(_one_per_subject(found))
    return ordered(found.assign(finding_id=finding_ids(found)))


def ordered(found: pd.DataFrame) -> pd.DataFrame:
    """Most severe first, then rule, clinic, date, line: the same order however the run was split."""
    return found[list(FINDING_COLUMNS)].take(finding_order(found)).reset_index(drop=True).astype(FINDING_COLUMNS)


FINDING_ORDER = ("severity", "rule_id", "clinic_id", "date_of_service", "claim_id", "line_number", "note_id", "field",
                 "finding_id")  # the columns `finding_order` reads (severity as its rank, most severe first)


def finding_order(found: pd.DataFrame) -> np.ndarray:
    """The row positions of `found` (findings with at least `FINDING_ORDER`) in `ordered`'s order."""
    rank = found["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).astype("int64")
    return order_of(found[list(FINDING_ORDER[1:])].assign(rank=-rank), ["rank", *FINDING_ORDER[1:]])


def _from_expectation(hits: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """Findings of one expectation: its meta is the same on every row of `hits`."""
    meta = hits.iloc[0]
    rows = facts[_columns_read(meta, facts)].iloc[hits["row_id"].to_numpy()].reset_index(drop=True)
    blank = pd.Series(pd.NA, index=rows.index)
    return pd.DataFrame({
        "rule_id": meta["rule_id"],
        "severity": meta["severity"],
        "claim_id": rows.get("claim_id", blank),
        "line_number": rows.get("line_number", blank),
        "note_id": rows.get("note_id", blank),
        "patient_id": rows["patient_id"],
        "date_of_service": rows["date_of_service"],
        "rendering_npi": rows.get("rendering_npi", blank),
        "clinic_id": rows.get("clinic_id", blank),
        "payer_type": rows.get("payer_type", blank),
        "field": rows[meta["field_column"]].astype("str") if isinstance(meta.get("field_column"), str)
        else (meta["field"] if isinstance(meta["field"], str) else pd.NA),
        "message": render(meta["message"], rows),
        "excess_units": rows[meta["excess_units"]] if isinstance(meta["excess_units"], str) else blank,
        "dollars_at_risk": rows[meta["dollars"]].astype("float64").round(2)
        if isinstance(meta["dollars"], str) else blank,
        "reference_edition": rows[meta["edition"]].astype("str") if isinstance(meta.get("edition"), str) else blank,
        "outcome": blank,
        "carcs": blank,
    })


def _one_per_subject(found: pd.DataFrame) -> pd.DataFrame:
    """Several expectations of one rule can flag one note (e.g. two time checks): one finding,
    messages joined, the largest amounts kept."""
    repeated = found.duplicated(IDENTITY, keep=False)
    if not repeated.any():
        return found
    merged = found[repeated].groupby(IDENTITY, dropna=False, sort=False).agg(
        severity=("severity", "first"), clinic_id=("clinic_id", "first"), payer_type=("payer_type", "first"),
        message=("message", "; ".join), excess_units=("excess_units", "max"),
        dollars_at_risk=("dollars_at_risk", "max"), reference_edition=("reference_edition", _distinct),
        outcome=("outcome", "first"), carcs=("carcs", "first")).reset_index()
    return pd.concat([found[~repeated], merged], ignore_index=True)[list(found.columns)]


def _distinct(values: pd.Series) -> object:
    """The distinct editions of merged findings, joined ('; '), or missing."""
    kept = list(dict.fromkeys(v for v in values if isinstance(v, str) and v))
    return "; ".join(kept) if kept else pd.NA


def _once_per_visit(found: pd.DataFrame) -> pd.DataFrame:
    """Visit-level rules found on several notes of one visit: the finding of the lowest note."""
    visit_level = found["rule_id"].isin(list(ONCE_PER_VISIT)).to_numpy()
    if not visit_level.any():
        return found
    subject = ["rule_id", *VISIT_KEY, "field"]
    first = in_order(found[visit_level], [*subject, "note_id"]).drop_duplicates(subject)
    return pd.concat([found[~visit_level], first], ignore_index=True)


def dollars_per_line(findings: pd.DataFrame, claim: np.ndarray | None = None) -> pd.Series:
    """Money at risk per claim line, counted once: the largest amount any finding puts on it.

    Lines are keyed by claim_id, or by `claim` (a number per finding on a claim, which groups
    far faster than text) where given."""
    on_lines = findings[findings["claim_id"].notna()]
    dollars = on_lines["dollars_at_risk"].astype("float64").fillna(0)
    by_claim = on_lines["claim_id"] if claim is None else claim
    return dollars.groupby([by_claim, on_lines["line_number"].fillna(0).to_numpy()]).max()


def finding_ids(found: pd.DataFrame) -> pd.Series:
    """`F` + 16 hex digits of a hash over what the finding is about (stable across reruns)."""
    hashed = pd.util.hash_pandas_object(found[IDENTITY].astype("str"), index=False).to_numpy()
    return pd.Series(np.char.add("F", np.char.mod("%016x", hashed)), index=found.index, dtype="str")


SUBJECT_COLUMNS = ("claim_id", "line_number", "note_id", "patient_id", "date_of_service", "rendering_npi", "clinic_id",
                   "payer_type")  # what a finding copies from its fact row, where the grain has it


def _columns_read(meta: pd.Series, facts: pd.DataFrame) -> list[str]:
    """The fact columns an expectation's findings read: the subject's, the message's `{column}`s
    and the columns its meta names (taking only these, not the grain's every column, for each
    expectation's rows)."""
    named = [meta.get(key) for key in ("field_column", "excess_units", "dollars", "edition")]
    wanted = [*SUBJECT_COLUMNS, *(c for _, c, _, _ in string.Formatter().parse(meta["message"]) if c),
              *(c for c in named if isinstance(c, str))]
    return [c for c in dict.fromkeys(wanted) if c in facts.columns or c not in SUBJECT_COLUMNS]


def render(template: str, rows: pd.DataFrame) -> pd.Series:
    """`template` with each `{column}` replaced by that column's value, row by row (vectorized)."""
    text = pd.Series("", index=rows.index, dtype="str")
    for literal, column, _, _ in string.Formatter().parse(template):
        text = text + literal
        if column:
            text = text + _as_text(rows[column])
    return text


def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        shown = values.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_float_dtype(values) and values.dropna().mod(1).eq(0).all():
        shown = values.astype("Int64").astype("str")
    else:
        shown = values.astype("str")
    return shown.fillna(MISSING_TEXT).replace({"<NA>": MISSING_TEXT, "nan": MISSING_TEXT})
