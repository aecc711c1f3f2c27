"""Excel workbooks (.xlsx, .xlsm): recognised as a ZIP archive holding `xl/` parts, or by extension.

Every visible worksheet is a table of its own (source `path#sheet`); hidden and very hidden
sheets are skipped and listed, and so are the others when the mapping profile names a sheet
(`sheet:` a name or a 0-based position; a named hidden sheet is read). The first row of a sheet
is its header; rows left wholly empty are not records; rows keep their sheet row numbers.

Cells keep their types where a whole column is numbers (validation checks them as numbers, and
reads a number in a date column as Excel's serial day); in other columns typed cells become
the text a CSV would hold: dates `YYYY-MM-DD` (with `HH:MM:SS` when not midnight), times
`HH:MM:SS`, booleans `true`/`false`, numbers with the profile's decimal mark. A formula whose
result was never saved (a workbook written by a program, not by Excel) has no value to read: it
becomes a bad value with that reason (`base.BAD_VALUE`), never an empty cell.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from nmr_audit.contract import SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import (
    BAD_VALUE,
    Opened,
    RawTable,
    Reader,
    ReadOptions,
    Skipped,
    Tally,
    check_names,
    slices,
)

_ZIP = b"PK\x03\x04"


def recognises(head: bytes) -> bool:
    """A ZIP archive whose first entries include the workbook's `xl/` parts."""
    return head.startswith(_ZIP) and b"xl/" in head


def check_head(path: Path, head: bytes) -> None:
    """A file named as a workbook that is no ZIP archive (every .xlsx is one) raises InputError:
    it cannot be read as a workbook, and says so before the run."""
    if not head.startswith(_ZIP):
        raise InputError(path, "is not an Excel workbook (an .xlsx file is a ZIP archive; this one is not)",
                         "save it from Excel as .xlsx again, or give the file the extension of its real type")


def open_workbook(path: Path, options: ReadOptions) -> Opened:
    book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        sheets = list(book.worksheets)
        chosen, skipped = _chosen(path, sheets, options.sheet)
        tables = []
        for sheet in chosen:
            table = _sheet_table(path, book, sheet, options)
            if table is None:
                skipped.append(Skipped(f"{path}#{sheet.title}", "empty sheet"))
            else:
                tables.append(table)
    finally:
        book.close()
    if not tables:
        raise InputError(path, "no sheet of the workbook holds a table", "export it again with a header row")
    return Opened(tables, skipped)


def _chosen(path: Path, sheets: list[Any], wanted: str | int | None) -> tuple[list[Any], list[Skipped]]:
    """The sheets to read (the named one, or every visible one) and the others with why not."""
    if wanted is not None:
        match = [s for i, s in enumerate(sheets) if wanted in (s.title, i) or str(wanted) == s.title]
        if not match:
            names = ", ".join(repr(s.title) for s in sheets)
            raise InputError(path, f"no sheet {wanted!r} in this workbook (sheets: {names})",
                             "name a sheet that exists in the mapping profile's sheet:")
        others = [s for s in sheets if s is not match[0]]
        return match[:1], [Skipped(f"{path}#{s.title}", "not the sheet the mapping profile names") for s in others]
    visible = [s for s in sheets if s.sheet_state == "visible"]
    hidden = [Skipped(f"{path}#{s.title}", f"{s.sheet_state} sheet") for s in sheets if s.sheet_state != "visible"]
    if not visible:
        raise InputError(path, "the workbook has no visible sheet", "unhide the sheet to audit, or name it (sheet:)")
    return visible, hidden


def _sheet_table(path: Path, book: Any, sheet: Any, options: ReadOptions) -> RawTable | None:
    """The sheet as a table (None for a sheet without a header: an empty sheet)."""
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    source = f"{path}#{sheet.title}"
    width = _width(header or ())
    if not width:
        return None
    names = [_header_name(v) for v in header[:width]]
    check_names(source, names)
    formulas = _formula_cells(path, sheet.title, width) if _has_formulas(book, sheet) else {}
    formula_rows = {r for r, _ in formulas}
    numbers, records = [], []
    for number, row in enumerate(rows, start=2):
        cells = list(row[:width]) + [None] * (width - len(row))
        unsaved = [c for c in range(width) if (number, c) in formulas and cells[c] is None] if number in formula_rows else []
        for c in unsaved:  # a formula never computed: a bad value with its reason, not an empty cell
            cells[c] = BAD_VALUE + formulas[(number, c)]
        if unsaved or any(c is not None and c != "" for c in cells):
            records.append(cells)
            numbers.append(number)
    columns = list(zip(*records, strict=True)) if records else [() for _ in names]
    mark = options.decimal_mark or "."
    frame = pd.DataFrame({name: _column(cells, mark) for name, cells in zip(names, columns, strict=True)})
    frame = frame.assign(**{SOURCE_ROW: np.array(numbers, dtype="int64")})
    return RawTable(path, "excel", "", slices(frame), Tally(len(frame)), sheet=sheet.title)


def _width(header: tuple[Any, ...]) -> int:
    """Columns up to the last named one (a sheet's used range often runs past its data)."""
    named = [i for i, v in enumerate(header) if v is not None and str(v).strip()]
    return named[-1] + 1 if named else 0


def _header_name(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _column(cells: Iterable[Any], mark: str) -> pd.Series:
    """One column's cells: typed numbers where every filled cell is a number, else text."""
    values = list(cells)
    filled = [v for v in values if v is not None and v != ""]
    if filled and all(isinstance(v, int | float) and not isinstance(v, bool) for v in filled):
        numbers = pd.Series([np.nan if v is None or v == "" else float(v) for v in values], dtype="Float64")
        whole = numbers.dropna()
        return numbers.astype("Int64") if (whole == whole.round()).all() and whole.abs().max() < 1e15 else numbers
    return pd.Series([_text(v, mark) for v in values], dtype="str")


def _text(value: Any, mark: str) -> str:
    """A typed cell as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
        return text.replace(".", ",") if mark == "," else text
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)


def _has_formulas(book: Any, sheet: Any) -> bool:
    """Whether the sheet's XML holds any formula (`<f>`): one pass over its bytes, so that only
    workbooks with formulas are read a second time for them."""
    part = getattr(sheet, "_worksheet_path", None)
    archive = getattr(book, "_archive", None)
    if part is None or archive is None:
        return True
    tail = b""
    with archive.open(part) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            chunk = tail + block
            if b"<f>" in chunk or b"<f " in chunk or b"<f/>" in chunk:
                return True
            tail = chunk[-4:]
    return False


def _formula_cells(path: Path, title: str, width: int) -> dict[tuple[int, int], str]:
    """(sheet row, column) → formula text of each formula cell (read with formulas, not values)."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=False, keep_links=False)
    try:
        found = {}
        for r, row in enumerate(book[title].iter_rows(values_only=True), start=1):
            for c, v in enumerate(row[:width]):
                if isinstance(v, str) and v.startswith("="):
                    found[(r, c)] = v
        return found
    finally:
        book.close()


def estimate_rows(path: Path, head: bytes) -> int:
    """Rows of the visible sheets, from each sheet's recorded dimensions (no cell is read)."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, keep_links=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return 0
    try:
        return sum(max((s.max_row or 1) - 1, 0) for s in book.worksheets if s.sheet_state == "visible")
    finally:
        book.close()


READER = Reader(
    name="excel",
    description="Excel workbook (.xlsx, .xlsm)",
    extensions=(".xlsx", ".xlsm"),
    recognises=recognises,
    open=open_workbook,
    estimate_rows=estimate_rows,
    check_head=check_head,
)
