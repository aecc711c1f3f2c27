"""`report.xlsx`: the analyst's workbook — summary, findings, claims at risk, visits, clinic × rule.

Written in openpyxl's write-only mode (rows streamed, little memory). Header rows are frozen,
filters are on, widths are set from the content; text is defused (`safe_text`) so nothing in
a cell runs as a formula. Very long sheets stop at the row cap with a note on the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from nmr_audit.report_data import ReportData
from nmr_audit.safe_text import defuse_frame

ROW_CAP = 250_000
HEADLINE_LABELS = {
    "claims_audited": "Claims audited", "claim_lines_audited": "Claim lines audited",
    "notes_audited": "Notes audited", "visits_97112": "Visits with 97112",
    "units_97112_billed": "97112 units billed", "units_97112_supported": "97112 units supported by the notes",
    "excess_units_97112": "97112 units beyond the documented minutes", "dollars_at_risk": "Dollars at risk",
    "findings": "Findings", "share_of_visits_with_high_finding": "Share of visits with a high-severity finding",
    "rows_quarantined": "Input rows quarantined",
}


def write_report_xlsx(path: Path, data: ReportData, findings: pd.DataFrame, claims: pd.DataFrame,
                      visits: pd.DataFrame, context: dict[str, Any]) -> Path:
    """`findings`, `claims`, `visits` as they should appear (masked already)."""
    book = Workbook(write_only=True)
    notes = [f"{name}: first {ROW_CAP:,} of {len(frame):,} rows (all rows are in the Parquet outputs)"
             for name, frame in (("Findings", findings), ("Visits", visits)) if len(frame) > ROW_CAP]
    _summary(book, data, context, notes)
    _sheet(book, "Findings", findings)
    _sheet(book, "Claims at risk", claims)
    _sheet(book, "Visits", visits)
    _sheet(book, "By clinic and rule", data.by_clinic_and_rule)
    book.save(path)
    return path


def _summary(book: Workbook, data: ReportData, context: dict[str, Any], notes: list[str]) -> None:
    sheet = book.create_sheet("Summary")
    sheet.column_dimensions["A"].width = 46
    sheet.column_dimensions["B"].width = 22
    sheet.append([_bold(sheet, "nmr-audit denial-risk workbook"), str(context.get("run_id", ""))])
    sheet.append(["Generated", str(context.get("generated_at", ""))])
    sheet.append([])
    for key, label in HEADLINE_LABELS.items():
        sheet.append([label, data.headline[key]])
    sheet.append([])
    sheet.append([_bold(sheet, "Findings by rule"), "findings", "dollars at risk"])
    for row in defuse_frame(data.by_rule).itertuples(index=False):
        sheet.append([row.rule_id, int(row.findings), float(row.dollars_at_risk)])
    for note in notes:
        sheet.append([note])


def _sheet(book: Workbook, title: str, frame: pd.DataFrame) -> None:
    sheet = book.create_sheet(title)
    shown = defuse_frame(frame.head(ROW_CAP))
    widths = [min(60, max(len(str(c)), *(shown[c].astype("str").str.len().head(500).fillna(0).astype(int)),
                          6) + 2) for c in shown.columns] if len(shown) else [len(str(c)) + 2 for c in shown.columns]
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.freeze_panes = "A2"
    if len(shown.columns):
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(shown.columns))}{len(shown) + 1}"
    sheet.append([_bold(sheet, str(c)) for c in shown.columns])
    for record in shown.astype(object).itertuples(index=False):
        sheet.append([_cell(v) for v in record])


def _cell(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().date()
    if hasattr(value, "tolist"):
        return ", ".join(map(str, value.tolist())) if hasattr(value, "__len__") else value.tolist()
    return value


def _bold(sheet: Any, text: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=text)
    cell.font = Font(bold=True)
    return cell

