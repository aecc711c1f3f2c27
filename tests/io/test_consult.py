"""Files of the consultant's audit: the review read back from a CSV or the workbook, and a run
folder's remittances taken as paid amounts where they can be."""

import json

import pandas as pd
import pytest
import xlsxwriter

from nmr_audit.errors import InputError
from nmr_audit.io.consult import read_review, read_run


def test_review_csv_with_bom_and_windows_line_ends_keeps_each_rows_number(tmp_path):
    path = tmp_path / "review.csv"
    path.write_bytes("\ufeffsample_unit_id,overpayment_amount,reviewer_note\r\nC1,12.50,short\r\n,,\r\nC2,,\r\n"
                     .encode())
    review = read_review(path)
    assert review["sample_unit_id"].tolist() == ["C1", "C2"]  # a row with no id at all is skipped
    assert review["overpayment_amount"].tolist() == ["12.50", ""]
    assert review["row"].tolist() == [2, 4]


def test_review_csv_saved_with_semicolons_is_read(tmp_path):
    """A spreadsheet in a comma-decimal locale saves CSV with ";" between fields."""
    path = tmp_path / "review.csv"
    path.write_text("sample_unit_id;overpayment_amount;reviewer_note\nC1;431,39;units over\nC2;0;\n", encoding="utf-8")
    review = read_review(path)
    assert review["sample_unit_id"].tolist() == ["C1", "C2"]
    assert review["overpayment_amount"].tolist() == ["431,39", "0"]


def test_review_workbook_is_read_from_its_review_sheet(tmp_path):
    path = tmp_path / "review.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("Notes").write_row(0, 0, ["ignored"])
    sheet = book.add_worksheet("Review")
    sheet.write_row(0, 0, ["sample_unit_id", "stratum", "overpayment_amount"])
    sheet.write_row(1, 0, ["C1", "all", 62])
    sheet.write_row(2, 0, ["C2", "all", "$1,000.00"])
    book.close()
    review = read_review(path)
    assert review.to_dict("list") == {"sample_unit_id": ["C1", "C2"], "overpayment_amount": [62, "$1,000.00"],
                                      "row": [2, 3]}


@pytest.mark.parametrize(("name", "content", "said"), [
    ("review.csv", "id,amount\nC1,2\n", "lacks column(s) sample_unit_id, overpayment_amount"),
    ("review.ods", "", "unknown kind of review file '.ods'"),
    ("review.xlsx", "not a workbook", "cannot be read"),
])
def test_a_review_that_cannot_be_used_is_named_with_the_reason(tmp_path, name, content, said):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=said.replace("(", r"\(").replace(")", r"\)")) as raised:
        read_review(path)
    assert str(path) in raised.value.line()


def test_a_workbook_without_a_review_sheet_says_which_sheets_it_has(tmp_path):
    path = tmp_path / "other.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("Sheet1")
    book.close()
    with pytest.raises(InputError, match="no sheet named 'Review' \\(sheets: Sheet1\\)"):
        read_review(path)


def run_folder(tmp_path, remits=None):
    lines = pd.DataFrame({"claim_id": ["C1"], "line_number": [1], "charge_amount": [62.0]})
    lines.to_parquet(tmp_path / "claim_lines.parquet")
    pd.DataFrame({"rule_id": pd.Series(dtype="str")}).to_parquet(tmp_path / "findings.parquet")
    (tmp_path / "summary.json").write_text(json.dumps({"run": {}}))
    if remits is not None:
        remits.to_parquet(tmp_path / "remits.parquet")
    return tmp_path


def test_run_without_remittances_uses_charges_and_says_so(tmp_path):
    outputs = read_run(run_folder(tmp_path))
    assert outputs.paid is None and "charges" in outputs.paid_note and outputs.visits is None


def test_remittances_give_paid_amounts_per_line(tmp_path):
    remits = pd.DataFrame({"claim_id": ["C1", "C1"], "line_number": [1, 1], "paid_amount": [40.0, 40.0],
                           "carc": ["45", None]})
    outputs = read_run(run_folder(tmp_path, remits))
    assert outputs.paid["paid_amount"].tolist() == [40.0, 40.0]
    assert outputs.paid_note.startswith("paid amounts from remits.parquet for 1 claim line(s)")


def test_remittances_without_line_amounts_fall_back_to_charges_and_say_why(tmp_path):
    outputs = read_run(run_folder(tmp_path, pd.DataFrame({"clp01": ["C1"], "paid": [40.0]})))
    assert outputs.paid is None
    assert outputs.paid_note.startswith("remits.parquet lacks claim_id, line_number, paid_amount")


def test_a_folder_without_the_runs_files_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(InputError, match=r"claim_lines\.parquet: missing from the run folder"):
        read_run(tmp_path)
