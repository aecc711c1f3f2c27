"""From text frames read out of export files to the canonical tables of one run.

Pure: the flow reads files and hands their frames here. Every row read ends either in a
canonical table or in the quarantine, and `account` proves it per file.
"""

from __future__ import annotations

import json

import pandas as pd

from nmr_audit.conform import Conformed, conform_claim_lines, conform_visit_notes
from nmr_audit.contract import (
    CLAIM_LINES,
    QUARANTINE_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    UNIQUE_KEYS,
)
from nmr_audit.errors import InputError
from nmr_audit.mapping import TableMapping, apply_mapping
from nmr_audit.reference import ReferenceData


def conform_file(
    raw: pd.DataFrame, table: str, mapping: TableMapping, reference: ReferenceData, path: str
) -> Conformed:
    """Map one file's columns to the contract and validate its rows."""
    mapped = apply_mapping(raw, mapping)
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in mapped.columns]
    if missing:
        raise InputError(path, f"no column for {', '.join(missing)} in this {table} file",
                         "pass --mapping with a profile that names them")
    conform = conform_claim_lines if table == CLAIM_LINES else conform_visit_notes
    return conform(mapped, reference)


def reader_quarantine(invalid: pd.DataFrame, table: str, path: str) -> pd.DataFrame:
    """Rows the file parser could not split, in the quarantine's shape."""
    return invalid.assign(table=table, **{SOURCE_FILE: path})[list(QUARANTINE_COLUMNS)]


def combine(parts: list[Conformed], table: str) -> Conformed:
    """One table from all files of a run; later copies of a unique key go to quarantine."""
    rows = pd.concat([p.rows for p in parts], ignore_index=True)
    quarantine = pd.concat([p.quarantine for p in parts], ignore_index=True)
    rows, duplicates = split_duplicates(rows, UNIQUE_KEYS[table], table)
    services = None
    if table != CLAIM_LINES:
        services = pd.concat([p.services for p in parts if p.services is not None], ignore_index=True)
        services = _keep_lineage(services, rows)
    return Conformed(rows=rows, quarantine=pd.concat([quarantine, duplicates], ignore_index=True),
                     services=services)


def split_duplicates(rows: pd.DataFrame, key: tuple[str, ...], table: str
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each unique key (in file, then line, order); quarantine the rest."""
    repeated = rows.duplicated(subset=list(key), keep="first")
    if not repeated.any():
        return rows, pd.DataFrame(columns=list(QUARANTINE_COLUMNS))
    first = rows.loc[~repeated, [*key, SOURCE_FILE, SOURCE_ROW]]
    later = rows.loc[repeated]
    seen = later[list(key)].merge(first, on=list(key), how="left").set_axis(later.index)
    label = "(" + ", ".join(key) + ")"
    reason = (f"duplicate {label}: first seen in " + seen[SOURCE_FILE].astype("str")
              + " row " + seen[SOURCE_ROW].astype("str"))
    cells = later.drop(columns=[SOURCE_FILE, SOURCE_ROW])
    records = [json.dumps(r, default=str) for r in cells.to_dict("records")]
    quarantine = pd.DataFrame({"table": table, SOURCE_FILE: later[SOURCE_FILE],
                               SOURCE_ROW: later[SOURCE_ROW], "reason": reason,
                               "record": records}, index=later.index)
    return rows.loc[~repeated].reset_index(drop=True), quarantine.reset_index(drop=True)


def _keep_lineage(services: pd.DataFrame, notes: pd.DataFrame) -> pd.DataFrame:
    """Minutes belong to the row they were read from, not to a note id another row reused."""
    kept = notes[[SOURCE_FILE, SOURCE_ROW]]
    return services.merge(kept, on=[SOURCE_FILE, SOURCE_ROW], how="inner")


def account(files: pd.DataFrame, rows: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Per file: rows read = rows audited + rows quarantined, or the run stops.

    `files` has one row per file read (table, source_file, rows_read, …).
    """
    audited = rows.groupby(SOURCE_FILE).size().rename("rows_audited")
    held = quarantine.groupby(SOURCE_FILE).size().rename("rows_quarantined")
    counts = files.join(audited, on=SOURCE_FILE).join(held, on=SOURCE_FILE)
    counts = counts.fillna({"rows_audited": 0, "rows_quarantined": 0}).astype(
        {"rows_audited": "int64", "rows_quarantined": "int64"})
    lost = counts["rows_read"] != counts["rows_audited"] + counts["rows_quarantined"]
    if lost.any():
        raise AssertionError(f"row accounting broken for {counts.loc[lost, SOURCE_FILE].tolist()}")
    return counts
