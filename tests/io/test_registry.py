"""The readers registry: which reader takes a file (content first, then extension), workbooks
sheet by sheet, and the messages the registry words."""

import io
import zipfile

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nmr_audit.errors import InputError
from nmr_audit.io.readers import BAD_VALUE, READERS, ReadOptions, estimate_rows, open_export, recognise, supported


def test_every_reader_names_its_format_and_the_messages_list_them_all():
    assert [r.name for r in READERS] == ["parquet", "excel", "jsonl", "x12-837p", "x12-835", "csv"]
    assert all(r.description.split(" (")[0] in supported() for r in READERS)


@pytest.mark.parametrize(("name", "content", "format"), [
    ("claims.csv", b"PAR1" + bytes(20), "parquet"),  # content first: a Parquet file with the wrong name
    ("claims.txt", b"claim_id;units\nC1;2\nC2;3\n", "csv"),  # a delimited .txt is a table
    ("export", b"note_id\tunits\nN1\t2\n", "csv"),  # no extension: the content decides
    ("notes.txt", b'{"note_id": "N1"}\n', "jsonl"),
    ("claims.csv", b"claim_id\nC1\n", "csv"),  # one column: no delimiter to recognise, the extension decides
    ("claims.tsv", b"", "csv"),
])
def test_a_file_goes_to_the_reader_of_its_content_then_of_its_extension(tmp_path, name, content, format):
    path = tmp_path / name
    path.write_bytes(content)
    assert recognise(path).reader.name == format


@pytest.mark.parametrize(("name", "content", "why"), [
    ("README.txt", b"Nightly exports from TheraChart.\nOne file per day.\n", "documentation"),
    ("notes.txt", b"Exports, nightly, by TheraChart\nAsk the front desk for help\n", "not a delimited table"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40), "Excel 97"),
    ("bundle.zip", b"PK\x03\x04" + bytes(40), "ZIP archive"),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
])
def test_files_no_reader_takes_come_back_with_the_reason(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_bytes(content)
    found = recognise(path)
    assert found.reader is None and why in found.reason


def _workbook(path, sheets, formulas=None):
    """sheets: (title, state, rows) with the header first."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, state, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.sheet_state = state
        for row in rows:
            sheet.append(row)
    for (title, cell), formula in (formulas or {}).items():
        book[title][cell] = formula
    book.save(path)


CLAIMS = ["claim_id", "line_number", "units"]


def test_every_visible_sheet_is_read_and_a_hidden_one_is_skipped_and_listed(tmp_path):
    """Issue 17 i: a hidden (stale) first sheet is not audited; a second visible sheet is."""
    path = tmp_path / "claims.xlsx"
    _workbook(path, [("Stale", "hidden", [CLAIMS, ["OLD", 1, 9]]),
                     ("March", "visible", [CLAIMS, ["C1", 1, 2]]),
                     ("April", "visible", [CLAIMS, ["C2", 1, 3], [None, None, None], ["C3", 1, 1]]),
                     ("Gone", "veryHidden", [CLAIMS])])
    export = open_export(path)
    assert [t.sheet for t in export.tables] == ["March", "April"]
    assert [(s.source, s.reason) for s in export.skipped] == [(f"{path}#Stale", "hidden sheet"),
                                                              (f"{path}#Gone", "veryHidden sheet")]
    april = export.tables[1].frame
    assert april["claim_id"].tolist() == ["C2", "C3"] and april["source_row"].tolist() == [2, 4]
    assert (april["source_file"] == f"{path}#April").all()
    assert estimate_rows([path]) == 4  # the visible sheets' recorded dimensions


def test_a_mapping_profile_may_name_the_sheet_even_a_hidden_one(tmp_path):
    path = tmp_path / "claims.xlsx"
    _workbook(path, [("Export", "hidden", [CLAIMS, ["C1", 1, 2]]), ("Notes", "visible", [["x"], [1]])])
    for sheet in ("Export", 0):
        export = open_export(path, ReadOptions(sheet=sheet))
        assert [t.sheet for t in export.tables] == ["Export"]
        assert export.skipped[0].reason == "not the sheet the mapping profile names"
    with pytest.raises(InputError, match="no sheet 'Claims' in this workbook"):
        open_export(path, ReadOptions(sheet="Claims"))


def test_a_formula_without_a_saved_value_is_a_bad_value_never_an_empty_cell(tmp_path):
    """openpyxl saves formulas without results (as programs that write workbooks do): the cell
    is marked for validation to refuse with its reason."""
    path = tmp_path / "claims.xlsx"
    _workbook(path, [("Claims", "visible", [CLAIMS, ["C1", 1, 2], ["C2", 2, None], [None, None, None]])],
              formulas={("Claims", "C3"): "=C2*2", ("Claims", "A4"): '="C"&"3"'})
    frame = open_export(path).tables[0].frame
    assert frame["units"].tolist()[:1] == ["2"] and frame["units"].iloc[1] == BAD_VALUE + "=C2*2"
    assert frame["claim_id"].iloc[2] == BAD_VALUE + '="C"&"3"' and frame["source_row"].tolist() == [2, 3, 4]


def test_workbook_cells_keep_their_meaning(tmp_path):
    """Typed cells: a column of numbers stays numbers (a General-formatted date column reads as
    Excel serials later); mixed columns become CSV-like text; times and flags as the contract
    spells them."""
    import datetime as dt

    path = tmp_path / "notes.xlsx"
    _workbook(path, [("Notes", "visible", [
        ["note_id", "date_of_service", "time_in", "signed", "minutes_97112", "npi"],
        ["N1", dt.datetime(2026, 3, 4), dt.time(9, 0), True, 23, 1234567893],
        ["N2", 46086, dt.time(13, 30, 15), False, "22.5", 1234567893],
    ])])
    frame = open_export(path, ReadOptions(decimal_mark=",")).tables[0].frame
    assert frame["date_of_service"].tolist() == ["2026-03-04", "46086"]
    assert frame["time_in"].tolist() == ["09:00:00", "13:30:15"]
    assert frame["signed"].tolist() == ["true", "false"]
    assert frame["minutes_97112"].tolist() == ["23", "22.5"]  # text typed in a cell stays as typed
    assert frame["npi"].dtype == "Int64"


def test_empty_sheets_are_skipped_and_a_workbook_of_them_is_refused(tmp_path):
    path = tmp_path / "claims.xlsx"
    _workbook(path, [("Claims", "visible", [CLAIMS, ["C1", 1, 2]]), ("Sheet2", "visible", [])])
    export = open_export(path)
    assert [t.sheet for t in export.tables] == ["Claims"] and export.skipped[0].reason == "empty sheet"
    _workbook(path, [("Sheet1", "visible", []), ("Sheet2", "visible", [])])
    with pytest.raises(InputError, match="no sheet of the workbook holds a table"):
        open_export(path)


def test_unreadable_content_is_said_in_one_line_by_the_registry(tmp_path):
    path = tmp_path / "claims.parquet"
    buffer = io.BytesIO()
    pq.write_table(pa.table({"claim_id": ["C1"]}), buffer)
    path.write_bytes(buffer.getvalue()[:-12])  # cut short
    with pytest.raises(InputError) as caught:
        open_export(path)
    assert caught.value.line().startswith(f"{path}: cannot be read as a parquet table")
    zipped = tmp_path / "claims.xlsx"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("xl/workbook.xml", "<not a workbook")
    with pytest.raises(InputError, match="cannot be read as a excel table"):
        open_export(zipped)


def test_a_parquet_file_with_typed_flags_and_dictionary_text(tmp_path):
    path = tmp_path / "notes.parquet"
    pq.write_table(pa.table({"note_id": pa.array(["N1", "N2"]).dictionary_encode(),
                             "signed": pa.array([1.0, 0.0]), "one_on_one": pa.array([True, None])}), path)
    frame = open_export(path).tables[0].frame
    assert frame["note_id"].tolist() == ["N1", "N2"] and frame["signed"].dtype == "Float64"
    assert frame["one_on_one"].iloc[0] == "true" and pd.isna(frame["one_on_one"].iloc[1])
