"""`report.xlsx`: the analyst's workbook — summary, findings, claims at risk, visits, clinic × rule.

Written with XlsxWriter (several times faster than openpyxl; its constant-memory mode writes
cells 3× slower, and sheets of at most `WORKBOOK_ROWS` rows fit in memory easily). Header rows
are frozen, filters are on, widths follow the content. Text is defused (`safe_text`) and XlsxWriter is told never to turn
a string into a formula, so nothing in a cell runs. Long sheets stop at the row cap with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from nmr_audit.contract import VISIT_KEY
from nmr_audit.keys import keys_in
from nmr_audit.report_data import ReportData
from nmr_audit.safe_text import defuse_frame
from nmr_audit.sizes import WORKBOOK_ROWS

HEADLINE_LABELS = {
    "claims_audited": "Claims audited", "claim_lines_audited": "Claim lines audited",
    "notes_audited": "Notes audited", "visits_97112": "Visits with 97112",
    "units_97112_billed": "97112 units billed", "units_97112_supported": "97112 units supported by the notes",
    "excess_units_97112": "97112 units beyond the documented minutes", "dollars_at_risk": "Dollars at risk",
    "findings": "Findings", "share_of_visits_with_high_finding": "Share of visits with a high-severity finding",
    "rows_quarantined": "Input rows quarantined",
}


@dataclass(frozen=True)
class Workbook:
    """What report.xlsx shows, each detail sheet cut to its first rows: a few megabytes at most,
    so a large run hands it to a process of its own to write (XlsxWriter is pure Python: 7 s for
    a full workbook, while the rest of the reports are built)."""

    data: ReportData
    context: dict[str, Any]
    sheets: dict[str, pd.DataFrame]
    notes: list[str]


def workbook(data: ReportData, findings: pd.DataFrame, claims: pd.DataFrame, visits: pd.DataFrame,
             context: dict[str, Any], rows: int = WORKBOOK_ROWS) -> Workbook:
    """`findings`, `claims`, `visits` as they should appear (masked already).

    The Visits sheet holds the visits that need a look: units beyond the minutes, no note, or
    any finding — all visits are in visits.parquet.
    """
    whole = {"Findings": findings, "Claims at risk": claims, "Visits": _needing_attention(visits, findings)}
    notes = [f"{name}: first {rows:,} of {len(frame):,} rows (all rows are in the Parquet outputs)"
             for name, frame in whole.items() if len(frame) > rows]
    return Workbook(data, context, {name: frame.head(rows) for name, frame in whole.items()}, notes)


def write_workbook(path: Path, cut: Workbook) -> Path:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
    formats = {"bold": book.add_format({"bold": True}), "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "money": book.add_format({"num_format": "#,##0.00"})}
    _summary(book, cut.data, cut.context, cut.notes, formats)
    for title, frame in cut.sheets.items():
        _sheet(book, title, frame, formats)
    _sheet(book, "By clinic and rule", cut.data.by_clinic_and_rule, formats)
    book.close()
    return path


def ready() -> None:
    """Called once in a process that will write workbooks, so that it imports this module early."""


def _needing_attention(visits: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    key = list(VISIT_KEY)
    keep = (visits["excess_units_97112"] > 0) | visits["note_id"].isna()
    if len(findings) and set(key) <= set(findings.columns):
        keep |= keys_in(visits, findings, key)
    return visits[keep]


def _summary(book: Any, data: ReportData, context: dict[str, Any], notes: list[str], formats: dict) -> None:
    sheet = book.add_worksheet("Summary")
    sheet.set_column(0, 0, 46)
    sheet.set_column(1, 2, 20)
    rows: list[list[Any]] = [["nmr-audit denial-risk workbook", str(context.get("run_id", ""))],
                             ["Generated", str(context.get("generated_at", ""))], []]
    rows += [[label, data.headline[key]] for key, label in HEADLINE_LABELS.items()]
    rows += [[], ["Findings by rule", "findings", "dollars at risk"]]
    rows += [[r.rule_id, int(r.findings), float(r.dollars_at_risk)] for r in defuse_frame(data.by_rule).itertuples()]
    rows += [[note] for note in notes]
    for number, row in enumerate(rows):
        bold = number == 0 or (row and row[0] == "Findings by rule")
        sheet.write_row(number, 0, row, formats["bold"] if bold else None)


def _sheet(book: Any, title: str, frame: pd.DataFrame, formats: dict) -> None:
    sheet = book.add_worksheet(title)
    shown = defuse_frame(frame)
    columns = list(shown.columns)
    for number, column in enumerate(columns):
        sheet.set_column(number, number, _width(shown[column], column), _format(shown[column], column, formats))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(shown), 1), max(len(columns) - 1, 0))
    sheet.write_row(0, 0, columns, formats["bold"])
    for number, row in enumerate(zip(*(_column_values(shown[c]) for c in columns), strict=True), start=1):
        sheet.write_row(number, 0, row)  # None cells are left empty


def _column_values(values: pd.Series) -> list[Any]:
    """Plain Python values for one column: None for missing, datetimes for dates."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return [None if pd.isna(v) else v for v in values.dt.to_pydatetime()]
    if isinstance(values.dtype, pd.ArrowDtype) and "list" in str(values.dtype):
        return [", ".join(v) if v is not None and len(v) else None for v in values]
    array = values.astype(object).where(values.notna(), None).to_numpy()
    return [v.item() if isinstance(v, np.generic) else v for v in array]


def _width(values: pd.Series, column: str) -> int:
    longest = values.head(500).astype("str").str.len().max()
    return int(min(60, max(len(column), 0 if pd.isna(longest) else int(longest), 6) + 2))


def _format(values: pd.Series, column: str, formats: dict) -> Any:
    if pd.api.types.is_datetime64_any_dtype(values):
        return formats["date"]
    return formats["money"] if "dollars" in column else None
