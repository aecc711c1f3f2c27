"""`report.xlsx`: the analyst's workbook.

Sheets: Summary (headline with currency and percent formats, why the per-rule dollars exceed the
headline, findings and dollars by rule), Since last night (a nightly run only: new and resolved
findings against the root's previous run, and dollars at risk by night with a chart), Rules
(what each rule means and what to fix), Findings (with each finding's remittance outcome and
CARCs where remittances were given), Claims at risk, Visits (each with the rules that put it on
the sheet), By clinic and rule (dollars and findings, with totals), Denial weights and Unmatched
remittances (a run given remittances: the weights learnt beside the defaults, the 835 service
lines no claim line matched), Quarantine (file, line, reason, the row's cells) and Unreadable
fields (by file and column).

Written with XlsxWriter (several times faster than openpyxl; its constant-memory mode writes
cells 3× slower, and sheets of at most `WORKBOOK_ROWS` rows fit in memory easily). Header rows
are frozen, filters are on, widths follow the content. Text is defused (`safe_text`) and
XlsxWriter is told never to turn a string into a formula, so nothing in a cell runs. Long
sheets stop at the row cap with a note; a text longer than Excel's 32,767 characters a cell is
cut with a visible marker saying how much was cut and where the whole value is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from nmr_audit.contract import VISIT_KEY
from nmr_audit.explain import allotment_text
from nmr_audit.keys import group_numbers, keys_in
from nmr_audit.names import with_names
from nmr_audit.report_data import ReportData, joined, severity_rank
from nmr_audit.safe_text import defuse_frame
from nmr_audit.since_last_night import night_labels
from nmr_audit.sizes import WORKBOOK_ROWS
from nmr_audit.summary import checked_excess, flag

EXCEL_CELL_CHARS = 32_767  # Excel's limit on the characters of one cell
MONEY_FORMAT = '"$"#,##0.00'
HEADLINE_LABELS = {
    "claims_audited": "Claims audited", "claim_lines_audited": "Claim lines audited",
    "notes_audited": "Notes audited", "visits_97112": "Visits with 97112",
    "units_97112_billed": "97112 units billed", "units_97112_supported": "97112 units supported by the notes",
    "excess_units_97112": "97112 units beyond the documented minutes",
    "dollars_at_risk": "Dollars at risk (each claim line once)",
    "findings": "Findings", "share_of_visits_with_high_finding": "Share of visits with a high-severity finding",
    "rows_quarantined": "Input rows quarantined",
}
HEADLINE_FORMATS = {"dollars_at_risk": "money", "share_of_visits_with_high_finding": "percent"}
WHERE_WHOLE = {"Findings": "findings.parquet", "Claims at risk": "findings.parquet", "Visits": "visits.parquet",
               "Quarantine": "quarantine.parquet"}


@dataclass(frozen=True)
class Workbook:
    """What report.xlsx shows, each detail sheet cut to its first rows: a few megabytes at most,
    so a large run hands it to a process of its own to write (XlsxWriter is pure Python: 7 s for
    a full workbook, while the rest of the reports are built)."""

    data: ReportData
    context: dict[str, Any]
    sheets: dict[str, pd.DataFrame]
    notes: list[str]
    since: dict[str, Any] | None = None  # a nightly run: totals, notes, series, new and resolved (cut)


def workbook(data: ReportData, findings: pd.DataFrame, claims: pd.DataFrame, visits: pd.DataFrame,
             context: dict[str, Any], rows: int = WORKBOOK_ROWS) -> Workbook:
    """`findings`, `claims`, `visits` as they should appear (masked already).

    The Findings sheet says, beside each finding about units, how its visit's units were decided
    (`explanation`). The Visits sheet holds the visits that need a look — units beyond the minutes, no note, or
    any finding — each with `why_listed` and the `rules` of its findings (all visits are in
    visits.parquet). The Quarantine sheet shows the rows' cells unless `context["masking"]`
    masks patient ids (then only file, line and reason).
    """
    masked = context.get("masking", "keep") != "keep"
    quarantine = data.quarantine.drop(columns=["cells"]) if masked and "cells" in data.quarantine else data.quarantine
    listed = visits[visits_listed(visits, findings)]
    findings = with_explanations(findings, data.explanations)
    whole = {"Findings": with_names(findings, data.names) if data.names.any else findings,
             "Claims at risk": claims, "Visits": listed, "Quarantine": quarantine}
    totals = {name: len(frame) for name, frame in whole.items()} | {"Quarantine": data.quarantine_total}
    notes = [f"{name}: first {rows:,} of {totals[name]:,} rows (all rows are in {WHERE_WHOLE[name]})"
             for name in whole if totals[name] > rows]
    sheets = {name: frame.head(rows) for name, frame in whole.items()}
    sheets["Visits"] = _why_listed(sheets["Visits"], findings)
    if "allotment" in sheets["Visits"].columns:  # a list of structs, said in words for a cell
        sheets["Visits"] = sheets["Visits"].assign(allotment=allotment_text(sheets["Visits"]["allotment"]))
    if data.names.any:
        sheets["Visits"] = with_names(sheets["Visits"], data.names)
    # what the writer reads of `data` (the per-finding and per-visit tables are in the sheets already):
    # a 10M-line run's visit groups, explanations and quarantine had made the workbook's process 0.9 GiB
    kept = replace(data, since_last_night=None, visit_groups=data.visit_groups.iloc[:0],
                   explanations=data.explanations.iloc[:0], quarantine=data.quarantine.iloc[:0])
    return Workbook(kept, context, sheets, notes, _since_cut(data, rows))


def with_explanations(findings: pd.DataFrame, explanations: pd.Series) -> pd.DataFrame:
    """`findings` with `explanation` after `message`: a unit finding's visit's unit decision
    (`report_data.finding_explanations`, one per finding in the same order), else empty."""
    if len(explanations) != len(findings) or "explanation" in findings.columns:
        return findings
    at = list(findings.columns).index("message") + 1 if "message" in findings.columns else len(findings.columns)
    explained = findings.copy()
    explained.insert(at, "explanation", pd.Series(explanations.to_numpy(), index=findings.index, dtype="str"))
    return explained


def _since_cut(data: ReportData, rows: int) -> dict[str, Any] | None:
    """A nightly run's comparison for its sheet: the new and resolved findings most money first,
    each cut to `rows` (the totals say how many there are)."""
    since = data.since_last_night
    if since is None:
        return None

    def cut(frame: pd.DataFrame) -> pd.DataFrame:
        shown = with_names(frame, data.names) if data.names.any else frame
        return shown.sort_values("dollars_at_risk", ascending=False, na_position="last", kind="stable").head(rows)

    return {"totals": since.totals(), "notes": since.notes, "first_night": since.first_night,
            "series": since.series.assign(night=night_labels(since.series)), "new": cut(since.new),
            "resolved": cut(since.resolved), "rows": rows}


def write_workbook(path: Path, cut: Workbook) -> Path:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
    formats = {"bold": book.add_format({"bold": True}), "date": book.add_format({"num_format": "yyyy-mm-dd"}),
               "money": book.add_format({"num_format": MONEY_FORMAT}),
               "money_bold": book.add_format({"num_format": MONEY_FORMAT, "bold": True}),
               "percent": book.add_format({"num_format": "0.0%"}), "count": book.add_format({"num_format": "#,##0"}),
               "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
               "note": book.add_format({"italic": True, "font_color": "#555555"})}
    _summary(book, cut.data, cut.context, cut.notes, formats)
    if cut.since is not None:
        _since_sheet(book, cut.since, formats)
    _rules_sheet(book, cut.data, formats)
    for title in ("Findings", "Claims at risk", "Visits"):
        _sheet(book, title, cut.sheets[title], formats)
    _clinic_and_rule(book, cut.data, formats)
    if not cut.data.learnt.empty:  # a run given remittances: the weights its payers' answers teach
        _sheet(book, "Denial weights", cut.data.learnt, formats)
    if cut.data.remits is not None:
        _sheet(book, "Unmatched remittances", cut.data.unmatched_remits.head(WORKBOOK_ROWS), formats,
               empty="Every remitted service line matched a claim line.")
    _sheet(book, "Quarantine", cut.sheets["Quarantine"], formats,
           empty="No input row was quarantined in this run.")
    _sheet(book, "Unreadable fields", cut.data.unreadable, formats,
           empty="No unreadable optional value was recorded in this run (rule FIELD_UNREADABLE).")
    book.close()
    return path


def ready() -> None:
    """Called once in a process that will write workbooks, so that it imports this module early."""


def fit_cell(text: str, where: str = "the Parquet outputs") -> str:
    """`text`, or, past Excel's 32,767 characters a cell, its beginning with a marker saying how
    many characters were cut and where the whole value is (the total stays within the limit)."""
    if len(text) <= EXCEL_CELL_CHARS:
        return text
    marker_room = 120
    kept = EXCEL_CELL_CHARS - marker_room
    marker = f" … [cut: {len(text) - kept:,} more characters; the whole value is in {where}]"
    return text[:kept] + marker


def visits_listed(visits: pd.DataFrame, findings: pd.DataFrame) -> np.ndarray:
    """Whether each visit is one the reports list (bool per row): units beyond the minutes, no
    note, a quarantined note, or findings. Every visit either report shows is one of these."""
    key = list(VISIT_KEY)
    keep = (checked_excess(visits) > 0) | visits["note_id"].isna() | flag(visits, "note_quarantined")
    if len(findings) and set(key) <= set(findings.columns):
        keep |= keys_in(visits, findings, key)
    return np.asarray(keep, dtype=bool)


def _why_listed(listed: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """`listed` with `why_listed` (units beyond the minutes, no note, findings) and `rules`:
    the distinct rule ids of the visit's findings, most severe first."""
    key = list(VISIT_KEY)
    rules = pd.Series("", index=listed.index, dtype="str")
    if len(listed) and len(findings) and set(key) <= set(findings.columns):
        mine = findings[keys_in(findings, listed, key)]
        if len(mine):
            ordered = mine.assign(_order=severity_rank(mine["severity"])).sort_values("_order", kind="stable")
            both = pd.concat([listed[key], ordered[key]], ignore_index=True)
            number = group_numbers(both, key)
            ordered = ordered.assign(_visit=number[len(listed):])
            distinct = ordered.drop_duplicates(["_visit", "rule_id"])
            by_visit = joined(distinct["_visit"].to_numpy(), distinct["rule_id"], ", ")
            rules = pd.Series(pd.Series(number[:len(listed)]).map(by_visit).fillna("").to_numpy(),
                              index=listed.index, dtype="str")
    checked = checked_excess(listed)
    held = flag(listed, "note_quarantined")
    unreadable = flag(listed, "unit_inputs_unreadable") & ~held
    excess = pd.Series(np.where(checked > 0, checked.astype("str") + " 97112 unit(s) beyond the minutes", ""),
                       index=listed.index, dtype="str")
    excess = excess.mask(held, "units not checked: the note was quarantined")
    excess = excess.mask(unreadable, "units not checked: a unit input was unreadable")
    note = pd.Series(np.where(listed["note_id"].isna() & ~held, "no note", ""), index=listed.index, dtype="str")
    found = ("findings: " + rules).where(rules != "", "")
    why = (excess + "; " + note + "; " + found).str.replace(r"(; )+", "; ", regex=True).str.strip("; ")
    shown = listed.copy()
    shown.insert(0, "why_listed", why)
    shown.insert(1, "rules", rules)
    return shown


def _summary(book: Any, data: ReportData, context: dict[str, Any], notes: list[str], formats: dict) -> None:
    sheet = book.add_worksheet("Summary")
    sheet.set_column(0, 0, 52)
    sheet.set_column(1, 3, 18)
    sheet.set_column(4, 5, 70, formats["wrap"])
    sheet.write_row(0, 0, ["nmr-audit denial-risk workbook", str(context.get("run_id", ""))], formats["bold"])
    sheet.write_row(1, 0, ["Generated", str(context.get("generated_at", ""))])
    row = 3
    for key, label in HEADLINE_LABELS.items():
        value = data.headline[key]
        sheet.write(row, 0, label)
        sheet.write_number(row, 1, float(value), formats[HEADLINE_FORMATS.get(key, "count")])
        row += 1
    overlap = data.overlap or {}
    row += 1
    if overlap.get("difference", 0) > 0:
        sheet.write(row, 0, (
            f"The rules' own dollars below add to ${overlap['per_rule_dollars']:,.2f}, "
            f"${overlap['difference']:,.2f} more than the headline: {overlap['lines_with_several_rules']:,} "
            "claim line(s) carry findings of more than one rule. The headline counts each claim line once, at "
            "the largest amount any of its findings puts at risk; each rule's figure counts every line it touches."),
            formats["note"])
        row += 1
    row += 1
    sheet.write_row(row, 0, ["Findings by rule", "severity", "findings", "dollars at risk (the rule's own)",
                             "what it means", "what to fix"], formats["bold"])
    row += 1
    for rule in defuse_frame(data.by_rule).itertuples():
        sheet.write(row, 0, rule.rule_id)
        sheet.write(row, 1, rule.severity)
        sheet.write_number(row, 2, int(rule.findings), formats["count"])
        sheet.write_number(row, 3, float(rule.dollars_at_risk), formats["money"])
        sheet.write(row, 4, fit_cell(str(getattr(rule, "meaning", ""))), formats["wrap"])
        sheet.write(row, 5, fit_cell(str(getattr(rule, "fix", ""))), formats["wrap"])
        row += 1
    if len(data.by_rule):
        sheet.write(row, 0, "all rules (lines counted once per rule)", formats["bold"])
        sheet.write_number(row, 2, int(data.by_rule["findings"].sum()), formats["count"])
        sheet.write_number(row, 3, float(overlap.get("per_rule_dollars", data.by_rule["dollars_at_risk"].sum())),
                           formats["money_bold"])
        row += 1
    row += 1
    if data.remits is not None:
        remits = data.remits
        outcomes = ", ".join(f"{k} {v:,}" for k, v in remits["outcomes"].items())
        sheet.write(row, 0, f"Remittances: {remits['claim_lines_answered']:,} claim line(s) answered ({outcomes}); "
                    f"{remits['service_lines_unmatched']:,} remitted service line(s) unmatched. Findings carry their "
                    "line's outcome and CARCs; the Denial weights sheet holds the weights learnt from them.",
                    formats["note"])
        row += 2
    for note in notes:
        sheet.write(row, 0, note, formats["note"])
        row += 1


NIGHT_SERIES = {"night": "night (as of)", "run_id": "run", "findings": "findings",
                "dollars_at_risk": "dollars at risk", "new_findings": "new findings",
                "new_dollars_at_risk": "new: dollars at risk", "resolved_findings": "findings resolved",
                "resolved_dollars_at_risk": "resolved: dollars no longer at risk"}


def _since_sheet(book: Any, since: dict[str, Any], formats: dict) -> None:
    """Since last night: the comparison's figures, the runs by night with a chart of their
    dollars at risk, then the new and the resolved findings (each its own table)."""
    sheet = book.add_worksheet("Since last night")
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, 16, 16)
    totals = since["totals"]
    sheet.write(0, 0, "Since the last night", formats["bold"])
    row = 1
    if since["first_night"]:
        sheet.write(row, 0, "Nothing to compare with yet.")
        row += 1
    else:
        sheet.write_row(row, 0, ["Compared with run", str(totals["previous_run_id"]),
                                 f"night of {totals['previous_as_of']}"])
        row += 1
        for label, key, kind in (("New findings", "new_findings", "count"),
                                 ("New findings: dollars at risk (each claim line once)", "new_dollars_at_risk", "money"),
                                 ("Findings resolved", "resolved_findings", "count"),
                                 ("Resolved: dollars no longer at risk", "resolved_dollars_at_risk", "money"),
                                 ("Earlier findings whose visits were audited again", "reexamined_findings", "count")):
            sheet.write(row, 0, label)
            sheet.write_number(row, 1, float(totals[key] or 0), formats[kind])
            row += 1
    for note in [*since["notes"], "New: tonight's findings not open after the previous run. Resolved: findings open "
                 "after it whose visit tonight audited again and did not find. Open findings whose visit was not "
                 "audited again are in neither."]:
        sheet.write(row, 0, note, formats["note"])
        row += 1
    row += 1
    series = since["series"]
    sheet.write(row, 0, f"By night (the last {len(series)} run(s) of this output root)", formats["bold"])
    row += 1
    first = row
    sheet.write_row(row, 0, list(NIGHT_SERIES.values()), formats["bold"])
    for number, night in enumerate(series[list(NIGHT_SERIES)].astype(object).itertuples(index=False), start=row + 1):
        for column, (key, value) in enumerate(zip(NIGHT_SERIES, night, strict=True)):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            if key in ("night", "run_id"):
                sheet.write_string(number, column, str(value))
            else:
                sheet.write_number(number, column, float(value), formats["money" if "dollars" in key else "count"])
    last = row + len(series)
    chart = book.add_chart({"type": "column"})
    chart.add_series({"name": "dollars at risk", "categories": ["Since last night", first + 1, 0, last, 0],
                      "values": ["Since last night", first + 1, 3, last, 3], "fill": {"color": "#7f9fc6"}})
    resolved = book.add_chart({"type": "line"})
    resolved.add_series({"name": "resolved (dollars)", "categories": ["Since last night", first + 1, 0, last, 0],
                         "values": ["Since last night", first + 1, 7, last, 7], "line": {"color": "#1a9850"},
                         "marker": {"type": "circle"}})
    chart.combine(resolved)
    chart.set_title({"name": "Dollars at risk by night"})
    chart.set_y_axis({"name": "dollars", "num_format": "$#,##0"})
    chart.set_x_axis({"name": "night (as of)"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 320})
    sheet.insert_chart(first, len(NIGHT_SERIES) + 1, chart)
    row = max(last + 2, first + 18)
    for title, key in (("New findings", "new"), ("Resolved findings", "resolved")):
        if since["first_night"]:
            break
        frame = since[key]
        count = totals["new_findings" if key == "new" else "resolved_findings"]
        shown = f"{title} ({count:,}" + (f"; the {since['rows']:,} with the most dollars at risk" if count > len(frame)
                                        else "") + ")"
        sheet.write(row, 0, shown, formats["bold"])
        row += 1
        if frame.empty:
            sheet.write(row, 0, "None.", formats["note"])
            row += 2
            continue
        row = _table_at(sheet, row, defuse_frame(frame), formats) + 1


def _table_at(sheet: Any, row: int, frame: pd.DataFrame, formats: dict) -> int:
    """`frame` written from `row` down (header, then its rows, each cell in its column's format);
    returns the row after it."""
    columns = list(frame.columns)
    sheet.write_row(row, 0, columns, formats["bold"])
    kinds = [_format(frame[c], c, formats) for c in columns]
    values = [_column_values(frame[c], "findings.parquet") for c in columns]
    for number, cells in enumerate(zip(*values, strict=True), start=row + 1):
        for column, (value, kind) in enumerate(zip(cells, kinds, strict=True)):
            if value is not None:
                sheet.write(number, column, value, kind)
    return row + 1 + len(frame)


def _rules_sheet(book: Any, data: ReportData, formats: dict) -> None:
    rules = data.rules if len(data.rules) else pd.DataFrame(columns=["rule_id", "severity", "meaning", "fix", "source"])
    sheet = book.add_worksheet("Rules")
    widths = {"rule_id": 30, "severity": 10, "meaning": 70, "fix": 70, "source": 50}
    columns = [c for c in ("rule_id", "severity", "meaning", "fix", "source") if c in rules.columns]
    for number, column in enumerate(columns):
        sheet.set_column(number, number, widths[column], formats["wrap"] if widths[column] > 30 else None)
    sheet.write_row(0, 0, columns, formats["bold"])
    sheet.freeze_panes(1, 0)
    for number, rule in enumerate(defuse_frame(rules[columns]).astype(object).itertuples(index=False), start=1):
        sheet.write_row(number, 0, [fit_cell("" if pd.isna(v) else str(v)) for v in rule])


def _clinic_and_rule(book: Any, data: ReportData, formats: dict) -> None:
    """Two clinic × rule matrices — the rules' own dollars, then findings — each with the
    clinic's totals (dollars counting each claim line once) and a total row."""
    sheet = book.add_worksheet("By clinic and rule")
    long = data.by_clinic_and_rule
    rules = list(data.by_rule["rule_id"].drop_duplicates()) if len(data.by_rule) else []
    clinics = data.by_clinic
    named = "clinic_name" in clinics.columns and clinics["clinic_name"].notna().any()
    lead = ["clinic_id", *(["clinic_name"] if named else [])]
    sheet.set_column(0, len(lead) - 1, 22)
    sheet.set_column(len(lead), len(lead) + len(rules) + 2, 16)
    sheet.freeze_panes(1, len(lead))
    row = 0
    for title, value, fmt, total_column, total_format in (
            ("dollars at risk", "dollars_at_risk", "money", "dollars_at_risk", "money_bold"),
            ("findings", "findings", "count", "findings", "count")):
        matrix = (long.pivot_table(index="clinic_id", columns="rule_id", values=value, aggfunc="sum", fill_value=0)
                  .reindex(columns=rules, fill_value=0) if len(long) else pd.DataFrame(columns=rules))
        header = [*lead, *[f"{r} ({title})" for r in rules],
                  "all rules: dollars at risk (each line once)" if value == "dollars_at_risk" else "all rules: findings"]
        sheet.write_row(row, 0, header, formats["bold"])
        row += 1
        for raw_id, clinic in zip(clinics["clinic_id"], defuse_frame(clinics).itertuples(index=False), strict=True):
            cells = [str(clinic.clinic_id), *([str(clinic.clinic_name) if pd.notna(clinic.clinic_name) else ""]
                                              if named else [])]
            sheet.write_row(row, 0, cells)
            values = matrix.loc[raw_id] if raw_id in matrix.index else pd.Series(0, index=rules)
            for offset, rule in enumerate(rules):
                sheet.write_number(row, len(lead) + offset, float(values.get(rule, 0)), formats[fmt])
            sheet.write_number(row, len(lead) + len(rules), float(getattr(clinic, total_column)), formats[total_format])
            row += 1
        sheet.write(row, 0, "total", formats["bold"])
        for offset, rule in enumerate(rules):
            sheet.write_number(row, len(lead) + offset, float(matrix[rule].sum()) if rule in matrix else 0.0,
                               formats[total_format])
        sheet.write_number(row, len(lead) + len(rules), float(clinics[total_column].sum()), formats[total_format])
        row += 1
        if value == "dollars_at_risk":
            sheet.write(row, 0, "Each rule's column counts every line the rule touches; the last column counts each "
                        "claim line once (the headline's way), so the rules' columns can add to more.", formats["note"])
            row += 1
        row += 1


def _sheet(book: Any, title: str, frame: pd.DataFrame, formats: dict, empty: str | None = None) -> None:
    sheet = book.add_worksheet(title)
    shown = defuse_frame(frame)
    columns = list(shown.columns)
    for number, column in enumerate(columns):
        sheet.set_column(number, number, _width(shown[column], column), _format(shown[column], column, formats))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(shown), 1), max(len(columns) - 1, 0))
    sheet.write_row(0, 0, columns, formats["bold"])
    where = WHERE_WHOLE.get(title, "the Parquet outputs")
    for number, row in enumerate(zip(*(_column_values(shown[c], where) for c in columns), strict=True), start=1):
        sheet.write_row(number, 0, row)  # None cells are left empty
    if empty and shown.empty:
        sheet.write(1, 0, empty, formats["note"])


def _column_values(values: pd.Series, where: str) -> list[Any]:
    """Plain Python values for one column: None for missing, datetimes for dates, text cut to
    fit a cell."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return [None if pd.isna(v) else v for v in values.dt.to_pydatetime()]
    if isinstance(values.dtype, pd.ArrowDtype) and "list" in str(values.dtype):
        return [fit_cell(", ".join(map(str, v)), where) if v is not None and len(v) else None for v in values]
    array = values.astype(object).where(values.notna(), None).to_numpy()
    plain = [v.item() if isinstance(v, np.generic) else v for v in array]
    if pd.api.types.is_string_dtype(values) and values.str.len().max() > EXCEL_CELL_CHARS:
        return [fit_cell(v, where) if isinstance(v, str) else v for v in plain]
    return plain


def _width(values: pd.Series, column: str) -> int:
    longest = values.head(500).astype("str").str.len().max()
    return int(min(60, max(len(column), 0 if pd.isna(longest) else int(longest), 6) + 2))


def _format(values: pd.Series, column: str, formats: dict) -> Any:
    if pd.api.types.is_datetime64_any_dtype(values):
        return formats["date"]
    if "dollars" in column:
        return formats["money"]
    return formats["percent"] if column in ("denial_risk", "share_denied", "share_reduced") else None
