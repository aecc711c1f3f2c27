"""The MUE by its adjudication indicator: a line edit (MAI 1) or a date-of-service edit (MAI 2, 3)."""

from dataclasses import replace

import pandas as pd
import pytest

from nmr_audit.facts.days import patient_day_facts

NPI = "1234567893"


def lines(*units, date="2026-03-04"):
    """97112 line facts of one patient and day, one line per number of units."""
    count = len(units)
    return pd.DataFrame({
        "patient_id": "P1", "date_of_service": pd.Timestamp(date), "claim_id": [f"C{i}" for i in range(count)],
        "line_number": pd.array([1] * count, dtype="Int64"), "rendering_npi": NPI, "clinic_id": "CL1",
        "payer_type": "medicare", "units": pd.array(units, dtype="Int64"), "fee_97112": 30.0})


def mue(*rows):
    """(mue, per, effective_from, edition)."""
    frame = pd.DataFrame(rows, columns=["mue", "per", "effective_from", "edition"]).assign(cpt_code="97112")
    return frame.assign(effective_from=pd.to_datetime(frame["effective_from"]).astype("datetime64[s]"), verified=True,
                        source="test")


@pytest.mark.parametrize(("per", "compared", "excess", "line"), [
    ("line", 3, 1, "C1"),  # each line against 2: 1 → none, 3 → 1 over; the finding on the 3-unit line
    ("patient_day", 4, 2, "C0"),  # the day's 4 against 2; the finding on the day's first line (claim order)
])
def test_the_adjudication_indicator_decides_line_or_day(reference, per, compared, excess, line):
    ref = replace(reference, mue=mue((2, per, "2026-01-01", "2026Q1")))
    day = patient_day_facts(lines(1, 3), ref).iloc[0]  # C0: 1 unit, C1: 3 units
    assert (day["mue_units"], day["units_97112"], day["mue_excess_units"], day["claim_id"]) == (compared, 4, excess, line)
    assert day["mue_excess_dollars"] == pytest.approx(excess * 30.0) and day["mue_edition"] == "mue 2026Q1"


def test_each_date_takes_the_row_in_force_then(reference):
    ref = replace(reference, mue=mue((4, "patient_day", "2011-01-01", ""), (2, "line", "2026-04-01", "2026Q2")))
    march = patient_day_facts(lines(2, 2), ref).iloc[0]
    april = patient_day_facts(lines(2, 2, date="2026-04-01"), ref).iloc[0]
    assert (march["mue"], march["mue_per"], march["mue_excess_units"], march["mue_edition"]) == (4, "patient_day", 0,
                                                                                                   "mue packaged")
    assert (april["mue"], april["mue_per"], april["mue_units"], april["mue_excess_units"]) == (2, "line", 2, 0)


def test_the_shipped_mue_counts_per_day(reference):
    day = patient_day_facts(lines(3, 2), reference).iloc[0]
    assert (day["mue"], day["mue_per"], day["mue_units"], day["mue_excess_units"]) == (4, "patient_day", 5, 1)
