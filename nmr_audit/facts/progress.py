"""Treatment-day facts: one row per audited patient, discipline, plan of care and date of
service with a note, numbered since the last progress report.

The suite `treatment_days` reads `overdue` (this is the 11th treatment day since the last
progress report of the plan of care, the evaluation being day 1 — BPM ch. 15 §220.3.D: a
progress report at least once every 10 treatment days) where `checkable`: the visit's payer
follows Medicare's rules and the run's notes say which are progress reports (else the rule is
skipped, and summary.json says so). Earlier treatment days from outside the audited rows
(`therapy.TherapyHistory`) count first and raise nothing themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.reference import ReferenceData
from nmr_audit.therapy import TherapyHistory, days_since_report, treatment_days

DUE_AFTER = 10  # treatment days a reporting period may run (BPM ch. 15 §220.3.D)
TREATMENT_DAY_COLUMNS = (
    "row_id", "patient_id", "date_of_service", "rendering_npi", "clinic_id", "note_id", "payer_type", "discipline",
    "plan_of_care_signed_date", "progress_report", "day_number", "last_report_date", "first_date", "since_text",
    "medicare_rules", "checkable", "overdue")


def treatment_day_facts(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, reference: ReferenceData,
                        recorded: bool, history: TherapyHistory | None = None) -> pd.DataFrame:
    """`TREATMENT_DAY_COLUMNS`, one row per treatment day of `visit_notes` (matched to their
    visits: `visits.match_notes`). `recorded`: the run's notes say which are progress reports
    (`therapy.progress_recorded`). The day's payer is its claim lines' (the patient's nearest
    line in date where none was billed that day); `checkable` needs Medicare's rules."""
    own = treatment_days(visit_notes, reference)
    if own.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in TREATMENT_DAY_COLUMNS})
    parts = [own.assign(own=True)]
    if history is not None and not history.days.empty:
        earlier = history.days[~history.days["note_id"].astype("str").isin(own["note_id"])]
        earlier = earlier.assign(**{c: pd.Series(pd.NA, index=earlier.index, dtype="str")
                                    for c in ("rendering_npi", "clinic_id") if c not in earlier.columns})
        parts.insert(0, earlier[list(own.columns)].assign(own=False))
    days = pd.concat(parts, ignore_index=True).astype({"date_of_service": "datetime64[s]",
                                                     "plan_of_care_signed_date": "datetime64[s]"})
    numbered = days_since_report(days)
    mine = numbered[numbered["own"].to_numpy(dtype=bool)].reset_index(drop=True)
    payer = _day_payer(mine, claim_lines)
    terms = reference.payer_terms(payer["payer_type"].fillna("unknown"), payer["payer_id"])
    medicare = terms["medicare_rules"].to_numpy(dtype=bool) & payer["payer_type"].notna().to_numpy()
    last = mine["last_report_date"].dt.strftime("%Y-%m-%d")
    since = pd.Series(np.where(last.notna(), "since the progress report of " + last.fillna(""),
                               "since the plan's first treatment day, " + mine["first_date"].dt.strftime("%Y-%m-%d")),
                      index=mine.index, dtype="str")
    facts = mine.assign(row_id=np.arange(len(mine)), payer_type=payer["payer_type"].to_numpy(), since_text=since,
                        medicare_rules=medicare, checkable=medicare & recorded,
                        overdue=(mine["day_number"] == DUE_AFTER + 1).to_numpy())
    return facts[list(TREATMENT_DAY_COLUMNS)]


def _day_payer(days: pd.DataFrame, claim_lines: pd.DataFrame) -> pd.DataFrame:
    """Per treatment day (aligned): payer_type and payer_id of the patient's claim line nearest
    in date (the day's own where billed); missing for a patient with no claim line."""
    carried = ["payer_type", "payer_id"] if "payer_id" in claim_lines.columns else ["payer_type"]
    wanted = days[["patient_id", "date_of_service"]].reset_index(names="at").astype(
        {"patient_id": "str", "date_of_service": "datetime64[s]"})
    if claim_lines.empty:
        return pd.DataFrame({"payer_type": pd.Series(pd.NA, index=days.index, dtype="str"),
                             "payer_id": pd.Series(pd.NA, index=days.index, dtype="str")})
    lines = claim_lines[["patient_id", "date_of_service", *carried]].astype(
        {"patient_id": "str", "date_of_service": "datetime64[s]"}).drop_duplicates(["patient_id", "date_of_service"])
    nearest = pd.merge_asof(wanted.sort_values("date_of_service"), lines.sort_values("date_of_service"),
                            on="date_of_service", by="patient_id", direction="nearest").set_index("at").sort_index()
    if "payer_id" not in nearest.columns:
        nearest["payer_id"] = pd.NA
    return pd.DataFrame({"payer_type": nearest["payer_type"].astype("str").to_numpy(),
                         "payer_id": nearest["payer_id"].astype("str").to_numpy()}, index=days.index)
