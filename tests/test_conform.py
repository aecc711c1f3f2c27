import pandas as pd
import pytest

from nmr_audit.conform import conform_claim_lines, conform_visit_notes
from nmr_audit.parse import BAD_VALUE, Conventions, session_minutes

NPI = "1234567893"


def claims(**overrides):
    row = {"claim_id": "C1", "line_number": "1", "patient_id": " P1 ", "date_of_service": "03/04/2026",
           "rendering_npi": NPI, "clinic_id": "CL1", "payer_type": "Medicare", "cpt_code": "97112",
           "modifiers": "gp", "units": "2", "charge_amount": "$124.00", "diagnosis_codes": "R26.81"}
    rows = [row | {"line_number": str(i + 1)} | o for i, o in enumerate(overrides.get("rows", [{}]))]
    frame = pd.DataFrame(rows, dtype="str")
    return frame.assign(source_file="claims.csv", source_row=range(2, 2 + len(frame)))


def test_clean_line_is_normalized(reference):
    result = conform_claim_lines(claims(), reference)
    line = result.rows.iloc[0]
    assert result.quarantine.empty
    assert (line["patient_id"], line["payer_type"], line["units"]) == ("P1", "medicare", 2)
    assert list(line["modifiers"]) == ["GP"]
    assert line["date_of_service"] == pd.Timestamp("2026-03-04")
    assert line["charge_amount"] == 124.0


def test_each_broken_rule_quarantines_its_row_with_a_reason_and_keeps_the_rest(reference):
    broken = [{}, {"rendering_npi": "1234567890"}, {"date_of_service": "2026-02-30"},
              {"units": "-1"}, {"units": "1.5"}, {"cpt_code": "9711"}, {"payer_type": "HMO"},
              {"claim_id": ""}, {"line_number": "0"}, {"clinic_id": "N/A"}]
    result = conform_claim_lines(claims(rows=broken), reference)
    assert len(result.rows) == 1 and len(result.quarantine) == len(broken) - 1
    reasons = result.quarantine.set_index("source_row")["reason"]
    assert "NPI check digit" in reasons[3]
    assert "'2026-02-30' is not a real date" in reasons[4]
    assert "units '-1' is not a whole number ≥ 0" in reasons[5]
    assert "units '1.5'" in reasons[6]
    assert "cpt_code '9711'" in reasons[7]
    assert "payer_type 'HMO' is not one of" in reasons[8]
    assert reasons[8].endswith("map another spelling under `values: payer_type:` in the mapping profile")
    assert reasons[9] == "claim_id is missing"
    assert "line_number '0' is not a whole number ≥ 1" in reasons[10]
    assert reasons[11] == "clinic_id is missing"
    assert result.quarantine["record"].str.contains('"rendering_npi": "1234567890"').any()
    assert result.rows["unreadable_fields"].map(len).tolist() == [0]


def test_several_problems_on_one_row_are_all_named(reference):
    result = conform_claim_lines(claims(rows=[{"units": "x", "cpt_code": ""}]), reference)
    assert result.quarantine["reason"].iloc[0] == (
        "cpt_code is missing; units 'x' is not a whole number ≥ 0")


def notes(rows):
    base = {"note_id": "N1", "patient_id": "P1", "date_of_service": "2026-03-04",
            "rendering_npi": NPI, "clinic_id": "CL1", "provider_credential": "pt",
            "time_in": "9:00", "time_out": "09:45", "total_treatment_minutes": "45",
            "signed": "Y", "one_on_one": "yes"}
    frame = pd.DataFrame([base | r for r in rows], dtype="object")
    return frame.assign(source_file="notes.jsonl", source_row=range(1, 1 + len(frame)))


def test_notes_minutes_from_services_list_and_columns_become_one_long_table(reference):
    frame = notes([
        {"note_id": "N1", "services": [{"cpt_code": "97112", "minutes": 23},
                                       {"cpt_code": "97110", "minutes": "10"},
                                       {"cpt_code": "97112", "minutes": 2}]},
        {"note_id": "N2", "services": [], "minutes_97112": "15", "minutes_97140": ""},
        {"note_id": "N3", "services": None},
    ])
    result = conform_visit_notes(frame, reference)
    services = result.services.sort_values(["note_id", "cpt_code"])
    assert services[["note_id", "cpt_code", "minutes"]].to_numpy().tolist() == [
        ["N1", "97110", 10], ["N1", "97112", 25], ["N2", "97112", 15]]
    assert result.rows["itemizes_minutes"].tolist() == [True, True, False]
    assert result.rows["provider_credential"].tolist() == ["PT"] * 3
    assert result.rows["signed"].tolist() == [True] * 3
    assert result.rows["time_in"].iloc[0] == "09:00"


def test_a_bad_optional_note_value_costs_the_field_not_the_note(reference):
    """Issue 17 a/item 2: '25:61', unreadable minutes and an unknown credential no longer set the
    note aside: each becomes missing and an entry of the note's `unreadable_fields`."""
    frame = notes([{"note_id": "N1", "time_in": "25:61", "services": [{"cpt_code": "97112", "minutes": 23}]},
                   {"note_id": "N2", "services": [{"cpt_code": "97112", "minutes": "lots"},
                                                  {"cpt_code": "97110", "minutes": 10}]},
                   {"note_id": "N3", "provider_credential": "Aide", "services": []}])
    result = conform_visit_notes(frame, reference)
    assert result.quarantine.empty and result.rows["note_id"].tolist() == ["N1", "N2", "N3"]
    rows = result.rows.set_index("note_id")
    assert pd.isna(rows.loc["N1", "time_in"]) and rows.loc["N1", "time_out"] == "09:45"
    assert list(rows.loc["N1", "unreadable_fields"]) == [
        {"column": "time_in", "value": "25:61", "expected": "a time such as 09:00, 17:45 or 9:00 AM"}]
    assert [e["column"] for e in rows.loc["N2", "unreadable_fields"]] == ["services"]
    assert '"minutes": "lots"' in rows.loc["N2", "unreadable_fields"][0]["value"]
    assert pd.isna(rows.loc["N3", "provider_credential"])
    assert rows.loc["N3", "unreadable_fields"][0]["value"] == "Aide"  # as the export wrote it
    services = result.services.sort_values(["note_id", "cpt_code"])
    assert services[["note_id", "cpt_code", "minutes"]].to_numpy().tolist() == [["N1", "97112", 23], ["N2", "97110", 10]]


def test_a_note_that_breaks_a_required_column_goes_to_quarantine_with_its_minutes_and_visit_key(reference):
    frame = notes([{"note_id": "N1", "rendering_npi": "1234567890", "services": [{"cpt_code": "97112", "minutes": 23}]},
                   {"note_id": "N2", "date_of_service": "2026-02-30", "time_in": "25:61", "services": []},
                   {"note_id": "", "services": []}])
    result = conform_visit_notes(frame, reference)
    assert result.rows.empty and result.services.empty
    held = result.quarantine
    assert held["reason"].tolist() == ["rendering_npi '1234567890' is not 10 digits with a valid NPI check digit",
                                       "date_of_service '2026-02-30' is not a real date as YYYY-MM-DD, MM/DD/YYYY "
                                       "or MM/DD/YY", "note_id is missing"]
    assert held["patient_id"].tolist() == ["P1"] * 3
    assert pd.isna(held["rendering_npi"].iloc[0]) and held["rendering_npi"].iloc[1] == NPI
    assert held["date_of_service"].iloc[0] == pd.Timestamp("2026-03-04") and pd.isna(held["date_of_service"].iloc[1])
    assert str(held["date_of_service"].dtype) == "datetime64[s]"


def test_a_bad_optional_claim_value_costs_the_field_not_the_line(reference):
    result = conform_claim_lines(claims(rows=[{"modifiers": "GP,59,KX,CQ,XU"}, {"charge_amount": "-5"},
                                              {"diagnosis_codes": "not a code"}, {"charge_amount": "12,50"}]),
                                 reference)
    assert result.quarantine.empty and len(result.rows) == 4
    entries = result.rows["unreadable_fields"].map(list)
    assert [[e["column"] for e in row] for row in entries] == [["modifiers"], ["charge_amount"], ["diagnosis_codes"],
                                                               ["charge_amount"]]
    assert pd.isna(result.rows["modifiers"].iloc[0]) and list(result.rows["modifiers"].iloc[1]) == ["GP"]
    assert result.rows["charge_amount"].isna().tolist() == [False, True, False, True]
    assert entries[3][0]["value"] == "12,50" and "decimal mark" in entries[3][0]["expected"]


def test_what_clinics_type_in_a_note_is_read(reference):
    """Issue 17 a: 9:00 AM to 9:28 AM and `23 min` of 97112 are a readable note; 17 h: a session
    from 23:40 to 00:25 lasts 45 minutes."""
    frame = notes([{"note_id": "N1", "time_in": "9:00 AM", "time_out": "9:28 AM", "minutes_97112": "23 min",
                    "total_treatment_minutes": "28 minutes", "total_timed_minutes": "23'"},
                   {"note_id": "N2", "time_in": "23:40", "time_out": "12:25 AM", "minutes_97112": "23"}])
    result = conform_visit_notes(frame, reference)
    assert result.quarantine.empty and result.rows["unreadable_fields"].map(len).tolist() == [0, 0]
    first = result.rows.iloc[0]
    assert (first["time_in"], first["time_out"], first["total_treatment_minutes"], first["total_timed_minutes"]) == (
        "09:00", "09:28", 28, 23)
    assert result.services["minutes"].tolist() == [23, 23]
    assert session_minutes(result.rows["time_in"], result.rows["time_out"]).tolist() == [28, 45]


def test_a_semicolon_export_with_decimal_commas(reference):
    """Issue 17 d: `2,5` units are never 25 and `22,5` minutes never 225. In a `;` file (`auto`)
    `2,5` units are 2.5, not whole: the line is quarantined for its units; `22,5` minutes are
    not whole either: that value is unreadable; `124,00` is an amount of 124."""
    auto = Conventions(decimal_mark="auto")
    lines = conform_claim_lines(claims(rows=[{"units": "2,5", "charge_amount": "124,00"}, {"units": "2,0"}]),
                                reference, auto)
    assert lines.quarantine["reason"].tolist() == ["units '2,5' is not a whole number ≥ 0"]
    assert lines.rows["units"].tolist() == [2] and lines.rows["charge_amount"].tolist() == [124.0]
    result = conform_visit_notes(notes([{"minutes_97112": "22,5"}]), reference, auto)
    assert result.services.empty and result.rows["unreadable_fields"].iloc[0][0]["column"] == "minutes_97112"
    comma_file = conform_claim_lines(claims(rows=[{"units": "2,5"}]), reference)  # a `,` file: ambiguous
    assert "unambiguous decimal mark" in comma_file.quarantine["reason"].iloc[0]


def test_minutes_columns_are_matched_case_insensitively_and_other_minutes_columns_are_ignored(reference):
    """Issue 17 e: a free-text `minutes_comment` no longer quarantines every note; it is ignored and
    named, and `Minutes_97112` (capital M) is read."""
    from nmr_audit.mapping import TableMapping, apply_mapping

    frame = notes([{"note_id": "N1"}]).assign(**{"Minutes_97112": "23", "minutes_comment": "pt tolerated well",
                                                 " MINUTES_g0283 ": "8"})
    result = conform_visit_notes(apply_mapping(frame, TableMapping()), reference)
    assert result.quarantine.empty and result.rows["unreadable_fields"].map(len).tolist() == [0]
    assert sorted(map(tuple, result.services[["cpt_code", "minutes"]].to_numpy().tolist())) == [
        ("97112", 23), ("G0283", 8)]
    assert result.ignored_columns == ("minutes_comment",)


def test_typed_flags_and_numbers_from_a_parquet_file(reference):
    """Issue 17 f: flags stored as 1.0/0.0 are read; a float NPI reads as its digits."""
    frame = notes([{}, {"note_id": "N2"}]).assign(
        signed=pd.Series([1.0, 0.0], dtype="Float64"), one_on_one=pd.Series([True, None], dtype="boolean"),
        rendering_npi=pd.Series([1234567893.0, 1234567893.0], dtype="Float64"),
        total_treatment_minutes=pd.Series([45.0, 30.0], dtype="Float64"))
    result = conform_visit_notes(frame, reference)
    assert result.quarantine.empty
    assert result.rows["signed"].tolist() == [True, False] and result.rows["one_on_one"].iloc[0]
    assert result.rows["rendering_npi"].tolist() == [NPI, NPI]
    assert result.rows["total_treatment_minutes"].tolist() == [45, 30]


def test_an_npi_in_fullwidth_digits_is_read_and_one_in_no_digits_is_refused(reference):
    """Issue 17 g: never a traceback."""
    result = conform_claim_lines(claims(rows=[{"rendering_npi": "１２３４５６７８９３"},
                                              {"rendering_npi": "１２３４５６７８９０"},
                                              {"rendering_npi": "NPI-😀"}]), reference)
    assert result.rows["rendering_npi"].tolist() == [NPI]
    assert result.quarantine["reason"].str.contains("NPI check digit").all()


def test_new_optional_note_columns(reference):
    frame = notes([{"supervising_npi": NPI, "progress_report": "Y", "rendering_provider_name": "Ana Ruiz, PTA",
                    "clinic_name": "West Clinic"},
                   {"note_id": "N2", "supervising_npi": "1234567890", "progress_report": "maybe"}])
    result = conform_visit_notes(frame, reference)
    rows = result.rows
    assert rows["supervising_npi"].iloc[0] == NPI and pd.isna(rows["supervising_npi"].iloc[1])
    assert rows["progress_report"].iloc[0] and pd.isna(rows["progress_report"].iloc[1])
    assert (rows["rendering_provider_name"].iloc[0], rows["clinic_name"].iloc[0]) == ("Ana Ruiz, PTA", "West Clinic")
    assert [e["column"] for e in rows["unreadable_fields"].iloc[1]] == ["supervising_npi", "progress_report"]


def test_new_optional_claim_columns(reference):
    result = conform_claim_lines(claims(rows=[{"line_control_number": " LCN-0001 ", "rendering_provider_name": "Kim",
                                               "clinic_name": "West"}]), reference)
    line = result.rows.iloc[0]
    assert (line["line_control_number"], line["rendering_provider_name"], line["clinic_name"]) == ("LCN-0001", "Kim",
                                                                                                   "West")


@pytest.mark.parametrize(("column", "required"), [("units", True), ("charge_amount", False)])
def test_a_formula_without_a_saved_value_is_a_bad_value_with_its_reason(reference, column, required):
    frame = claims(rows=[{column: BAD_VALUE + "=B2*2"}])
    result = conform_claim_lines(frame, reference, Conventions(workbook=True))
    if required:
        assert result.quarantine["reason"].iloc[0] == (
            "units '=B2*2' is not a value, not a formula without a saved result (open and save the workbook in "
            "Excel, or export values rather than formulas)")
    else:
        entry = result.rows["unreadable_fields"].iloc[0][0]
        assert (entry["column"], entry["value"]) == ("charge_amount", "=B2*2") and "formula" in entry["expected"]


def test_an_unreadable_value_is_shown_safely(reference):
    long = "=HYPERLINK(\"x\")\t\x07" + "y" * 200
    result = conform_claim_lines(claims(rows=[{"charge_amount": long}]), reference)
    shown = result.rows["unreadable_fields"].iloc[0][0]["value"]
    assert len(shown) == 80 and shown.startswith('=HYPERLINK("x")??') and "\t" not in shown


def test_missing_necessity_fields_are_not_quarantined(reference):
    result = conform_visit_notes(notes([{"functional_deficit": "N/A", "time_in": ""}]), reference)
    assert result.quarantine.empty
    assert result.rows[["functional_deficit", "time_in"]].isna().all(axis=None)


def test_unknown_is_a_rule_basis_row_not_a_payer_type_a_claim_may_carry(reference):
    result = conform_claim_lines(claims(rows=[{"payer_type": "unknown"}]), reference)
    assert result.rows.empty
    assert "payer_type 'unknown' is not one of" in result.quarantine["reason"].iloc[0]


def test_numbers_from_a_typed_file_are_checked_as_numbers(reference):
    """Parquet hands over integers and doubles: the same rules apply without parsing text."""
    typed = claims(rows=[{}, {}, {}, {}]).assign(
        units=pd.Series([2, -1, 3, None], dtype="Int64"),
        charge_amount=pd.Series([124.0, 10.0, -5.0, 1.5], dtype="Float64"),
        line_number=pd.Series([1.0, 2.0, 3.0, 4.5], dtype="Float64"))
    result = conform_claim_lines(typed, reference)
    assert result.rows["units"].tolist() == [2, 3] and result.rows["units"].dtype == "Int64"
    assert result.rows["charge_amount"].isna().tolist() == [False, True]  # -5.0: unreadable, the line kept
    assert result.rows["unreadable_fields"].iloc[1][0] == {"column": "charge_amount", "value": "-5.0",
                                                          "expected": "an amount ≥ 0"}
    reasons = result.quarantine.set_index("source_row")["reason"]
    assert reasons[3] == "units '-1' is not a whole number ≥ 0"
    assert reasons[5] == "units is missing; line_number '4.5' is not a whole number ≥ 1"
    assert '"units": null' in result.quarantine["record"].iloc[1]
