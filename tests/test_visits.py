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


class TestWhoTreatedWhom:
    """A PTA's note under the PTA's own NPI, billed under the supervising PT (domain: Who furnished the care)."""

    def test_line_under_the_supervising_pt_matches_the_ptas_note_and_keeps_the_billing_npi(self, reference):
        from tests.builders import NPI, PTA_NPI

        row = one(reference, billed={"97112": 2}, modifiers={"97112": "GP,CQ"}, minutes={"97112": 23},
                  note_fields={"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA"})
        assert (row["rendering_npi"], row["note_id"], list(row["note_ids"])) == (NPI, "N0", ["N0"])
        assert (row["supported_units_97112"], row["excess_units_97112"]) == (2, 0)
        assert (row["assistant_minutes_97112"], row["cq_units_97112"], row["required_cq_units_97112"],
                row["billed_cq_units_97112"]) == (23, 2, 2, 2)

    def test_an_assistant_billed_under_their_own_npi_keeps_it(self, reference):
        from tests.builders import NPI, PTA_NPI

        result = reconcile(reference, visit(billed={"97112": 1}, rendering_npi=PTA_NPI, minutes={"97112": 15},
                                            note_fields={"supervising_npi": NPI, "provider_credential": "PTA"}))
        assert result["rendering_npi"].tolist() == [PTA_NPI] and result["note_id"].tolist() == ["N0"]

    def test_a_supervising_npi_with_nothing_under_it_leaves_the_note_where_it_is(self, reference):
        from tests.builders import OTHER_PT_NPI, PTA_NPI

        result = reconcile(reference, visit(billed={}, minutes={"97112": 15}, note_fields={
            "rendering_npi": PTA_NPI, "supervising_npi": OTHER_PT_NPI, "provider_credential": "PTA"}))
        assert result["rendering_npi"].tolist() == [PTA_NPI]

    def test_two_notes_pool_per_code_each_credential_with_its_own_minutes(self, reference):
        """The issue's example c, with 97112: PTA 23 min, PT 13 min of 97112 and 30 of 97140."""
        from tests.builders import NPI, PTA_NPI

        row = one(reference, billed={"97140": 2}, extra_lines=[("97112", 1, "GP,CQ"), ("97112", 1, "GP")],
                  minutes={"97112": 13, "97140": 30}, notes=[{
                      "rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
                      "minutes": {"97112": 23}}])
        assert (row["note_count"], row["note_id"], list(row["note_ids"])) == (2, "N0", ["N0", "N0b"])
        assert (row["minutes_97112"], row["assistant_minutes_97112"], row["pooled_timed_minutes"]) == (36, 23, 66)
        assert (row["supported_units_97112"], row["supported_timed_units"], row["excess_units_97112"]) == (2, 4, 0)
        assert (row["cq_units_97112"], row["required_cq_units_97112"], row["billed_cq_units_97112"]) == (1, 1, 1)

    def test_fewer_units_billed_than_supported_need_only_the_cq_units_left(self, reference):
        row = one(reference, billed={"97112": 1}, minutes={"97112": 38},
                  note_fields={"provider_credential": "PTA"})  # 3 units of the PTA's, 1 billed
        assert (row["cq_units_97112"], row["required_cq_units_97112"]) == (3, 1)

    def test_a_mixed_visit_without_per_code_minutes_asks_for_no_cq(self, reference):
        from tests.builders import NPI, PTA_NPI

        row = one(reference, billed={"97112": 2}, minutes=None, total_timed_minutes=15, notes=[{
            "rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
            "total_timed_minutes": 15}])
        assert (row["supported_units_97112"], row["required_cq_units_97112"]) == (2, 0)

    def test_a_visit_documented_only_by_an_assistants_total_has_every_unit_by_the_assistant(self, reference):
        row = one(reference, billed={"97112": 2}, minutes=None, total_timed_minutes=30,
                  note_fields={"provider_credential": "OTA"}, modifiers={"97112": "GO"})
        assert (row["supported_units_97112"], row["required_cq_units_97112"], row["billed_cq_units_97112"]) == (2, 2, 0)


def test_unreadable_per_code_minutes_make_the_note_count_as_giving_only_its_total(reference):
    row = one(reference, billed={"97112": 2, "97110": 1}, minutes={"97110": 23}, total_timed_minutes=47,
              unreadable=[("minutes_97112", "24 mins?", "a whole number of minutes ≥ 0")])
    assert not row["itemizes_minutes"] and row["unit_inputs_unreadable"]
    assert (row["supported_units_97112"], row["excess_units_97112"]) == (2, 0)  # from the 47-minute total


def test_an_unreadable_optional_value_no_unit_check_reads_leaves_the_visit_checkable(reference):
    row = one(reference, billed={"97112": 2}, minutes={"97112": 24},
              unreadable=[("time_in", "9:00 AM?", "a time such as 09:00 or 9:00 AM")])
    assert not row["unit_inputs_unreadable"]


AMA_STYLE = {"payer_type": "commercial", "billed": {"97112": 2, "97110": 2}, "minutes": {"97112": 24, "97110": 23}}


class TestPayers:
    """Rule basis per payer (payers.csv, profiles), not only per payer type."""

    def test_a_commercial_plan_listed_as_counting_the_cms_way_does_while_the_others_stay_ama(self, reference):
        result = reconcile(reference, visit(patient_id="A", **AMA_STYLE),
                           visit(patient_id="B", payer_id="SYNTH-CMSWAY-PPO", **AMA_STYLE))
        by_patient = result.set_index("patient_id")
        assert by_patient.loc["A", ["rule_basis", "supported_timed_units"]].tolist() == ["ama", 4]
        assert by_patient.loc["B", ["rule_basis", "supported_timed_units", "payer_id"]].tolist() == [
            "cms", 3, "SYNTH-CMSWAY-PPO"]

    def test_a_profile_adds_a_payer_and_its_row_wins(self, reference):
        from nmr_audit.profile import apply_payers

        changed = apply_payers(reference, [{"payer_id": "HIGHMARK-PPO", "payer_type": "commercial",
                                            "rule_basis": "cms", "source": "payer policy (2024)"}], "client.yaml")
        row = reconcile_visits(*tables(visit(payer_id="HIGHMARK-PPO", **AMA_STYLE)), changed).iloc[0]
        assert (row["rule_basis"], row["medicare_rules"]) == ("cms", False)
        assert changed.payers.set_index("payer_id").loc["HIGHMARK-PPO", "source"].startswith("audit profile client.yaml")

    def test_tricare_counts_the_cms_way_and_its_source_says_unverified(self, reference):
        row = one(reference, payer_type="tricare", billed={"97112": 2, "97110": 1}, minutes={"97112": 24, "97110": 23})
        assert (row["rule_basis"], row["excess_units_97112"], row["supported_timed_units"]) == ("cms", 0, 3)
        source = reference.payer_rule_basis.set_index("payer_type").loc["tricare"]
        assert "UNVERIFIED" in source["source"] and not source["verified"]

    def test_an_unbilled_visit_takes_the_payer_id_of_the_nearest_claim(self, reference):
        result = reconcile(reference,
                           visit(date_of_service="2026-03-02", payer_id="SYNTH-CMSWAY-PPO", payer_type="commercial",
                                 billed={"97110": 1}, minutes={"97110": 10}),
                           visit(date_of_service="2026-03-03", billed={}, minutes={"97112": 10, "97110": 10}))
        assert result[["payer_id", "rule_basis"]].to_numpy().tolist() == [["SYNTH-CMSWAY-PPO", "cms"]]


@pytest.mark.parametrize(("rows", "said"), [
    ([{"payer_id": "X", "payer_type": "tricare_prime", "rule_basis": "cms"}], "unknown payer type 'tricare_prime'"),
    ([{"payer_id": "X", "payer_type": "commercial", "rule_basis": "midpoint"}], "unknown rule basis 'midpoint'"),
    ([{"payer_type": "commercial", "rule_basis": "cms"}], "payers row 1: needs payer_id"),
])
def test_a_profile_payer_row_that_cannot_be_used_is_refused_naming_it(reference, tmp_path, rows, said):
    import yaml

    from nmr_audit.errors import InputError
    from nmr_audit.io.profile_file import load_profile

    path = tmp_path / "client.yaml"
    path.write_text(yaml.safe_dump({"name": "client", "payers": rows}))
    with pytest.raises(InputError, match=r"client\.yaml") as raised:
        load_profile(path, reference)
    assert said in str(raised.value)
