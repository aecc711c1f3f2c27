from pathlib import Path

import pandas as pd
import pytest

from nmr_audit.errors import InputError
from nmr_audit.x12 import envelope
from nmr_audit.x12.claims_837 import ClaimOptions, read_837
from tests.x12.interchanges import (
    BILLING_NPI,
    FACILITY_NPI,
    HEADER_837,
    RENDERING_2310B,
    RENDERING_2420A,
    claim,
    interchange,
    line,
    subscriber,
    write,
)

FIXTURE = Path(__file__).parent / "fixtures" / "therapy_claims_x222a1.837"


def _rows(table):
    frame = table.frame
    return {(c, n): r for c, n, r in zip(frame["claim_id"], frame["line_number"], frame.to_dict("records"), strict=True)}


def test_every_element_of_the_fixture_maps_to_its_contract_column():
    table = read_837(FIXTURE)
    rows = _rows(table)
    assert set(rows) == {("CLM-1001", "1"), ("CLM-1001", "2"), ("CLM-1002", "1")}
    first = rows[("CLM-1001", "1")]
    assert {k: first[k] for k in ("patient_id", "date_of_service", "rendering_npi", "clinic_id", "payer_type",
                                  "payer_id", "cpt_code", "modifiers", "units", "charge_amount", "diagnosis_codes",
                                  "line_control_number", "claim_frequency", "claim_filing_indicator",
                                  "source_row")} == {
        "patient_id": "MBR0001",  # 2010BA NM109, not the 2330A other subscriber's OTHER999
        "date_of_service": "2026-01-05",  # DTP*472 D8
        "rendering_npi": RENDERING_2310B,  # 2310B: the line has no 2420A
        "clinic_id": BILLING_NPI,
        "payer_type": "medicare",  # SBR09 MB, not the 2320 SBR's CI
        "payer_id": "MCR01",  # 2010BB, not 2330B's OTH1
        "cpt_code": "97112", "modifiers": "GP", "units": "2", "charge_amount": "124",
        "diagnosis_codes": "R2681;I69351",  # SV107 1:2 through HI ABK/ABF, as given
        "line_control_number": "CLM-1001-1", "claim_frequency": "1", "claim_filing_indicator": "MB",
        "source_row": 35,  # the SV1's segment number (ISA = 1)
    }
    second = rows[("CLM-1001", "2")]
    assert second["rendering_npi"] == RENDERING_2420A  # 2420A wins over 2310B
    assert second["modifiers"] == "GP,59"
    assert second["diagnosis_codes"] == "I69351"
    assert second["source_row"] == 39
    dependent = rows[("CLM-1002", "1")]
    assert dependent["patient_id"] == "MBR0002"  # 2000C carries no id in 5010: the subscriber's member id
    assert dependent["rendering_npi"] == BILLING_NPI  # no 2310B, no 2420A: the billing provider
    assert dependent["payer_type"] == "medicare_advantage"  # SBR09 16
    assert pd.isna(dependent["line_control_number"])


def test_a_unit_basis_other_than_un_refuses_the_line_with_its_segment_and_the_rest_is_read():
    table = read_837(FIXTURE)
    assert len(table.frame) == 3  # rows, invalid rows and issues are complete once the batches are read
    assert table.rows == 3
    invalid = table.invalid
    assert invalid["source_row"].tolist() == [62]
    reason = invalid["reason"].iloc[0]
    assert reason.startswith("SV1 at segment 62:") and "SV103 is 'MJ', not UN" in reason
    assert "SV1*HC:97112:GP*30*MJ*23***1" in invalid["record"].iloc[0]
    assert table.rows_read == 4
    assert table.issues == []


@pytest.mark.parametrize(("setting", "expected"), [
    ("member_id", ["MBR0001", "MBR0001", "MBR0002"]),
    ("medical_record_number", ["MRN-77", "MRN-77", None]),
    ("claim_id", ["CLM-1001", "CLM-1001", "CLM-1002"]),
])
def test_the_mapping_profile_chooses_the_patient_id(setting, expected):
    frame = read_837(FIXTURE, ClaimOptions.from_settings({"patient_id": setting})).frame
    assert [None if pd.isna(v) else v for v in frame["patient_id"]] == expected


def test_clinic_from_the_service_facility_falls_back_to_the_billing_provider():
    frame = read_837(FIXTURE, ClaimOptions(clinic_id="service_facility_npi")).frame
    assert frame["clinic_id"].tolist() == [FACILITY_NPI, FACILITY_NPI, BILLING_NPI]


def test_unknown_x12_settings_are_refused():
    with pytest.raises(ValueError, match="patient_id"):
        ClaimOptions.from_settings({"patient_id": "ssn"})
    with pytest.raises(ValueError, match="unknown x12 setting"):
        ClaimOptions.from_settings({"payer": "x"})


def test_the_payer_table_takes_precedence_over_the_filing_indicator():
    payers = pd.DataFrame({"payer_id": ["MA-SUN"], "payer_type": ["commercial"]})
    frame = read_837(FIXTURE, payers=payers).frame
    assert frame["payer_type"].tolist() == ["medicare", "medicare", "commercial"]


def _file(tmp_path, body, name="claims.837", **kwargs):
    return write(tmp_path / name, interchange([*HEADER_837, *body], **kwargs))


def test_a_filing_indicator_without_payer_type_quarantines_its_lines(tmp_path):
    path = _file(tmp_path, [*subscriber(2, "09", "M1", "SELF"), claim("C1"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "1")])
    table = read_837(path)
    assert table.frame.empty
    assert "SBR09 '09'" in table.invalid["reason"].iloc[0]
    assert "claim_filing_indicators.csv" in table.invalid["reason"].iloc[0]


def test_a_replacement_supersedes_the_earlier_claim_and_a_void_removes_it(tmp_path):
    body = [*subscriber(2, "MB", "M1", "MCR01"),
            claim("C9"), "HI*ABK:R2681", *line(1, "97112:GP", "93", "3"),
            claim("C8"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "1"),
            claim("C9", frequency="7"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "2"),
            claim("C8", frequency="8"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "1")]
    table = read_837(_file(tmp_path, body))
    frame = table.frame
    assert frame[["claim_id", "units", "claim_frequency"]].to_numpy().tolist() == [["C9", "2", "7"]]
    reasons = dict(zip(table.invalid["source_row"], table.invalid["reason"], strict=True))
    assert len(reasons) == 3
    original_c9 = min(reasons)
    assert "replaced by the claim with the same CLM01 at segment" in reasons[original_c9]
    assert "(CLM05-3 = 7)" in reasons[original_c9]
    assert sum("voided by the claim" in r for r in reasons.values()) == 1
    assert sum("a void (CLM05-3 = 8)" in r for r in reasons.values()) == 1


def test_the_errata_release_is_read_and_other_guides_are_refused(tmp_path):
    body = [*subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "1")]
    errata = read_837(_file(tmp_path, body, version="005010X222A2"))
    assert errata.frame["claim_id"].tolist() == ["C1"]
    with pytest.raises(InputError, match="004010X098A1"):
        read_837(_file(tmp_path, body, name="old.837", version="004010X098A1"))
    with pytest.raises(InputError, match=r"not 837 claims.*--remits"):
        read_837(write(tmp_path / "remit.835", interchange(["BPR*I*0*C*NON"], transaction="835",
                                                           version="005010X221A1")))


def test_a_file_that_is_no_interchange_or_is_truncated_is_one_input_error(tmp_path):
    with pytest.raises(InputError, match="does not start with an ISA"):
        read_837(write(tmp_path / "claims.txt", "claim_id,line_number\nC1,1\n"))
    whole = FIXTURE.read_text()
    cut = write(tmp_path / "cut.837", whole[: len(whole) // 2])
    with pytest.raises(InputError, match="truncated") as caught:
        read_837(cut)
    assert "\n" not in str(caught.value)
    no_trailers = write(tmp_path / "no_trailers.837", whole.replace("SE*62*0001~\nGE*1*1~\n", ""))
    with pytest.raises(InputError, match="ST \\(transaction set\\) without its SE"):
        len(read_837(no_trailers).frame)


def test_trailer_count_mismatches_are_reported_while_the_lines_are_read(tmp_path):
    body = [*subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "1")]
    table = read_837(_file(tmp_path, body, se_count=5, ge_count=2, iea_count=3))
    assert table.frame["claim_id"].tolist() == ["C1"]
    codes = [issue.code for issue in table.issues]
    assert codes == ["se_count", "ge_count", "iea_count"]
    assert [issue.message for issue in table.issues] == [
        f"SE01 says 5 segments in transaction set 0001; it has {len(HEADER_837) + len(body) + 2} (ST … SE)",
        "GE01 says 2 transaction sets in group 1; it has 1",
        "IEA01 says 3 functional groups in interchange 000000905; it has 1",
    ]


def test_trailer_control_numbers_that_do_not_match_their_openers_are_reported(tmp_path):
    body = [*subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "1")]
    count = len(HEADER_837) + len(body) + 2
    text = interchange([*HEADER_837, *body]).replace(f"SE*{count}*0001", f"SE*{count}*0002")
    text = text.replace("GE*1*1~", "GE*1*7~").replace("IEA*1*000000905", "IEA*1*000000906")
    table = read_837(write(tmp_path / "controls.837", text))
    assert table.frame["claim_id"].tolist() == ["C1"]  # the envelope is checked as the lines are read
    assert [(issue.code, issue.message) for issue in table.issues] == [
        ("se_control", "SE02 '0002' does not match ST02 '0001'"),
        ("ge_control", "GE02 '7' does not match GS06 '1'"),
        ("iea_control", "IEA02 '000000906' does not match ISA13 '000000905'"),
    ]


@pytest.mark.parametrize(("segments", "reason"), [
    (["LX*1", "SV1*HC:97112:GP*62*UN*1***1"], "no date of service (DTP*472)"),
    (["LX*1", "SV1*ER:97112*62*UN*1***1", "DTP*472*D8*20260105"], "SV101-1 is 'ER', not HC"),
    (["LX*1", "DTP*472*D8*20260105"], "has no SV1"),
    (["LX*1", "SV1*HC:97112:GP*62*UN*1***1", "DTP*472*RD8*20260105-20260109"], "is a range"),
])
def test_a_bad_service_line_is_an_invalid_row_and_the_next_line_is_read(tmp_path, segments, reason):
    body = [*subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*ABK:R2681", *segments,
            *line(2, "97110:GP", "58", "1")]
    table = read_837(_file(tmp_path, body))
    assert table.frame["line_number"].tolist() == ["2"]
    assert reason in table.invalid["reason"].iloc[0]


def test_a_service_line_outside_any_claim_is_refused(tmp_path):
    table = read_837(_file(tmp_path, [*subscriber(2, "MB", "M1", "MCR01"), *line(1, "97112:GP", "62", "1")]))
    assert table.frame.empty
    assert "outside any claim" in table.invalid["reason"].iloc[0]


def test_a_one_day_range_is_the_date_and_a_bad_pointer_costs_only_that_code(tmp_path):
    body = [*subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*ABK:R2681*ABF:G20A1*BG:01",
            "LX*1", "SV1*HC:97112:GP*62*UN*1***1:4", "DTP*472*RD8*20260105-20260105"]
    table = read_837(_file(tmp_path, body))
    row = table.frame.iloc[0]
    assert (row["date_of_service"], row["diagnosis_codes"], row["diagnosis_pointers"]) == ("2026-01-05", "R2681", "1:4")
    assert [i.code for i in table.issues] == ["diagnosis_pointer"]


def test_icd9_qualifiers_are_kept_as_given(tmp_path):
    body = [*subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*BK:0340*BF:V7389", *line(1, "97112:GP", "62", "1", "2")]
    assert read_837(_file(tmp_path, body)).frame["diagnosis_codes"].tolist() == ["V7389"]


def test_other_delimiters_line_breaks_and_a_bom_are_read(tmp_path):
    text = FIXTURE.read_text().replace("~\n", "\r\n")
    text = text.replace("*", "|").replace(":", "^").replace("|^|", "|:|")
    isa = text.split("\r\n", 1)[0]
    fixed = isa[:104] + "^" + isa[105:]  # ISA16: the component separator
    path = tmp_path / "claims.txt"
    path.write_bytes(b"\xef\xbb\xbf" + (fixed + "\r\n" + text.split("\r\n", 1)[1]).encode())
    head = envelope.sniff(path)
    assert (head.delimiters.element, head.delimiters.component, head.delimiters.segment) == ("|", "^", "\r")
    assert (head.transaction, head.version) == ("837", "005010X222A1")
    frame = read_837(path).frame
    assert frame["modifiers"].tolist() == ["GP", "GP,59", "GP"]
    assert frame["source_row"].tolist() == [35, 39, 59]


def test_small_blocks_and_batches_give_the_same_rows(tmp_path, monkeypatch):
    whole = read_837(FIXTURE)
    expected = whole.frame
    monkeypatch.setattr(envelope, "BLOCK_CHARS", 7)
    table = read_837(FIXTURE)
    parts = list(table.batches(1))
    assert [len(p) for p in parts] == [1, 1, 1, 0]
    got = pd.concat(parts, ignore_index=True).drop(columns="source_file")
    pd.testing.assert_frame_equal(got, expected.drop(columns="source_file"))
    assert table.invalid["source_row"].tolist() == [62]


def test_a_line_break_as_segment_terminator_and_content_not_name_decide(tmp_path):
    text = FIXTURE.read_text().replace("~\n", "\n")
    isa = text.split("\n", 1)[0]
    path = write(tmp_path / "claims.edi", isa[:105] + "\n" + text.split("\n", 1)[1])
    assert envelope.sniff(path).delimiters.segment == "\n"
    assert read_837(path).frame["claim_id"].tolist() == ["CLM-1001", "CLM-1001", "CLM-1002"]
    assert envelope.sniff(write(tmp_path / "claims.837", "claim_id,line_number\n")) is None


def test_the_mapping_profile_x12_section_is_checked(tmp_path):
    from nmr_audit.io.mapping_file import load_mapping

    good = tmp_path / "good.yaml"
    good.write_text("claim_lines:\n  x12:\n    patient_id: medical_record_number\n")
    assert ClaimOptions.from_settings(load_mapping(good).claim_lines.x12).patient_id == "medical_record_number"
    bad = tmp_path / "bad.yaml"
    bad.write_text("claim_lines:\n  x12:\n    patient_id: ssn\n")
    with pytest.raises(InputError, match=r"claim_lines\.x12\.patient_id is 'ssn'"):
        load_mapping(bad)
