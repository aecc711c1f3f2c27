"""From text frames read out of export files to the canonical tables of one run.

Pure: the flow reads files and hands their frames here. Every row read ends either in a
canonical table or in the quarantine, and `account` proves it per file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.conform import (
    Conformed,
    conform_claim_lines,
    conform_visit_notes,
    records_json,
    with_quarantine_key,
)
from nmr_audit.contract import (
    CLAIM_LINES,
    LINEAGE,
    QUARANTINE_COLUMNS,
    QUARANTINE_KEY,
    REQUIRED_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    UNIQUE_KEYS,
    VISIT_NOTES,
)
from nmr_audit.errors import InputError
from nmr_audit.keys import group_numbers, keys_in, later_copies
from nmr_audit.mapping import TableMapping, apply_mapping, header_collisions
from nmr_audit.parse import Conventions
from nmr_audit.reference import ReferenceData


def conventions_for(format: str, delimiter: str | None, mapping: TableMapping) -> Conventions:
    """How a source writes numbers and dates: the mapping profile's decimal mark (its locale) if
    it names one, else `auto` for a `;`-separated file (decimal commas are read where
    unambiguous) and `.` for any other; Excel serial dates in workbooks."""
    mark = mapping.decimal_mark or ("auto" if format == "csv" and delimiter == ";" else ".")
    return Conventions(decimal_mark=mark, workbook=format == "excel")  # type: ignore[arg-type]


def conform_file(
    raw: pd.DataFrame, table: str, mapping: TableMapping, reference: ReferenceData, path: str,
    conventions: Conventions | None = None,
) -> Conformed:
    """Map one file's columns to the contract and validate its rows.

    Raises InputError when a required column is absent, or when two of the file's columns
    mean one contract column (`Units` and `units `), which would leave one of them unread.
    """
    collisions = header_collisions(raw.columns, mapping)
    if collisions:
        target, names = next(iter(collisions.items()))
        raise InputError(path, f"columns {' and '.join(repr(n) for n in names)} both mean {target}",
                         "keep one, or map them apart in the mapping profile")
    mapped = apply_mapping(raw, mapping)
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in mapped.columns]
    if missing:
        other = VISIT_NOTES if table == CLAIM_LINES else CLAIM_LINES
        headers = {str(c).strip().lower() for c in raw.columns}
        if set(REQUIRED_COLUMNS[other]) <= headers:  # every column the other table needs: the options swapped?
            raise InputError(path, f"no column for {', '.join(missing)} in this {table} file: it has the columns of a "
                             f"{other} file",
                             "were --claims and --notes swapped? pass claim files to --claims and notes to --notes")
        raise InputError(path, f"no column for {', '.join(missing)} in this {table} file",
                         "pass --mapping with a profile that names them")
    conform = conform_claim_lines if table == CLAIM_LINES else conform_visit_notes
    return conform(mapped, reference, conventions or conventions_for("", None, mapping))


def reader_quarantine(invalid: pd.DataFrame, table: str, path: str) -> pd.DataFrame:
    """Rows the file parser could not split, in the quarantine's shape (no visit key: their cells
    could not be told apart)."""
    return with_quarantine_key(invalid.assign(table=table, **{SOURCE_FILE: path})[list(QUARANTINE_COLUMNS[:5])])


def combine(parts: list[Conformed], table: str) -> Conformed:
    """One table from all files of a run; later copies of a unique key go to quarantine."""
    rows = pd.concat([p.rows for p in parts], ignore_index=True)
    quarantine = pd.concat([p.quarantine for p in parts], ignore_index=True)
    duplicates = duplicate_keys(rows[[*UNIQUE_KEYS[table], *LINEAGE]], table)
    rows, repeated = drop_duplicates(rows, duplicates, table)
    services = None
    if table != CLAIM_LINES:
        services = keep_lineage(pd.concat([p.services for p in parts if p.services is not None], ignore_index=True),
                                rows)
    ignored = tuple(dict.fromkeys(c for p in parts for c in p.ignored_columns))
    return Conformed(rows=rows, quarantine=pd.concat([quarantine, repeated], ignore_index=True),
                     services=services, ignored_columns=ignored)


def duplicate_keys(keys: pd.DataFrame, table: str) -> pd.DataFrame:
    """The later copies of each unique key, and where its first copy was read.

    `keys`: the key columns and lineage of every canonical row, in file then line order. Run over
    the keys alone, so a run held in buckets decides once for all buckets which copy is first.
    """
    later, first = (later_copies(group_numbers(keys, list(UNIQUE_KEYS[table]))) if len(keys)
                    else (np.zeros(0, dtype="int64"),) * 2)
    copy, seen = keys.iloc[later].reset_index(drop=True), keys.iloc[first].reset_index(drop=True)
    return pd.DataFrame({SOURCE_FILE: copy[SOURCE_FILE].astype("str"), SOURCE_ROW: copy[SOURCE_ROW].astype("int64"),
                         "first_file": seen[SOURCE_FILE].astype("str"), "first_row": seen[SOURCE_ROW].astype("int64")})


REPLACEMENT_COLUMNS = (SOURCE_FILE, "claim_id", "claim_frequency", "segment")


def replaced_in_later_files(keys: pd.DataFrame, replacements: pd.DataFrame, files: list[str]) -> pd.DataFrame:
    """The claim lines that a replacement (CLM05-3 = 7) or a void (8) in a LATER file of the run
    takes back, in the shape of `duplicate_keys` with a `reason` (first_file, first_row: the
    replacing claim's file and segment).

    `keys`: claim_id, line_number, source_file, source_row of every canonical claim line (any
    order); `replacements`: `REPLACEMENT_COLUMNS`, one row per replacement or void claim of a
    file (`X12Table.replacements`); `files`: the run's sources in reading order. Within one file
    the 837P reader applies them already (its docs); across files, as within one: a void removes
    every earlier claim of its CLM01 (and bills nothing itself), a replacement supersedes them,
    and where both follow a file, the last void wins, else the first replacement (the same rule
    as `x12.claims_837`). Lines of a claim in the same file as, or after, the replacement are
    left to the duplicate-key check. Runs before `duplicate_keys`, over the keys alone.
    """
    columns = {SOURCE_FILE: "str", SOURCE_ROW: "int64", "first_file": "str", "first_row": "int64", "reason": "str"}
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    if replacements.empty or keys.empty:
        return empty
    order = {name: position for position, name in enumerate(files)}
    wanted = keys["claim_id"].isin(replacements["claim_id"].unique()).to_numpy()
    if not wanted.any():
        return empty
    lines = keys.loc[wanted, ["claim_id", SOURCE_FILE, SOURCE_ROW]].astype({SOURCE_FILE: "str"})
    lines = lines.assign(position=lines[SOURCE_FILE].map(order))
    later = replacements.astype({SOURCE_FILE: "str"}).assign(
        later_position=replacements[SOURCE_FILE].astype("str").map(order))
    pairs = lines.merge(later.rename(columns={SOURCE_FILE: "first_file", "segment": "first_row"}), on="claim_id")
    pairs = pairs[pairs["later_position"] > pairs["position"]]
    if pairs.empty:
        return empty
    pairs = pairs.sort_values([SOURCE_FILE, SOURCE_ROW, "later_position", "first_row"], kind="stable")
    last = pairs.groupby([SOURCE_FILE, SOURCE_ROW], sort=False).tail(1)
    voided = last[last["claim_frequency"] == "8"]
    replaced = pairs[pairs["claim_frequency"] == "7"].groupby([SOURCE_FILE, SOURCE_ROW], sort=False).head(1)
    replaced = replaced[~pd.MultiIndex.from_frame(replaced[[SOURCE_FILE, SOURCE_ROW]]).isin(
        pd.MultiIndex.from_frame(voided[[SOURCE_FILE, SOURCE_ROW]]))]
    chosen = pd.concat([voided, replaced], ignore_index=True)
    word = np.where(chosen["claim_frequency"] == "8", "voided", "replaced")
    reason = ("claim '" + chosen["claim_id"].astype("str") + "' " + word + " by the claim with the same CLM01 in "
              + chosen["first_file"] + " at segment " + chosen["first_row"].astype("str") + " (CLM05-3 = "
              + chosen["claim_frequency"].astype("str") + ")")
    found = pd.DataFrame({SOURCE_FILE: chosen[SOURCE_FILE], SOURCE_ROW: chosen[SOURCE_ROW],
                          "first_file": chosen["first_file"], "first_row": chosen["first_row"], "reason": reason})
    return found.astype(columns).sort_values([SOURCE_FILE, SOURCE_ROW], kind="stable").reset_index(drop=True)


def drop_duplicates(rows: pd.DataFrame, duplicates: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`rows` without the copies `duplicate_keys` named; those as quarantine rows saying where the
    first is (or, where `duplicates` gives one, their own `reason`: a claim replaced in a later file)."""
    candidate = rows[SOURCE_ROW].isin(duplicates[SOURCE_ROW]).to_numpy()  # integers first: cheap on millions
    if not candidate.any():
        return rows, with_quarantine_key(pd.DataFrame(columns=list(QUARANTINE_COLUMNS[:5])))
    lineage = rows.loc[candidate, list(LINEAGE)].astype({SOURCE_FILE: "str"})
    found = lineage.reset_index().merge(duplicates, on=list(LINEAGE)).set_index("index")
    later = rows.loc[found.index]
    label = "(" + ", ".join(UNIQUE_KEYS[table]) + ")"
    reason = (f"duplicate {label}: first seen in " + found["first_file"] + " row " + found["first_row"].astype("str"))
    if "reason" in found.columns:
        reason = found["reason"].astype("str").fillna(reason)
    quarantine = pd.DataFrame({"table": table, SOURCE_FILE: later[SOURCE_FILE].astype("str"),
                               SOURCE_ROW: later[SOURCE_ROW], "reason": reason.astype("str"),
                               "record": records_json(later.drop(columns=list(LINEAGE)))}, index=later.index)
    quarantine = with_quarantine_key(quarantine, later[[c for c in QUARANTINE_KEY if c in later.columns]])
    kept = np.ones(len(rows), dtype=bool)
    kept[rows.index.get_indexer(found.index)] = False
    return rows.loc[kept].reset_index(drop=True), quarantine.reset_index(drop=True)


def keep_lineage(services: pd.DataFrame, notes: pd.DataFrame) -> pd.DataFrame:
    """Minutes belong to the row they were read from, not to a note id another row reused."""
    return services.loc[keys_in(services, notes, list(LINEAGE))].reset_index(drop=True)


def account(files: pd.DataFrame, audited: pd.Series, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Per file: rows read = rows audited + rows quarantined, or the run stops.

    `files` has one row per file read (table, source_file, rows_read, …); `audited` the rows
    audited per source_file (`rows_per_file`).
    """
    audited = audited.rename("rows_audited")
    held = rows_per_file(quarantine).rename("rows_quarantined")
    counts = files.join(audited, on=SOURCE_FILE).join(held, on=SOURCE_FILE)
    counts = counts.fillna({"rows_audited": 0, "rows_quarantined": 0}).astype(
        {"rows_audited": "int64", "rows_quarantined": "int64"})
    lost = counts["rows_read"] != counts["rows_audited"] + counts["rows_quarantined"]
    if lost.any():
        raise AssertionError(f"row accounting broken for {counts.loc[lost, SOURCE_FILE].tolist()}")
    return counts


def rows_per_file(rows: pd.DataFrame) -> pd.Series:
    """How many of `rows` came from each source_file (text or categorical), by file name."""
    counts = rows[SOURCE_FILE].value_counts(sort=False)
    return counts.set_axis(counts.index.astype("str"))


def audited_per_file(keys: pd.DataFrame, duplicates: pd.DataFrame) -> pd.Series:
    """Rows audited per file: every canonical row's key but the later copies of a key."""
    return rows_per_file(keys).sub(rows_per_file(duplicates), fill_value=0).astype("int64")
