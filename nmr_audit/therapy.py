"""A beneficiary's therapy over the year: allowed amounts toward the KX threshold, and treatment
days toward the next progress report.

Two kinds of rows, computed from canonical claim lines and notes alone, so that a night can keep
them in its state (`runtime.state`) and the next night count on from them without its files:

- **therapy amounts** — one row per claim line that counts toward a yearly therapy threshold:
  a payer type with a threshold for the year (`therapy_thresholds.csv`: Medicare), a therapy
  modifier naming its bucket (GP and GN: PT and SLP together; GO: OT apart — BBA 2018 §50202).
  Its allowed amount in whole cents = units × the fee in force, as dollars at risk price it
  (`money.unit_fees`): where `nmr-audit reference import --pfs` imported CMS's fee schedule, the
  non-facility fee of the clinic's MAC locality (`clinics.csv` mac, locality), or its national
  amount where the locality is not named; else the fee schedule for the payer type, code and year
  (`fee_schedule.csv`: the national amount the project ships, or a client's rows) — × 85%
  where the line carries CQ/CO on or after the reduction took effect (`payment_policy.csv`).
  *Approximated:* the non-facility fee; no multiple procedure payment reduction (50% off the practice
  expense of the second and later units of a day); a code with no fee in the schedule adds $0
  (`priced` false); lines count whether or not the payer paid them; and only this clinic's
  claims count — therapy the beneficiary had elsewhere this year is unseen.
- **treatment days** — one row per note of a known discipline (PT, OT, SLP: the credential's, in
  `therapy_disciplines.csv`), with its plan of care (`plan_of_care_signed_date`) and whether it
  is a progress report (`progress_report`; missing where the export does not say).

Pure: frames in, frames out, over whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmr_audit.contract import SOURCE_FILE
from nmr_audit.keys import group_numbers
from nmr_audit.money import unit_fees
from nmr_audit.reference import ReferenceData
from nmr_audit.unreadable import rows_with
from nmr_audit.visits import carries_any

AMOUNT_COLUMNS = ("claim_id", "line_number", "patient_id", "date_of_service", "year", "bucket", "payer_type",
                  "allowed_cents", "priced", SOURCE_FILE)
DAY_COLUMNS = ("note_id", "patient_id", "date_of_service", "discipline", "plan_of_care_signed_date",
               "progress_report", SOURCE_FILE)
ASSISTANT_REDUCTION = "assistant_payment_reduction"


def therapy_amounts(claim_lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """`AMOUNT_COLUMNS`, one row per claim line that counts toward a yearly therapy threshold
    (see the module). `allowed_cents` int64; `source_file` where the lines have it (the state
    replaces a file sent again). A line whose modifiers could not be read is left out (its
    bucket is unknown)."""
    thresholds = reference.therapy_thresholds
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in AMOUNT_COLUMNS})
    if claim_lines.empty or thresholds.empty:
        return empty
    buckets = _bucket_table(thresholds)
    covered = (claim_lines["payer_type"].astype("str").isin(set(buckets["payer_type"])).to_numpy()
               & ~rows_with(claim_lines, {"modifiers"}))
    lines = claim_lines[covered]
    if lines.empty:
        return empty
    year = lines["date_of_service"].dt.year.astype("int64")
    exploded = lines["modifiers"].reset_index(drop=True).explode()
    named = pd.DataFrame({"line": exploded.index.to_numpy(), "modifier": exploded.astype("str").to_numpy(),
                          "year": year.to_numpy()[exploded.index.to_numpy()],
                          "payer_type": lines["payer_type"].astype("str").to_numpy()[exploded.index.to_numpy()]})
    named = named.merge(buckets, on=["year", "payer_type", "modifier"])
    bucket = named.drop_duplicates("line").set_index("line")["bucket"].reindex(range(len(lines)))
    keep = bucket.notna().to_numpy()
    lines, bucket, year = lines[keep], bucket[keep], year[keep]
    if lines.empty:
        return empty
    fee = unit_fees(lines, lines["cpt_code"].astype("str"), reference)["fee"]
    factor = _assistant_factor(lines, reference)
    cents = np.rint(lines["units"].astype("int64").to_numpy() * fee.fillna(0).to_numpy() * factor * 100)
    return pd.DataFrame({
        "claim_id": lines["claim_id"].astype("str").to_numpy(), "line_number": lines["line_number"].astype("int64").to_numpy(),
        "patient_id": lines["patient_id"].astype("str").to_numpy(),
        "date_of_service": lines["date_of_service"].astype("datetime64[s]").to_numpy(),
        "year": year.to_numpy(), "bucket": bucket.astype("str").to_numpy(),
        "payer_type": lines["payer_type"].astype("str").to_numpy(), "allowed_cents": cents.astype("int64"),
        "priced": fee.notna().to_numpy(),
        SOURCE_FILE: lines[SOURCE_FILE].astype("str").to_numpy() if SOURCE_FILE in lines.columns
        else np.full(len(lines), "", dtype=object),
    })


def _bucket_table(thresholds: pd.DataFrame) -> pd.DataFrame:
    """(year, payer_type, modifier, bucket): each therapy modifier's bucket, year by year."""
    rows = thresholds[["year", "payer_type", "bucket", "therapy_modifiers"]].astype(
        {"year": "int64", "payer_type": "str", "bucket": "str"})
    rows = rows.assign(modifier=rows["therapy_modifiers"].astype("str").str.split()).explode("modifier")
    return rows[["year", "payer_type", "modifier", "bucket"]].drop_duplicates(["year", "payer_type", "modifier"])


def _assistant_factor(lines: pd.DataFrame, reference: ReferenceData) -> np.ndarray:
    """1, or 1 − the assistant payment reduction (0.85) for a line with CQ/CO dated on or after
    the reduction's `effective_from` (`payment_policy.csv`)."""
    policy = reference.payment_policy
    rows = policy[policy["policy"] == ASSISTANT_REDUCTION].sort_values("effective_from")
    if rows.empty:
        return np.ones(len(lines))
    reduction, since = float(rows["value"].iloc[-1]), rows["effective_from"].iloc[-1]
    assistant = carries_any(lines["modifiers"], reference.modifiers_of("assistant"))
    applies = assistant & (lines["date_of_service"] >= since).to_numpy()
    return np.where(applies, 1 - reduction, 1.0)


def yearly_totals(amounts: pd.DataFrame) -> pd.DataFrame:
    """Each row of `amounts` (`AMOUNT_COLUMNS`, plus any others) with `cumulative_cents`: the
    beneficiary's allowed amount of the bucket and year up to and including the row, in date
    order (then claim and line), and `before_cents` (without it). Returned in that order."""
    if amounts.empty:
        return amounts.assign(cumulative_cents=pd.Series(dtype="int64"), before_cents=pd.Series(dtype="int64"))
    ordered = amounts.sort_values(["patient_id", "bucket", "year", "date_of_service", "claim_id", "line_number"],
                                  kind="stable").reset_index(drop=True)
    group = group_numbers(ordered, ["patient_id", "bucket", "year"])
    cents = ordered["allowed_cents"].astype("int64")
    cumulative = cents.groupby(group).cumsum()
    return ordered.assign(cumulative_cents=cumulative.to_numpy(), before_cents=(cumulative - cents).to_numpy())


def treatment_days(visit_notes: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """`DAY_COLUMNS` plus `rendering_npi` and `clinic_id`, one row per note whose credential has a
    discipline (PT, OT, SLP); `progress_report` boolean (missing where not said)."""
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in (*DAY_COLUMNS, "rendering_npi", "clinic_id")})
    if visit_notes.empty:
        return empty
    discipline = visit_notes["provider_credential"].map(
        reference.therapy_disciplines.set_index("provider_credential")["discipline"]).astype("str")
    known = discipline.notna().to_numpy()
    notes = visit_notes[known]
    report = notes["progress_report"] if "progress_report" in notes.columns else pd.Series(pd.NA, index=notes.index)
    return pd.DataFrame({
        "note_id": notes["note_id"].astype("str").to_numpy(), "patient_id": notes["patient_id"].astype("str").to_numpy(),
        "date_of_service": notes["date_of_service"].astype("datetime64[s]").to_numpy(),
        "discipline": discipline[known].to_numpy(),
        "plan_of_care_signed_date": notes["plan_of_care_signed_date"].astype("datetime64[s]").to_numpy(),
        "progress_report": report.astype("boolean").to_numpy(),
        SOURCE_FILE: notes[SOURCE_FILE].astype("str").to_numpy() if SOURCE_FILE in notes.columns
        else np.full(len(notes), "", dtype=object),
        "rendering_npi": notes["rendering_npi"].astype("str").to_numpy(),
        "clinic_id": notes["clinic_id"].astype("str").to_numpy(),
    })


def days_since_report(days: pd.DataFrame) -> pd.DataFrame:
    """Treatment days (`treatment_days` rows, notes of one patient, discipline and date taken
    together) numbered within their plan-of-care period (patient, discipline, certification
    date) since the last progress report: the period's first day (the evaluation) is day 1, a
    day with a progress report ends a reporting period (its number is 0 for the next), so the
    11th treatment day without one is day 11 (BPM ch. 15 §220.3.D: a progress report at least
    once every 10 treatment days). One row per such day, in order: the period's key columns,
    `date_of_service`, `progress_report` (a note of the day is one), `day_number`,
    `last_report_date` (NaT before the first report) and `first_date` (the period's first day),
    plus `note_id` (the day's lowest), `rendering_npi` and `clinic_id` of that note and `own`
    (any note of the day is in `days`' own rows: `own` column, True where absent)."""
    if days.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in (
            "patient_id", "discipline", "plan_of_care_signed_date", "date_of_service", "progress_report", "day_number",
            "last_report_date", "first_date", "note_id", "rendering_npi", "clinic_id", "own")})
    frame = days.assign(own=days["own"] if "own" in days.columns else True,
                        report=days["progress_report"].fillna(False).astype("bool"))
    frame = frame.sort_values(["patient_id", "discipline", "plan_of_care_signed_date", "date_of_service", "note_id"],
                              kind="stable", na_position="first").reset_index(drop=True)
    day = group_numbers(frame, ["patient_id", "discipline", "plan_of_care_signed_date", "date_of_service"])
    per_day = frame.groupby(day, sort=False).agg(
        patient_id=("patient_id", "first"), discipline=("discipline", "first"),
        plan_of_care_signed_date=("plan_of_care_signed_date", "first"), date_of_service=("date_of_service", "first"),
        progress_report=("report", "any"), own=("own", "any"), note_id=("note_id", "first"),
        rendering_npi=("rendering_npi", "first"), clinic_id=("clinic_id", "first")).reset_index(drop=True)
    period = group_numbers(per_day, ["patient_id", "discipline", "plan_of_care_signed_date"])
    index = pd.Series(np.ones(len(per_day), "int64")).groupby(period).cumsum().to_numpy()
    reported = np.where(per_day["progress_report"].to_numpy(), index, 0)
    last = pd.Series(reported).groupby(period).cummax().to_numpy()
    dates = per_day["date_of_service"].to_numpy()
    report_date = pd.Series(np.where(reported > 0, dates, np.datetime64("NaT")), dtype="datetime64[s]")
    last_date = report_date.groupby(period).ffill()
    first_date = pd.Series(dates).groupby(period).transform("first")
    return per_day.assign(day_number=index - last, last_report_date=last_date.to_numpy(),
                          first_date=first_date.to_numpy())


@dataclass(frozen=True)
class TherapyHistory:
    """The beneficiaries' earlier therapy, from outside the rows being audited: earlier nights'
    (the nightly state) or other partitions' rows. `amounts`: `therapy_amounts` rows; `days`:
    `treatment_days` rows. A row whose key (claim line; note id) is among the audited rows is
    theirs, not history: the audited version counts."""

    amounts: pd.DataFrame
    days: pd.DataFrame

    @staticmethod
    def none() -> TherapyHistory:
        return TherapyHistory(pd.DataFrame({c: pd.Series(dtype="object") for c in AMOUNT_COLUMNS}),
                              pd.DataFrame({c: pd.Series(dtype="object") for c in DAY_COLUMNS}))


def progress_recorded(visit_notes: pd.DataFrame, history: TherapyHistory | None = None) -> bool:
    """Whether the run's notes say which are progress reports: some note (or an earlier night's)
    has a `progress_report` value. An export without the column (every value missing) does not,
    and PROGRESS_REPORT_OVERDUE is skipped rather than read as overdue everywhere."""
    mine = "progress_report" in visit_notes.columns and bool(visit_notes["progress_report"].notna().any())
    earlier = history is not None and "progress_report" in history.days.columns and bool(
        history.days["progress_report"].notna().any())
    return mine or earlier
