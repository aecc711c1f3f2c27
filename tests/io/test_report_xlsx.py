"""report.xlsx opened with openpyxl: sheets, headers, filters, formats, and cells that cannot run."""

import datetime
import json

import openpyxl
import pandas as pd
import pytest

from nmr_audit.denial import claim_risk
from nmr_audit.io.report_xlsx import EXCEL_CELL_CHARS, MONEY_FORMAT, fit_cell, write_workbook
from nmr_audit.io.report_xlsx import workbook as cut_sheets
from nmr_audit.report_data import build_report_data
from nmr_audit.rules import rule as registered
from nmr_audit.visits import reconcile_visits
from tests.builders import tables, visit
from tests.test_rules import audit

FORMULA = "=SUM(1,2)"


@pytest.fixture(scope="module")
def workbook(reference, tmp_path_factory):
    cases = [visit(patient_id=FORMULA, billed={"97112": 3}, minutes={"97112": 20}),
             visit(patient_id="P2", billed={"97112": 1}, note=False),
             visit(patient_id="@cmd", billed={"97112": 2}, minutes={"97112": 30},
                   note_fields={"techniques": "-Epley", "signed": False})]
    findings = audit(reference, *cases)
    visits = reconcile_visits(*tables(*cases), reference)
    line_once = round(float(findings.groupby(["claim_id", "line_number"])["dollars_at_risk"].max().sum()), 2)
    summary = {"totals": {"claim_lines": {"rows_audited": 3, "rows_quarantined": 1}},
               "findings": {"dollars_at_risk": line_once}}
    quarantine = pd.DataFrame({"table": ["claim_lines"], "source_file": ["claims.csv"], "source_row": [9],
                               "reason": ["units '-1' is not a whole number ≥ 0"],
                               "record": [json.dumps({"claim_id": "=1+1", "units": "-1"})]})
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    data = build_report_data(summary, visits, findings, 3, quarantine=quarantine)
    write_workbook(path, cut_sheets(data, findings, claim_risk(findings, reference.denial_weights), visits,
                                    {"run_id": "r1"}))
    return openpyxl.load_workbook(path), findings, data


def test_sheets_and_headers(workbook):
    book, findings, _ = workbook
    assert book.sheetnames == ["Summary", "Rules", "Findings", "Claims at risk", "Visits", "By clinic and rule",
                               "Quarantine", "Unreadable fields"]
    sheet = book["Findings"]
    columns = list(findings.columns)
    assert [c.value for c in sheet[1]] == [*columns[:columns.index("message") + 1], "explanation",
                                           *columns[columns.index("message") + 1:]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert sheet.max_row == len(findings) + 1 and sheet.column_dimensions["M"].width >= 20
    assert book["Summary"]["A1"].value == "nmr-audit denial-risk workbook"


def test_formula_looking_values_are_inert_text(workbook):
    book, _, _ = workbook
    for name in ("Findings", "Visits"):
        cells = [c for row in book[name].iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
        assert not any(c.data_type == "f" for c in cells)
        texts = {c.value for c in cells}
        assert "'" + FORMULA in texts and FORMULA not in texts and "'@cmd" in texts


def test_numbers_and_dates_stay_typed(workbook):
    book, _, _ = workbook
    sheet = book["Findings"]
    header = [c.value for c in sheet[1]]
    row = [c.value for c in sheet[2]]
    assert isinstance(row[header.index("date_of_service")], datetime.datetime)
    money = [r[header.index("dollars_at_risk")].value for r in sheet.iter_rows(min_row=2)]
    assert any(isinstance(m, float) and m > 0 for m in money)


def test_long_sheets_stop_at_the_cap_and_the_summary_says_so(reference, tmp_path):
    cases = [visit(patient_id=f"P{n}", billed={"97112": 3}, minutes={"97112": 20}) for n in range(4)]
    findings = audit(reference, *cases)
    visits = reconcile_visits(*tables(*cases), reference)
    summary = {"totals": {"claim_lines": {"rows_audited": 4, "rows_quarantined": 0}},
               "findings": {"dollars_at_risk": float(findings["dollars_at_risk"].sum())}}
    path = write_workbook(tmp_path / "report.xlsx", cut_sheets(
        build_report_data(summary, visits, findings, 4), findings, claim_risk(findings, reference.denial_weights),
        visits, {"run_id": "r1"}, rows=2))
    book = openpyxl.load_workbook(path)
    assert len(findings) > 2 and book["Findings"].max_row == 3  # header + the first two
    assert [c.value for c in book["Findings"]["A"][1:]] == list(findings["finding_id"][:2])
    notes = [row[0].value for row in book["Summary"].iter_rows() if row[0].value and "first 2 of" in str(row[0].value)]
    assert any("(all rows are in findings.parquet)" in n for n in notes)
    assert any(n.startswith("Findings: first 2 of") for n in notes)
    assert any(n.startswith("Claims at risk: first 2 of 4") for n in notes)


def _rows(sheet):
    return {row[0].value: row for row in sheet.iter_rows() if row[0].value is not None}


def test_summary_has_currency_and_percent_and_says_why_rules_add_to_more(workbook):
    book, _, data = workbook
    rows = _rows(book["Summary"])
    money = rows["Dollars at risk (each claim line once)"][1]
    assert money.value == data.headline["dollars_at_risk"] and "$" in money.number_format
    share = rows["Share of visits with a high-severity finding"][1]
    assert share.number_format == "0.0%" and 0 < share.value < 1
    assert rows["Findings"][1].number_format == "#,##0"
    overlap = data.overlap
    assert overlap["difference"] > 0 and overlap["lines_with_several_rules"] >= 1  # the fixture's first visit
    note = next(text for text in rows if isinstance(text, str) and text.startswith("The rules' own dollars"))
    assert f"${overlap['difference']:,.2f} more than the headline" in note and "counts each claim line once" in note
    total = rows["all rules (lines counted once per rule)"]
    assert total[3].value == pytest.approx(overlap["per_rule_dollars"]) and "$" in total[3].number_format
    rule = rows["UNITS_EXCEED_TIME"]
    assert "$" in rule[3].number_format and rule[5].value == registered("UNITS_EXCEED_TIME").fix


def test_visits_sheet_names_why_and_which_rules_put_each_visit_there(workbook):
    book, findings, _ = workbook
    sheet = book["Visits"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["why_listed", "rules"]
    rows = [dict(zip(header, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
    by_patient = {r["patient_id"].lstrip("'"): r for r in rows}
    assert by_patient["P2"]["why_listed"] == "1 97112 unit(s) beyond the minutes; no note; findings: NO_NOTE"
    assert by_patient["P2"]["rules"] == "NO_NOTE"
    formula = by_patient[FORMULA]
    assert formula["why_listed"].startswith("2 97112 unit(s) beyond the minutes; findings: ")  # 20 min support 1 of 3
    expected = set(findings.loc[findings["patient_id"] == FORMULA, "rule_id"])
    assert set(formula["rules"].split(", ")) == expected


def test_clinic_and_rule_sheet_has_dollars_findings_and_totals(workbook):
    book, findings, data = workbook
    rows = list(book["By clinic and rule"].iter_rows(values_only=True))
    header = rows[0]
    assert header[0] == "clinic_id" and header[-1] == "all rules: dollars at risk (each line once)"
    clinic = next(r for r in rows if r[0] == "CL1")
    assert clinic[-1] == pytest.approx(data.by_clinic["dollars_at_risk"].sum())
    total = next(r for r in rows if r[0] == "total")
    per_rule = findings.groupby("rule_id")["dollars_at_risk"].sum()
    for column, name in enumerate(header[1:-1], start=1):
        assert total[column] == pytest.approx(float(per_rule[name.split(" (")[0]]))
    counts = rows[rows.index(total) + 3:]  # the findings block after the note and a blank row
    assert counts[0][-1] == "all rules: findings" and counts[1][-1] == len(findings)


def test_quarantine_sheet_shows_file_line_reason_and_inert_cells(workbook):
    book, _, _ = workbook
    rows = list(book["Quarantine"].iter_rows(values_only=True))
    assert rows[0] == ("table", "source_file", "source_row", "reason", "cells")
    assert rows[1][:3] == ("claim_lines", "claims.csv", 9) and rows[1][4] == "claim_id: =1+1 · units: -1"
    assert not any(c.data_type == "f" for row in book["Quarantine"].iter_rows() for c in row)
    assert book["Unreadable fields"]["A2"].value.startswith("No unreadable optional value")


def test_a_value_past_excels_limit_is_cut_with_a_visible_marker(reference, tmp_path):
    cases = [visit(patient_id="P1", billed={"97112": 2}, note=False)]
    findings = audit(reference, *cases)
    findings = findings.assign(message="x" * 40_000)
    visits = reconcile_visits(*tables(*cases), reference)
    summary = {"totals": {}, "findings": {"dollars_at_risk": 0.0}}
    path = write_workbook(tmp_path / "r.xlsx", cut_sheets(build_report_data(summary, visits, findings, 1), findings,
                                                          claim_risk(findings, reference.denial_weights), visits, {}))
    sheet = openpyxl.load_workbook(path)["Findings"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("message") + 1).value
    assert len(cell) <= EXCEL_CELL_CHARS and cell.startswith("x" * 1000)
    assert cell.endswith("more characters; the whole value is in findings.parquet]")
    assert "[cut: 14,767 more characters" in fit_cell("y" * 40_000 + "z" * 7_414, "findings.parquet")
    assert fit_cell("short") == "short"


def test_a_nightly_workbook_has_its_sheet_since_the_last_night(workbook, reference, tmp_path):
    from dataclasses import replace

    from nmr_audit.since_last_night import since_last_night

    _, findings, data = workbook
    standing = pd.concat([findings.head(1), findings.head(1).assign(finding_id="F-GONE", claim_id="CLM-RESOLVED",
                                                                    dollars_at_risk=40.0)], ignore_index=True)
    touched = standing[["patient_id", "date_of_service"]].drop_duplicates()
    earlier = pd.DataFrame({"run_id": ["r0", "r1"], "as_of": ["2026-11-20", "2026-11-21"], "findings": [4, 2],
                            "dollars_at_risk": [80.0, 20.0], "new_findings": [None, 1],
                            "new_dollars_at_risk": [None, 5.0], "resolved_findings": [None, 3],
                            "resolved_dollars_at_risk": [None, 60.0]})
    since = since_last_night(findings, 99.0, "r2", "2026-11-22", {"run_id": "r1", "as_of": "2026-11-21"}, None,
                             standing.assign(first_run_id="r0", first_as_of="2026-11-20"), touched,
                             pd.Timestamp("2026-01-01"), earlier, 30)
    path = tmp_path / "report.xlsx"
    nightly = replace(data, since_last_night=since)
    visits = reconcile_visits(*tables(visit(patient_id="X")), reference)
    cut = cut_sheets(nightly, findings, claim_risk(findings, reference.denial_weights), visits, {"run_id": "r2"})
    assert cut.data.since_last_night is None  # the frames travel cut, in `since`, to the workbook's process
    write_workbook(path, cut)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["Summary", "Since last night"]
    sheet = book["Since last night"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    figures = {r[0]: r[1] for r in rows if r and r[0]}
    assert figures["Compared with run"] == "r1" and figures["New findings"] == len(findings) - 1
    assert figures["Findings resolved"] == 1 and figures["Resolved: dollars no longer at risk"] == 40.0
    assert sheet.cell(row=[r[0] for r in rows].index("Resolved: dollars no longer at risk") + 1, column=2) \
        .number_format == MONEY_FORMAT
    nights = [r for r in rows if r[1] in ("r0", "r1", "r2") and str(r[0]).startswith("2026-")]
    assert [r[0] for r in nights] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert [r[3] for r in nights] == [80.0, 20.0, 99.0] and nights[0][4] is None and nights[1][7] == 60.0
    resolved_at = [r[0] for r in rows].index("Resolved findings (1)")
    assert rows[resolved_at + 1][:2] == ["finding_id", "rule_id"] and rows[resolved_at + 2][0] == "F-GONE"
    assert len(sheet._charts) == 1
    assert "Since last night" not in openpyxl.load_workbook(_plain(data, findings, reference, tmp_path)).sheetnames


def _plain(data, findings, reference, tmp_path):
    path = tmp_path / "plain.xlsx"
    visits = reconcile_visits(*tables(visit(patient_id="X")), reference)
    write_workbook(path, cut_sheets(data, findings, claim_risk(findings, reference.denial_weights), visits, {}))
    return path


def test_findings_about_units_carry_their_visits_explanation_and_the_allotment_reads_in_words(workbook):
    book, _, _ = workbook
    sheet = book["Findings"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    over = next(r for r in rows if r["rule_id"] == "UNITS_EXCEED_TIME")
    assert over["explanation"] == "cms: 97112 alone, 20 timed min → 1 unit; 97112 gets 1 full unit (no unit is left " \
        "over for its 5 min remaining); billed 97112 3 → 2 over; all timed codes billed 3 against 1 → 2 over"
    no_note = next(r for r in rows if r["rule_id"] == "NO_NOTE")
    assert no_note["explanation"].startswith("no note documents this visit")
    assert all(r["explanation"] is None for r in rows if r["rule_id"] in ("NOTE_UNSIGNED", "CANALITH_AS_97112"))
    visits = book["Visits"]
    header = [c.value for c in visits[1]]
    allotments = [row[header.index("allotment")].value for row in visits.iter_rows(min_row=2)]
    assert "97112 20 min → 1" in allotments and "explanation" in header


def test_a_visit_whose_units_were_not_checked_is_listed_as_such_never_as_beyond_the_minutes():
    """Newcomer's report: a visit whose note was quarantined read "2 97112 unit(s) beyond the
    minutes; no note; findings: NOTE_QUARANTINED" on the Visits sheet."""
    from nmr_audit.io.report_xlsx import _why_listed

    listed = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "date_of_service": pd.to_datetime(["2026-03-04"] * 3),
                           "rendering_npi": ["1234567893"] * 3, "note_id": [None, None, "N3"],
                           "excess_units_97112": [2, 1, 1], "note_quarantined": [True, False, False],
                           "unit_inputs_unreadable": [False, False, True]})
    findings = pd.DataFrame({"patient_id": ["P1"], "date_of_service": pd.to_datetime(["2026-03-04"]),
                             "rendering_npi": ["1234567893"], "rule_id": ["NOTE_QUARANTINED"], "severity": ["medium"]})
    why = _why_listed(listed, findings).set_index("patient_id")["why_listed"]
    assert why.to_dict() == {"P1": "units not checked: the note was quarantined; findings: NOTE_QUARANTINED",
                             "P2": "1 97112 unit(s) beyond the minutes; no note",
                             "P3": "units not checked: a unit input was unreadable"}
