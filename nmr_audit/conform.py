"""Turn a mapped export into the contract's canonical tables, quarantining what breaks it.

Pure: frames in, frames out. A row whose REQUIRED value is missing or malformed is never fixed
by guessing and never dropped: it leaves for the quarantine with a reason that names the
column, the value and what was expected. A malformed OPTIONAL value costs only that field: it
becomes missing and the row keeps an entry {column, value, expected} in `unreadable_fields`
(contract v1.1; docs/contract.md lists which columns are which).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from nmr_audit import parse
from nmr_audit.checks import RowChecks, empty_unreadable
from nmr_audit.contract import (
    CLAIM_COLUMNS,
    CLAIM_LINES,
    CLAIM_REQUIRED,
    LINEAGE,
    MINUTES_PREFIX,
    NECESSITY_TEXT_FIELDS,
    NOTE_COLUMNS,
    NOTE_REQUIRED,
    NULL_SPELLINGS,
    QUARANTINE_COLUMNS,
    SERVICES_COLUMN,
    SOURCE_FILE,
    SOURCE_ROW,
    UNREADABLE_FIELDS,
    VISIT_NOTES,
)
from nmr_audit.parse import Conventions
from nmr_audit.reference import ReferenceData


@dataclass(frozen=True)
class Conformed:
    """Canonical rows that passed, quarantined rows with their reasons, a note's minutes per code
    (notes), and the columns set aside unread (`minutes_*` columns whose suffix is no code)."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    services: pd.DataFrame | None = None
    ignored_columns: tuple[str, ...] = ()


_NUMBERS = frozenset({"line_number", "units", "charge_amount", "total_treatment_minutes", "total_timed_minutes",
                      "one_on_one", "signed", "progress_report"})
_DATES = frozenset({"date_of_service", "plan_of_care_signed_date"})
REQUIRED = frozenset(CLAIM_REQUIRED) | frozenset(NOTE_REQUIRED)
FILING_INDICATOR = "claim_filing_indicator"  # 837P SBR09: the payer type of a line that names none
# Columns whose values are numbers, dates, times, NPIs or codes: digits of other scripts are read
# as ASCII digits there (`parse.ascii_digits`); identifiers and free text are kept as written.
_STRUCTURED = frozenset({"line_number", "date_of_service", "rendering_npi", "supervising_npi", "cpt_code",
                         "modifiers", "units", "charge_amount", "diagnosis_codes", "time_in", "time_out",
                         "total_treatment_minutes", "total_timed_minutes", "plan_of_care_signed_date"})

EXPECTED_DATE = "a real date as YYYY-MM-DD, MM/DD/YYYY or MM/DD/YY"
EXPECTED_TIME = "a time such as 09:00, 17:45 or 9:00 AM"
EXPECTED_NPI = "10 digits with a valid NPI check digit"
EXPECTED_FLAG = "yes/no, true/false, 1/0 or Y/N"
_MARKS = {
    ".": "the decimal mark of this file is '.', a comma only between groups of three digits; "
         "name the export's locale in the mapping profile if it writes decimal commas",
    ",": "the mapping profile names a decimal-comma locale; '.' only between groups of three digits",
    "auto": "in a ';'-separated file '1,234' and '1.234' could be either; name the export's locale "
            "in the mapping profile",
}


def ambiguous_expected(wanted: str, mark: str) -> str:
    """What was expected of a number refused for its decimal mark, and how to settle it."""
    return f"{wanted} with an unambiguous decimal mark: {_MARKS[mark]}"


def _text(mapped: pd.DataFrame, column: str, conventions: Conventions) -> pd.Series:
    """The column as text, or as the numbers a typed file (Parquet, a workbook) holds where a
    number (or, in a workbook, a serial date) is wanted; digits made ASCII where structured."""
    if column not in mapped.columns:
        return pd.Series(pd.NA, index=mapped.index, dtype="str")
    typed = column in _NUMBERS or (column in _DATES and conventions.workbook)
    cells = (parse.as_cells if typed else parse.as_text)(mapped[column])
    return ascii_digits(cells) if column in _STRUCTURED or column.startswith(MINUTES_PREFIX) else cells


def ascii_digits(cells: pd.Series) -> pd.Series:
    """`parse.ascii_digits` over text columns; one Arrow pass decides that an ASCII column (nearly
    every one) needs nothing."""
    if parse.is_numeric(cells) or not len(cells) or parse.all_ascii(cells):
        return cells
    return parse.ascii_digits(cells)


class _Fields:
    """Reads one table's columns: a required value that is malformed quarantines its row, an
    optional one becomes missing and an entry of the row's `unreadable_fields`."""

    def __init__(self, mapped: pd.DataFrame, columns: tuple[str, ...], conventions: Conventions) -> None:
        self.checks = RowChecks(mapped.index)
        self.conventions = conventions
        self.text: dict[str, pd.Series] = {}
        self.formulas: dict[str, pd.Series] = {}  # cells that held a formula without a saved result
        self.refused: dict[str, pd.Series] = {}  # NPIs whose check digit is wrong, kept for the quarantine key
        for column in columns:
            self.add(column, _text(mapped, column, conventions), column in REQUIRED)

    def add(self, column: str, cells: pd.Series, required: bool = False) -> None:
        """A column's cells; in a workbook, a formula without a saved result (`parse.BAD_VALUE`)
        is a bad value of its own, and missing for the parsers."""
        if self.conventions.workbook and not parse.is_numeric(cells) and len(cells):
            marked = pc.starts_with(parse.arrow_text(cells), parse.BAD_VALUE).fill_null(False)
            if pc.any(marked).as_py():
                mask = pd.Series(marked.to_numpy(zero_copy_only=False), index=cells.index)
                formula = cells.str.slice(len(parse.BAD_VALUE))
                if required:
                    self.checks.malformed(mask, column, formula, parse.BAD_VALUE_REASON)
                else:
                    self.checks.unreadable(mask, column, formula, parse.BAD_VALUE_REASON)
                cells = cells.mask(mask)
                self.formulas[column] = mask
        self.text[column] = cells

    def require(self, column: str, values: pd.Series | None = None) -> None:
        """A required column's value must be there (a formula without a result is said once, above)."""
        values = self[column] if values is None else values
        missing = values.isna()
        if column in self.formulas:
            missing = missing & ~self.formulas[column]
        self.checks.add(missing, f"{column} is missing")

    def __getitem__(self, column: str) -> pd.Series:
        return self.text[column]

    def bad(self, failed: pd.Series, column: str, expected: str, required: bool, text: pd.Series | None = None) -> None:
        text = self.text[column] if text is None else text
        if required:
            self.checks.malformed(failed, column, text, expected)
        else:
            self.checks.unreadable(failed, column, text, expected)

    def numbers(self, parsed: tuple[pd.Series, ...], column: str, wanted: str, required: bool,
                text: pd.Series | None = None) -> pd.Series:
        values, bad, ambiguous = parsed  # the parsers leave refused values missing already
        mark = self.conventions.decimal_mark
        if ambiguous.any():
            self.bad(bad & ~ambiguous, column, wanted, required, text)
            self.bad(ambiguous, column, ambiguous_expected(wanted, mark), required, text)
        else:
            self.bad(bad, column, wanted, required, text)
        return values

    def whole(self, column: str, required: bool, minimum: int = 0) -> pd.Series:
        parsed = parse.parse_whole_numbers(self[column], minimum, self.conventions.decimal_mark)
        return self.numbers(parsed, column, f"a whole number ≥ {minimum}", required)

    def minutes(self, column: str) -> pd.Series:
        parsed = parse.parse_minutes(self[column], self.conventions.decimal_mark)
        return self.numbers(parsed, column, "whole minutes ≥ 0 (23, 23.0, 23 min)", False)

    def date(self, column: str, required: bool) -> pd.Series:
        if required:
            self.require(column)
        dates, bad = parse.parse_dates(self[column], self.conventions)  # NaT where refused
        self.bad(bad, column, EXPECTED_DATE, required)
        return dates

    def npi(self, column: str, required: bool) -> pd.Series:
        text = self[column]
        if required:
            self.require(column)
        bad = text.notna() & ~parse.npi_check_digit_ok(text)
        self.bad(bad, column, EXPECTED_NPI, required)
        self.refused[column] = bad
        return text.where(~bad) if not required and bad.any() else text  # a required one's row leaves anyway

    def flag(self, column: str) -> pd.Series:
        flags, bad = parse.parse_booleans(self[column])
        self.bad(bad, column, EXPECTED_FLAG, False)
        return flags

    def member(self, column: str, values: pd.Series, allowed: frozenset[str], required: bool) -> pd.Series:
        """`values` (normalised) kept where in `allowed`; others refused, the cell shown as the
        export wrote it, with the way to map another spelling (the mapping profile's `values:`)."""
        unknown = values.notna() & ~values.isin(allowed)
        shown = self.text.get(column, values)
        self.bad(unknown, column, "one of " + ", ".join(sorted(allowed)) + f"; map another spelling under "
                 f"`values: {column}:` in the mapping profile", required, shown)
        return values.where(~unknown) if unknown.any() else values


def quarantine_rows(raw: pd.DataFrame, failed: pd.Series, reasons: pd.Series, table: str,
                    key: pd.DataFrame | None = None, refused_npi: pd.Series | None = None) -> pd.DataFrame:
    """Quarantine records keep the row's own cells (as read) so nothing is lost, and the visit
    key (patient_id, date_of_service, rendering_npi) where `key` has it readable (an NPI in
    `refused_npi` is not)."""
    bad = raw.loc[failed.to_numpy()]
    if key is not None and refused_npi is not None:
        key = key.loc[bad.index]
        key = key.assign(rendering_npi=key["rendering_npi"].mask(refused_npi.loc[bad.index].to_numpy()))
    cells = bad.drop(columns=[c for c in LINEAGE if c in bad.columns])
    records = records_json(cells)
    frame = pd.DataFrame(
        {
            "table": table,
            SOURCE_FILE: bad[SOURCE_FILE].astype("str"),
            SOURCE_ROW: bad[SOURCE_ROW].astype("int64"),
            "reason": reasons.reindex(bad.index).astype("str"),
            "record": pd.Series(records, index=bad.index, dtype="str"),
        },
    )
    return with_quarantine_key(frame, None if key is None else key.loc[bad.index])


def with_quarantine_key(frame: pd.DataFrame, key: pd.DataFrame | None = None) -> pd.DataFrame:
    """`frame` (table, source_file, source_row, reason, record) with the quarantine's visit-key
    columns: from `key` (aligned on the index) where given, else null."""
    index = frame.index
    columns = {
        "patient_id": pd.Series(pd.NA, index=index, dtype="str"),
        "date_of_service": pd.Series(pd.NaT, index=index, dtype="datetime64[s]"),
        "rendering_npi": pd.Series(pd.NA, index=index, dtype="str"),
    }
    if key is not None:
        for name in columns:
            if name in key.columns:
                columns[name] = key[name].reindex(index).astype(columns[name].dtype)
    return frame.assign(**columns)[list(QUARANTINE_COLUMNS)]


def records_json(cells: pd.DataFrame) -> list[str]:
    """Each row as a JSON object of its cells, missing ones as null (column by column: `to_dict`
    is 3× slower)."""
    names = [str(c) for c in cells.columns]
    columns = [cells[c].astype(object).where(cells[c].notna(), None).tolist() for c in cells.columns]
    return [json.dumps(dict(zip(names, row, strict=True)), default=str, ensure_ascii=False) for row in zip(*columns, strict=True)]


def conform_claim_lines(mapped: pd.DataFrame, reference: ReferenceData,
                        conventions: Conventions = Conventions()) -> Conformed:  # noqa: B008
    """Validate and normalize claim lines against the contract.

    `mapped`: an export's cells under contract column names (text, or numbers from a typed
    file), with source_file and source_row. Returns canonical claim lines (the contract's
    columns, `modifiers` a list, dates datetime64[s], units Int64, charge Float64, and
    `unreadable_fields`) and quarantined rows with their reasons and visit key.
    """
    f = _Fields(mapped, CLAIM_COLUMNS, conventions)
    for column in ("claim_id", "patient_id", "clinic_id", "cpt_code", "units", "line_number"):
        f.require(column)
    payer_type = parse.payer_type_text(f["payer_type"])
    payer_type, said = _payer_types_of_837(mapped, payer_type, f, reference)
    f.require("payer_type", payer_type.where(~said, "said"))  # a filing indicator's reason is said already
    cpt, bad_cpt = parse.parse_cpt_codes(f["cpt_code"])
    f.bad(bad_cpt, "cpt_code", "a 5-character procedure code", True)
    modifiers, bad_mods = parse.parse_modifiers(f["modifiers"])
    f.bad(bad_mods, "modifiers", "0-4 two-character modifiers", False)
    amounts = f.numbers(parse.parse_money(f["charge_amount"], conventions.decimal_mark), "charge_amount",
                        "an amount ≥ 0", False)
    diagnoses, bad_dx = parse.parse_diagnosis_codes(f["diagnosis_codes"])
    f.bad(bad_dx, "diagnosis_codes", "ICD-10-CM codes", False)
    dates = f.date("date_of_service", True)
    npis = f.npi("rendering_npi", True)
    rows = pd.DataFrame(
        {
            "claim_id": f["claim_id"],
            "line_number": f.whole("line_number", True, minimum=1),
            "patient_id": f["patient_id"],
            "date_of_service": dates,
            "rendering_npi": npis,
            "clinic_id": f["clinic_id"],
            "payer_type": f.member("payer_type", payer_type, reference.payer_types, True),
            "payer_id": f["payer_id"],
            "cpt_code": cpt,
            "modifiers": modifiers,
            "units": f.whole("units", True),
            "charge_amount": amounts,
            "diagnosis_codes": diagnoses,
            "line_control_number": f["line_control_number"],
            "rendering_provider_name": f["rendering_provider_name"],
            "clinic_name": f["clinic_name"],
        }
    )
    key = pd.DataFrame({"patient_id": f["patient_id"], "date_of_service": dates, "rendering_npi": npis})
    return _split(mapped, rows, f, CLAIM_LINES, key)


def _payer_types_of_837(mapped: pd.DataFrame, payer_type: pd.Series, f: _Fields, reference: ReferenceData
                        ) -> tuple[pd.Series, pd.Series]:
    """Claim lines read from an 837P name no payer type: theirs is the payer table's for their
    payer_id, else their claim filing indicator's (`SBR09`, `claim_filing_indicators.csv`):
    `ReferenceData.payer_types_for`. A line whose filing indicator neither table knows is
    quarantined saying so (the mask returned: not 'payer_type is missing' as well); a given payer
    type is kept as given."""
    none = pd.Series(False, index=payer_type.index)
    if FILING_INDICATOR not in mapped.columns:
        return payer_type, none
    filing = parse.as_text(mapped[FILING_INDICATOR]).str.strip().str.upper()
    wanted = payer_type.isna() & filing.notna()
    if not wanted.any():
        return payer_type, none
    resolved = reference.payer_types_for(f["payer_id"][wanted], filing[wanted]).reindex(payer_type.index)
    payer_type = payer_type.where(~wanted, resolved)
    unknown = wanted & payer_type.isna()
    if unknown.any():
        from nmr_audit.x12.claims_837 import unresolved_payer

        payer = f["payer_id"]
        f.checks.add(unknown, lambda rows: pd.Series([unresolved_payer(filing[r], payer[r]) for r in rows], index=rows,
                                                     dtype="str"))
    return payer_type, unknown


def _split(mapped: pd.DataFrame, rows: pd.DataFrame, f: _Fields, table: str, key: pd.DataFrame) -> Conformed:
    checks = f.checks
    failed = checks.failed()
    good = pd.concat([rows.assign(**{UNREADABLE_FIELDS: checks.unreadable_fields()}), mapped[list(LINEAGE)]], axis=1)
    if failed.any():  # one filter over all columns; a clean file is not copied at all
        good = good.take(np.flatnonzero(~failed.to_numpy()))
    quarantine = quarantine_rows(mapped, failed, checks.reasons(), table, key, f.refused.get("rendering_npi"))
    return Conformed(rows=good.reset_index(drop=True), quarantine=quarantine)


def conform_visit_notes(mapped: pd.DataFrame, reference: ReferenceData,
                        conventions: Conventions = Conventions()) -> Conformed:  # noqa: B008
    """Validate and normalize visit notes, and itemize their minutes as a long table.

    Returns canonical notes (the contract's columns, clock times as 'HH:MM', minutes Int64,
    flags boolean, `itemizes_minutes`, `unreadable_fields`), the quarantine, the minutes per
    code (note_id, cpt_code, minutes, lineage) of the notes kept, and the `minutes_*` columns
    ignored because their suffix is no procedure code.
    """
    f = _Fields(mapped, NOTE_COLUMNS, conventions)
    checks = f.checks
    for column in ("note_id", "patient_id", "clinic_id"):
        f.require(column)
    credential = f.member("provider_credential", parse.upper_text(f["provider_credential"]), reference.credentials, False)
    diagnoses, bad_dx = parse.parse_diagnosis_codes(f["diagnosis_codes"])
    f.bad(bad_dx, "diagnosis_codes", "ICD-10-CM codes", False)
    dates = f.date("date_of_service", True)
    npis = f.npi("rendering_npi", True)
    columns: dict[str, pd.Series] = {
        "note_id": f["note_id"],
        "patient_id": f["patient_id"],
        "date_of_service": dates,
        "rendering_npi": npis,
        "clinic_id": f["clinic_id"],
        "provider_credential": credential,
        "diagnosis_codes": diagnoses,
        "plan_of_care_signed_date": f.date("plan_of_care_signed_date", False),
    }
    for column in ("time_in", "time_out"):
        clock, bad = parse.parse_times(f[column])
        f.bad(bad, column, EXPECTED_TIME, False)
        columns[column] = clock
    for column in ("total_treatment_minutes", "total_timed_minutes"):
        columns[column] = f.minutes(column)
    for column in NECESSITY_TEXT_FIELDS:
        columns[column] = f[column]
    for column in ("one_on_one", "signed"):
        columns[column] = f.flag(column)
    columns["supervising_npi"] = f.npi("supervising_npi", False)
    columns["progress_report"] = f.flag("progress_report")
    for column in ("rendering_provider_name", "clinic_name"):
        columns[column] = f[column]
    services, ignored = _itemized_minutes(mapped, columns["note_id"], f)
    rows = pd.DataFrame(columns)[["note_id", *[c for c in columns if c != "note_id"]]]
    rows = rows.assign(itemizes_minutes=rows.index.isin(services.index[services["minutes"].notna()]))
    key = pd.DataFrame({"patient_id": f["patient_id"], "date_of_service": dates, "rendering_npi": npis})
    conformed = _split(mapped, rows, f, VISIT_NOTES, key)
    kept = mapped.index[~checks.failed().to_numpy()]
    services = services.loc[services.index.isin(kept)].reset_index(drop=True)
    return Conformed(conformed.rows, conformed.quarantine, services, ignored)


def minutes_code(column: str) -> str | None:
    """The procedure code a `minutes_<CPT>` column itemizes (upper-cased), or None when its
    suffix is no code (`minutes_comment`): such a column is ignored and listed in summary.json."""
    code = str(column)[len(MINUTES_PREFIX):].strip().upper()
    return code if re.fullmatch(parse.CPT_SHAPE, code, flags=re.ASCII) else None


def _itemized_minutes(mapped: pd.DataFrame, note_ids: pd.Series, f: _Fields) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """(note_id, cpt_code, minutes) from a `services` list and/or `minutes_<CPT>` columns, and the
    `minutes_*` columns ignored.

    Indexed by the note's row so that minutes follow their note into or out of quarantine.
    A code listed twice in one note is summed; the list wins over a column for the same code.
    """
    columns, ignored = _minutes_columns(mapped, f)
    parts = [_services_list(mapped, f), columns]
    filled = [p for p in parts if len(p)]
    long = pd.concat(filled) if filled else parts[0]
    long = long.dropna(subset=["minutes"])
    long = long.assign(note_id=note_ids.reindex(long.index), row=long.index)
    long = long.drop_duplicates(subset=["row", "cpt_code"], keep="first").drop(columns="row")
    lineage = mapped.loc[long.index, list(LINEAGE)]
    frame = long.assign(**{c: lineage[c] for c in LINEAGE})[["note_id", "cpt_code", "minutes", SOURCE_FILE, SOURCE_ROW]]
    return frame, ignored


def _empty_services() -> pd.DataFrame:
    return pd.DataFrame({"cpt_code": pd.Series(dtype="str"), "minutes": pd.Series(dtype="Int64")})


def _minutes_columns(mapped: pd.DataFrame, f: _Fields) -> tuple[pd.DataFrame, tuple[str, ...]]:
    wide = [c for c in mapped.columns if str(c).startswith(MINUTES_PREFIX)]
    ignored = tuple(c for c in wide if minutes_code(c) is None)
    frames = []
    for column in wide:
        code = minutes_code(column)
        if code is None:
            continue
        name = MINUTES_PREFIX + code
        f.add(name, ascii_digits(parse.as_cells(mapped[column])))
        minutes = f.minutes(name)
        frames.append(pd.DataFrame({"cpt_code": code, "minutes": minutes}).dropna(subset=["minutes"]))
    if not frames:
        return _empty_services(), ignored
    return pd.concat(frames).astype({"cpt_code": "str"}), ignored


def _services_list(mapped: pd.DataFrame, f: _Fields) -> pd.DataFrame:
    """Minutes from a `services` list; an item that cannot be read is set aside (column
    `services`), the note's other items kept."""
    if SERVICES_COLUMN not in mapped.columns:
        return _empty_services()
    cells = mapped[SERVICES_COLUMN]
    items = cells.map(_as_list).explode().dropna()
    if items.empty:
        return _empty_services()
    is_dict = items.map(lambda item: isinstance(item, dict)).astype(bool)
    code_text = ascii_digits(parse.as_text(items.map(lambda item: item.get("cpt_code") if isinstance(item, dict) else None)))
    minutes_cells = items.map(lambda item: item.get("minutes") if isinstance(item, dict) else None)
    minutes_text = ascii_digits(parse.as_text(minutes_cells.map(_json_scalar)))
    code, bad_code = parse.parse_cpt_codes(code_text)
    minutes, bad_minutes, _ = parse.parse_minutes(minutes_text, f.conventions.decimal_mark)
    bad_item = ~is_dict | bad_code | code_text.isna() | bad_minutes | minutes_text.isna()
    if bad_item.any():
        shown = items[bad_item].map(_json_scalar).astype("str")
        positions = pd.Series(np.arange(len(items)), index=items.index)[bad_item.to_numpy()]
        first = ~positions.index.duplicated()  # one entry per note: the first item it could not read
        rows = positions.index[first]
        mask = pd.Series(mapped.index.isin(rows), index=mapped.index)
        text = pd.Series(shown[first].to_numpy(), index=rows).reindex(mapped.index)
        f.checks.unreadable(mask, SERVICES_COLUMN, text,
                            "a list of {cpt_code: a 5-character procedure code, minutes: whole minutes ≥ 0} objects")
    long = pd.DataFrame({"cpt_code": code, "minutes": minutes})[~bad_item.to_numpy()].dropna()
    return long.groupby([long.index, "cpt_code"], sort=False)["minutes"].sum().reset_index(level=1)


def _json_scalar(value: object) -> object:
    """An item (or its minutes) as the text a person would read: objects as JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return value


def _as_list(value: object) -> list:
    """A services cell: a list (JSON Lines, Parquet) or a JSON string (a text column)."""
    if isinstance(value, list):
        return value
    if hasattr(value, "tolist"):
        return list(value.tolist())
    if isinstance(value, str) and value.strip().lower() in NULL_SPELLINGS:
        return []
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return [value]
        return parsed if isinstance(parsed, list) else [parsed]
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return []
    return [value]


def add_unreadable_column(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with an empty `unreadable_fields` column where it has none (frames built in tests
    or by the generator, not by validation)."""
    if UNREADABLE_FIELDS in frame.columns:
        return frame
    return frame.assign(**{UNREADABLE_FIELDS: empty_unreadable(frame.index)})
