"""Vectorized parsers for the cell spellings that clinic exports use.

Each parser takes a text Series (missing cells already NA) and returns the parsed values and a
mask of cells that were present but could not be parsed, so that validation can quarantine the
row and say why instead of guessing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import NULL_SPELLINGS

Parsed = tuple[pd.Series, pd.Series]

_ISO_DATE = r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$"
_US_DATE = r"^(\d{1,2}/\d{1,2}/\d{4})(?: 00:00(?::00)?)?$"
_TIME = r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$"
_MODIFIER_LIST = r"^[A-Z0-9]{2}(?: [A-Z0-9]{2}){0,3}$"
_CPT = r"^[A-Z0-9]{5}$"
_ICD10 = r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")

LIST_OF_TEXT = pd.ArrowDtype(pa.list_(pa.string()))


def as_text(values: pd.Series) -> pd.Series:
    """Trimmed text with every null spelling of the contract turned into NA."""
    text = values.astype("str").str.strip()
    return text.mask(text.str.lower().isin(NULL_SPELLINGS))


def parse_dates(text: pd.Series) -> Parsed:
    """`YYYY-MM-DD` or `MM/DD/YYYY` (a midnight time, as spreadsheets add, is tolerated)."""
    iso = pd.to_datetime(text.str.extract(_ISO_DATE)[0], format="%Y-%m-%d", errors="coerce")
    us = pd.to_datetime(text.str.extract(_US_DATE)[0], format="%m/%d/%Y", errors="coerce")
    dates = iso.fillna(us).astype("datetime64[s]")
    return dates, text.notna() & dates.isna()


def parse_whole_numbers(text: pd.Series, minimum: int = 0) -> Parsed:
    """Whole numbers at or above `minimum`; `2.0` counts as 2, `2.5` and `-1` do not."""
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    whole = numbers.notna() & (numbers % 1 == 0) & (numbers >= minimum)
    values = numbers.where(whole).astype("Int64")
    return values, text.notna() & ~whole


def parse_money(text: pd.Series) -> Parsed:
    """Amounts at or above zero; a leading `$` and thousands separators are tolerated."""
    cleaned = text.str.replace(r"[$,\s]", "", regex=True)
    amounts = pd.to_numeric(cleaned, errors="coerce")
    ok = amounts.notna() & (amounts >= 0)
    return amounts.where(ok).astype("Float64"), text.notna() & ~ok


def parse_booleans(text: pd.Series) -> Parsed:
    """yes/no, true/false, 1/0, Y/N and T/F in any case."""
    lowered = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values = values.mask(lowered.isin(_TRUE), True).mask(lowered.isin(_FALSE), False)
    return values, text.notna() & values.isna()


def parse_times(text: pd.Series) -> Parsed:
    """24-hour clock times as `HH:MM` (seconds, if present, are dropped)."""
    parts = text.str.extract(_TIME)
    hours = pd.to_numeric(parts[0], errors="coerce")
    minutes = pd.to_numeric(parts[1], errors="coerce")
    ok = (hours < 24) & (minutes < 60)
    clock = parts[0].str.zfill(2) + ":" + parts[1]
    return clock.where(ok), text.notna() & ~ok.fillna(False).astype(bool)


def parse_cpt_codes(text: pd.Series) -> Parsed:
    """Five-character procedure codes, upper-cased (`97112`, `G0283`)."""
    codes = text.str.upper()
    ok = codes.str.fullmatch(_CPT).fillna(False).astype(bool)
    return codes.where(ok), text.notna() & ~ok


def parse_modifiers(text: pd.Series) -> Parsed:
    """0–4 two-character modifiers, any mix of commas, semicolons and spaces between them.

    Returns a list per line (empty when the cell is empty) so later rules test membership
    rather than re-parsing strings.
    """
    spaced = text.str.upper().str.replace(r"[\s,;]+", " ", regex=True).str.strip()
    spaced = spaced.mask(spaced == "")
    ok = spaced.isna() | spaced.str.fullmatch(_MODIFIER_LIST).fillna(False).astype(bool)
    arrow = pa.array(spaced.where(ok), type=pa.string(), from_pandas=True)
    split = pc.split_pattern(arrow, " ")
    lists = pc.if_else(pc.is_null(split), pa.scalar([], type=pa.list_(pa.string())), split)
    return pd.Series(lists, index=text.index, dtype=LIST_OF_TEXT), ~ok


def parse_diagnosis_codes(text: pd.Series) -> Parsed:
    """ICD-10-CM codes, upper-cased and joined with `;` whatever separator the export used."""
    joined = text.str.upper().str.replace(r"\s*[;,]\s*", ";", regex=True).str.strip(";")
    tokens = joined.dropna().str.split(";").explode().astype("str")
    token_ok = tokens.str.fullmatch(_ICD10).fillna(False).astype(bool)
    ok = token_ok.groupby(level=0).all().reindex(text.index, fill_value=True)
    return joined.where(ok), text.notna() & ~ok


def npi_check_digit_ok(text: pd.Series) -> pd.Series:
    """NPI check digit: Luhn over the nine-digit base with the 80840 prefix (constant 24)."""
    ten_digits = text.str.fullmatch(r"\d{10}").fillna(False).astype(bool)
    ok = pd.Series(False, index=text.index)
    if not ten_digits.any():
        return ok
    raw = "".join(text[ten_digits].tolist()).encode("ascii")
    digits = (np.frombuffer(raw, dtype=np.uint8) - ord("0")).reshape(-1, 10).astype(np.int64)
    base = digits[:, :9].copy()
    doubled = base[:, 0::2] * 2
    base[:, 0::2] = doubled // 10 + doubled % 10
    check = (10 - (base.sum(axis=1) + 24) % 10) % 10
    ok[ten_digits] = check == digits[:, 9]
    return ok


def modifiers_text(modifiers: pd.Series) -> pd.Series:
    """A list column of modifiers as 'GP,59' text (missing when a line carries none), for people."""
    joined = pc.binary_join(pa.array(modifiers.array), ",")
    text = pd.Series(joined, index=modifiers.index, dtype="str")
    return text.mask(text == "")
