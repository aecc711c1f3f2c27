"""Files of the consultant's audit: a run's outputs read in, the sample folder written and read
back, the reviewer's answers read from the review workbook or a CSV.

SAMPLE_DIR holds `frame.parquet`, `sample.parquet`, `review.xlsx` and `design.json`, written
aside and moved in with `design.json` last, so a folder with a design is a complete sample.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from openpyxl.utils.exceptions import InvalidFileException

from nmr_audit.consult.frame import FRAME_COLUMNS, frame_sha256
from nmr_audit.consult.review import DECISIONS, REVIEWER_COLUMNS
from nmr_audit.errors import InputError
from nmr_audit.io.writers import StagedOutputs, write_json, write_parquet
from nmr_audit.safe_text import defuse_frame

DESIGN = "design.json"
FRAME = "frame.parquet"
SAMPLE = "sample.parquet"
REVIEW = "review.xlsx"
REVIEW_SHEET = "Review"
REMITS = "remits.parquet"
PAID_COLUMNS = ("claim_id", "line_number", "paid_amount")


@dataclass(frozen=True)
class RunOutputs:
    """What `nmr-audit sample` reads from a run folder. `paid`: one row per remitted claim line
    (`PAID_COLUMNS`) or None; `paid_note` says where amounts came from."""

    folder: Path
    claim_lines: pd.DataFrame
    findings: pd.DataFrame
    visits: pd.DataFrame | None
    paid: pd.DataFrame | None
    paid_note: str
    summary: dict[str, Any]


def read_run(folder: Path) -> RunOutputs:
    """The outputs of one `nmr-audit audit` run: claim_lines.parquet, findings.parquet,
    summary.json (required), visits.parquet and remits.parquet (where present).

    Raises InputError naming the folder or file when the folder is not a finished run.
    """
    if not folder.is_dir():
        raise InputError(folder, "no such folder", "give --run the --out folder of an `nmr-audit audit` run")
    if not (folder / "summary.json").exists():
        raise InputError(folder, "no summary.json: not the folder of a finished `nmr-audit audit` run",
                         "run the audit first, or point --run at its --out folder")
    needed = {"claim_lines.parquet": None, "findings.parquet": None}
    for name in needed:
        path = folder / name
        if not path.exists():
            raise InputError(path, "missing from the run folder", "re-run the audit with this version of nmr-audit")
        needed[name] = _parquet(path)
    visits = _parquet(folder / "visits.parquet") if (folder / "visits.parquet").exists() else None
    paid, note = _paid(folder / REMITS)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return RunOutputs(folder, needed["claim_lines.parquet"], needed["findings.parquet"], visits, paid, note, summary)


def _parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as problem:
        raise InputError(path, f"cannot be read as Parquet ({problem})", "re-run the audit") from None


def _paid(path: Path) -> tuple[pd.DataFrame | None, str]:
    """Paid amounts per claim line from the run's remittances, where the run has them."""
    if not path.exists():
        return None, "no remits.parquet in the run: amounts are the claim lines' charges"
    remits = _parquet(path)
    missing = [c for c in PAID_COLUMNS if c not in remits.columns]
    if missing:
        return None, (f"remits.parquet lacks {', '.join(missing)}: amounts are the claim lines' charges, "
                      "not what was paid")
    paid = remits[list(PAID_COLUMNS)].dropna(subset=["claim_id", "line_number"])
    return paid, (f"paid amounts from remits.parquet for {len(paid.drop_duplicates(['claim_id', 'line_number'])):,} "
                  "claim line(s); charges for lines with no remittance")


@dataclass(frozen=True)
class SampleFolder:
    """A sample folder read back: the frame, the sample and the design, checked against each
    other (the frame's SHA-256, the sample's units and sizes)."""

    folder: Path
    units: pd.DataFrame
    sample: pd.DataFrame
    design: dict[str, Any]

    @property
    def sizes(self) -> pd.DataFrame:
        """`stratum, N, n` per stratum, in the design's order."""
        return pd.DataFrame(self.design["strata"])[["stratum", "N", "n"]]


def write_sample_folder(out: Path, units: pd.DataFrame, sample: pd.DataFrame, design: dict[str, Any],
                        review: dict[str, pd.DataFrame], force: bool = False) -> Path:
    """Write SAMPLE_DIR whole. review: sheet name → frame, the first being the rows to answer.

    Raises InputError when `out` already holds a sample (a reviewer may be filling its
    workbook in) and `force` is not given.
    """
    if (out / DESIGN).exists() and not force:
        raise InputError(out, "already holds a sample (design.json)",
                         "choose another --out folder, or add --force to replace it and its review workbook")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)  # the sample holds claims: private, as a run's outputs
    staged = StagedOutputs(out)
    staged.FINAL = DESIGN
    with staged:
        write_parquet(units, staged.path(FRAME))
        write_parquet(sample, staged.path(SAMPLE))
        write_review_workbook(staged.path(REVIEW), review, design)
        write_json(design, staged.path(DESIGN))
    return out


def read_sample_folder(folder: Path) -> SampleFolder:
    """SAMPLE_DIR as `nmr-audit sample` wrote it, checked.

    Raises InputError when a file is missing, the frame's SHA-256 differs from the one the
    design recorded (the frame changed after the draw), or the sample disagrees with the
    design or the frame.
    """
    design_path = folder / DESIGN
    if not design_path.exists():
        raise InputError(folder, "no design.json: not a folder written by `nmr-audit sample`",
                         "give --sample the --out folder of `nmr-audit sample`")
    design = json.loads(design_path.read_text(encoding="utf-8"))
    units = _parquet(folder / FRAME) if (folder / FRAME).exists() else None
    sample = _parquet(folder / SAMPLE) if (folder / SAMPLE).exists() else None
    if units is None or sample is None:
        raise InputError(folder, f"{FRAME if units is None else SAMPLE} is missing", "draw the sample again")
    missing = [c for c in FRAME_COLUMNS if c not in units.columns]
    if missing:
        raise InputError(folder / FRAME, f"lacks column(s) {', '.join(missing)}", "draw the sample again")
    units = units[list(FRAME_COLUMNS)].astype(FRAME_COLUMNS)
    digest = frame_sha256(units)
    if digest != design["frame"]["sha256"]:
        raise InputError(folder / FRAME, f"SHA-256 {digest[:12]}… differs from design.json's "
                         f"{design['frame']['sha256'][:12]}…: the frame changed after the draw",
                         "restore the frame as drawn, or draw a new sample")
    outside = ~sample["sample_unit_id"].isin(units["sample_unit_id"])
    if outside.any():
        raise InputError(folder / SAMPLE, f"unit {sample['sample_unit_id'][outside].iloc[0]!r} is not in the frame",
                         "draw the sample again")
    counts = sample.groupby("stratum").size()
    for stratum in design["strata"]:
        if int(counts.get(stratum["stratum"], 0)) != int(stratum["n"]):
            raise InputError(folder / SAMPLE, f"stratum {stratum['stratum']!r} has {int(counts.get(stratum['stratum'], 0))} "
                             f"sampled units; design.json says {stratum['n']}", "draw the sample again")
    return SampleFolder(folder, units, sample, design)


def read_review(path: Path) -> pd.DataFrame:
    """The reviewer's answers: `sample_unit_id`, `overpayment_amount` (raw cells) and `row`
    (the row number a person sees: the workbook's row, or the CSV's line, the header being 1).

    Reads the `Review` sheet of a workbook written by `nmr-audit sample` (.xlsx, openpyxl), or a
    CSV (UTF-8, with or without BOM) with at least the columns `sample_unit_id,overpayment_amount`.
    Raises InputError for another kind of file, one that cannot be read, or missing columns.
    """
    if not path.exists():
        raise InputError(path, "no such file", "give --review the filled-in review.xlsx or a CSV")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
            if REVIEW_SHEET not in sheets:
                raise InputError(path, f"has no sheet named {REVIEW_SHEET!r} (sheets: {', '.join(sheets)})",
                                 "use the workbook `nmr-audit sample` wrote, or a CSV")
            answers = sheets[REVIEW_SHEET]
        elif suffix in (".csv", ".txt"):
            answers = pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8-sig",
                                  sep=_delimiter(path))
        else:
            raise InputError(path, f"unknown kind of review file {suffix or '(no extension)'!r}",
                             "give an .xlsx workbook or a .csv file")
    except InputError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, InvalidFileException) as problem:
        raise InputError(path, f"cannot be read ({problem})", "save it again as .xlsx or .csv") from None
    answers.columns = [str(c).strip() for c in answers.columns]
    missing = [c for c in ("sample_unit_id", "overpayment_amount") if c not in answers.columns]
    if missing:
        raise InputError(path, f"lacks column(s) {', '.join(missing)} (has: {', '.join(answers.columns[:8])})",
                         "keep the header row as written: sample_unit_id,overpayment_amount")
    answers = answers.reset_index(drop=True)
    ids = answers["sample_unit_id"]
    blank_id = ids.isna() | (ids.astype("str").str.strip() == "")
    rows = answers[~blank_id]
    return pd.DataFrame({"sample_unit_id": rows["sample_unit_id"].astype("str").str.strip().to_numpy(),
                         "overpayment_amount": rows["overpayment_amount"].to_numpy(dtype=object),
                         "row": (rows.index.to_numpy() + 2).astype("int64")})


def _delimiter(path: Path) -> str:
    """The review CSV's delimiter from its header line: ";" where a spreadsheet in a comma-decimal
    locale saved it so (its header then holds ";" and no ","), "\t" for tab-separated, else ","."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    for mark in (",", ";", "\t"):
        if mark in header:
            return mark
    return ","


def write_review_workbook(path: Path, sheets: dict[str, pd.DataFrame], design: dict[str, Any]) -> Path:
    """The review workbook (XlsxWriter): the rows to answer first (reviewer columns shaded, a
    list for the decision, the amount held between 0 and the unit's ceiling), then the detail
    sheets, the design and how to review. Text is defused (`safe_text`); strings never turn
    into formulas."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    money = book.add_format({"num_format": "#,##0.00", "valign": "top"})
    answer = book.add_format({"bg_color": "#FFF2CC", "valign": "top", "locked": False})
    answer_money = book.add_format({"bg_color": "#FFF2CC", "num_format": "#,##0.00", "valign": "top", "locked": False})
    top = book.add_format({"valign": "top"})
    for number, (title, frame) in enumerate(sheets.items()):
        sheet = book.add_worksheet(title)
        shown = defuse_frame(frame)
        columns = list(shown.columns)
        sheet.write_row(0, 0, columns, bold)
        for col, column in enumerate(columns):
            if column in REVIEWER_COLUMNS:
                fmt = answer_money if column == "overpayment_amount" else answer
                width = 16 if column != "reviewer_note" else 40
            elif column in ("claim_lines", "findings", "visits", "message"):
                fmt, width = wrap, 60
            elif "amount" in column or column == "dollars_at_risk":
                fmt, width = money, 14
            else:
                fmt, width = top, min(40, max(10, len(column) + 2, _longest(shown[column])))
            sheet.set_column(col, col, width, fmt)
            for row, value in enumerate(_cells(shown[column]), start=1):
                if value is not None:
                    sheet.write(row, col, value)
        sheet.freeze_panes(1, 1)
        sheet.autofilter(0, 0, max(len(shown), 1), max(len(columns) - 1, 0))
        if number == 0 and len(shown):
            _reviewer_checks(sheet, columns, len(shown))
    _key_values(book.add_worksheet("Design"), bold, _design_rows(design))
    _key_values(book.add_worksheet("How to review"), bold, [[line] for line in HOW_TO_REVIEW])
    book.close()
    return path


HOW_TO_REVIEW = (
    "How to review this sample",
    "",
    "1. On the Review sheet, each row is one sampled unit with its claim lines, the automated findings and the "
    "visits' unit decisions; the Lines and Findings sheets list them one per row.",
    "2. Judge the unit against the records (medical necessity, skilled care, documentation, units).",
    "3. Fill in reviewer_decision (supported, partly supported, not supported), overpayment_amount (dollars; "
    "0 when nothing was overpaid; at most the 'amount' column: the unit's charges, or what was paid where a "
    "remittance exists) and reviewer_note.",
    "4. Answer every row: an extrapolation needs every sampled unit. Do not add, remove or rename rows or "
    "sample_unit_id values.",
    "5. Then: nmr-audit extrapolate --sample SAMPLE_DIR --review review.xlsx --out DIR",
)


def _reviewer_checks(sheet: Any, columns: list[str], rows: int) -> None:
    decision = columns.index("reviewer_decision")
    amount = columns.index("overpayment_amount")
    ceiling = columns.index("amount")
    sheet.data_validation(1, decision, rows, decision, {"validate": "list", "source": list(DECISIONS)})
    top = xlsxwriter.utility.xl_rowcol_to_cell(1, ceiling, row_abs=False, col_abs=True)
    sheet.data_validation(1, amount, rows, amount, {
        "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": f"=IF(ISNUMBER({top}),{top},1E+15)",
        "error_title": "Overpaid amount", "error_message": "Between 0 and the unit's amount (its charges or what was paid)."})


def _design_rows(design: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["Sample design", ""]]
    for key in ("unit", "design", "stratify", "allocation", "size_from", "seed", "n", "N", "precision_target",
                "projected_precision"):
        if design.get(key) is not None:
            rows.append([key, design[key]])
    rows += [["frame SHA-256", design["frame"]["sha256"]], ["frame rows", design["frame"]["rows"]],
             ["amounts", design["frame"]["amounts"]], ["generator", design["method"]["generator"]],
             ["selection", design["method"]["selection"]], ["strata", design["method"]["strata"]],
             ["run", design["run"]["folder"]], [], ["stratum", "N", "n"]]
    rows += [[s["stratum"], s["N"], s["n"]] for s in design["strata"]]
    return rows


def _key_values(sheet: Any, bold: Any, rows: list[list[Any]]) -> None:
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 2, 60)
    for number, row in enumerate(rows):
        sheet.write_row(number, 0, [str(v) if isinstance(v, str) else v for v in row],
                        bold if number == 0 else None)


def _cells(values: pd.Series) -> list[Any]:
    """Plain Python values for one column: None for missing, dates as YYYY-MM-DD text, lists
    (a line's modifiers) joined with commas."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in values]
    return [_cell(v) for v in values.astype(object).where(values.notna(), None).tolist()]


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return ",".join(map(str, value))
    return value.item() if isinstance(value, np.generic) else value


def _longest(values: pd.Series) -> int:
    longest = values.head(200).astype("str").str.len().max()
    return 0 if pd.isna(longest) else int(longest) + 2
