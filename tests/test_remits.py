"""A claim line's actual outcome from the remittance rows that answer it, and onto the findings."""

import numpy as np
import pandas as pd
import pytest

from nmr_audit.remits import line_outcomes, outcome_counts, remittances, with_outcomes
from nmr_audit.x12.remits_835 import read_835
from tests.x12.interchanges import interchange, write

CARCS = pd.DataFrame({"code": ["1", "2", "4", "16", "45", "50", "97", "151", "236"],
                      "counts_as": ["other", "other", "denial", "rejection", "contractual", "denial", "denial", "denial",
                                    "denial"]})


def rows(*lines):
    """Matched remittance rows: (claim_id, line_number, status, group, carc, paid, units_paid, units_billed,
    service line number) — one row per adjustment, `service` telling which rows are one 835 service line."""
    frame = pd.DataFrame(lines, columns=["claim_id", "line_number", "claim_status", "group_code", "carc",
                                         "paid_amount", "units_paid", "units_billed", "source_row"])
    return frame.assign(level="line", matched_by="line_control_number", source_file="r.835",
                        line_number=frame["line_number"].astype("Int64"))


def outcome_of(*lines):
    found = line_outcomes(rows(*lines), CARCS)
    return dict(zip(zip(found["claim_id"], found["line_number"], strict=True),
                    zip(found["outcome"], found["carcs"], strict=True), strict=True))


def test_each_outcome_from_its_adjustments():
    found = outcome_of(
        ("C1", 1, "1", "CO", "45", 40.0, 1, 1, 10), ("C1", 1, "1", "PR", "2", 40.0, 1, 1, 10),  # paid
        ("C2", 1, "4", "CO", "4", 0.0, 0, 1, 20),  # denied: no modifier
        ("C3", 1, "1", "CO", "151", 30.0, 1, 2, 30), ("C3", 1, "1", "CO", "45", 30.0, 1, 2, 30),  # one unit of two
        ("C4", 1, "4", "CO", "16", 0.0, 0, 1, 40),  # missing information: a rejection, not a denial
        ("C5", 1, "1", "CO", "45", 50.0, 1, 1, 50), ("C5", 1, "22", "CO", "50", -50.0, -1, 1, 60),  # recouped
        ("C6", 1, "1", "PR", "1", 0.0, 1, 1, 70),  # applied to the deductible: paid, not denied
        ("C7", 1, "1", None, None, 62.0, 1, 1, 80),  # paid without adjustment
    )
    assert found[("C1", 1)] == ("paid", "PR-2; CO-45")  # by CARC number
    assert found[("C2", 1)] == ("denied", "CO-4")
    assert found[("C3", 1)] == ("reduced", "CO-45; CO-151")
    assert found[("C4", 1)] == ("rejected", "CO-16")
    assert found[("C5", 1)] == ("reversed", "CO-45; CO-50")
    assert found[("C6", 1)][0] == "paid"
    assert found[("C7", 1)][0] == "paid" and pd.isna(found[("C7", 1)][1])


def test_amounts_count_each_service_line_once_and_leave_reversals_out():
    found = line_outcomes(rows(("C1", 1, "1", "CO", "45", 40.0, 2, 2, 10), ("C1", 1, "1", "PR", "2", 40.0, 2, 2, 10),
                               ("C1", 1, "22", "CO", "50", -40.0, -2, 2, 20)), CARCS).iloc[0]
    assert (found["paid_amount"], found["units_paid"], found["units_billed"], found["remit_lines"]) == (40.0, 2, 2, 2)


def test_a_claim_answered_whole_answers_each_of_its_lines():
    claim = pd.DataFrame({"claim_id": ["C9"], "line_number": pd.array([pd.NA], dtype="Int64"), "claim_status": ["4"],
                          "group_code": ["CO"], "carc": ["50"], "paid_amount": [np.nan], "units_paid": [np.nan],
                          "units_billed": [np.nan], "claim_paid": [0.0], "source_row": [5], "level": "claim",
                          "matched_by": "claim_id", "source_file": "r.835"})
    lines = pd.DataFrame({"claim_id": ["C9", "C9", "C8"], "line_number": [1, 2, 1]})
    found = line_outcomes(claim, CARCS, lines)
    assert found[["claim_id", "line_number", "outcome"]].to_numpy().tolist() == [["C9", 1, "denied"], ["C9", 2, "denied"]]


def test_findings_carry_their_lines_outcome_and_others_stay_empty():
    findings = pd.DataFrame({"rule_id": ["NO_NOTE", "UNBILLED_97112", "UNITS_EXCEED_TIME"],
                             "claim_id": ["C2", None, "C3"], "line_number": pd.array([1, None, 1], dtype="Int64"),
                             "outcome": pd.Series([None] * 3, dtype="str"), "carcs": pd.Series([None] * 3, dtype="str")})
    outcomes = line_outcomes(rows(("C2", 1, "4", "CO", "4", 0.0, 0, 1, 20), ("C3", 1, "1", "CO", "151", 30.0, 1, 2, 30)),
                             CARCS)
    done = with_outcomes(findings, outcomes)
    assert done["outcome"].tolist()[0::2] == ["denied", "reduced"] and pd.isna(done["outcome"].iloc[1])
    assert done["carcs"].iloc[0] == "CO-4" and findings["outcome"].isna().all()  # the input is not changed
    assert outcome_counts(outcomes) == {"paid": 0, "reduced": 1, "rejected": 0, "denied": 1, "reversed": 0}


def test_remits_parquet_rows_are_one_per_adjustment_with_the_lines_outcome(tmp_path):
    body = ["BPR*I*40*C*ACH*CCP*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20260301",
            "TRN*1*EFT1*1512345678", "N1*PR*PAYER ONE", "REF*2U*P1", "N1*PE*BALANCE PT*XX*1234567893", "LX*1",
            "CLP*C1*1*124*40*10*MB*PCN1*11*1", "SVC*HC:97112:GP*62*40**1", "DTM*472*20260105", "CAS*CO*45*12",
            "CAS*PR*2*10", "REF*6R*C1-1", "SVC*HC:97110:GP*62*0**1", "DTM*472*20260105", "CAS*CO*4*62",
            "REF*6R*C1-2", "CLP*C7*4*62*0*0*MB*PCN7*11*1", "SVC*HC:97112:GP*62*0**1", "DTM*472*20260105",
            "CAS*CO*50*62"]
    remits = read_835(write(tmp_path / "r.835", interchange(body, transaction="835", version="005010X221A1"))).frame
    lines = pd.DataFrame({"claim_id": ["C1", "C1"], "line_number": [1, 2], "cpt_code": ["97112", "97110"],
                          "modifiers": ["GP", "GP"], "date_of_service": pd.to_datetime(["2026-01-05"] * 2),
                          "line_control_number": ["C1-1", "C1-2"]})
    done = remittances(remits, lines, CARCS)
    assert len(done.rows) == 4  # CO-45 and PR-2 of line 1, CO-4 of line 2, CO-50 of the unknown claim
    line_1 = done.rows[done.rows["line_number"] == 1]
    assert set(line_1["carc"]) == {"45", "2"} and set(line_1["outcome"]) == {"paid"}
    assert set(line_1["counts_as"]) == {"contractual", "other"}
    assert done.rows.loc[done.rows["line_number"] == 2, "outcome"].tolist() == ["denied"]
    assert done.unmatched["claim_id"].tolist() == ["C7"]
    totals = done.totals()
    assert (totals["service_lines"], totals["service_lines_matched"], totals["service_lines_unmatched"]) == (3, 2, 1)
    assert totals["unmatched_by_reason"] == {"no claim line has this claim id (CLP01)": 1}


@pytest.mark.parametrize("status", ["1", "2"])
def test_a_denial_carc_with_a_payment_is_a_reduction(status):
    found = outcome_of(("C1", 1, status, "CO", "97", 20.0, 1, 1, 10), ("C1", 1, status, "CO", "45", 20.0, 1, 1, 10))
    assert found[("C1", 1)][0] == "reduced"
