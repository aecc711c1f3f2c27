"""The yearly therapy threshold: allowed amounts accrued in date order per beneficiary, bucket and
year, with worked answers (2026: KX threshold $2,480, targeted review $3,000)."""

from dataclasses import replace

import pandas as pd
import pytest

from nmr_audit.facts.therapy_year import therapy_line_facts
from nmr_audit.therapy import TherapyHistory, therapy_amounts
from tests.builders import tables, visit


@pytest.fixture(scope="module")
def priced(reference):
    """The packaged tables with round fees: 97110 $24.50 and 97112 $30.00 a unit (medicare, 2026)."""
    fees = pd.DataFrame({"payer_type": "medicare", "cpt_code": ["97110", "97112"], "year": 2026,
                         "amount": [24.50, 30.00], "verified": False, "source": "test"})
    return replace(reference, fee_schedule=fees)


def lines(*visits):
    return tables(*visits)[0]


def test_at_2450_a_line_allowing_60_crosses_2480_on_that_line(priced):
    # the worked answer: 100 units of 97110 at $24.50 = $2,450.00; then 97112 ×2 at $30 = $60.00
    claim_lines = lines(visit(date_of_service="2026-02-02", billed={"97110": 100}, minutes=None),
                        visit(date_of_service="2026-02-09", billed={"97112": 2}, minutes=None))
    facts = therapy_line_facts(claim_lines, priced)
    assert facts["cumulative_cents"].tolist() == [245000, 251000]
    assert facts["before_cents"].tolist() == [0, 245000]
    assert facts["kx_threshold"].tolist() == [248000, 248000]
    assert facts["kx_missing"].tolist() == [False, True]
    crossing = facts.iloc[1]
    assert (crossing["cumulative_text"], crossing["allowed_text"], crossing["threshold_text"]) == (
        "2510.00", "60.00", "2480.00")
    assert crossing["allowed_dollars"] == 60.0


def test_reaching_the_threshold_exactly_is_not_passing_it_and_kx_ga_gy_gz_answer_it(priced):
    exactly = lines(visit(patient_id="A", date_of_service="2026-02-02", billed={"97110": 100}, minutes=None),
                    visit(patient_id="A", date_of_service="2026-02-09", billed={"97112": 1}, minutes=None))
    assert not therapy_line_facts(exactly, priced)["kx_missing"].any()  # $2,480.00 is not past $2,480
    for modifier in ("GP,KX", "GP,GA", "GP,GY", "GP,GZ"):
        answered = lines(visit(date_of_service="2026-02-02", billed={"97110": 100}, minutes=None),
                         visit(date_of_service="2026-02-09", billed={"97112": 2}, minutes=None,
                               modifiers={"97112": modifier}))
        assert not therapy_line_facts(answered, priced)["kx_missing"].any(), modifier


def test_amounts_accrue_in_date_order_whatever_the_input_order(priced):
    late_first = lines(visit(date_of_service="2026-03-09", billed={"97112": 2}, minutes=None),
                       visit(date_of_service="2026-02-02", billed={"97110": 100}, minutes=None))
    facts = therapy_line_facts(late_first, priced)
    assert facts["date_of_service"].dt.strftime("%Y-%m-%d").tolist() == ["2026-02-02", "2026-03-09"]
    assert facts["kx_missing"].tolist() == [False, True]


def test_assistant_units_at_85_percent_and_unpriced_codes_add_nothing(priced):
    facts = therapy_line_facts(lines(visit(billed={"97112": 2, "97161": 1}, minutes=None,
                                           modifiers={"97112": "GP,CQ"})), priced)
    by_code = facts.set_index("cpt_code")
    assert by_code.loc["97112", "allowed_cents"] == 5100  # 2 × $30.00 × 85%
    assert by_code.loc["97161", "allowed_cents"] == 0 and not by_code.loc["97161", "priced"]


def test_buckets_years_and_payers(priced):
    facts = therapy_line_facts(lines(
        visit(patient_id="A", date_of_service="2026-02-02", billed={"97110": 100}, minutes=None),
        visit(patient_id="A", date_of_service="2026-02-09", billed={"97112": 2}, minutes=None, modifiers={"97112": "GN"}),
        visit(patient_id="B", date_of_service="2026-02-02", billed={"97110": 100}, minutes=None),
        visit(patient_id="B", date_of_service="2026-02-09", billed={"97112": 2}, minutes=None, modifiers={"97112": "GO"}),
        visit(patient_id="C", date_of_service="2025-12-30", billed={"97110": 98}, minutes=None),  # $2,401 in 2025
        visit(patient_id="C", date_of_service="2026-01-02", billed={"97112": 4}, minutes=None),  # $120: not $2,521
        visit(patient_id="D", payer_type="commercial", billed={"97110": 200}, minutes=None),
        visit(patient_id="E", billed={"97110": 200}, minutes=None, modifiers={"97110": ""})), priced)
    missing = facts.loc[facts["kx_missing"], "patient_id"].tolist()
    assert missing == ["A"]  # GP and GN share one amount; GO is counted apart; a new year starts again
    assert set(facts["bucket"]) == {"PT and SLP", "OT"}
    assert "D" not in set(facts["patient_id"]) and "E" not in set(facts["patient_id"])  # no threshold; no GP/GO/GN


def test_the_review_amount_is_flagged_once_per_beneficiary_bucket_and_year(priced):
    course = [visit(date_of_service=f"2026-02-{day:02d}", billed={"97112": 20}, minutes=None,
                    modifiers={"97112": "GP,KX"}) for day in range(2, 9)]  # $600 a visit: $3,600 in all
    facts = therapy_line_facts(lines(*course), priced)
    assert facts["crosses_review_amount"].tolist() == [False, False, False, False, False, True, False]
    assert facts.loc[facts["crosses_review_amount"], "cumulative_text"].tolist() == ["3600.00"]
    assert facts.loc[facts["crosses_review_amount"], "review_text"].tolist() == ["3000.00"]


def test_earlier_nights_count_first_and_a_line_seen_again_counts_once(priced):
    earlier = lines(visit(date_of_service="2026-02-02", billed={"97110": 100}, minutes=None))
    history = TherapyHistory(therapy_amounts(earlier, priced), TherapyHistory.none().days)
    tonight = lines(visit(date_of_service="2026-02-09", billed={"97112": 2}, minutes=None))
    tonight = tonight.assign(claim_id="C-NIGHT-2")  # another claim than the earlier night's C0-0
    facts = therapy_line_facts(tonight, priced, history)
    assert len(facts) == 1 and facts["cumulative_cents"].tolist() == [251000] and facts["kx_missing"].all()
    again = pd.concat([earlier, tonight], ignore_index=True)  # the earlier line audited again tonight
    facts = therapy_line_facts(again, priced, history)
    assert facts["cumulative_cents"].tolist() == [245000, 251000]  # not 490,000: counted once


def test_a_clinic_in_a_locality_with_imported_pfs_fees_counts_its_localitys_fee(priced):
    # `nmr-audit reference import --pfs` wrote locality fees; clinics.csv names CL1's MAC and locality
    fees = pd.DataFrame({"mac": "09102", "locality": "01", "cpt_code": "97112", "nonfacility_amount": ["40.00", "41.00"],
                         "facility_amount": "30.00", "effective_from": pd.to_datetime(["2026-01-01", "2026-04-01"])})
    clinics = pd.DataFrame({"clinic_id": ["CL1"], "clinic_name": ["Lakeside"], "mac": ["09102"], "locality": ["1"],
                            "verified": [False], "source": ["test"]})
    local = replace(priced, pfs_fees=fees, clinics=clinics)
    claim_lines = lines(visit(date_of_service="2026-02-02", billed={"97112": 2, "97110": 1}, minutes=None),
                        visit(date_of_service="2026-05-04", billed={"97112": 1}, minutes=None))
    got = therapy_line_facts(claim_lines, local).set_index(["date_of_service", "cpt_code"])["allowed_cents"]
    assert got.to_dict() == {(pd.Timestamp("2026-02-02"), "97112"): 8000,  # 2 × $40.00, the locality's fee then
                             (pd.Timestamp("2026-02-02"), "97110"): 2450,  # no locality fee: the fee schedule's
                             (pd.Timestamp("2026-05-04"), "97112"): 4100}  # the April edition
    elsewhere = lines(visit(billed={"97112": 2}, minutes=None)).assign(clinic_id="CL9")  # no locality named
    assert therapy_line_facts(elsewhere, local)["allowed_cents"].tolist() == [6000]
