"""The unit table and the CMS allotment against the worked examples of the manual."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# CQ/CO unit by unit. Source of the scenarios: CMS, "Billing Examples Using CQ/CO Modifiers for
# Services Furnished In Whole or In Part by PTAs and OTAs" (cms.gov/medicare/coding-billing/
# therapy-services/billing-examples-using-cq/co-modifiers-services-furnished-whole-or-part-ptas-and-otas),
# Claims Processing Manual ch. 5 §20.1, and the CY 2022 PFS final rule (86 FR 64996) that revised the
# final unit(s). Only the page's opening and its Scenario 1 could be read here (docs/rules.md says so).
def allot_with_cq(*services):
    """(code, assistant minutes, therapist minutes) of one visit → {code: (units, CQ/CO units)}."""
    from nmr_audit.units import assistant_units

    frame = pd.DataFrame(services, columns=["cpt_code", "assistant", "therapist"]).assign(visit=0)
    frame = frame.assign(minutes=frame["assistant"] + frame["therapist"])
    units = cms_allotment(frame)
    cq = assistant_units(units, frame["assistant"], frame["therapist"])
    return {c: (int(u), int(q)) for c, u, q in zip(frame["cpt_code"], units, cq, strict=True)}


def test_cms_scenario_1_pta_23_and_pt_13_minutes_of_97110_pt_30_of_97140():
    """CMS Scenario 1: 66 minutes, 4 units. 97140 ×2 without CQ (the PT's); 97110 ×2, the unit of
    the PTA's full 15 minutes with CQ and the final unit without it (the PT's 13 remaining
    minutes bill it on their own)."""
    assert allot_with_cq(("97110", 23, 13), ("97140", 0, 30)) == {"97110": (2, 1), "97140": (2, 0)}


@pytest.mark.parametrize(("assistant", "therapist"), [(12, 12), (9, 14), (14, 9), (13, 11)])
def test_cy2022_two_units_left_where_each_clinician_furnished_9_to_14_minutes_split_one_and_one(assistant,
                                                                                                therapist):
    """CY 2022 PFS final rule: two 15-minute units left, PT and PTA each 9–14 minutes of the same
    service: one unit with CQ, one without."""
    assert allot_with_cq(("97110", assistant, therapist)) == {"97110": (2, 1)}


def test_cy2022_one_unit_where_the_assistant_furnished_most_minutes_carries_cq():
    """The CY 2022 rule's example: PTA 10 and PT 5 minutes of 97110 (15 minutes, one unit): CQ."""
    assert allot_with_cq(("97110", 10, 5)) == {"97110": (1, 1)}


@pytest.mark.parametrize(("services", "expected"), [
    ((("97112", 38, 0),), {"97112": (3, 3)}),  # the PTA furnished the whole service: every unit
    ((("97112", 0, 38),), {"97112": (3, 0)}),  # the PT alone: none
    ((("97112", 1, 14),), {"97112": (1, 0)}),  # 1 of 15 minutes is within the 10% de minimis
    ((("97112", 1, 7),), {"97112": (1, 1)}),  # the PT's 7 minutes bill nothing alone; the PTA's 1 of 8 is over 10%
    ((("97112", 2, 20),), {"97112": (1, 0)}),  # the PT's full 15 minutes make the one unit
    ((("97112", 15, 30),), {"97112": (3, 1)}),  # full units each: the PTA's one with CQ
    ((("97140", 0, 15), ("97110", 7, 0)), {"97140": (1, 0), "97110": (0, 0)}),  # 22 min, the one unit is the PT's
])
def test_full_units_are_each_clinicians_and_the_final_unit_follows_the_de_minimis_standard(services, expected):
    assert allot_with_cq(*services) == expected


def test_fewer_units_than_full_units_take_the_therapists_first():
    from nmr_audit.units import assistant_units

    got = assistant_units(pd.Series([1, 2, 3]), pd.Series([15, 15, 15]), pd.Series([30, 30, 30]))
    assert got.tolist() == [0, 0, 1]


@given(st.lists(st.tuples(st.integers(0, 90), st.integers(0, 90)), min_size=1, max_size=30))
def test_cq_units_stay_within_the_units_and_follow_who_furnished_the_whole(minutes):
    from nmr_audit.units import assistant_units

    a = pd.Series([m[0] for m in minutes])
    t = pd.Series([m[1] for m in minutes])
    units = units_for_minutes(a + t)
    cq = assistant_units(units, a, t)
    assert ((cq >= 0) & (cq <= units)).all()
    assert (cq[a == 0] == 0).all()  # the therapist alone: never CQ/CO
    assert (cq[t == 0] == units[t == 0]).all()  # the assistant alone: every unit
    assert (cq >= a // 15).where(a // 15 <= units - t // 15, True).all()  # each full unit of the assistant's
