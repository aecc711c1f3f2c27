"""Vectorized parsers for the cell spellings that clinic exports use.

Each parser takes a text Series (missing cells already NA) and returns the parsed values and a
mask of cells that were present but could not be parsed, so that validation can quarantine the
row and say why instead of guessing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import NULL_SPELLINGS

Parsed = tuple[pd.Series, pd.Series]

_ISO_DATE = r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$"
_US_DATE = r"^(?P<date>\d{1,2}/\d{1,2}/\d{4})(?: 00:00(?::00)?)?$"
_TIME = r"^(?P<hours>\d{1,2}):(?P<minutes>\d{2})(?::(?P<seconds>\d{2}))?$"
_MODIFIER_LIST = r"^[A-Z0-9]{2}(?: [A-Z0-9]{2}){0,3}$"
_CPT = r"^[A-Z0-9]{5}$"
_ICD10 = r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$"
_WHOLE = r"^-?\d{1,15}$"  # after thousands separators, a leading + and a trailing .0 are gone
_AMOUNT = r"^(?:\d{1,15}(?:\.\d*)?|\.\d+)$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")

LIST_OF_TEXT = pd.ArrowDtype(pa.list_(pa.string()))


def per_spelling(parser: Callable[..., Any]) -> Callable[..., Any]:
    """Run `parser` once per distinct spelling and spread its results over the rows.

    Dates, NPIs, codes, modifiers, clock times, units, minutes and amounts repeat across
    millions of lines: a few thousand spellings parse in milliseconds, and factorizing the
    column (Arrow's hash) costs less than any parser. Missing cells are a spelling of their own, so the parser decides them.
    """
    @functools.wraps(parser)
    def parse(text: pd.Series, *args: Any) -> Any:
        codes, spellings = pd.factorize(text, use_na_sentinel=False)
        if len(spellings) * 2 > len(text):
            return parser(text, *args)
        result = parser(pd.Series(spellings, dtype=text.dtype), *args)
        parts = result if isinstance(result, tuple) else (result,)
        spread = tuple(pd.Series(part.array.take(codes), index=text.index, name=part.name) for part in parts)
        return spread if isinstance(result, tuple) else spread[0]
    return parse


def as_text(values: pd.Series) -> pd.Series:
    """Trimmed text with every null spelling of the contract turned into NA (in Arrow)."""
    text = pc.utf8_trim_whitespace(arrow_text(values))
    longest = max(len(s.encode()) for s in NULL_SPELLINGS)  # free text is long: lower-case only a prefix
    prefix = pc.utf8_lower(pc.utf8_slice_codeunits(text, 0, longest))
    null = pc.and_(pc.less_equal(pc.binary_length(text), longest),
                   pc.is_in(prefix, value_set=pa.array(sorted(NULL_SPELLINGS))))
    if pc.any(null).as_py():
        text = pc.if_else(null, pa.scalar(None, pa.string()), text)
    return pd.Series(text, index=values.index, dtype="str")


def as_cells(values: pd.Series) -> pd.Series:
    """Numbers as they are (a typed Parquet column: nothing to parse), anything else as `as_text`."""
    return values if _numeric(values) else as_text(values)


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


@per_spelling
def parse_dates(text: pd.Series) -> Parsed:
    """`YYYY-MM-DD` or `MM/DD/YYYY` (a midnight time, as spreadsheets add, is tolerated).

    Matched and parsed in Arrow (RE2 and strptime over the whole column): pandas' `str.extract`
    runs Python per cell.
    """
    arrow = arrow_text(text)
    iso = _strptime(pc.extract_regex(arrow, _ISO_DATE).field(0), "%Y-%m-%d")
    if pc.any(pc.match_substring(arrow, "/")).as_py():  # most exports use one form: skip the other
        iso = pc.coalesce(iso, _strptime(pc.extract_regex(arrow, _US_DATE).field(0), "%m/%d/%Y"))
    dates = pd.Series(iso, index=text.index).astype("datetime64[s]")
    return dates, text.notna() & dates.isna()


def regex_replace(text: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """`str.replace(pattern, replacement, regex=True)` done by Arrow's RE2 over the whole column."""
    return pd.Series(pc.replace_substring_regex(arrow_text(text), pattern, replacement), index=text.index, dtype="str")


def arrow_text(text: pd.Series) -> pa.Array:
    """The column as one Arrow string array (pandas' str columns may be chunked)."""
    array = pa.array(text.astype("str").array, type=pa.string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _nullable(values: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow int64/float64 as pandas Int64/Float64: `pd.Series(values, dtype="Int64")` goes through
    Python objects once there is a null (0.35 s per million cells; this is ~100× faster)."""
    mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}.get
    return pd.Series(values.to_pandas(types_mapper=mapper).array, index=index)


def _numbers(cleaned: pa.Array, shape: str, kind: pa.DataType, index: pd.Index) -> pd.Series:
    """Cells of the expected shape cast to `kind`; anything else missing (Arrow's cast would raise)."""
    shaped = pc.match_substring_regex(cleaned, shape).fill_null(False)
    return _nullable(pc.cast(pc.if_else(shaped, cleaned, None), kind), index)


def _strptime(text: pa.Array, form: str) -> pa.Array:
    """Dates of one form; null where the text is not a real date of that form (e.g. 02/30).

    strptime rolls 02/30 over to 03/02: a date is real when its month and day are the ones written
    (compared as numbers; formatting the dates back to text would cost 2 s per million).
    """
    parsed = pc.strptime(text, format=form, unit="s", error_is_null=True)
    padded = _zero_padded(text, form)
    month_at, day_at = (5, 8) if form == "%Y-%m-%d" else (0, 3)
    same = pc.and_(pc.equal(pc.month(parsed), _number_at(padded, month_at)),
                   pc.equal(pc.day(parsed), _number_at(padded, day_at)))
    return pc.if_else(same, parsed, pa.scalar(None, type=parsed.type))


def _number_at(text: pa.Array, start: int) -> pa.Array:
    """The two digits at `start` as a number; null where the text is too short to hold them."""
    digits = pc.utf8_slice_codeunits(text, start, start + 2)
    return pc.cast(pc.if_else(pc.match_substring_regex(digits, r"^\d\d$"), digits, None), pa.int64())


def _zero_padded(text: pa.Array, form: str) -> pa.Array:
    """US dates may leave out leading zeros (3/4/2026): pad them before comparing."""
    if form != "%m/%d/%Y":
        return text
    padded = pc.replace_substring_regex(text, r"^(\d)/", r"0\1/")
    return pc.replace_substring_regex(padded, r"^(\d{2})/(\d)/", r"\1/0\2/")


@per_spelling
def parse_whole_numbers(text: pd.Series, minimum: int = 0) -> Parsed:
    """Whole numbers at or above `minimum`; `2.0` counts as 2, `2.5` and `-1` do not.

    `text` may hold numbers already (`as_cells`): then only the same two checks apply.
    """
    if _numeric(text):
        numbers = text.astype("Float64")
        whole = numbers.notna() & (numbers == numbers.round()) & (numbers >= minimum) & (numbers.abs() < 1e15)
        whole = whole.fillna(False).astype(bool)
        return numbers.where(whole).astype("Int64"), text.notna() & ~whole
    digits = pc.replace_substring_regex(arrow_text(text), r",|^\+|\.0*$", "")
    values = _numbers(digits, _WHOLE, pa.int64(), text.index)
    whole = values.notna() & (values >= minimum)
    return values.where(whole), text.notna() & ~whole.astype(bool)


@per_spelling
def parse_money(text: pd.Series) -> Parsed:
    """Amounts at or above zero; a leading `$` and thousands separators are tolerated (numbers,
    from `as_cells`, are only checked)."""
    if _numeric(text):
        amounts = text.astype("Float64")
        ok = (amounts.notna() & (amounts >= 0)).fillna(False).astype(bool)
        return amounts.where(ok), text.notna() & ~ok
    cleaned = pc.replace_substring_regex(pc.replace_substring_regex(arrow_text(text), r"[$,\s]", ""), r"^\+", "")
    amounts = _numbers(cleaned, _AMOUNT, pa.float64(), text.index)
    return amounts, text.notna() & ~amounts.notna().astype(bool)


@per_spelling
def parse_booleans(text: pd.Series) -> Parsed:
    """yes/no, true/false, 1/0, Y/N and T/F in any case."""
    lowered = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values = values.mask(lowered.isin(_TRUE), True).mask(lowered.isin(_FALSE), False)
    return values, text.notna() & values.isna()


@per_spelling
def parse_times(text: pd.Series) -> Parsed:
    """24-hour clock times as `HH:MM` (seconds, if present, are dropped)."""
    parts = pc.extract_regex(arrow_text(text), _TIME)
    hour_text = pd.Series(parts.field(0), index=text.index, dtype="str")
    minute_text = pd.Series(parts.field(1), index=text.index, dtype="str")
    matched = pc.is_valid(parts)
    hours, minutes = (_nullable(pc.cast(pc.if_else(matched, parts.field(n), None), pa.int64()), text.index)
                      for n in (0, 1))
    ok = (hours < 24) & (minutes < 60)
    clock = hour_text.str.zfill(2) + ":" + minute_text
    return clock.where(ok), text.notna() & ~ok.fillna(False).astype(bool)


def clock_minutes(clock: pd.Series) -> pd.Series:
    """'HH:MM' (as `parse_times` writes it) as minutes after midnight; missing stays missing."""
    arrow = arrow_text(clock)
    hours, minutes = (pc.cast(pc.utf8_slice_codeunits(arrow, start, start + 2), pa.int64()) for start in (0, 3))
    return _nullable(pc.add(pc.multiply(hours, 60), minutes), clock.index)


@per_spelling
def parse_cpt_codes(text: pd.Series) -> Parsed:
    """Five-character procedure codes, upper-cased (`97112`, `G0283`)."""
    codes = text.str.upper()
    ok = codes.str.fullmatch(_CPT).fillna(False).astype(bool)
    return codes.where(ok), text.notna() & ~ok


@per_spelling
def parse_modifiers(text: pd.Series) -> Parsed:
    """0–4 two-character modifiers, any mix of commas, semicolons and spaces between them.

    Returns a list per line (empty when the cell is empty) so later rules test membership
    rather than re-parsing strings.
    """
    spaced = regex_replace(text.str.upper(), r"[\s,;]+", " ").str.strip()
    spaced = spaced.mask(spaced == "")
    ok = spaced.isna() | spaced.str.fullmatch(_MODIFIER_LIST).fillna(False).astype(bool)
    arrow = pa.array(spaced.where(ok), type=pa.string(), from_pandas=True)
    split = pc.split_pattern(arrow, " ")
    lists = pc.if_else(pc.is_null(split), pa.scalar([], type=pa.list_(pa.string())), split)
    return pd.Series(lists, index=text.index, dtype=LIST_OF_TEXT), ~ok


@per_spelling
def parse_diagnosis_codes(text: pd.Series) -> Parsed:
    """ICD-10-CM codes, upper-cased and joined with `;` whatever separator the export used."""
    arrow = pc.utf8_upper(arrow_text(text))
    joined = pc.utf8_trim(pc.replace_substring_regex(arrow, r"\s*[;,]\s*", ";"), ";")
    tokens = pc.split_pattern(joined, ";")
    token_ok = pc.match_substring_regex(pc.list_flatten(tokens), _ICD10).to_numpy(zero_copy_only=False)
    owner = pc.list_parent_indices(tokens).to_numpy()
    bad_rows = np.zeros(len(text), dtype=bool)
    bad_rows[owner[~token_ok]] = True
    result = pd.Series(joined, index=text.index, dtype="str")
    return result.where(~bad_rows), pd.Series(text.notna().to_numpy() & bad_rows, index=text.index)


@per_spelling
def npi_check_digit_ok(text: pd.Series) -> pd.Series:
    """NPI check digit: Luhn over the nine-digit base with the 80840 prefix (constant 24)."""
    ten_digits = text.str.fullmatch(r"\d{10}").fillna(False).astype(bool)
    ok = pd.Series(False, index=text.index)
    if not ten_digits.any():
        return ok
    npis = pc.filter(arrow_text(text), pa.array(ten_digits.to_numpy()))  # a fresh array: 10 ASCII digits each
    offsets = np.frombuffer(npis.buffers()[1], dtype=np.int32)[: len(npis) + 1]
    raw = np.frombuffer(npis.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    digits = (raw - ord("0")).reshape(-1, 10).astype(np.int64)
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
