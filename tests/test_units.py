"""The unit table and the CMS allotment against the worked examples of the manual."""

import pandas as pd
import pytest

from nmr_audit.units import ama_ceiling, cms_allotment, cms_most_units, fewest_minutes, units_for_minutes


@pytest.mark.parametrize(("minutes", "units"), [
    (0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4),
    (68, 5), (127, 8), (128, 9),
])
def test_unit_table_edges(minutes, units):
    assert units_for_minutes(pd.Series([minutes])).iloc[0] == units


def allot(*visits):
    rows = [(v, code, m) for v, services in enumerate(visits) for code, m in services.items()]
    frame = pd.DataFrame(rows, columns=["visit", "cpt_code", "minutes"])
    return dict(zip(zip(frame["visit"], frame["cpt_code"], strict=True),
                    cms_allotment(frame), strict=True))


def test_manual_examples():
    got = allot({"97112": 24, "97110": 23}, {"97110": 33, "97140": 7},
                {"97110": 18, "97140": 13, "97116": 10, "97035": 8})
    assert (got[0, "97112"], got[0, "97110"]) == (2, 1)
    assert (got[1, "97110"], got[1, "97140"]) == (2, 1)
    assert [got[2, c] for c in ("97110", "97140", "97116", "97035")] == [1, 1, 1, 0]


def test_three_codes_of_seven_minutes_pool_to_one_unit():
    got = allot({"97112": 7, "97110": 7, "97140": 7})
    assert sum(got.values()) == 1


def test_allotment_ties_go_to_the_favoured_code_then_row_order():
    frame = pd.DataFrame({"visit": 0, "cpt_code": ["97110", "97112"], "minutes": [10, 25]})
    assert list(cms_allotment(frame)) == [1, 1]  # remainders 10 and 10: first row wins the tie
    tie = pd.DataFrame({"visit": 0, "cpt_code": ["97110", "97112"], "minutes": [25, 10]})
    assert list(cms_allotment(tie)) == [2, 0]
    assert list(cms_allotment(tie, favour="97112")) == [1, 1]


@pytest.mark.parametrize(("units", "minutes"), [(0, 0), (1, 8), (2, 23), (3, 38), (4, 53)])
def test_fewest_minutes_for_units_of_one_code(units, minutes):
    assert fewest_minutes(pd.Series([units])).iloc[0] == minutes
    assert units_for_minutes(pd.Series([minutes])).iloc[0] == units


@pytest.mark.parametrize(("minutes", "codes", "units"), [
    (47, 2, 4),  # 24 + 23 under AMA
    (47, 1, 3),
    (21, 3, 2),  # 8 + 13: only two codes can reach 8 minutes
    (7, 3, 0),
    (16, 2, 2),
    (0, 0, 0),
])
def test_ama_ceiling_is_the_best_split_of_a_total(minutes, codes, units):
    assert ama_ceiling(pd.Series([minutes]), pd.Series([codes])).iloc[0] == units


def test_most_units_of_97112_across_visits_at_once():
    frame = pd.DataFrame({"visit": [0, 0, 1, 1, 2], "cpt_code": ["97112", "97110", "97112", "97110", "97110"],
                          "minutes": [9, 25, 10, 25, 30]})
    assert cms_most_units(frame, "97112").to_dict() == {0: 0, 1: 1, 2: 0}
