"""report.xlsx opened with openpyxl: sheets, headers, filters, and cells that cannot run."""

import datetime

import openpyxl
import pytest

from nmr_audit.denial import claim_risk
from nmr_audit.io.report_xlsx import workbook as cut_sheets
from nmr_audit.io.report_xlsx import write_workbook
from nmr_audit.report_data import build_report_data
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
    summary = {"totals": {"claim_lines": {"rows_audited": 3, "rows_quarantined": 0}},
               "findings": {"dollars_at_risk": 99.0}}
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    write_workbook(path, cut_sheets(build_report_data(summary, visits, findings, 3), findings,
                                    claim_risk(findings, reference.denial_weights), visits, {"run_id": "r1"}))
    return openpyxl.load_workbook(path), findings


def test_sheets_and_headers(workbook):
    book, findings = workbook
    assert book.sheetnames == ["Summary", "Findings", "Claims at risk", "Visits", "By clinic and rule"]
    sheet = book["Findings"]
    assert [c.value for c in sheet[1]] == list(findings.columns)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert sheet.max_row == len(findings) + 1 and sheet.column_dimensions["M"].width >= 20
    assert book["Summary"]["A1"].value == "nmr-audit denial-risk workbook"


def test_formula_looking_values_are_inert_text(workbook):
    book, _ = workbook
    for name in ("Findings", "Visits"):
        cells = [c for row in book[name].iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
        assert not any(c.data_type == "f" for c in cells)
        texts = {c.value for c in cells}
        assert "'" + FORMULA in texts and FORMULA not in texts and "'@cmd" in texts


def test_numbers_and_dates_stay_typed(workbook):
    book, _ = workbook
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
    assert any(n.startswith("Findings: first 2 of") for n in notes)
    assert any(n.startswith("Claims at risk: first 2 of 4") for n in notes)
