"""Every rule of the contract: a case that fires and a close case that must not.

All scenarios are audited together once (each is its own patient), through the real path:
reconcile → facts → the GX suites from `expectations/` → findings. Each test then reads the
findings of its own patient, so a rule that fires on a neighbour's row would show up too.
"""

import pandas as pd
import pytest

from nmr_audit.facts import build_facts
from nmr_audit.findings import FINDING_COLUMNS, build_findings
from nmr_audit.gx_engine import validate
from nmr_audit.io.suites import load_suites
from nmr_audit.visits import reconcile_visits
from tests.builders import tables, visit

CLEAN = {"billed": {"97112": 2, "97110": 1}, "minutes": {"97112": 24, "97110": 23}}
PTA = {"provider_credential": "PTA"}

SCENARIOS = {  # patient: (visit arguments, the rules expected on that patient, with counts)
    "clean-cms": (CLEAN, {}),
    "clean-ama": ({"payer_type": "commercial", "billed": {"97112": 2, "97110": 2},
                   "minutes": {"97112": 24, "97110": 23}}, {}),
    "clean-total-only": ({"billed": {"97112": 2, "97110": 1}, "minutes": None, "total_timed_minutes": 47}, {}),
    "units-exceed": ({"billed": {"97112": 3, "97110": 1}, "minutes": {"97112": 24, "97110": 23}},
                     {"UNITS_EXCEED_TIME": 1, "TIMED_UNITS_EXCEED_TOTAL": 1}),
    "units-22-minutes": ({"billed": {"97112": 2}, "minutes": {"97112": 22}},
                         {"UNITS_EXCEED_TIME": 1, "TIMED_UNITS_EXCEED_TOTAL": 1}),
    "units-23-minutes": ({"billed": {"97112": 2}, "minutes": {"97112": 23}}, {}),
    "units-7-minutes": ({"billed": {"97112": 1}, "minutes": {"97112": 7}},
                        {"UNITS_EXCEED_TIME": 1, "TIMED_UNITS_EXCEED_TOTAL": 1}),
    "units-8-minutes": ({"billed": {"97112": 1}, "minutes": {"97112": 8}}, {}),
    "timed-total-only": ({"billed": {"97112": 2, "97110": 2}, "minutes": {"97112": 24, "97110": 23}},
                         {"TIMED_UNITS_EXCEED_TOTAL": 1}),
    "below-time": ({"billed": {"97112": 1}, "minutes": {"97112": 30}}, {"UNITS_BELOW_TIME": 1}),
    "below-time-close": ({"billed": {"97112": 1}, "minutes": {"97112": 20}}, {}),
    "no-note": ({"billed": {"97112": 2}, "note": False}, {"NO_NOTE": 1}),
    "no-97112-time": ({"billed": {"97112": 1, "97110": 1}, "minutes": {"97110": 30}}, {"NO_97112_TIME": 1}),
    "no-97112-time-close": ({"billed": {"97112": 1, "97110": 1}, "minutes": None, "total_timed_minutes": 30}, {}),
    "unbilled": ({"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}}, {"UNBILLED_97112": 1}),
    "unbilled-close": ({"billed": {"97110": 1}, "minutes": {"97112": 7, "97110": 15}}, {}),
    "no-therapy-modifier": ({**CLEAN, "modifiers": {"97112": ""}}, {"MISSING_THERAPY_MODIFIER": 1}),
    "ot-with-go": ({**CLEAN, "modifiers": {"97112": "GO", "97110": "GO"},
                    "note_fields": {"provider_credential": "OT"}}, {}),
    "modifier-mismatch": ({**CLEAN, "modifiers": {"97112": "GO"}}, {"THERAPY_MODIFIER_MISMATCH": 1}),
    "ncci-pair": ({"billed": {"97112": 1, "97530": 1}, "minutes": {"97112": 15, "97530": 15}},
                  {"MISSING_NCCI_MODIFIER": 1}),
    "ncci-59-on-97112": ({"billed": {"97112": 1, "97530": 1}, "minutes": {"97112": 15, "97530": 15},
                          "modifiers": {"97112": "GP,59"}}, {}),
    "ncci-xu-on-partner": ({"billed": {"97112": 1, "97530": 1}, "minutes": {"97112": 15, "97530": 15},
                            "modifiers": {"97530": "GP XU"}}, {}),
    "mue": ({"billed": {"97112": 5}, "minutes": {"97112": 75}}, {"MUE_EXCEEDED": 1}),
    "mue-close": ({"billed": {"97112": 4}, "minutes": {"97112": 60}}, {}),
    "assistant": ({**CLEAN, "note_fields": PTA}, {"MISSING_ASSISTANT_MODIFIER": 1}),
    "assistant-cq": ({**CLEAN, "modifiers": {"97112": "GP,CQ", "97110": "GP,CQ"}, "note_fields": PTA}, {}),
    "assistant-commercial": ({**CLEAN, "payer_type": "commercial", "billed": {"97112": 2, "97110": 2},
                              "note_fields": PTA}, {}),
    "necessity": ({**CLEAN, "note_fields": {"techniques": None, "treatment_goals": None}},
                  {"MISSING_NECESSITY_FIELD": 2}),
    "necessity-times": ({**CLEAN, "note_fields": {"time_in": None, "total_treatment_minutes": None}},
                        {"MISSING_NECESSITY_FIELD": 2}),
    "poc-missing": ({**CLEAN, "plan_of_care_days_before": None}, {"PLAN_OF_CARE_MISSING": 1}),
    "poc-after-service": ({**CLEAN, "plan_of_care_days_before": -3}, {"PLAN_OF_CARE_MISSING": 1}),
    "poc-missing-commercial": ({"payer_type": "commercial", "billed": {"97112": 2, "97110": 2},
                                "minutes": {"97112": 24, "97110": 23}, "plan_of_care_days_before": None}, {}),
    "poc-expired": ({**CLEAN, "plan_of_care_days_before": 91}, {"PLAN_OF_CARE_EXPIRED": 1}),
    "poc-90-days": ({**CLEAN, "plan_of_care_days_before": 90}, {}),
    "time-short-session": ({**CLEAN, "note_fields": {"time_out": "09:30"}}, {"TIME_INCONSISTENT": 1}),
    "time-services-over-total": ({**CLEAN, "note_fields": {"total_treatment_minutes": 40}}, {"TIME_INCONSISTENT": 1}),
    "time-total-timed-differs": ({**CLEAN, "total_timed_minutes": 40}, {"TIME_INCONSISTENT": 1}),
    "time-session-exact": ({**CLEAN, "note_fields": {"time_out": "09:47"}}, {}),
    "group-time": ({**CLEAN, "note_fields": {"one_on_one": False}}, {"NOT_ONE_ON_ONE": 1}),
    "one-on-one-unknown": ({**CLEAN, "note_fields": {"one_on_one": None}}, {}),
    "unsigned": ({**CLEAN, "note_fields": {"signed": False}}, {"NOTE_UNSIGNED": 1}),
    "duplicate-line": ({"billed": {"97112": 1}, "extra_lines": [("97112", 1, "GP")], "minutes": {"97112": 30}},
                       {"DUPLICATE_LINE": 1}),
    "one-line-two-units": ({"billed": {"97112": 2}, "minutes": {"97112": 30}}, {}),
    "canalith": ({**CLEAN, "note_fields": {"techniques": "Epley maneuver, right posterior canal"}},
                 {"CANALITH_AS_97112": 1}),
    "canalith-close": ({**CLEAN, "note_fields": {"techniques": "vestibular habituation, gaze stabilization"}}, {}),
}


def audit(reference, *visits):
    claim_lines, notes, services = tables(*visits)
    visit_table = reconcile_visits(claim_lines, notes, services, reference)
    facts = build_facts(claim_lines, notes, services, visit_table, reference).by_grain()
    return build_findings(validate(load_suites(), facts), facts)


@pytest.fixture(scope="module")
def findings(reference):
    return audit(reference, *[visit(patient_id=name, **kwargs) for name, (kwargs, _) in SCENARIOS.items()])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_rule_fires_exactly_where_expected(findings, name):
    expected = SCENARIOS[name][1]
    got = findings.loc[findings["patient_id"] == name, "rule_id"].value_counts().to_dict()
    assert got == expected, findings.loc[findings["patient_id"] == name, ["rule_id", "message"]].to_string()


def test_every_contract_rule_is_exercised(findings):
    from tests.test_suites import CONTRACT_RULES

    assert set(findings["rule_id"]) == set(CONTRACT_RULES)


def test_findings_table_follows_the_contract(findings):
    assert list(findings.columns) == list(FINDING_COLUMNS)
    assert findings["finding_id"].is_unique and findings["finding_id"].str.fullmatch(r"F[0-9a-f]{16}").all()
    assert findings["severity"].isin(["high", "medium", "low", "info"]).all()


def test_money_on_units_beyond_the_minutes(findings, reference):
    row = findings[(findings["patient_id"] == "units-exceed") & (findings["rule_id"] == "UNITS_EXCEED_TIME")].iloc[0]
    fee = reference.fee_schedule.set_index(["payer_type", "cpt_code", "year"]).loc[("medicare", "97112", 2026), "amount"]
    assert row["excess_units"] == 1 and row["dollars_at_risk"] == pytest.approx(fee)
    assert (row["claim_id"], row["line_number"], row["note_id"]) == ("C3-0", 1, "N3")
    assert "97112 billed 3 unit(s); the note's minutes support 2 under the cms rule" in row["message"]


def test_no_note_puts_the_whole_line_at_risk(findings):
    row = findings[findings["patient_id"] == "no-note"].iloc[0]
    assert row["excess_units"] == 2 and row["dollars_at_risk"] > 0 and pd.isna(row["note_id"])


def test_necessity_findings_name_the_missing_field(findings):
    fields = findings.loc[findings["patient_id"] == "necessity", "field"]
    assert sorted(fields) == ["techniques", "treatment_goals"]
    others = findings.loc[findings["rule_id"] != "MISSING_NECESSITY_FIELD", "field"]
    assert others.isna().all()


def test_duplicate_flags_the_second_line_and_names_the_first(findings):
    row = findings[findings["patient_id"] == "duplicate-line"].iloc[0]
    assert row["line_number"] == 2 and "line 1" in row["message"]


def test_two_time_checks_on_one_note_make_one_finding(reference):
    both = visit(patient_id="both", **{**CLEAN, "note_fields": {"time_out": "09:10", "total_treatment_minutes": 30}})
    found = audit(reference, both)
    time = found[found["rule_id"] == "TIME_INCONSISTENT"]
    assert len(time) == 1 and time["message"].iloc[0].count(";") >= 1


def test_two_runs_give_identical_findings(reference, findings):
    again = audit(reference, *[visit(patient_id=name, **kwargs) for name, (kwargs, _) in SCENARIOS.items()])
    pd.testing.assert_frame_equal(findings, again)


def test_finding_ids_do_not_depend_on_row_order(reference):
    frames = tables(*[visit(patient_id=name, **kwargs) for name, (kwargs, _) in SCENARIOS.items()])
    shuffled = [f.sample(frac=1, random_state=7).reset_index(drop=True) for f in frames]
    ids = []
    for claim_lines, notes, services in (frames, shuffled):
        visit_table = reconcile_visits(claim_lines, notes, services, reference)
        facts = build_facts(claim_lines, notes, services, visit_table, reference).by_grain()
        ids.append(sorted(build_findings(validate(load_suites(), facts), facts)["finding_id"]))
    assert ids[0] == ids[1] and len(ids[0]) > 20


def test_the_data_docs_path_flags_the_same_rows(reference, tmp_path):
    """With Data Docs each suite runs whole through a checkpoint; without, each expectation runs
    over its own narrow batch. Both must flag exactly the same rows."""
    frames = tables(*[visit(patient_id=name, **kwargs) for name, (kwargs, _) in SCENARIOS.items()])
    visit_table = reconcile_visits(*frames, reference)
    facts = build_facts(*frames, visit_table, reference).by_grain()
    fast = validate(load_suites(), facts)
    with_docs = validate(load_suites(), facts, tmp_path / "docs")
    assert len(fast) > 20 and (tmp_path / "docs" / "index.html").exists()
    pd.testing.assert_frame_equal(fast.sort_values(["grain", "expectation", "row_id"]).reset_index(drop=True),
                                  with_docs.sort_values(["grain", "expectation", "row_id"]).reset_index(drop=True))


def test_one_rule_engine_validates_bucket_after_bucket_and_its_docs_list_each(reference, tmp_path):
    """A run in patient buckets reuses one engine: each call sees only its own frames, and the Data
    Docs gain one validation result per suite and call."""
    from nmr_audit.gx_engine import RuleEngine

    cases = [visit(patient_id=name, **kwargs) for name, (kwargs, _) in SCENARIOS.items()]
    halves = [cases[: len(cases) // 2], cases[len(cases) // 2:]]
    facts = []
    for half in halves:
        frames = tables(*half)
        facts.append(build_facts(*frames, reconcile_visits(*frames, reference), reference).by_grain())
    expected = [validate(load_suites(), part) for part in facts]  # a fresh engine for each part
    for docs in (None, tmp_path / "docs"):
        engine = RuleEngine(load_suites(), docs)
        for part, alone in zip(facts, expected, strict=True):
            assert_frame_equal_sorted(engine.validate(part), alone)
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 2 * len(load_suites())


def assert_frame_equal_sorted(left, right):
    order = ["grain", "expectation", "row_id"]
    pd.testing.assert_frame_equal(left.sort_values(order).reset_index(drop=True),
                                  right.sort_values(order).reset_index(drop=True))
