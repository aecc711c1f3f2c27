"""Remittance rows matched to the claim lines they pay or deny: a pure transform.

A service line of an 835 (all its adjustment rows together, one `source_file`/`source_row`) is
matched to one claim line:

1. by claim id (`CLP01` = `CLM01`) and line item control number (`REF*6R`, which the 837 sent
   and the payer must return), where both sides carry one;
2. else by claim id, procedure (the code billed: `SVC06` when the payer adjudicated another
   code) and date of service — and when several claim lines share those (a code split over two
   lines, as with CQ/CO), by their modifiers too;
3. otherwise it is unmatched, listed with the reason.

Claim-level rows (`level` = claim) belong to every line of their claim and carry no line
number; provider-level rows (`PLB`) belong to no claim.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import SOURCE_FILE, SOURCE_ROW

MATCHED_BY = ("line_control_number", "procedure_date_modifiers", "procedure_date")
UNMATCHED_COLUMNS = (SOURCE_FILE, SOURCE_ROW, "claim_id", "cpt_code", "date_of_service", "reason")


def match_remits(remits: pd.DataFrame, claim_lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(remits with `line_number` (Int64) and `matched_by`, unmatched service lines).

    `remits`: rows of `read_835` (level, claim_id, line_control_number, submitted_cpt_code,
    submitted_modifiers, date_of_service datetime64, source_row; `source_file` when several
    files are read). `claim_lines`: canonical claim lines (claim_id, line_number, cpt_code,
    modifiers as a list or a comma-separated text, date_of_service datetime64; optional
    line_control_number). Neither frame is changed. `matched_by` is one of `MATCHED_BY`,
    `claim_id` for claim-level rows of a known claim, or missing. Unmatched: one row per service
    line (`UNMATCHED_COLUMNS`) saying why.
    """
    remits = remits if SOURCE_FILE in remits.columns else remits.assign(**{SOURCE_FILE: ""})
    services = remits[remits["level"] == "line"].drop_duplicates([SOURCE_FILE, SOURCE_ROW])
    services = pd.DataFrame({
        SOURCE_FILE: services[SOURCE_FILE].astype("str").to_numpy(), SOURCE_ROW: services[SOURCE_ROW].to_numpy(),
        "claim_id": services["claim_id"].to_numpy(), "control": services["line_control_number"].to_numpy(),
        "cpt_code": services["submitted_cpt_code"].to_numpy(), "date": services["date_of_service"].to_numpy(),
        "modifiers": _modifier_key(services["submitted_modifiers"]).to_numpy()})
    lines = pd.DataFrame({
        "claim_id": claim_lines["claim_id"].to_numpy(), "line_number": claim_lines["line_number"].to_numpy(),
        "control": (claim_lines["line_control_number"] if "line_control_number" in claim_lines
                    else pd.Series(np.nan, index=claim_lines.index)).to_numpy(),
        "cpt_code": claim_lines["cpt_code"].to_numpy(), "date": claim_lines["date_of_service"].to_numpy(),
        "modifiers": _modifier_key(claim_lines["modifiers"]).to_numpy()})
    found = []
    by_control = services.dropna(subset=["control"]).merge(
        lines.dropna(subset=["control"])[["claim_id", "control", "line_number"]].drop_duplicates(["claim_id", "control"]),
        on=["claim_id", "control"])
    found.append(by_control.assign(matched_by="line_control_number"))
    left = _not_in(services, by_control)
    candidates = left.merge(lines[["claim_id", "cpt_code", "date", "modifiers", "line_number"]],
                            on=["claim_id", "cpt_code", "date"], suffixes=("", "_line"))
    count = candidates.groupby([SOURCE_FILE, SOURCE_ROW])["line_number"].transform("size")
    single = candidates[count == 1]
    found.append(single.assign(matched_by="procedure_date"))
    several = candidates[(count > 1) & (candidates["modifiers"] == candidates["modifiers_line"])]
    by_modifiers = several[several.groupby([SOURCE_FILE, SOURCE_ROW])["line_number"].transform("size") == 1]
    found.append(by_modifiers.assign(matched_by="procedure_date_modifiers"))
    matched = pd.concat([f[[SOURCE_FILE, SOURCE_ROW, "line_number", "matched_by"]] for f in found], ignore_index=True)
    unmatched = _not_in(services, matched)
    out = remits.merge(matched, on=[SOURCE_FILE, SOURCE_ROW], how="left")
    known = remits["claim_id"].isin(lines["claim_id"]).to_numpy()
    claim_rows = (out["level"] == "claim").to_numpy() & known
    out["matched_by"] = out["matched_by"].astype("object").where(~claim_rows, "claim_id")
    out["line_number"] = out["line_number"].astype("Int64")
    return out, _reasons(unmatched, candidates, lines)


def _not_in(services: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    keys = pd.MultiIndex.from_frame(matched[[SOURCE_FILE, SOURCE_ROW]])
    return services[~pd.MultiIndex.from_frame(services[[SOURCE_FILE, SOURCE_ROW]]).isin(keys)]


def _modifier_key(modifiers: pd.Series) -> pd.Series:
    """Modifiers as one comparable text: sorted, comma-joined ('' for none)."""
    def key(value: object) -> str:
        if isinstance(value, str):
            parts = value.replace(" ", ",").split(",")
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            parts = []
        else:
            parts = list(value)
        return ",".join(sorted(p.strip().upper() for p in parts if p and p.strip()))
    return modifiers.map(key).astype("str")


def _reasons(unmatched: pd.DataFrame, candidates: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    known = unmatched["claim_id"].isin(lines["claim_id"]).to_numpy()
    many = candidates.groupby([SOURCE_FILE, SOURCE_ROW]).size()
    index = pd.MultiIndex.from_frame(unmatched[[SOURCE_FILE, SOURCE_ROW]])
    ambiguous = many.reindex(index).fillna(0).to_numpy().astype("int64")
    reason = np.where(~known, "no claim line has this claim id (CLP01)",
                      np.where(ambiguous > 1,
                               "several claim lines of the claim have this procedure and date, and their modifiers "
                               "do not single one out",
                               "no claim line of the claim has this line control number (REF*6R), or this procedure "
                               "and date of service"))
    dates = pd.to_datetime(unmatched["date"]).dt.strftime("%Y-%m-%d")
    return pd.DataFrame({SOURCE_FILE: unmatched[SOURCE_FILE].to_numpy(), SOURCE_ROW: unmatched[SOURCE_ROW].to_numpy(),
                         "claim_id": unmatched["claim_id"].to_numpy(), "cpt_code": unmatched["cpt_code"].to_numpy(),
                         "date_of_service": dates.to_numpy(), "reason": reason}).reset_index(drop=True)
