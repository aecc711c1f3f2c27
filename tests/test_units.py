"""The unit table and the CMS allotment against the worked examples of the manual."""

import pandas as pd
import pytest

from nmr_audit.units import cms_allotment, units_for_minutes


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
