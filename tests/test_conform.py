import pandas as pd

from nmr_audit.conform import conform_claim_lines, conform_visit_notes

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
              {"claim_id": ""}, {"line_number": "0"}, {"modifiers": "GP,59,KX,CQ,XU"}]
    result = conform_claim_lines(claims(rows=broken), reference)
    assert len(result.rows) == 1 and len(result.quarantine) == len(broken) - 1
    reasons = result.quarantine.set_index("source_row")["reason"]
    assert "NPI check digit" in reasons[3]
    assert "'2026-02-30' is not a real date" in reasons[4]
    assert "units '-1' is not a whole number ≥ 0" in reasons[5]
    assert "units '1.5'" in reasons[6]
    assert "cpt_code '9711'" in reasons[7]
    assert "payer_type 'hmo' is not one of" in reasons[8]
    assert reasons[9] == "claim_id is missing"
    assert "line_number '0' is not a whole number ≥ 1" in reasons[10]
    assert "modifiers" in reasons[11]
    assert result.quarantine["record"].str.contains('"rendering_npi": "1234567890"').any()


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


def test_bad_note_goes_to_quarantine_with_its_minutes(reference):
    frame = notes([{"note_id": "N1", "time_in": "25:61",
                    "services": [{"cpt_code": "97112", "minutes": 23}]},
                   {"note_id": "N2", "services": [{"cpt_code": "97112", "minutes": "lots"}]},
                   {"note_id": "N3", "provider_credential": "Aide", "services": []}])
    result = conform_visit_notes(frame, reference)
    assert result.rows.empty and result.services.empty
    reasons = result.quarantine["reason"].tolist()
    assert "time_in '25:61' is not a 24-hour time HH:MM" in reasons[0]
    assert "minutes are not a whole number" in reasons[1]
    assert "provider_credential 'AIDE' is not one of" in reasons[2]


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
    assert result.rows["units"].tolist() == [2] and result.rows["units"].dtype == "Int64"
    assert result.rows["charge_amount"].tolist() == [124.0]
    reasons = result.quarantine.set_index("source_row")["reason"]
    assert reasons[3] == "units '-1' is not a whole number ≥ 0"
    assert reasons[4] == "charge_amount '-5.0' is not an amount ≥ 0"
    assert reasons[5] == "units is missing; line_number '4.5' is not a whole number ≥ 1"
    assert '"units": null' in result.quarantine["record"].iloc[2]
