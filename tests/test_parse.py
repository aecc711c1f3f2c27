import pandas as pd
import pytest

from nmr_audit import parse


def text(*values):
    return parse.as_text(pd.Series(list(values), dtype="object"))


def test_null_spellings_are_missing_and_values_are_trimmed():
    cells = text("", "  ", "NA", "n/a", "NULL", "-", "#N/A", " 97112 ", None)
    assert cells.isna().tolist() == [True] * 7 + [False, True]
    assert cells.iloc[7] == "97112"


def test_dates_accept_both_contract_forms_and_reject_impossible_ones():
    dates, bad = parse.parse_dates(text("2026-03-04", "03/04/2026", "3/4/2026",
                                        "2026-03-04 00:00:00", "2026-02-30", "13/01/2026",
                                        "04.03.2026", None))
    assert dates.iloc[:4].dt.strftime("%Y-%m-%d").tolist() == ["2026-03-04"] * 4
    assert bad.tolist() == [False] * 4 + [True, True, True, False]


@pytest.mark.parametrize(("cell", "value", "bad"), [
    ("2", 2, False), ("2.0", 2, False), ("0", 0, False), ("2.5", None, True),
    ("-1", None, True), ("two", None, True),
])
def test_whole_numbers(cell, value, bad):
    values, failed, _ = parse.parse_whole_numbers(text(cell))
    assert bool(failed.iloc[0]) is bad
    assert (pd.isna(values.iloc[0]) if value is None else values.iloc[0] == value)


def test_booleans_from_every_spelling():
    values, bad = parse.parse_booleans(text("yes", "No", "TRUE", "f", "1", "0", "Y", "n", "maybe"))
    assert values.iloc[:8].tolist() == [True, False, True, False, True, False, True, False]
    assert bad.tolist() == [False] * 8 + [True]


def test_modifiers_split_whatever_the_separator_and_upper_cased():
    lists, bad = parse.parse_modifiers(text("gp,59", "GP 59", "GP;  XU", "GP, 59 ,KX,CQ", None))
    assert [list(x) for x in lists] == [["GP", "59"], ["GP", "59"], ["GP", "XU"],
                                        ["GP", "59", "KX", "CQ"], []]
    assert not bad.any()


def test_modifiers_reject_more_than_four_or_malformed():
    _, bad = parse.parse_modifiers(text("GP,59,KX,CQ,XU", "GPX", "G"))
    assert bad.all()


def test_times_are_24_hour_clock():
    clock, bad = parse.parse_times(text("9:05", "17:45:00", "24:00", "12:60", "noon"))
    assert clock.iloc[:2].tolist() == ["09:05", "17:45"]
    assert bad.tolist() == [False, False, True, True, True]


@pytest.mark.parametrize(("cell", "clock"), [
    ("9:00 AM", "09:00"), ("9:28 AM", "09:28"), ("9:28am", "09:28"), ("9:28 a.m.", "09:28"), ("9 AM", "09:00"),
    ("12:15 AM", "00:15"), ("12:00 PM", "12:00"), ("1:05 PM", "13:05"), ("11:59 pm", "23:59"),
    ("09:00:59", "09:00"), ("9:00:30 PM", "21:00"), ("1899-12-30 09:05:00", "09:05"),
    ("13:00 PM", None), ("0:30 AM", None), ("12:60 PM", None), ("9.00", None), ("0930", None),
])
def test_times_in_12_hour_and_seconds_bearing_spellings(cell, clock):
    """What clinics type (issue 17 a): read where the clock time is plain, refused where not."""
    read, bad = parse.parse_times(text(cell))
    if clock is None:
        assert bool(bad.iloc[0]) and pd.isna(read.iloc[0])
    else:
        assert read.iloc[0] == clock and not bad.iloc[0]


def test_a_session_that_crosses_midnight_lasts_into_the_next_day():
    """Issue 17 h: 23:40 to 00:25 is 45 minutes, not −1,395."""
    minutes = parse.session_minutes(pd.Series(["23:40", "09:00", "10:00", None]),
                                    pd.Series(["00:25", "09:28", "10:00", "10:30"]))
    assert minutes.iloc[:3].tolist() == [45, 28, 0] and pd.isna(minutes.iloc[3])


@pytest.mark.parametrize(("cell", "day"), [
    ("2026-03-04", "2026-03-04"), ("2026-3-4", "2026-03-04"), ("03/04/2026", "2026-03-04"),
    ("3/4/26", "2026-03-04"), ("03/04/29", "2029-03-04"), ("3/4/30", "1930-03-04"), ("12/31/99", "1999-12-31"),
    ("3/4/2026 0:00", "2026-03-04"), ("3/4/2026 12:00 AM", "2026-03-04"), ("2026-03-04T00:00:00", "2026-03-04"),
    ("2026-03-04 00:00:00.000", "2026-03-04"),
    ("2026-03-04 09:30", None), ("3/4/2026 12:00 PM", None), ("2/30/26", None), ("3/4/126", None),
    ("46085", None), ("04.03.2026", None),
])
def test_dates_with_two_digit_years_and_a_midnight_time_part(cell, day):
    """Two-digit years pivot at 30 (Excel's window); a time part is read only at midnight."""
    dates, bad = parse.parse_dates(text(cell))
    if day is None:
        assert bool(bad.iloc[0]) and pd.isna(dates.iloc[0])
    else:
        assert dates.iloc[0] == pd.Timestamp(day) and not bad.iloc[0]


def test_excel_serial_dates_are_read_in_workbooks_only():
    workbook = parse.Conventions(workbook=True)
    serials = pd.Series([46085, 61, 60, 46085.5, None], dtype="Float64")
    dates, bad = parse.parse_dates(serials, workbook)
    assert dates.iloc[:2].tolist() == [pd.Timestamp("2026-03-04"), pd.Timestamp("1900-03-01")]
    assert bad.tolist() == [False, False, True, True, False]  # 60 is Excel's 29 Feb 1900; .5 is noon
    mixed, _ = parse.parse_dates(text("46085", "2026-03-05"), workbook)
    assert mixed.tolist() == [pd.Timestamp("2026-03-04"), pd.Timestamp("2026-03-05")]
    _, elsewhere = parse.parse_dates(pd.Series([46085], dtype="Int64"))
    assert elsewhere.all()


@pytest.mark.parametrize(("cell", "mark", "value", "ambiguous"), [
    ("23", ".", 23, False), ("23.0", ".", 23, False), ("1,234", ".", 1234, False), ("+2", ".", 2, False),
    ("2,5", ".", None, True), ("22,5", ".", None, True), ("2,50", ".", None, True), ("2.5", ".", None, False),
    ("2,0", ",", 2, False), ("1.234", ",", 1234, False), ("1 234", ",", 1234, False), ("2,5", ",", None, False),
    ("22.5", ",", None, True),
    ("2", "auto", 2, False), ("2,0", "auto", 2, False), ("2.0", "auto", 2, False), ("2,5", "auto", None, False),
    ("1,234", "auto", None, True), ("1.234", "auto", None, True), ("1.234.567", "auto", 1234567, False),
    ("1.234,0", "auto", 1234, False), ("1,234.0", "auto", 1234, False), ("0,500", "auto", None, False),
])
def test_a_decimal_comma_is_never_read_as_a_thousands_separator(cell, mark, value, ambiguous):
    """Issue 17 d: `2,5` is never 25; the file's decimal mark decides, and where it cannot, the
    value is refused as ambiguous."""
    values, bad, unsure = parse.parse_whole_numbers(text(cell), 0, mark)
    assert bool(unsure.iloc[0]) is ambiguous
    assert (pd.isna(values.iloc[0]) and bad.iloc[0]) if value is None else (values.iloc[0] == value and not bad.iloc[0])


def test_amounts_with_either_decimal_mark():
    amounts, bad, unsure = parse.parse_money(text("124,00", "58.0", "1.234,50", "$ 62", "1,234"), "auto")
    assert amounts.iloc[:4].tolist() == [124.0, 58.0, 1234.5, 62.0]
    assert bad.tolist() == [False] * 4 + [True] and unsure.tolist() == [False] * 4 + [True]
    amounts, bad, unsure = parse.parse_money(text("124,00"))
    assert bad.all() and unsure.all()


@pytest.mark.parametrize(("cell", "minutes"), [
    ("23", 23), ("23.0", 23), ("23 min", 23), ("23 minutes", 23), ("23 Mins.", 23), ("23min", 23),
    ("23m", 23), ("23'", 23), ("23 MIN", 23), ("22,5", None), ("22.5", None), ("23 hours", None), ("-3 min", None),
])
def test_minutes_as_clinics_type_them(cell, minutes):
    values, bad, _ = parse.parse_minutes(text(cell))
    assert (values.iloc[0] == minutes and not bad.iloc[0]) if minutes is not None else bool(bad.iloc[0])


def test_flags_from_typed_numbers_and_their_text():
    """Issue 17 f: booleans stored as 1.0/0.0 (a float Parquet column) are flags."""
    values, bad = parse.parse_booleans(pd.Series([1.0, 0.0, None, 2.0], dtype="Float64"))
    assert values.iloc[:2].tolist() == [True, False] and pd.isna(values.iloc[2])
    assert bad.tolist() == [False, False, False, True]
    values, bad = parse.parse_booleans(text("1.0", "0.00", "TRUE", "2.0"))
    assert values.iloc[:3].tolist() == [True, False, True] and bad.tolist() == [False, False, False, True]


def test_digits_of_other_scripts_are_read_as_ascii_digits_and_never_crash():
    """Issue 17 g: a fullwidth NPI is read as its digits; anything else that is no NPI is refused."""
    digits = parse.ascii_digits(text("１２３４５６７８９３", "١٢٣٤٥٦٧٨٩٣", "१२३४५६७८९३", "97112", "１２：３０"))
    assert digits.tolist() == ["1234567893"] * 3 + ["97112", "12:30"]
    assert parse.npi_check_digit_ok(text("１２３４５６７８９３", "12345678९३", "½234567893")).tolist() == [
        False, False, False]  # not made ASCII: refused, not a crash
    assert parse.npi_check_digit_ok(digits).iloc[:3].all()


def test_npi_check_digit_with_80840_prefix():
    # 1234567893 is CMS's published example of a valid NPI.
    ok = parse.npi_check_digit_ok(text("1234567893", "1234567890", "123456789", "12345678a3"))
    assert ok.tolist() == [True, False, False, False]


def test_cpt_codes_and_diagnosis_codes():
    codes, bad = parse.parse_cpt_codes(text("97112", "g0283", "0001f", "9711", "97112X", "TOTAL", "9711２"))
    assert codes.iloc[:3].tolist() == ["97112", "G0283", "0001F"]
    assert bad.tolist() == [False, False, False, True, True, True, True]
    dx, bad_dx = parse.parse_diagnosis_codes(text("r26.81, I69.351", "G35", "not a code"))
    assert dx.iloc[:2].tolist() == ["R26.81;I69.351", "G35"]
    assert bad_dx.tolist() == [False, False, True]


def test_money_tolerates_dollar_sign_and_separators():
    amounts, bad, _ = parse.parse_money(text("$1,234.50", "62", "-5", "abc"))
    assert amounts.iloc[:2].tolist() == [1234.5, 62.0]
    assert bad.tolist() == [False, False, True, True]


@pytest.mark.parametrize("name", ["parse_dates", "parse_times", "parse_cpt_codes", "parse_modifiers",
                                  "parse_diagnosis_codes", "npi_check_digit_ok", "parse_booleans",
                                  "parse_whole_numbers", "parse_money", "parse_minutes", "ascii_digits"])
def test_parsing_each_spelling_once_gives_what_parsing_every_row_gives(name):
    """Columns repeat a few spellings over millions of rows: parsed once each, spread back by row."""
    cells = ["2026-03-04", "3/4/2026", "09:30", "97112", "gp 59", "R26.81;M62.81", "1234567893", "yes", None, "x",
             "2", "2.0", "-1", "1,234", "$45.10", "", "9:05 PM", "3/4/26", "23 min", "2,5", "１２３"]
    text = pd.Series([cells[n % len(cells)] for n in range(60)], dtype="str", index=range(100, 160))
    once, every_row = getattr(parse, name)(text), getattr(parse, name).__wrapped__(text)
    for mine, theirs in zip(once if isinstance(once, tuple) else (once,),
                            every_row if isinstance(every_row, tuple) else (every_row,), strict=True):
        pd.testing.assert_series_equal(mine, theirs)
