"""Property-based tests for the kinds of cells clinics spell many ways (issue 17, item 3).

Each property writes one value (a clock time, a date, a count of minutes, a number) in the
spellings docs/formats.md says are read, and checks that every spelling reads as that value; and
that the spellings documented as refused are refused, never misread.
"""

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from nmr_audit import parse

# Tests never time anything: no deadline (a shared CPU makes a first call slow now and then).
relaxed = settings(deadline=None)


def text(*values):
    return parse.as_text(pd.Series(list(values), dtype="object"))


def cased(word: str):
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(c.upper() if u else c.lower() for c, u in zip(word, upper, strict=True)))


@relaxed
@given(hour=st.integers(0, 23), minute=st.integers(0, 59), second=st.integers(0, 59),
       half=st.sampled_from(["AM", "PM", "am", "pm", "a.m.", "p.m.", "A.M.", "Pm"]), space=st.sampled_from(["", " "]))
def test_every_spelling_of_a_clock_time_reads_as_that_time(hour, minute, second, half, space):
    twelve = hour % 12 or 12
    pm = hour >= 12
    half = ("P" if pm else "A") + half[1:] if half[0] in "AP" else ("p" if pm else "a") + half[1:]
    spellings = [f"{hour}:{minute:02d}", f"{hour:02d}:{minute:02d}", f"{hour:02d}:{minute:02d}:{second:02d}",
                 f"{twelve}:{minute:02d}{space}{half}", f"{twelve:02d}:{minute:02d}:{second:02d}{space}{half}"]
    clock, bad = parse.parse_times(text(*spellings))
    assert clock.tolist() == [f"{hour:02d}:{minute:02d}"] * len(spellings)
    assert not bad.any()


@relaxed
@given(hour=st.integers(24, 99) | st.integers(0, 23), minute=st.integers(60, 99))
def test_impossible_clock_times_are_refused(hour, minute):
    _, bad = parse.parse_times(text(f"{hour}:{minute}", f"{hour % 24}:{minute}"))
    assert bad.all()


@relaxed
@given(day=st.dates(dt.date(1930, 1, 1), dt.date(2029, 12, 31)),
       midnight=st.sampled_from(["", " 00:00", " 0:00", " 00:00:00", " 12:00 AM", " 12:00:00 am"]))
def test_every_spelling_of_a_date_reads_as_that_date(day, midnight):
    spellings = [day.isoformat(), f"{day.month:02d}/{day.day:02d}/{day.year}", f"{day.month}/{day.day}/{day.year}",
                 f"{day.month}/{day.day}/{day.year % 100:02d}", f"{day.month:02d}/{day.day:02d}/{day.year % 100:02d}"]
    dates, bad = parse.parse_dates(text(*(s + midnight for s in spellings)))
    assert not bad.any()
    assert (dates == pd.Timestamp(day)).all()


@relaxed
@given(day=st.dates(dt.date(1900, 3, 1), dt.date(2099, 12, 31)))
def test_a_typed_excel_serial_reads_as_its_date(day):
    serial = (day - dt.date(1899, 12, 30)).days
    dates, bad = parse.parse_dates(pd.Series([serial], dtype="Int64"), parse.Conventions(workbook=True))
    assert dates.iloc[0] == pd.Timestamp(day) and not bad.iloc[0]


@relaxed
@given(number=st.integers(0, 10**12))
def test_whole_numbers_in_every_grouping_of_their_decimal_mark(number):
    dot = [str(number), f"{number:,}", f"{number}.0", f"+{number}"]
    comma = [str(number), f"{number:,}".replace(",", "."), f"{number},0", f"{number:,}".replace(",", " ")]
    for mark, spellings in ((".", dot), (",", comma)):
        values, bad, _ = parse.parse_whole_numbers(text(*spellings), 0, mark)
        assert values.tolist() == [number] * len(spellings) and not bad.any(), mark


@relaxed
@given(whole=st.integers(1, 999), fraction=st.integers(0, 99), digits=st.sampled_from([1, 2]))
def test_a_decimal_comma_is_never_read_as_digits_run_together(whole, fraction, digits):
    """`2,5` (and `22,50`) is never 25 (2250): refused with `.` as the file's mark, read as a decimal
    (so never a whole count unless its decimals are zeros) with `,` or in a `;` file."""
    cell = f"{whole},{fraction % 10 ** digits:0{digits}d}"
    for mark in (".", ",", "auto"):  # read, it can only be `whole` (`2,0`): never `whole` and its decimals run together
        values, _, _ = parse.parse_whole_numbers(text(cell), 0, mark)
        assert pd.isna(values.iloc[0]) or (values.iloc[0] == whole and fraction % 10 ** digits == 0)
    _, _, ambiguous = parse.parse_whole_numbers(text(cell), 0, ".")
    assert ambiguous.iloc[0]


@relaxed
@given(whole=st.integers(1, 999), group=st.integers(0, 999), sep=st.sampled_from([",", "."]))
def test_one_group_of_three_digits_is_ambiguous_in_a_file_of_unknown_locale(whole, group, sep):
    """`1,234` or `1.234` in a `;` file whose locale no profile names could be either: refused."""
    values, bad, ambiguous = parse.parse_whole_numbers(text(f"{whole}{sep}{group:03d}"), 0, "auto")
    assert ambiguous.iloc[0] and bad.iloc[0] and pd.isna(values.iloc[0])


@relaxed
@given(minutes=st.integers(0, 600), unit=st.sampled_from(["", " min", "min", " minutes", " mins", " MIN.", "m", "'",
                                                           " Minutes", ".0"]))
def test_every_spelling_of_minutes_reads_as_those_minutes(minutes, unit):
    values, bad, _ = parse.parse_minutes(text(f"{minutes}{unit}"))
    assert values.iloc[0] == minutes and not bad.iloc[0]


SCRIPTS = {"fullwidth": 0xFF10, "arabic-indic": 0x0660, "extended arabic-indic": 0x06F0, "devanagari": 0x0966,
           "bengali": 0x09E6, "thai": 0x0E50, "mathematical bold": 0x1D7CE}


@relaxed
@given(number=st.integers(0, 10**10), script=st.sampled_from(sorted(SCRIPTS)))
def test_digits_of_any_script_read_as_the_number_they_write(number, script):
    written = "".join(chr(SCRIPTS[script] + int(d)) for d in str(number))
    digits = parse.ascii_digits(text(written))
    assert digits.iloc[0] == str(number)
    values, bad, _ = parse.parse_whole_numbers(digits)
    assert values.iloc[0] == number and not bad.iloc[0]


@relaxed
@given(word=st.sampled_from(["yes", "no", "true", "false", "y", "n", "t", "f"]).flatmap(cased),
       number=st.sampled_from(["1", "0", "1.0", "0.0", "1.00"]))
def test_every_spelling_of_a_flag(word, number):
    values, bad = parse.parse_booleans(text(word, number))
    assert values.tolist() == [word.lower() in ("yes", "true", "y", "t"), number.startswith("1")]
    assert not bad.any()
