"""Partitions by clinic and month never split a patient's day."""

import pandas as pd

from nmr_audit.partition import partition_labels, payer_history
from tests.builders import tables, visit


def test_a_patient_day_stays_in_one_partition_even_across_clinics_and_providers():
    lines, notes, _ = tables(
        visit(patient_id="A", date_of_service="2026-03-31", billed={"97112": 1}, minutes={"97112": 10}),
        visit(patient_id="A", date_of_service="2026-03-31", billed={"97110": 1}, rendering_npi="1992753880",
              note=False),
        visit(patient_id="A", date_of_service="2026-04-01", billed={"97112": 1}, minutes={"97112": 10}),
    )
    lines.loc[lines["rendering_npi"] == "1992753880", "clinic_id"] = "CL2"
    line_labels, note_labels = partition_labels(lines, notes)
    day = lines["date_of_service"] == pd.Timestamp("2026-03-31")
    assert set(line_labels[day]) == {"CL1/2026-03"}
    assert set(line_labels[~day]) == {"CL1/2026-04"}
    assert list(note_labels) == ["CL1/2026-03", "CL1/2026-04"]


def test_payer_history_has_one_row_per_patient_day():
    lines, _, _ = tables(visit(billed={"97112": 1, "97110": 1}))
    assert len(payer_history(lines)) == 1
