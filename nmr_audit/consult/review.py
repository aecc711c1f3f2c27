"""What the reviewer sees: one row per sampled unit with its claim lines, findings and the
visits' unit decisions, and empty columns for the reviewer's decision, overpaid amount and note.

Built for the sample only (hundreds of units), so text is joined per unit with a group-wise
join; nothing here runs over the whole run's claim lines row by row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.consult.frame import unit_ids
from nmr_audit.contract import VISIT_KEY

REVIEWER_COLUMNS = ("reviewer_decision", "overpayment_amount", "reviewer_note")
DECISIONS = ("supported", "partly supported", "not supported")
LINE_COLUMNS = ("sample_unit_id", "claim_id", "line_number", "patient_id", "date_of_service", "rendering_npi",
                "clinic_id", "payer_type", "cpt_code", "modifiers", "units", "charge_amount")
FINDING_COLUMNS = ("sample_unit_id", "rule_id", "severity", "claim_id", "line_number", "note_id", "field",
                   "message", "excess_units", "dollars_at_risk")


def sampled_lines(claim_lines: pd.DataFrame, sample: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The claim lines of the sampled units (`LINE_COLUMNS` present in the run), in sample
    order, then claim and line."""
    lines = claim_lines.assign(sample_unit_id=unit_ids(claim_lines, unit).to_numpy())
    lines = lines[lines["sample_unit_id"].isin(sample["sample_unit_id"])]
    lines = _in_sample_order(lines, sample, ["claim_id", "line_number"])
    return lines[[c for c in LINE_COLUMNS if c in lines.columns]]


def sampled_findings(findings: pd.DataFrame, sample: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The findings on the sampled units (`FINDING_COLUMNS`), in sample order, costliest first."""
    found = findings.assign(sample_unit_id=unit_ids(findings, unit).to_numpy())
    found = found[found["sample_unit_id"].isin(sample["sample_unit_id"])]
    found = found.assign(minus_dollars=-found["dollars_at_risk"].astype("float64").fillna(0).to_numpy())
    found = _in_sample_order(found, sample, ["minus_dollars", "rule_id", "claim_id", "line_number"])
    return found[[c for c in FINDING_COLUMNS if c in found.columns]]


def review_rows(sample: pd.DataFrame, units: pd.DataFrame, lines: pd.DataFrame, found: pd.DataFrame,
                visits: pd.DataFrame | None) -> pd.DataFrame:
    """One row per sampled unit, in sample order: `sample_unit_id, stratum, draw_order`, who
    and when (`claim_ids, patient_id, dates_of_service, clinic_id`), the unit's `claim_lines`
    (one per text line: claim, line, code × units, modifiers, charge), `charge_amount`,
    `paid_amount`, `amount` (the most that can be overpaid) and `amount_basis`, the automated
    `dollars_at_risk` and `findings` (rule, severity, dollars, message), `visits` (the unit
    decision of each 97112 visit: the visit's `explanation` where the run has one, else its
    minutes and units), then the empty `REVIEWER_COLUMNS`.

    sample: `sample_unit_id, stratum, draw_order`; units: the frame; lines, found: from
    `sampled_lines` and `sampled_findings`; visits: the run's visits.parquet, or None.
    """
    rows = sample[["sample_unit_id", "stratum", "draw_order"]].merge(
        units[["sample_unit_id", "charge_amount", "paid_amount", "amount", "amount_basis", "dollars_at_risk"]],
        on="sample_unit_id", how="left")
    by_unit = lines.groupby("sample_unit_id", sort=False)
    day = pd.to_datetime(lines["date_of_service"]).dt.strftime("%Y-%m-%d").astype("str")
    line_text = (lines["claim_id"].astype("str") + " line " + lines["line_number"].astype("str") + ": "
                 + lines["cpt_code"].astype("str") + " × " + lines["units"].astype("str")
                 + _optional(lines, "modifiers", " ") + _money(lines, "charge_amount", " charged $"))
    rows["claim_ids"] = rows["sample_unit_id"].map(_joined(lines["claim_id"], lines["sample_unit_id"], ", "))
    rows["patient_id"] = rows["sample_unit_id"].map(by_unit["patient_id"].first())
    rows["dates_of_service"] = rows["sample_unit_id"].map(_joined(day, lines["sample_unit_id"], ", "))
    rows["clinic_id"] = rows["sample_unit_id"].map(by_unit["clinic_id"].first())
    rows["claim_lines"] = rows["sample_unit_id"].map(_joined(line_text, lines["sample_unit_id"], "\n", unique=False))
    finding_text = (found["rule_id"].astype("str") + " (" + found["severity"].astype("str")
                    + _money(found, "dollars_at_risk", ", $") + "): "
                    + found["message"].astype("str").fillna(""))
    rows["findings"] = rows["sample_unit_id"].map(
        _joined(finding_text, found["sample_unit_id"], "\n", unique=False)).fillna("none")
    rows["visits"] = rows["sample_unit_id"].map(_visit_text(lines, visits)).fillna("")
    for column in REVIEWER_COLUMNS:
        rows[column] = pd.Series(pd.NA, index=rows.index, dtype="str" if column != "overpayment_amount" else "Float64")
    order = ["sample_unit_id", "stratum", "draw_order", "claim_ids", "patient_id", "dates_of_service", "clinic_id",
             "claim_lines", "charge_amount", "paid_amount", "amount", "amount_basis", "dollars_at_risk", "findings",
             "visits", *REVIEWER_COLUMNS]
    return rows[order]


def _visit_text(lines: pd.DataFrame, visits: pd.DataFrame | None) -> pd.Series:
    """Per sampled unit, its 97112 visits' unit decisions, one per text line."""
    key = list(VISIT_KEY)
    if visits is None or visits.empty or not set(key) <= set(lines.columns):
        return pd.Series(dtype="str")
    pairs = lines[["sample_unit_id", *key]].drop_duplicates()
    matched = pairs.merge(visits, on=key, how="inner")
    if matched.empty:
        return pd.Series(dtype="str")
    head = (matched["date_of_service"].dt.strftime("%Y-%m-%d").astype("str") + " NPI "
            + matched["rendering_npi"].astype("str") + ": ")
    if "explanation" in matched.columns:
        said = matched["explanation"].astype("str").fillna("")
    else:
        minutes = matched["minutes_97112"].astype("Int64").astype("str")
        timed = matched["total_timed_minutes"].astype("Int64").astype("str")
        documented = ("note " + matched["note_id"].astype("str") + ": 97112 minutes "
                      + minutes.fillna("not itemized") + ", timed minutes " + timed.fillna("not given"))
        said = (matched["rule_basis"].astype("str") + " basis; " + documented.fillna("no note")
                + " → 97112 units supported " + matched["supported_units_97112"].astype("str")
                + ", billed " + matched["billed_units_97112"].astype("str")
                + ", excess " + matched["excess_units_97112"].astype("str")
                + "; timed units supported " + matched["supported_timed_units"].astype("str")
                + ", billed " + matched["billed_timed_units"].astype("str"))
    return _joined(head + said, matched["sample_unit_id"], "\n", unique=False)


def _joined(text: pd.Series, unit: pd.Series, separator: str, unique: bool = True) -> pd.Series:
    frame = pd.DataFrame({"unit": unit.to_numpy(), "text": text.astype("str").to_numpy()}).dropna()
    if unique:
        frame = frame.drop_duplicates()
    return frame.groupby("unit", sort=False)["text"].agg(separator.join)


def _optional(frame: pd.DataFrame, column: str, prefix: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    values = frame[column]
    if values.dtype == object:
        values = values.map(lambda v: ",".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v)
    text = values.astype("str").fillna("")
    return text.where(text == "", prefix + text)


def _money(frame: pd.DataFrame, column: str, prefix: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    number = frame[column].astype("float64")
    return (prefix + number.map("{:,.2f}".format).astype("str")).where(number.notna(), "")


def _in_sample_order(frame: pd.DataFrame, sample: pd.DataFrame, then: list[str]) -> pd.DataFrame:
    rank = pd.Series(range(len(sample)), index=sample["sample_unit_id"].to_numpy())
    ordered = frame.assign(sample_rank=frame["sample_unit_id"].map(rank).to_numpy())
    return ordered.sort_values(["sample_rank", *then], kind="stable").drop(columns="sample_rank")
