"""Mapping profiles: how one EMR's export spells the contract's columns and values.

A profile is data (a YAML file, see `data/mappings/`); this module only applies it, so a
consultant onboarding a new client writes a profile, not code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from nmr_audit.contract import LINEAGE


@dataclass(frozen=True)
class TableMapping:
    """Renames and value spellings for one table of one export."""

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    delimiter: str | None = None
    sheet: str | int | None = None
    x12: Mapping[str, str] = field(default_factory=dict)  # 837P choices: patient_id, clinic_id (nmr_audit.x12)
    decimal_mark: str | None = None  # "." or ","; from the profile's `decimal_mark` or `locale`


@dataclass(frozen=True)
class MappingProfile:
    """A named pair of table mappings (claim lines, visit notes)."""

    name: str
    claim_lines: TableMapping = field(default_factory=TableMapping)
    visit_notes: TableMapping = field(default_factory=TableMapping)
    description: str = ""

    def for_table(self, table: str) -> TableMapping:
        return self.claim_lines if table == "claim_lines" else self.visit_notes


IDENTITY = MappingProfile(name="canonical")


def canonical_header(header: str) -> str:
    """`Claim ID` and `claim-id` both mean `claim_id` when no profile says otherwise."""
    return re.sub(r"[\s\-]+", "_", str(header).strip()).lower()


def _targets(column: object, by_header: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    return by_header.get(str(column).strip().lower(), (canonical_header(column),))


def header_collisions(columns: pd.Index, mapping: TableMapping) -> dict[str, list[str]]:
    """Contract columns that two or more of an export's columns would feed (`Units` and
    ` units`, `Minutes_97112` and `minutes_97112`): target → the export's names. A column the
    profile names wins over one that only happens to be spelled like the target (as in
    `apply_mapping`), so only two named ones, or two unnamed ones, collide."""
    by_header = {str(k).strip().lower(): v for k, v in mapping.columns.items()}
    named: dict[str, list[str]] = {}
    unnamed: dict[str, list[str]] = {}
    for column in columns:
        if column in LINEAGE:
            continue
        fed = named if str(column).strip().lower() in by_header else unnamed
        for target in _targets(column, by_header):
            fed.setdefault(target, []).append(str(column))
    merged = {**{t: n for t, n in unnamed.items() if t not in named}, **named}
    return {target: names for target, names in merged.items() if len(names) > 1}


def apply_mapping(raw: pd.DataFrame, mapping: TableMapping) -> pd.DataFrame:
    """Rename an export's columns to the contract and translate its value spellings.

    Headers are matched trimmed and case-insensitively (`Minutes_97112` is `minutes_97112`).
    Unmapped columns keep a canonicalized header, so a file already in the contract needs no
    profile. One export column may feed several contract columns (a plan name that is both the
    payer id and, through `values`, the payer type).
    """
    by_header = {str(k).strip().lower(): v for k, v in mapping.columns.items()}
    renamed: dict[str, pd.Series] = {}
    for column in raw.columns:
        if column in LINEAGE:
            continue
        for target in _targets(column, by_header):
            renamed.setdefault(target, raw[column])
    for column in raw.columns:  # a column the profile names wins over one merely spelled like its target
        if column not in LINEAGE and str(column).strip().lower() in by_header:
            for target in by_header[str(column).strip().lower()]:
                renamed[target] = raw[column]
    frame = pd.DataFrame(renamed, index=raw.index)
    frame = frame.assign(**{c: raw[c] for c in LINEAGE if c in raw.columns})
    return translate_values(frame, mapping.values)


def translate_values(frame: pd.DataFrame, values: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """Replace export spellings (compared trimmed and case-insensitively) by contract values."""
    changes: dict[str, pd.Series] = {}
    for column, spellings in values.items():
        if column not in frame.columns:
            continue
        lookup = {str(k).strip().lower(): str(v) for k, v in spellings.items()}
        original = frame[column].astype("str")
        translated = original.str.strip().str.lower().map(lookup)
        changes[column] = translated.fillna(original).where(frame[column].notna())
    return frame.assign(**changes)
