"""Split a run's canonical tables into partitions by clinic and month, for a scaled-out audit.

The unit that must never be split is the patient-day: a visit (patient, date, provider) lies
inside one, and so does the MUE's count of a patient's units on a day. Each patient-day goes to
the clinic of its first claim line (or note, when nothing was billed) and the month of its date,
so partitions are independent and their outputs simply concatenate.
"""

from __future__ import annotations

import pandas as pd

from nmr_audit.keys import first_positions, group_numbers

DAY = ["patient_id", "date_of_service"]


def partition_labels(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """A 'clinic/YYYY-MM' label for every claim line and every note."""
    keys = pd.concat([claim_lines[[*DAY, "clinic_id"]], visit_notes[[*DAY, "clinic_id"]]], ignore_index=True)
    if keys.empty:
        return (pd.Series(dtype="str", index=claim_lines.index),
                pd.Series(dtype="str", index=visit_notes.index))
    day = group_numbers(keys, DAY)
    first = first_positions(day, int(day.max()) + 1)
    label = (keys["clinic_id"].astype("str") + "/" + keys["date_of_service"].dt.strftime("%Y-%m")).to_numpy()
    labels = label[first][day]
    return (pd.Series(labels[: len(claim_lines)], index=claim_lines.index, dtype="str"),
            pd.Series(labels[len(claim_lines):], index=visit_notes.index, dtype="str"))


def payer_history(claim_lines: pd.DataFrame) -> pd.DataFrame:
    """(patient_id, date_of_service, payer_type[, payer_id]) of every claim day: how a visit
    documented but never billed finds its payer (and the payer table's terms) in another partition."""
    payer = ["payer_type", "payer_id"] if "payer_id" in claim_lines.columns else ["payer_type"]
    return claim_lines[[*DAY, *payer]].drop_duplicates(DAY).reset_index(drop=True)
