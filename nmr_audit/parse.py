"""Vectorized parsers for the cell spellings that clinic exports use.

Each parser takes a text Series (missing cells already NA; `as_text`) and returns the parsed
values and a mask of cells that were present but could not be read, so that validation can
quarantine the row (a required column) or set the value aside as unreadable (an optional one)
and say why, instead of guessing. Number parsers return a third mask: the cells refused because
their decimal mark is ambiguous (`2,5` is never read as 25).

What is read, and what is refused, is written down in docs/formats.md ("Parsing rules"); the
tests in tests/test_parse.py and tests/test_parse_property.py hold each spelling to it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import NULL_SPELLINGS

Parsed = tuple[pd.Series, pd.Series]
DecimalMark = Literal[".", ",", "auto"]

# A time part that only says midnight, as spreadsheets add to dates: 00:00, 0:00:00, 12:00 AM …
_MIDNIGHT = r"(?:[ T](?:0?0:00(?::00(?:\.0+)?)?|12:00(?::00)? ?[Aa]\.? ?[Mm]\.?))?"
_ISO_DATE = r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})" + _MIDNIGHT + "$"
_US_DATE = r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}|\d{2})" + _MIDNIGHT + "$"
TWO_DIGIT_YEAR_PIVOT = 30  # 00–29 → 2000–2029, 30–99 → 1930–1999 (Excel's default window)
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")  # serial 61 = 1900-03-01; 60 is Excel's 29 Feb 1900
_EXCEL_LAST_SERIAL = 2_958_465  # 9999-12-31
_TIME_24 = r"^(?:1899-12-3[01][ T])?(?P<hours>\d{1,2}):(?P<minutes>\d{2})(?::\d{2}(?:\.\d+)?)?$"
_TIME_12 = r"^(?P<hours>\d{1,2})(?::(?P<minutes>\d{2}))?(?::\d{2}(?:\.\d+)?)? ?(?P<half>[AaPp])\.? ?[Mm]\.?$"
_MODIFIER_LIST = r"^[A-Z0-9]{2}(?: [A-Z0-9]{2}){0,3}$"
CPT_SHAPE = r"^(?:\d{5}|[A-Z]\d{4}|\d{4}[A-Z])$"  # CPT (97112), HCPCS II (G0283), CPT II/III (0001F)
_ICD10 = r"^[A-TV-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$"
_WHOLE = r"^-?\d{1,15}(?:\.0*)?$"  # after the decimal mark is settled: 2 and 2.0, never 2.5
_AMOUNT = r"^(?:\d{1,15}(?:\.\d*)?|\.\d+)$"
_MINUTES_UNIT = r"(?i)\s*(?:min(?:ute)?s?\.?|m|'|′)$"  # 23 min, 23 minutes, 23 mins., 23m, 23'
_SPACES = " \u00a0\u202f"  # a space, a no-break space, a narrow no-break space: group separators with ","
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_ONE_ZERO = r"^[10]\.0+$"  # 1.0 / 0.0, as a typed float column spells a flag

LIST_OF_TEXT = pd.ArrowDtype(pa.list_(pa.string()))

# A cell a reader could not give a value for (an Excel formula whose result was never saved)
# starts with this character, which no text cell of a workbook, CSV or JSON file holds (XML 1.0
# forbids it): validation treats it as a bad value with `BAD_VALUE_REASON`.
BAD_VALUE = "\x00"
BAD_VALUE_REASON = ("a value, not a formula without a saved result (open and save the workbook in Excel, "
                    "or export values rather than formulas)")


@dataclass(frozen=True)
class Conventions:
    """How one source writes what the contract's forms leave open.

    decimal_mark: `.` (the default: a comma only between groups of three digits, `1,234`), `,`
    (the mapping profile names a decimal-comma locale: a dot or space only between groups of
    three), or `auto` (a `;`-separated file whose locale no profile names: `22,5` and `22.5` are
    read; `1,234` and `1.234`, which could be either, are refused).
    workbook: cells from a workbook: a number in a date column is Excel's serial day, and a cell
    marked `BAD_VALUE` (a formula whose result was never saved) is a bad value with its reason.
    """

    decimal_mark: DecimalMark = "."
    workbook: bool = False


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
    """Trimmed text with every null spelling of the contract turned into NA (in Arrow).

    Numbers (a typed column) become the text a CSV would hold: `2.0` as `2`, so a float NPI or
    id reads as its digits.
    """
    if is_numeric(values):
        values = number_text(values)
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
    return values if is_numeric(values) else as_text(values)


def number_text(values: pd.Series) -> pd.Series:
    """Typed numbers as text: whole values without a decimal part (`2.0` → `2`), others as written."""
    floats = values.astype("Float64")
    whole = (floats == floats.round()) & (floats.abs() < 1e15)
    whole = whole.fillna(False).astype(bool).to_numpy()
    out = floats.astype("str")
    if whole.any():
        out[whole] = floats[whole].astype("Int64").astype("str")
    return out.where(values.notna())


def is_numeric(values: pd.Series) -> bool:
    """Whether a column holds typed numbers (not text, not booleans)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def all_ascii(text: pd.Series) -> bool:
    """Whether every byte of a text column is ASCII: one vectorized pass over its character data."""
    array = pa.array(text.astype("str").array, type=pa.string())  # pandas' Arrow text: no copy
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else (array,):
        data = chunk.buffers()[2]
        if data is not None and len(data) and np.frombuffer(data, dtype=np.uint8).max() >= 0x80:
            return False
    return True


def _other_digit(match: re.Match[str]) -> str:
    return str(unicodedata.digit(match.group()))


@per_spelling
def ascii_digits(text: pd.Series) -> pd.Series:
    """Digits of any script read as the ASCII digits they stand for (`１２３`, `١٢٣`, `१२३` → `123`).

    Compatibility forms (fullwidth letters, digits and colons) become their plain forms (NFKC),
    then every remaining decimal digit (Unicode category Nd) its value. Applied to the columns
    that hold numbers, dates, times, NPIs and codes, never to free text or identifiers. A column
    of ASCII text (nearly all of them) is returned as it is after one Arrow pass.
    """
    if all_ascii(text):
        return text
    plain = pc.utf8_normalize(arrow_text(text), form="NFKC").to_pylist()
    digits = re.compile(r"(?![0-9])\d")
    out = [None if s is None else digits.sub(_other_digit, s) for s in plain]
    return pd.Series(out, index=text.index, dtype="str")


@per_spelling
def parse_dates(text: pd.Series, conventions: Conventions = Conventions()) -> Parsed:
    """`YYYY-MM-DD`, `M/D/YYYY` or `M/D/YY`, a time part at midnight tolerated; Excel serials.

    Two-digit years follow Excel's default window: 00–29 are 2000–2029, 30–99 are 1930–1999
    (`TWO_DIGIT_YEAR_PIVOT`). A time part other than midnight is refused (a timestamp may have
    been shifted across a date line by a time zone). With `conventions.workbook`,
    a number is Excel's serial day (61 = 1900-03-01; serials below 61 are refused: Excel counts
    a 29 February 1900 that never was). Impossible dates (02/30) are refused.
    """
    if is_numeric(text):
        return _serial_dates(text.astype("Float64"), conventions.workbook)
    arrow = arrow_text(text)
    iso = pc.extract_regex(arrow, _ISO_DATE)
    year, month, day = _ymd(iso, (0, 1, 2))
    if pc.any(pc.match_substring(arrow, "/")).as_py():  # most exports use one form: skip the other
        us = pc.extract_regex(arrow, _US_DATE)
        us_month, us_day, us_year = _ymd(us, (0, 1, 2))
        short = pc.less(pc.utf8_length(_field(us, 2)), 3)
        century = pc.if_else(pc.less(us_year, TWO_DIGIT_YEAR_PIVOT), 2000, 1900)
        us_year = pc.if_else(short, pc.add(us_year, century), us_year)
        year, month, day = (pc.coalesce(a, b) for a, b in ((year, us_year), (month, us_month), (day, us_day)))
    parts = pd.DataFrame({"year": _nullable(year, text.index), "month": _nullable(month, text.index),
                          "day": _nullable(day, text.index)}).astype("float64")
    dates = pd.to_datetime(parts, errors="coerce").astype("datetime64[s]")
    if conventions.workbook:
        serial_text = pc.match_substring_regex(arrow, r"^\d{1,7}(?:\.0+)?$").fill_null(False)
        if pc.any(serial_text).as_py():
            numbers = pd.Series(pc.cast(pc.if_else(serial_text, arrow, None), pa.float64()), index=text.index)
            dates = dates.fillna(_serial_dates(numbers.astype("Float64"), True)[0])
    return dates, text.notna() & dates.isna()


def _ymd(parts: pa.Array, order: tuple[int, int, int]) -> tuple[pa.Array, pa.Array, pa.Array]:
    return tuple(_number_field(parts, n) for n in order)  # type: ignore[return-value]


def _field(parts: pa.StructArray, n: int) -> pa.Array:
    """Group `n` of `extract_regex`'s matches; null where the cell did not match (or the group is empty)."""
    field = parts.field(n)
    return pc.if_else(pc.and_(pc.is_valid(parts), pc.not_equal(field, "")), field, pa.scalar(None, pa.string()))


def _number_field(parts: pa.StructArray, n: int) -> pa.Array:
    return pc.cast(_field(parts, n), pa.int64())


def _serial_dates(numbers: pd.Series, allowed: bool) -> Parsed:
    """Excel serial days (whole numbers 61 … 2,958,465) as dates; anything else refused."""
    ok = (numbers.notna() & (numbers == numbers.round()) & (numbers >= 61) & (numbers <= _EXCEL_LAST_SERIAL)
          ).fillna(False).astype(bool)
    if not allowed:
        ok = ok & False
    days = numbers.where(ok).fillna(0).astype("int64").to_numpy()
    dates = pd.Series(_EXCEL_EPOCH + days.astype("timedelta64[D]"), index=numbers.index).astype("datetime64[s]")
    dates = dates.where(ok.to_numpy())
    return dates, numbers.notna() & ~ok


def regex_replace(text: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """`str.replace(pattern, replacement, regex=True)` done by Arrow's RE2 over the whole column."""
    return pd.Series(pc.replace_substring_regex(arrow_text(text), pattern, replacement), index=text.index, dtype="str")


@per_spelling
def payer_type_text(text: pd.Series) -> pd.Series:
    """Payer types as the contract spells them (`Medicare Advantage` → `medicare_advantage`):
    lower case, runs of spaces and hyphens as one `_`; once per distinct spelling (a regular
    expression over every one of ten million lines took 5 s)."""
    return regex_replace(text.str.lower(), r"[\s\-]+", "_")


@per_spelling
def upper_text(text: pd.Series) -> pd.Series:
    """The text in upper case, once per distinct spelling (credentials: a few over millions of notes)."""
    return text.str.upper()


def arrow_text(text: pd.Series) -> pa.Array:
    """The column as one Arrow string array (pandas' str columns may be chunked)."""
    array = pa.array(text.astype("str").array, type=pa.string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _matches(text: pd.Series, pattern: str) -> pd.Series:
    """Whether each cell matches `pattern` (RE2: `\\d` is an ASCII digit); False where missing."""
    return pd.Series(pc.match_substring_regex(arrow_text(text), pattern).fill_null(False).to_numpy(zero_copy_only=False),
                     index=text.index)


def _nullable(values: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow int64/float64 as pandas Int64/Float64: `pd.Series(values, dtype="Int64")` goes through
    Python objects once there is a null (0.35 s per million cells; this is ~100× faster)."""
    mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}.get
    return pd.Series(values.to_pandas(types_mapper=mapper).array, index=index)


def _numbers(cleaned: pa.Array, shape: str, kind: pa.DataType, index: pd.Index) -> pd.Series:
    """Cells of the expected shape cast to `kind`; anything else missing (Arrow's cast would raise)."""
    shaped = pc.match_substring_regex(cleaned, shape).fill_null(False)
    return _nullable(pc.cast(pc.if_else(shaped, cleaned, None), kind), index)


def _decimal_text(text: pa.Array, mark: DecimalMark) -> tuple[pa.Array, pa.Array]:
    """Number text with `.` as its decimal mark and no group separators, and which cells were
    refused because their decimal mark is ambiguous; anything that is not a number passes as it is
    (its parser refuses it).

    `.`: a comma only between groups of three (`1,234.5`); `,`: a dot, space or no-break space
    only between groups of three (`1.234,5`, `1 234,5`); `auto`: one mark alone is the decimal
    mark unless it is followed by exactly three digits after one to three leading digits
    (`1,234`, `1.234`: ambiguous), both marks: the last one is the decimal mark.
    """
    sign = r"^[+-]?"
    if mark == ".":
        grouped = sign + r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$"
        has_group, sep, decimal = pc.match_substring(text, ","), ",", None
    elif mark == ",":
        grouped = sign + rf"(?:\d{{1,3}}(?:[.{_SPACES}]\d{{3}})+|\d+)(?:,\d*)?$|" + sign + r",\d+$"
        has_group, sep, decimal = pc.match_substring_regex(text, rf"\d[.{_SPACES}]"), rf"[.{_SPACES}]", ","
    else:
        return _auto_decimal(text)
    ok = pc.match_substring_regex(text, grouped).fill_null(False)
    ambiguous = pc.and_(pc.and_(pc.invert(ok), has_group.fill_null(False)),
                        pc.match_substring_regex(text, sign + rf"[\d.,{_SPACES}]+$").fill_null(False))
    cleaned = pc.replace_substring_regex(text, sep, "")
    if decimal:
        cleaned = pc.replace_substring(cleaned, decimal, ".")
    return pc.if_else(ok, cleaned, pc.if_else(ambiguous, pa.scalar(None, pa.string()), text)), ambiguous


def _auto_decimal(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    sign = r"^[+-]?"
    ambiguous = pc.match_substring_regex(text, sign + r"[1-9]\d{0,2}[.,]\d{3}$").fill_null(False)
    dot_decimal = pc.match_substring_regex(text, sign + r"(?:\d{1,3}(?:,\d{3})+|\d+)\.\d*$|" + sign + r"\.\d+$")
    comma_decimal = pc.match_substring_regex(text, sign + r"(?:\d{1,3}(?:\.\d{3})+|\d+),\d*$|" + sign + r",\d+$")
    dot_groups = pc.match_substring_regex(text, sign + r"\d{1,3}(?:\.\d{3}){2,}$")
    comma_groups = pc.match_substring_regex(text, sign + r"\d{1,3}(?:,\d{3}){2,}$")
    dots = pc.or_(dot_groups, comma_decimal).fill_null(False)  # dots group, a comma (if any) is the decimal mark
    commas = pc.or_(comma_groups, dot_decimal).fill_null(False)
    out = pc.if_else(dots, pc.replace_substring(pc.replace_substring(text, ".", ""), ",", "."), text)
    out = pc.if_else(pc.and_(commas, pc.invert(dots)), pc.replace_substring(text, ",", ""), out)
    out = pc.if_else(ambiguous, pa.scalar(None, pa.string()), out)
    return out, ambiguous


def _typed_whole(numbers: pd.Series, minimum: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    numbers = numbers.astype("Float64")
    whole = numbers.notna() & (numbers == numbers.round()) & (numbers >= minimum) & (numbers.abs() < 1e15)
    whole = whole.fillna(False).astype(bool)
    return numbers.where(whole).astype("Int64"), numbers.notna() & ~whole, pd.Series(False, index=numbers.index)


@per_spelling
def parse_whole_numbers(text: pd.Series, minimum: int = 0, mark: DecimalMark = ".") -> tuple[pd.Series, ...]:
    """Whole numbers at or above `minimum`: `2`, `+2`, `2.0`, `1,234` (or `2,0` and `1.234` with a
    decimal comma); `2.5` and `-1` are refused, and so is an ambiguous mark (`2,5` with `.`).

    Returns (values Int64, refused, refused for an ambiguous decimal mark). `text` may hold
    numbers already (`as_cells`): then only the range checks apply.
    """
    if is_numeric(text):
        return _typed_whole(text, minimum)
    plain, ambiguous = _decimal_text(pc.replace_substring_regex(arrow_text(text), r"^\+", ""), mark)
    shaped = pc.match_substring_regex(plain, _WHOLE).fill_null(False)
    values = _nullable(pc.cast(pc.if_else(shaped, pc.replace_substring_regex(plain, r"\.0*$", ""), None), pa.int64()),
                       text.index)
    whole = (values.notna() & (values >= minimum)).fillna(False).astype(bool)
    ambiguous_rows = pd.Series(ambiguous.to_numpy(zero_copy_only=False), index=text.index)
    return values.where(whole), text.notna() & ~whole, ambiguous_rows


@per_spelling
def parse_minutes(text: pd.Series, mark: DecimalMark = ".") -> tuple[pd.Series, ...]:
    """Whole minutes ≥ 0 as clinics type them: `23`, `23.0`, `23 min`, `23 minutes`, `23 mins`,
    `23m`, `23'`; `22,5` is never 225 (see `parse_whole_numbers`), `22.5` is not whole."""
    if is_numeric(text):
        return _typed_whole(text, 0)
    bare = regex_replace(text, _MINUTES_UNIT, "")
    return parse_whole_numbers.__wrapped__(bare.where(text.notna()), 0, mark)


@per_spelling
def parse_money(text: pd.Series, mark: DecimalMark = ".") -> tuple[pd.Series, ...]:
    """Amounts at or above zero; a leading `$` and group separators tolerated, decimal mark as
    `parse_whole_numbers` (numbers, from `as_cells`, are only checked)."""
    if is_numeric(text):
        amounts = text.astype("Float64")
        ok = (amounts.notna() & (amounts >= 0)).fillna(False).astype(bool)
        return amounts.where(ok), text.notna() & ~ok, pd.Series(False, index=text.index)
    stripped = pc.utf8_trim_whitespace(pc.replace_substring_regex(arrow_text(text), r"^\$\s*|^\+", ""))
    plain, ambiguous = _decimal_text(stripped, mark)
    amounts = _numbers(plain, _AMOUNT, pa.float64(), text.index)
    ambiguous_rows = pd.Series(ambiguous.to_numpy(zero_copy_only=False), index=text.index)
    return amounts, text.notna() & ~amounts.notna().astype(bool), ambiguous_rows


@per_spelling
def parse_booleans(text: pd.Series) -> Parsed:
    """yes/no, true/false, 1/0, 1.0/0.0, Y/N and T/F in any case; typed booleans (as `true`/`false`)
    and typed numbers 1 and 0."""
    if is_numeric(text):
        numbers = text.astype("Float64")
        one, zero = ((numbers == n).fillna(False).astype(bool) for n in (1, 0))
        values = pd.Series(pd.NA, index=text.index, dtype="boolean").mask(one, True).mask(zero, False)
        return values, text.notna() & values.isna()
    lowered = regex_replace(text.str.lower(), r"^([10])\.0+$", r"\1")
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values = values.mask(lowered.isin(_TRUE), True).mask(lowered.isin(_FALSE), False)
    return values, text.notna() & values.isna()


@per_spelling
def parse_times(text: pd.Series) -> Parsed:
    """Clock times as `HH:MM`: 24-hour `9:05`, `17:45:00`; 12-hour `9:05 AM`, `9:05pm`, `9 a.m.`,
    `12:15 AM` (= 00:15); seconds are dropped. `24:00`, `12:60`, `13:00 PM` and `0:30 AM` are refused.
    A time-only Excel cell written with its epoch date (`1899-12-30 09:00:00`) is its time."""
    arrow = arrow_text(text)
    clock24 = pc.extract_regex(arrow, _TIME_24)
    clock12 = pc.extract_regex(arrow, _TIME_12)
    hours24, minutes24 = (_number_field(clock24, n) for n in (0, 1))
    hours12 = _number_field(clock12, 0)
    minutes12 = pc.coalesce(_number_field(clock12, 1), pa.scalar(0, pa.int64()))
    pm = pc.equal(pc.utf8_upper(_field(clock12, 2)), "P")
    valid12 = pc.and_(pc.greater_equal(hours12, 1), pc.less_equal(hours12, 12))
    hours12 = pc.add(pc.if_else(pc.equal(hours12, 12), 0, hours12), pc.if_else(pm, 12, 0))
    hours12 = pc.if_else(valid12, hours12, pa.scalar(None, pa.int64()))
    hours = _nullable(pc.coalesce(hours24, hours12), text.index)
    minutes = _nullable(pc.if_else(pc.is_valid(hours24), minutes24, minutes12), text.index)
    ok = ((hours < 24) & (minutes < 60)).fillna(False).astype(bool)
    clock = (hours.astype("str").str.zfill(2) + ":" + minutes.astype("str").str.zfill(2)).astype("str")
    return clock.where(ok), text.notna() & ~ok


def clock_minutes(clock: pd.Series) -> pd.Series:
    """'HH:MM' (as `parse_times` writes it) as minutes after midnight; missing stays missing."""
    arrow = arrow_text(clock)
    hours, minutes = (pc.cast(pc.utf8_slice_codeunits(arrow, start, start + 2), pa.int64()) for start in (0, 3))
    return _nullable(pc.add(pc.multiply(hours, 60), minutes), clock.index)


def session_minutes(time_in: pd.Series, time_out: pd.Series) -> pd.Series:
    """Minutes from `time_in` to `time_out` ('HH:MM'); a `time_out` earlier than `time_in` is on
    the next day (a session from 23:40 to 00:25 lasts 45 minutes). Missing where either is.

    A note records clock times only, no dates: a session that crosses midnight is the one reading
    that gives a length under a day; a session of 24 hours or more cannot be written this way.
    """
    length = clock_minutes(time_out) - clock_minutes(time_in)
    return length.where(length >= 0, length + 24 * 60)


@per_spelling
def parse_cpt_codes(text: pd.Series) -> Parsed:
    """Five-character procedure codes, upper-cased: five digits (`97112`), a letter and four digits
    (HCPCS `G0283`), or four digits and a letter (CPT II/III `0001F`)."""
    codes = text.str.upper()
    ok = _matches(codes, CPT_SHAPE)
    return codes.where(ok), text.notna() & ~ok


@per_spelling
def parse_modifiers(text: pd.Series) -> Parsed:
    """0–4 two-character modifiers, any mix of commas, semicolons and spaces between them.

    Returns a list per line (empty when the cell is empty, missing when it cannot be read) so
    later rules test membership rather than re-parsing strings.
    """
    spaced = regex_replace(text.str.upper(), r"[\s,;]+", " ").str.strip()
    spaced = spaced.mask(spaced == "")
    ok = spaced.isna() | _matches(spaced, _MODIFIER_LIST)
    arrow = pa.array(spaced.where(ok), type=pa.string(), from_pandas=True)
    split = pc.split_pattern(arrow, " ")
    lists = pc.if_else(pc.is_null(split), pa.scalar([], type=pa.list_(pa.string())), split)
    lists = pc.if_else(pa.array(ok.to_numpy()), lists, pa.scalar(None, type=pa.list_(pa.string())))
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
    """NPI check digit: Luhn over the nine-digit base with the 80840 prefix (constant 24).

    Ten ASCII digits only (RE2's `\\d`): digits of other scripts are made ASCII first
    (`ascii_digits`), and anything else is refused, never a crash.
    """
    ten_digits = _matches(text, r"^\d{10}$")
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
