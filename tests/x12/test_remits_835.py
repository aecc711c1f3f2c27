from pathlib import Path

import pandas as pd
import pytest

from nmr_audit.errors import InputError
from nmr_audit.x12.match import match_remits
from nmr_audit.x12.remits_835 import read_835
from tests.x12.interchanges import interchange, write

FIXTURE = Path(__file__).parent / "fixtures" / "remittance_x221a1.835"


@pytest.fixture(scope="module")
def remits():
    table = read_835(FIXTURE)
    frame = table.frame
    assert table.invalid.empty and table.issues == []
    return frame


def _cells(frame, columns):
    return [[None if pd.isna(v) else v for v in row] for row in frame[columns].to_numpy().tolist()]


def test_one_row_per_adjustment_and_one_row_for_a_line_paid_without_adjustment(remits):
    lines = remits[remits["level"] == "line"]
    assert _cells(lines, ["claim_id", "cpt_code", "group_code", "carc", "adjustment_amount", "source_row"]) == [
        ["CLM-1001", "97112", "CO", "45", 23.4, 17],
        ["CLM-1001", "97112", "PR", "2", 20.0, 17],
        ["CLM-1001", "97110", "CO", "97", 62.0, 23],
        ["CLM-1001", "97110", "CO", "236", 0.0, 23],  # the second triplet of one CAS
        ["CLM-1001", "97140", None, None, None, 28],  # paid in full: one row, empty group
        ["CLM-1002", "97112", "CO", "151", 62.0, 34],
        ["CLM-1002", "97112", "CO", "45", 21.7, 34],
    ]


def test_every_listed_element_of_a_service_line(remits):
    first = remits.iloc[0]
    assert {k: first[k] for k in ("claim_id", "payer_claim_number", "claim_status", "claim_charge", "claim_paid",
                                  "patient_responsibility", "claim_filing_indicator", "line_control_number", "modifiers",
                                  "charge_amount", "paid_amount", "allowed_amount", "units_paid", "units_billed",
                                  "payer_id", "payee_npi", "check_number", "adjustment_segment")} == {
        "claim_id": "CLM-1001", "payer_claim_number": "PCN-0001", "claim_status": "1", "claim_charge": 248.0,
        "claim_paid": 160.6, "patient_responsibility": 20.0, "claim_filing_indicator": "MB",
        "line_control_number": "CLM-1001-1", "modifiers": "GP", "charge_amount": 124.0, "paid_amount": 80.6,
        "allowed_amount": 100.6, "units_paid": 2.0, "units_billed": 2.0, "payer_id": "MCR01",
        "payee_npi": "1234567893", "check_number": "12345", "adjustment_segment": 19}
    assert first["date_of_service"] == pd.Timestamp("2026-01-05")
    assert first["payment_date"] == pd.Timestamp("2026-02-15")


def test_units_paid_default_to_one_and_units_billed_come_from_svc07(remits):
    services = remits[remits["level"] == "line"].drop_duplicates("source_row").set_index("source_row")
    assert services.loc[28, ["units_paid", "units_billed"]].tolist() == [1.0, 1.0]  # SVC05 empty: 1
    assert services.loc[23, ["units_paid", "units_billed"]].tolist() == [0.0, 1.0]  # denied: none paid of one
    assert services.loc[34, ["units_paid", "units_billed"]].tolist() == [1.0, 2.0]  # reduced: 1 of 2 (SVC07)
    assert services.loc[34, "submitted_cpt_code"] == "97112"  # SVC06


def test_remark_codes_reversals_claim_level_and_provider_level_adjustments(remits):
    denied = remits[remits["source_row"] == 23]
    assert set(denied["rarcs"]) == {"M80"}
    reversal = remits[remits["claim_id"] == "CLM-0900"]
    assert _cells(reversal, ["level", "claim_status", "group_code", "carc", "adjustment_amount", "rarcs"]) == [
        ["claim", "22", "CR", "50", -12.0, "MA01"]]
    provider = remits[remits["level"] == "provider"]
    assert _cells(provider, ["plb_reason", "plb_reference", "adjustment_amount", "payee_npi"]) == [
        ["WO", "PCN-0777", -55.2, "1234567893"], ["L6", None, 1.1, "1234567893"]]
    assert provider["payment_date"].tolist() == [pd.Timestamp("2026-12-31")] * 2  # PLB02, the fiscal period date


def test_a_bad_amount_or_group_is_an_invalid_row_and_the_rest_is_read(tmp_path):
    body = ["BPR*I*1*C*ACH", "TRN*1*9*1512345678", "N1*PR*PAYER", "N1*PE*CLINIC*XX*1234567893", "LX*1",
            "CLP*C1*1*62*x*0*MB*P1", "SVC*HC:97112*62*40**1", "CAS*CO*45*22",
            "CLP*C2*1*62*40*0*MB*P2", "SVC*HC:97112*62*40**1", "CAS*ZZ*45*22", "SVC*HC:97110*58*58**1"]
    table = read_835(write(tmp_path / "era.txt", interchange(body, transaction="835", version="005010X221A1")))
    frame = table.frame
    assert _cells(frame, ["claim_id", "cpt_code"]) == [["C2", "97112"], ["C2", "97110"]]
    reasons = table.invalid["reason"].tolist()
    assert reasons == ["segment 10: claim_paid (CLP04) is not a number", "CAS at segment 14: group code 'ZZ' is "
                       "not one of CO, CR, OA, PI, PR"]


def test_an_837_given_as_remittance_is_refused(tmp_path):
    with pytest.raises(InputError, match="not 835 remittances"):
        read_835(Path(__file__).parent / "fixtures" / "therapy_claims_x222a1.837")


def _claim_lines():
    return pd.DataFrame({
        "claim_id": ["CLM-1001", "CLM-1001", "CLM-1001", "CLM-1002", "CLM-1002"],
        "line_number": [1, 2, 3, 1, 2],
        "cpt_code": ["97112", "97110", "97140", "97112", "97112"],
        "modifiers": [["GP"], ["GP", "59"], ["GP"], ["GP"], ["GP", "CQ"]],
        "date_of_service": pd.to_datetime(["2026-01-05"] * 3 + ["2026-01-06"] * 2).astype("datetime64[s]"),
        "line_control_number": ["CLM-1001-1", "CLM-1001-2", None, None, None],
    })


def test_remits_match_by_line_control_number_else_procedure_and_date(remits):
    lines = _claim_lines()
    before = lines.copy()
    matched, unmatched = match_remits(remits, lines)
    pd.testing.assert_frame_equal(lines, before)  # the input is not changed
    services = matched[matched["level"] == "line"].drop_duplicates("source_row")
    assert _cells(services, ["source_row", "line_number", "matched_by"]) == [
        [17, 1, "line_control_number"], [23, 2, "line_control_number"], [28, 3, "procedure_date"],
        [34, 1, "procedure_date_modifiers"],  # two 97112 lines that day: the GP one, not GP,CQ
    ]
    assert matched.loc[matched["level"] == "claim", "matched_by"].isna().all()  # CLM-0900 is no claim of ours
    assert matched.loc[matched["level"] == "provider", "line_number"].isna().all()
    assert unmatched.empty


def test_unmatched_lines_are_listed_with_their_reason(remits):
    lines = _claim_lines()
    lines = lines[lines["claim_id"] == "CLM-1001"].assign(
        line_control_number=None, modifiers=[["GP"], ["GP"], ["GP"]], cpt_code=["97035", "97530", "97530"])
    _, unmatched = match_remits(remits, lines)
    assert _cells(unmatched, ["source_row", "claim_id", "cpt_code", "reason"]) == [
        [17, "CLM-1001", "97112", "no claim line of the claim has this line control number (REF*6R), or this "
         "procedure and date of service"],
        [23, "CLM-1001", "97110", "no claim line of the claim has this line control number (REF*6R), or this "
         "procedure and date of service"],
        [28, "CLM-1001", "97140", "no claim line of the claim has this line control number (REF*6R), or this "
         "procedure and date of service"],
        [34, "CLM-1002", "97112", "no claim line has this claim id (CLP01)"],
    ]


def test_several_lines_that_modifiers_cannot_tell_apart_are_ambiguous(remits):
    lines = _claim_lines().assign(line_control_number=None)
    lines.loc[4, "modifiers"] = ["GP"]
    _, unmatched = match_remits(remits, lines)
    row = unmatched[unmatched["source_row"] == 34]
    assert row["reason"].iloc[0].startswith("several claim lines of the claim have this procedure and date")
