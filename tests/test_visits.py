"""Visit reconciliation against the manual's worked examples, the AMA contrasts and the edges."""

import pandas as pd
import pytest

from nmr_audit.contract import VISIT_COLUMNS
from nmr_audit.profile import apply_rule_basis
from nmr_audit.visits import reconcile_visits
from tests.builders import tables, visit

CMS, AMA = "medicare", "commercial"


def reconcile(reference, *visits):
    return reconcile_visits(*tables(*visits), reference)


def one(reference, **kwargs):
    result = reconcile(reference, visit(**kwargs))
    assert len(result) == 1
    return result.iloc[0]


def test_output_has_every_contract_column_in_order(reference):
    result = reconcile(reference, visit(billed={"97112": 1}, minutes={"97112": 10}))
    assert tuple(result.columns[: len(VISIT_COLUMNS)]) == VISIT_COLUMNS


@pytest.mark.parametrize(("payer", "supported_97112", "supported_timed"), [(CMS, 2, 3), (AMA, 2, 4)])
def test_manual_example_97112_24_97110_23(reference, payer, supported_97112, supported_timed):
    row = one(reference, payer_type=payer, billed={"97112": 2, "97110": 1},
              minutes={"97112": 24, "97110": 23})
    assert (row["supported_units_97112"], row["supported_timed_units"]) == (supported_97112, supported_timed)
    assert (row["minutes_97112"], row["total_timed_minutes"], row["billed_timed_units"]) == (24, 47, 3)
    assert row["excess_units_97112"] == 0


@pytest.mark.parametrize(("payer", "supported_timed"), [(CMS, 3), (AMA, 2)])
def test_manual_example_97110_33_97140_7_gives_97112_nothing(reference, payer, supported_timed):
    row = one(reference, payer_type=payer, billed={"97110": 2, "97140": 1, "97112": 1},
              minutes={"97110": 33, "97140": 7})
    assert (row["minutes_97112"], row["supported_units_97112"], row["excess_units_97112"]) == (0, 0, 1)
    assert row["supported_timed_units"] == supported_timed


def test_manual_example_four_codes_in_49_minutes_never_four_units(reference):
    row = one(reference, billed={"97110": 1, "97140": 1, "97116": 1, "97112": 1},
              minutes={"97110": 18, "97140": 13, "97116": 10, "97112": 8})
    assert row["supported_timed_units"] == 3
    assert row["supported_units_97112"] == 0  # 8 min is the smallest remainder of four
    assert row["excess_units_97112"] == 1


@pytest.mark.parametrize(("payer", "supported_97112", "supported_timed"), [(CMS, 1, 1), (AMA, 0, 0)])
def test_three_codes_of_seven_minutes(reference, payer, supported_97112, supported_timed):
    row = one(reference, payer_type=payer, billed={"97112": 1},
              minutes={"97112": 7, "97110": 7, "97140": 7})
    assert (row["supported_units_97112"], row["supported_timed_units"]) == (supported_97112, supported_timed)


@pytest.mark.parametrize(("minutes", "units"), [
    (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4), (68, 5),
    (127, 8), (128, 9),
])
@pytest.mark.parametrize("payer", [CMS, AMA])
def test_boundaries_on_a_97112_only_visit(reference, payer, minutes, units):
    row = one(reference, payer_type=payer, billed={"97112": 4}, minutes={"97112": minutes})
    assert row["supported_units_97112"] == units == row["supported_timed_units"]
    assert row["excess_units_97112"] == max(0, 4 - units)


def test_cms_tie_on_remaining_minutes_goes_to_97112(reference):
    row = one(reference, billed={"97110": 2}, minutes={"97112": 10, "97110": 25})
    assert row["supported_units_97112"] == 1  # remainders 10 and 10, one unit left: either code
    assert row["supported_timed_units"] == 2


def test_cms_larger_remainder_of_another_code_takes_the_unit(reference):
    row = one(reference, billed={"97112": 1, "97110": 1}, minutes={"97112": 9, "97110": 25})
    assert row["supported_units_97112"] == 0  # 97110's 10 remaining minutes beat 97112's 9
    assert row["excess_units_97112"] == 1
    ama = one(reference, payer_type=AMA, billed={"97112": 1, "97110": 1}, minutes={"97112": 9, "97110": 25})
    assert ama["excess_units_97112"] == 0


def test_several_lines_and_claims_on_one_visit_are_one_visit(reference):
    result = reconcile(reference,
                       visit(billed={"97112": 1, "97110": 1}, minutes={"97112": 30, "97110": 15}),
                       visit(billed={"97112": 1}, note=False))  # same key, second claim, no note
    assert len(result) == 1
    row = result.iloc[0]
    assert (row["lines_97112"], row["billed_units_97112"], row["billed_timed_units"]) == (2, 2, 3)
    assert (row["supported_units_97112"], row["excess_units_97112"]) == (2, 0)


def test_lines_spread_over_claims_count_together(reference):
    row = one(reference, billed={"97112": 3, "97110": 1}, claims=2, minutes={"97112": 30, "97110": 15})
    assert (row["billed_units_97112"], row["supported_units_97112"], row["excess_units_97112"]) == (3, 2, 1)


def test_visit_without_a_note_supports_nothing(reference):
    row = one(reference, billed={"97112": 2}, note=False)
    assert pd.isna(row["note_id"]) and pd.isna(row["minutes_97112"]) and pd.isna(row["total_timed_minutes"])
    assert (row["supported_units_97112"], row["excess_units_97112"], row["supported_timed_units"]) == (0, 2, 0)


def test_note_without_97112_minutes_supports_no_97112(reference):
    row = one(reference, billed={"97112": 1, "97110": 2}, minutes={"97110": 30})
    assert (row["minutes_97112"], row["supported_units_97112"], row["excess_units_97112"]) == (0, 0, 1)


def test_documented_but_unbilled_97112_takes_the_payer_of_the_patients_nearest_claim(reference):
    result = reconcile(reference,
                       visit(date_of_service="2026-03-01", payer_type=AMA, billed={"97112": 1}, minutes={"97112": 10}),
                       visit(date_of_service="2026-03-20", payer_type=CMS, billed={"97110": 1}, minutes={"97110": 10}),
                       visit(date_of_service="2026-03-18", billed={}, minutes={"97112": 14, "97110": 10}))
    row = result.set_index("date_of_service").loc[pd.Timestamp("2026-03-18")]
    assert (row["payer_type"], row["rule_basis"]) == (CMS, "cms")
    assert (row["billed_units_97112"], row["supported_units_97112"], row["lines_97112"]) == (0, 1, 0)
    assert len(result) == 2  # the 97110-only visit is not a 97112 visit


def test_patient_with_no_claim_at_all_gets_the_unknown_payer(reference):
    row = one(reference, billed={}, minutes={"97112": 20})
    assert (row["payer_type"], row["rule_basis"], row["supported_units_97112"]) == ("unknown", "cms", 1)


def test_zero_97112_minutes_and_no_97112_line_is_not_a_97112_visit(reference):
    assert reconcile(reference, visit(billed={"97110": 1}, minutes={"97112": 0, "97110": 15})).empty


def test_untimed_codes_do_not_enter_the_pool(reference):
    row = one(reference, billed={"97112": 2, "97161": 1}, minutes={"97112": 20, "97161": 30})
    assert (row["total_timed_minutes"], row["supported_timed_units"], row["excess_units_97112"]) == (20, 1, 1)


class TestNoteWithOnlyATotal:
    """Medicare does not require per-code minutes: the visit-level check (contract)."""

    def test_cms_pooled_units_less_other_timed_units_billed(self, reference):
        row = one(reference, billed={"97112": 2, "97110": 1}, minutes=None, total_timed_minutes=47)
        assert not row["itemizes_minutes"] and pd.isna(row["minutes_97112"])
        assert (row["supported_units_97112"], row["supported_timed_units"], row["excess_units_97112"]) == (2, 3, 0)

    def test_cms_overbilled_total(self, reference):
        row = one(reference, billed={"97112": 3, "97110": 1}, minutes=None, total_timed_minutes=47)
        assert (row["supported_units_97112"], row["excess_units_97112"], row["supported_timed_units"]) == (2, 1, 3)

    def test_cms_other_codes_use_up_the_total(self, reference):
        row = one(reference, billed={"97112": 1, "97110": 3}, minutes=None, total_timed_minutes=40)
        assert (row["supported_units_97112"], row["excess_units_97112"]) == (0, 1)

    def test_ama_best_split_of_the_total(self, reference):
        row = one(reference, payer_type=AMA, billed={"97112": 2, "97110": 2}, minutes=None,
                  total_timed_minutes=47)
        assert (row["supported_units_97112"], row["supported_timed_units"], row["excess_units_97112"]) == (2, 4, 0)

    def test_ama_other_codes_need_their_minutes_first(self, reference):
        row = one(reference, payer_type=AMA, billed={"97112": 2, "97110": 2}, minutes=None,
                  total_timed_minutes=40)
        assert (row["supported_units_97112"], row["excess_units_97112"]) == (1, 1)  # 40 − 23 = 17 min

    def test_no_total_documented_supports_nothing(self, reference):
        row = one(reference, billed={"97112": 1}, minutes=None, total_timed_minutes=None)
        assert (row["supported_units_97112"], row["excess_units_97112"]) == (0, 1)


def test_two_notes_for_one_visit_pool_their_minutes(reference):
    claim_lines, notes, services = tables(visit(billed={"97112": 2}, minutes={"97112": 12}))
    second = notes.assign(note_id="N9")
    services = pd.concat([services, services.assign(note_id="N9")], ignore_index=True)
    row = reconcile_visits(claim_lines, pd.concat([notes, second], ignore_index=True), services,
                           reference).iloc[0]
    assert (row["note_count"], row["note_id"], row["minutes_97112"], row["supported_units_97112"]) == (2, "N0", 24, 2)


def test_profile_moves_a_commercial_payer_to_the_cms_rule(reference):
    cms_commercial = apply_rule_basis(reference, {"commercial": "cms"}, "highmark.yaml")
    case = visit(payer_type=AMA, billed={"97112": 2, "97110": 2}, minutes={"97112": 24, "97110": 23})
    default = reconcile_visits(*tables(case), reference).iloc[0]
    changed = reconcile_visits(*tables(case), cms_commercial).iloc[0]
    assert (default["rule_basis"], default["supported_timed_units"]) == ("ama", 4)
    assert (changed["rule_basis"], changed["supported_timed_units"]) == ("cms", 3)


def test_inputs_are_not_mutated(reference):
    frames = tables(visit(billed={"97112": 2}, minutes={"97112": 24}))
    copies = [f.copy() for f in frames]
    reconcile_visits(*frames, reference)
    for frame, copy in zip(frames, copies, strict=True):
        pd.testing.assert_frame_equal(frame, copy)


def test_no_input_gives_an_empty_table_with_the_contract_columns(reference):
    result = reconcile(reference)
    assert result.empty and tuple(result.columns[: len(VISIT_COLUMNS)]) == VISIT_COLUMNS
