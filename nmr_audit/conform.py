"""Turn a mapped export into the contract's canonical tables, quarantining what breaks it.

Pure: frames in, frames out. A row that breaks the contract is never fixed by guessing and
never dropped: it leaves with a reason that names the column, the value and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmr_audit import parse
from nmr_audit.checks import RowChecks
from nmr_audit.contract import (
    CLAIM_COLUMNS,
    CLAIM_LINES,
    LINEAGE,
    MINUTES_PREFIX,
    NECESSITY_TEXT_FIELDS,
    NOTE_COLUMNS,
    NULL_SPELLINGS,
    QUARANTINE_COLUMNS,
    SERVICES_COLUMN,
    SOURCE_FILE,
    SOURCE_ROW,
    VISIT_NOTES,
)
from nmr_audit.reference import ReferenceData


@dataclass(frozen=True)
class Conformed:
    """Canonical rows that passed, and quarantined rows with their reasons."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    services: pd.DataFrame | None = None


_NUMBERS = frozenset({"line_number", "units", "charge_amount", "total_treatment_minutes", "total_timed_minutes"})


def _text(mapped: pd.DataFrame, column: str) -> pd.Series:
    """The column as text, or as the numbers a typed file (Parquet) holds where a number is wanted."""
    if column not in mapped.columns:
        return pd.Series(pd.NA, index=mapped.index, dtype="str")
    return (parse.as_cells if column in _NUMBERS else parse.as_text)(mapped[column])


def _npi(text: pd.Series, checks: RowChecks) -> pd.Series:
    checks.require(text, "rendering_npi")
    ok = parse.npi_check_digit_ok(text)
    checks.malformed(text.notna() & ~ok, "rendering_npi", text, "10 digits with a valid NPI check digit")
    return text


def _date(text: pd.Series, column: str, checks: RowChecks, required: bool) -> pd.Series:
    if required:
        checks.require(text, column)
    dates, bad = parse.parse_dates(text)
    checks.malformed(bad, column, text, "a real date as YYYY-MM-DD or MM/DD/YYYY")
    return dates


def _whole(text: pd.Series, column: str, checks: RowChecks, minimum: int = 0) -> pd.Series:
    values, bad = parse.parse_whole_numbers(text, minimum)
    checks.malformed(bad, column, text, f"a whole number ≥ {minimum}")
    return values


def _member(text: pd.Series, column: str, allowed: frozenset[str], checks: RowChecks) -> pd.Series:
    unknown = text.notna() & ~text.isin(allowed)
    checks.malformed(unknown, column, text, "one of " + ", ".join(sorted(allowed)))
    return text.where(~unknown)


def quarantine_rows(
    raw: pd.DataFrame, failed: pd.Series, reasons: pd.Series, table: str
) -> pd.DataFrame:
    """Quarantine records keep the row's own cells (as read) so nothing is lost."""
    bad = raw.loc[failed.to_numpy()]
    cells = bad.drop(columns=[c for c in LINEAGE if c in bad.columns])
    records = records_json(cells)
    return pd.DataFrame(
        {
            "table": table,
            SOURCE_FILE: bad[SOURCE_FILE].astype("str"),
            SOURCE_ROW: bad[SOURCE_ROW].astype("int64"),
            "reason": reasons.reindex(bad.index).astype("str"),
            "record": pd.Series(records, index=bad.index, dtype="str"),
        },
        columns=list(QUARANTINE_COLUMNS),
    )


def records_json(cells: pd.DataFrame) -> list[str]:
    """Each row as a JSON object of its cells, missing ones as null (column by column: `to_dict`
    is 3× slower)."""
    names = [str(c) for c in cells.columns]
    columns = [cells[c].astype(object).where(cells[c].notna(), None).tolist() for c in cells.columns]
    return [json.dumps(dict(zip(names, row, strict=True)), default=str, ensure_ascii=False) for row in zip(*columns, strict=True)]


def conform_claim_lines(mapped: pd.DataFrame, reference: ReferenceData) -> Conformed:
    """Validate and normalize claim lines against the contract."""
    checks = RowChecks(mapped.index)
    text = {c: _text(mapped, c) for c in CLAIM_COLUMNS}
    get = text.__getitem__
    for column in ("claim_id", "patient_id", "clinic_id", "cpt_code", "units", "line_number"):
        checks.require(get(column), column)
    payer_type = parse.regex_replace(get("payer_type").str.lower(), r"[\s\-]+", "_")
    checks.require(payer_type, "payer_type")
    cpt, bad_cpt = parse.parse_cpt_codes(get("cpt_code"))
    checks.malformed(bad_cpt, "cpt_code", get("cpt_code"), "a 5-character procedure code")
    modifiers, bad_mods = parse.parse_modifiers(get("modifiers"))
    checks.malformed(bad_mods, "modifiers", get("modifiers"), "0-4 two-character modifiers")
    amounts, bad_amounts = parse.parse_money(get("charge_amount"))
    checks.malformed(bad_amounts, "charge_amount", get("charge_amount"), "an amount ≥ 0")
    diagnoses, bad_dx = parse.parse_diagnosis_codes(get("diagnosis_codes"))
    checks.malformed(bad_dx, "diagnosis_codes", get("diagnosis_codes"), "ICD-10-CM codes")
    rows = pd.DataFrame(
        {
            "claim_id": get("claim_id"),
            "line_number": _whole(get("line_number"), "line_number", checks, minimum=1),
            "patient_id": get("patient_id"),
            "date_of_service": _date(get("date_of_service"), "date_of_service", checks, True),
            "rendering_npi": _npi(get("rendering_npi"), checks),
            "clinic_id": get("clinic_id"),
            "payer_type": _member(payer_type, "payer_type", reference.payer_types, checks),
            "payer_id": get("payer_id"),
            "cpt_code": cpt,
            "modifiers": modifiers,
            "units": _whole(get("units"), "units", checks),
            "charge_amount": amounts,
            "diagnosis_codes": diagnoses,
        }
    )
    return _split(mapped, rows, checks, CLAIM_LINES)


def _split(mapped: pd.DataFrame, rows: pd.DataFrame, checks: RowChecks, table: str) -> Conformed:
    failed = checks.failed()
    good = pd.concat([rows, mapped[list(LINEAGE)]], axis=1)
    if failed.any():  # one filter over all columns; a clean file is not copied at all
        good = good.take(np.flatnonzero(~failed.to_numpy()))
    quarantine = quarantine_rows(mapped, failed, checks.reasons(), table)
    return Conformed(rows=good.reset_index(drop=True), quarantine=quarantine)


def conform_visit_notes(mapped: pd.DataFrame, reference: ReferenceData) -> Conformed:
    """Validate and normalize visit notes, and itemize their minutes as a long table."""
    checks = RowChecks(mapped.index)
    text = {c: _text(mapped, c) for c in NOTE_COLUMNS}
    get = text.__getitem__
    for column in ("note_id", "patient_id", "clinic_id"):
        checks.require(get(column), column)
    credential = _member(get("provider_credential").str.upper(), "provider_credential",
                         reference.credentials, checks)
    diagnoses, bad_dx = parse.parse_diagnosis_codes(get("diagnosis_codes"))
    checks.malformed(bad_dx, "diagnosis_codes", get("diagnosis_codes"), "ICD-10-CM codes")
    columns: dict[str, pd.Series] = {
        "note_id": get("note_id"),
        "patient_id": get("patient_id"),
        "date_of_service": _date(get("date_of_service"), "date_of_service", checks, True),
        "rendering_npi": _npi(get("rendering_npi"), checks),
        "clinic_id": get("clinic_id"),
        "provider_credential": credential,
        "supervising_npi": get("supervising_npi"),  # bridge until the intake half validates it (issue 17)
        "diagnosis_codes": diagnoses,
        "plan_of_care_signed_date": _date(
            get("plan_of_care_signed_date"), "plan_of_care_signed_date", checks, False
        ),
    }
    for column in ("time_in", "time_out"):
        clock, bad = parse.parse_times(get(column))
        checks.malformed(bad, column, get(column), "a 24-hour time HH:MM")
        columns[column] = clock
    for column in ("total_treatment_minutes", "total_timed_minutes"):
        columns[column] = _whole(get(column), column, checks)
    for column in NECESSITY_TEXT_FIELDS:
        columns[column] = get(column)
    for column in ("one_on_one", "signed"):
        flags, bad = parse.parse_booleans(get(column))
        checks.malformed(bad, column, get(column), "yes/no, true/false, 1/0 or Y/N")
        columns[column] = flags
    services = _itemized_minutes(mapped, columns["note_id"], checks)
    rows = pd.DataFrame(columns)[["note_id", *[c for c in columns if c != "note_id"]]]
    rows = rows.assign(itemizes_minutes=rows.index.isin(services.index[services["minutes"].notna()]))
    conformed = _split(mapped, rows, checks, VISIT_NOTES)
    kept = mapped.index[~checks.failed().to_numpy()]
    services = services.loc[services.index.isin(kept)].reset_index(drop=True)
    return Conformed(conformed.rows, conformed.quarantine, services)


def _itemized_minutes(mapped: pd.DataFrame, note_ids: pd.Series, checks: RowChecks) -> pd.DataFrame:
    """(note_id, cpt_code, minutes) from a `services` list and/or `minutes_<CPT>` columns.

    Indexed by the note's row so that minutes follow their note into or out of quarantine.
    A code listed twice in one note is summed; the list wins over a column for the same code.
    """
    parts = [_services_list(mapped, checks), _minutes_columns(mapped, checks)]
    filled = [p for p in parts if len(p)]
    long = pd.concat(filled) if filled else parts[0]
    long = long.dropna(subset=["minutes"])
    long = long.assign(note_id=note_ids.reindex(long.index), row=long.index)
    long = long.drop_duplicates(subset=["row", "cpt_code"], keep="first").drop(columns="row")
    lineage = mapped.loc[long.index, list(LINEAGE)]
    return long.assign(**{c: lineage[c] for c in LINEAGE})[
        ["note_id", "cpt_code", "minutes", SOURCE_FILE, SOURCE_ROW]
    ]


def _empty_services() -> pd.DataFrame:
    return pd.DataFrame({"cpt_code": pd.Series(dtype="str"), "minutes": pd.Series(dtype="Int64")})


def _minutes_columns(mapped: pd.DataFrame, checks: RowChecks) -> pd.DataFrame:
    wide = [c for c in mapped.columns if str(c).startswith(MINUTES_PREFIX)]
    if not wide:
        return _empty_services()
    frames = []
    for column in wide:
        text = parse.as_cells(mapped[column])
        minutes = _whole(text, column, checks)
        code = column[len(MINUTES_PREFIX):].upper()
        frames.append(pd.DataFrame({"cpt_code": code, "minutes": minutes}).dropna(subset=["minutes"]))
    return pd.concat(frames).astype({"cpt_code": "str"})


def _services_list(mapped: pd.DataFrame, checks: RowChecks) -> pd.DataFrame:
    if SERVICES_COLUMN not in mapped.columns:
        return _empty_services()
    items = mapped[SERVICES_COLUMN].map(_as_list).explode().dropna()
    if items.empty:
        return _empty_services()
    is_dict = items.map(lambda item: isinstance(item, dict))
    checks.add(~is_dict.groupby(level=0).all().reindex(mapped.index, fill_value=True),
               "services is not a list of {cpt_code, minutes} objects")
    items = items[is_dict]
    code_text = parse.as_text(items.map(lambda item: item.get("cpt_code")))
    minutes_text = parse.as_text(items.map(lambda item: item.get("minutes")))
    code, bad_code = parse.parse_cpt_codes(code_text)
    minutes, bad_minutes = parse.parse_whole_numbers(minutes_text)
    per_row = lambda mask: mask.groupby(level=0).any().reindex(mapped.index, fill_value=False)  # noqa: E731
    checks.add(per_row(bad_code | code_text.isna()), "services has an item without a 5-character cpt_code")
    checks.add(per_row(bad_minutes | minutes_text.isna()), "services has an item whose minutes are not a whole number ≥ 0")
    long = pd.DataFrame({"cpt_code": code, "minutes": minutes}).dropna()
    return long.groupby([long.index, "cpt_code"], sort=False)["minutes"].sum().reset_index(level=1)


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
