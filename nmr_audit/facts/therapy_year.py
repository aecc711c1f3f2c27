"""Therapy-line facts: one row per audited claim line that counts toward a yearly therapy
threshold, with the beneficiary's allowed amount of its bucket and year up to and including it.

The suite `therapy_lines` reads: `kx_missing` (the total passes the KX threshold with this line,
and the line has neither KX nor GA, GY or GZ) and `crosses_review_amount` (this line takes the
total past the targeted medical review amount: true on one line per beneficiary, bucket and year
at most). Earlier therapy from outside the audited rows (`therapy.TherapyHistory`: the nightly
state, other partitions) counts first and raises nothing itself. Sources: BBA 2018 §50202; the
amounts in `data/reference/therapy_thresholds.csv`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.keys import keys_in
from nmr_audit.money import dollars_text
from nmr_audit.parse import modifiers_text
from nmr_audit.reference import ReferenceData
from nmr_audit.therapy import TherapyHistory, therapy_amounts, yearly_totals
from nmr_audit.visits import carries_any

LINE = ["claim_id", "line_number"]
THERAPY_LINE_COLUMNS = (
    "row_id", "claim_id", "line_number", "patient_id", "date_of_service", "rendering_npi", "clinic_id", "payer_type",
    "cpt_code", "units", "modifiers", "bucket", "year", "allowed_cents", "priced", "cumulative_cents", "before_cents",
    "kx_threshold", "review_threshold", "has_kx", "liability_modifier", "past_threshold", "kx_missing",
    "crosses_review_amount", "allowed_dollars", "allowed_text", "cumulative_text", "threshold_text", "review_text")


def therapy_line_facts(claim_lines: pd.DataFrame, reference: ReferenceData,
                       history: TherapyHistory | None = None) -> pd.DataFrame:
    """`THERAPY_LINE_COLUMNS`, one row per claim line of `claim_lines` that counts toward a
    threshold (`therapy.therapy_amounts`), in the order the amounts accrue. Amounts in whole
    cents (`*_cents`, `kx_threshold` and `review_threshold` too); `*_text` are dollars for the
    messages. A line passes the threshold when its cumulative amount, itself included, is above
    it (2026: $2,480 — at $2,450, a line allowing $60 takes it to $2,510, past it)."""
    own = therapy_amounts(claim_lines, reference)
    if own.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in THERAPY_LINE_COLUMNS})
    parts = [own.assign(own=True)]
    if history is not None and not history.amounts.empty:
        earlier = history.amounts
        earlier = earlier[~keys_in(earlier.astype({"claim_id": "str", "line_number": "int64"}), own, LINE)]
        parts.insert(0, earlier[list(own.columns)].assign(own=False))
    totals = yearly_totals(pd.concat(parts, ignore_index=True).astype(
        {"allowed_cents": "int64", "year": "int64", "line_number": "int64"}))
    limits = reference.therapy_thresholds[["year", "payer_type", "bucket", "kx_threshold", "review_threshold"]].astype(
        {"year": "int64", "payer_type": "str", "bucket": "str"}).drop_duplicates(["year", "payer_type", "bucket"])
    totals = totals.merge(limits, on=["year", "payer_type", "bucket"], how="left")
    mine = totals[totals["own"].to_numpy(dtype=bool)].reset_index(drop=True)
    details = claim_lines[[*LINE, "rendering_npi", "clinic_id", "cpt_code", "units", "modifiers"]].astype(
        {"claim_id": "str", "line_number": "int64"})
    mine = mine.merge(details.drop_duplicates(LINE), on=LINE, how="left")
    kx_cents = np.rint(mine["kx_threshold"].to_numpy(dtype="float64") * 100)
    review_cents = np.rint(mine["review_threshold"].to_numpy(dtype="float64") * 100)
    cumulative, before = mine["cumulative_cents"].to_numpy(), mine["before_cents"].to_numpy()
    has_kx = carries_any(mine["modifiers"], reference.modifiers_of("threshold"))
    liability = carries_any(mine["modifiers"], reference.modifiers_of("liability"))
    past = cumulative > kx_cents  # NaN (no threshold that year) compares false
    crosses = (before <= review_cents) & (cumulative > review_cents)
    facts = mine.assign(
        row_id=np.arange(len(mine)), modifiers=modifiers_text(mine["modifiers"]),
        kx_threshold=pd.Series(kx_cents).astype("Int64"), review_threshold=pd.Series(review_cents).astype("Int64"),
        has_kx=has_kx, liability_modifier=liability, past_threshold=past, kx_missing=past & ~has_kx & ~liability,
        crosses_review_amount=crosses, allowed_dollars=mine["allowed_cents"] / 100,
        allowed_text=dollars_text(mine["allowed_cents"]), cumulative_text=dollars_text(mine["cumulative_cents"]),
        threshold_text=dollars_text(pd.Series(kx_cents)), review_text=dollars_text(pd.Series(review_cents)))
    return facts[list(THERAPY_LINE_COLUMNS)]
