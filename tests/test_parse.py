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
    values, failed = parse.parse_whole_numbers(text(cell))
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


def test_npi_check_digit_with_80840_prefix():
    # 1234567893 is CMS's published example of a valid NPI.
    ok = parse.npi_check_digit_ok(text("1234567893", "1234567890", "123456789", "12345678a3"))
    assert ok.tolist() == [True, False, False, False]


def test_cpt_codes_and_diagnosis_codes():
    codes, bad = parse.parse_cpt_codes(text("97112", "g0283", "9711", "97112X"))
    assert codes.iloc[:2].tolist() == ["97112", "G0283"]
    assert bad.tolist() == [False, False, True, True]
    dx, bad_dx = parse.parse_diagnosis_codes(text("r26.81, I69.351", "G35", "not a code"))
    assert dx.iloc[:2].tolist() == ["R26.81;I69.351", "G35"]
    assert bad_dx.tolist() == [False, False, True]


def test_money_tolerates_dollar_sign_and_separators():
    amounts, bad = parse.parse_money(text("$1,234.50", "62", "-5", "abc"))
    assert amounts.iloc[:2].tolist() == [1234.5, 62.0]
    assert bad.tolist() == [False, False, True, True]


@pytest.mark.parametrize("name", ["parse_dates", "parse_times", "parse_cpt_codes", "parse_modifiers",
                                  "parse_diagnosis_codes", "npi_check_digit_ok", "parse_booleans",
                                  "parse_whole_numbers", "parse_money"])
def test_parsing_each_spelling_once_gives_what_parsing_every_row_gives(name):
    """Columns repeat a few spellings over millions of rows: parsed once each, spread back by row."""
    cells = ["2026-03-04", "3/4/2026", "09:30", "97112", "gp 59", "R26.81;M62.81", "1234567893", "yes", None, "x",
             "2", "2.0", "-1", "1,234", "$45.10", ""]
    text = pd.Series([cells[n % len(cells)] for n in range(60)], dtype="str", index=range(100, 160))
    once, every_row = getattr(parse, name)(text), getattr(parse, name).__wrapped__(text)
    for mine, theirs in zip(once if isinstance(once, tuple) else (once,),
                            every_row if isinstance(every_row, tuple) else (every_row,), strict=True):
        pd.testing.assert_series_equal(mine, theirs)
