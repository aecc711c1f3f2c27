"""Note facts: one row per note of a 97112 visit, with session length, minutes and plan-of-care age."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import NECESSITY_TEXT_FIELDS, NMR_CODE
from nmr_audit.facts.common import KEY
from nmr_audit.keys import in_order, positions
from nmr_audit.money import unit_fee
from nmr_audit.parse import clock_minutes
from nmr_audit.reference import ReferenceData
from nmr_audit.unreadable import rows_with

MINUTES_PER_DAY = 24 * 60
# Note fields whose rules test presence: an unreadable value is FIELD_UNREADABLE, never "missing".
PRESENCE_FIELDS = ("diagnosis_codes", *NECESSITY_TEXT_FIELDS, "time_in", "time_out", "total_treatment_minutes",
                   "plan_of_care_signed_date")


def note_facts(visit_notes: pd.DataFrame, note_services: pd.DataFrame, visits: pd.DataFrame,
               first_lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """Notes of 97112 visits with session length, itemized minutes and plan-of-care age.

    `visit_notes` are matched to their visits (`visits.match_notes`: `rendering_npi` is the
    visit's, `note_rendering_npi` the note's own). `session_minutes` runs from time in to time
    out, into the next day when time out is the earlier clock time (a session across midnight).
    `readable_<field>` is false where intake found the field's value unreadable: the presence
    rules skip it (FIELD_UNREADABLE reports it). A note whose per-code minutes were unreadable
    counts as not itemizing.
    """
    context = visits[[*KEY, "payer_type", "medicare_rules", "lines_97112", "billed_units_97112"]].merge(
        first_lines, on=KEY, how="left")
    notes = in_order(visit_notes.merge(context, on=KEY), ["note_id"])
    timed = note_services["cpt_code"].isin(reference.timed_codes)
    note_of = positions(note_services["note_id"], notes["note_id"])
    minutes = note_services["minutes"].fillna(0).astype("int64").to_numpy()
    all_minutes = np.bincount(note_of[note_of >= 0], minutes[note_of >= 0], minlength=len(notes))
    timed_of = (note_of >= 0) & timed.to_numpy()
    timed_minutes = np.bincount(note_of[timed_of], minutes[timed_of], minlength=len(notes))
    itemizes = notes["itemizes_minutes"].astype("bool") & ~rows_with(notes, minutes=True)
    fee = unit_fee(notes, NMR_CODE, reference)
    session = clock_minutes(notes["time_out"]) - clock_minutes(notes["time_in"])
    readable = {f"readable_{field}": ~rows_with(notes, {field}) for field in PRESENCE_FIELDS}
    return notes.assign(
        row_id=np.arange(len(notes)),
        medicare_rules=notes["medicare_rules"].astype("bool"),
        billed_97112=notes["lines_97112"] > 0,
        days_since_plan_of_care=(notes["date_of_service"] - notes["plan_of_care_signed_date"]).dt.days,
        session_minutes=session + MINUTES_PER_DAY * (session < 0).fillna(False).astype("int64"),
        itemized_minutes=pd.Series(all_minutes.astype("int64"), dtype="Int64").where(itemizes),
        itemized_timed_minutes=pd.Series(timed_minutes.astype("int64"), dtype="Int64").where(itemizes),
        billed_97112_dollars=notes["billed_units_97112"] * fee,
        **readable,
    )
