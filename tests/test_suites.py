"""The rule suites in `expectations/`: held to the rule registry and the contract, loadable as GX suites."""

import json
import string

import pandas as pd
import pytest

from nmr_audit.contract import RULE_GRAINS, RULE_IDS, RULES
from nmr_audit.gx_engine import RuleEngineError, suite_from_json, validate
from nmr_audit.io.suites import GRAINS, load_suites
from nmr_audit.rules import rule_table_markdown, suite_problems
from tests.conftest import REPO

CONTRACT_RULES = {  # the contract's rule ids and severities (data contract v1, and v1.1's implemented so far)
    "UNITS_EXCEED_TIME": {"high"}, "TIMED_UNITS_EXCEED_TOTAL": {"high"}, "UNITS_BELOW_TIME": {"info"},
    "NO_NOTE": {"high"}, "NO_97112_TIME": {"high"}, "UNBILLED_97112": {"info"},
    "MISSING_THERAPY_MODIFIER": {"high"}, "THERAPY_MODIFIER_MISMATCH": {"medium"},
    "MISSING_NCCI_MODIFIER": {"high"}, "MUE_EXCEEDED": {"high"}, "MISSING_ASSISTANT_MODIFIER": {"medium"},
    "MISSING_NECESSITY_FIELD": {"medium"}, "PLAN_OF_CARE_MISSING": {"high"}, "PLAN_OF_CARE_EXPIRED": {"medium"},
    "TIME_INCONSISTENT": {"medium"}, "NOT_ONE_ON_ONE": {"high"}, "NOTE_UNSIGNED": {"medium"},
    "DUPLICATE_LINE": {"high"}, "CANALITH_AS_97112": {"medium"},
    "FIELD_UNREADABLE": {"low", "medium"}, "NOTE_QUARANTINED": {"medium"}, "LINE_QUARANTINED": {"medium"},
    "DAY_UNITS_EXCEED_TIME": {"medium"},
    "KX_MISSING": {"high"}, "KX_REVIEW_THRESHOLD": {"info"}, "PROGRESS_REPORT_OVERDUE": {"medium"},
    "PAYER_EDIT": {"high"},
}
NECESSITY = {"diagnosis_codes", "functional_deficit", "treatment_goals", "techniques", "patient_response",
             "time_in", "time_out", "total_treatment_minutes"}


def documents():
    return {grain: json.loads((REPO / "expectations" / f"{grain}.json").read_text()) for grain in GRAINS}


def test_every_contract_rule_has_an_expectation_with_its_severity():
    found = {}
    for document in documents().values():
        for item in document["expectations"]:
            found.setdefault(item["meta"]["rule_id"], set()).add(item["meta"]["severity"])
    assert found == CONTRACT_RULES


def test_the_registry_holds_the_contract_rules_with_their_severities():
    assert {r.rule_id: set(r.severities) for r in RULES} == CONTRACT_RULES
    assert len(RULE_IDS) == len(set(RULE_IDS))
    for entry in RULES:
        assert entry.meaning and entry.fix and entry.source and 0 <= entry.weight <= 1, entry.rule_id
        assert entry.grain in RULE_GRAINS and entry.suite in GRAINS, entry.rule_id


def test_the_shipped_suites_agree_with_the_registry():
    assert suite_problems({g: [(e["meta"]["rule_id"], e["meta"]["severity"]) for e in d["expectations"]]
                           for g, d in documents().items()}) == []


@pytest.mark.parametrize(("change", "said"), [
    (lambda d: d["visits"]["expectations"].append({**d["visits"]["expectations"][0], "meta": {
        **d["visits"]["expectations"][0]["meta"], "rule_id": "NEW_RULE"}}), "NEW_RULE is not in the rule registry"),
    (lambda d: d["visits"]["expectations"][0]["meta"].update(severity="low"),
     "UNITS_EXCEED_TIME has severity low, the registry says high"),
    (lambda d: d["discipline_days"].update(expectations=[]), "DAY_UNITS_EXCEED_TIME has no expectation"),
    (lambda d: d["fields"]["expectations"].pop(), "FIELD_UNREADABLE has no expectation of severity low"),
    (lambda d: d["notes"]["expectations"].append(d["visits"]["expectations"][0]),
     "notes: UNITS_EXCEED_TIME belongs in the visits suite"),
])
def test_suites_that_disagree_with_the_registry_stop_the_run_naming_the_rule(tmp_path, change, said):
    from nmr_audit.errors import InputError

    changed = documents()
    change(changed)
    for grain, document in changed.items():
        (tmp_path / f"{grain}.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match="disagree with the rule registry") as raised:
        load_suites(tmp_path)
    assert said in str(raised.value) and str(tmp_path) in str(raised.value)


def test_a_rule_not_in_the_registry_is_named_when_asked_for():
    from nmr_audit.rules import rule

    assert rule("NO_NOTE").severity == "high" and rule("FIELD_UNREADABLE").severities == ("low", "medium")
    with pytest.raises(KeyError, match="NOT_A_RULE is not in the rule registry"):
        rule("NOT_A_RULE")


def test_the_rule_table_in_the_docs_is_the_registry():
    assert rule_table_markdown() in (REPO / "docs" / "rules.md").read_text(encoding="utf-8")


def test_each_necessity_field_has_its_own_expectation():
    notes = documents()["notes"]["expectations"]
    fields = [e["meta"]["field"] for e in notes if e["meta"]["rule_id"] == "MISSING_NECESSITY_FIELD"]
    assert sorted(fields) == sorted(NECESSITY)


@pytest.mark.parametrize("grain", GRAINS)
def test_suites_round_trip_through_gx(grain):
    document = documents()[grain]
    suite = suite_from_json(document)
    again = suite.to_json_dict()
    assert again["name"] == document["name"] and len(again["expectations"]) == len(document["expectations"])
    for original, loaded in zip(document["expectations"], again["expectations"], strict=True):
        assert loaded["type"] == original["type"] and loaded["meta"] == original["meta"]
        assert suite_from_json({"name": grain, "expectations": [loaded]}).expectations[0].meta == original["meta"]


def test_message_templates_name_only_fact_columns(reference):
    from nmr_audit.facts import build_facts
    from nmr_audit.visits import reconcile_visits
    from tests.builders import tables, visit

    frames = tables(visit(billed={"97112": 1}, minutes={"97112": 10}))
    facts = build_facts(*frames, reconcile_visits(*frames, reference), reference).by_grain()
    for grain, document in documents().items():
        for item in document["expectations"]:
            meta = item["meta"]
            named = {f for _, f, _, _ in string.Formatter().parse(meta["message"]) if f}
            for column in named | {meta.get("excess_units"), meta.get("dollars"), meta.get("field_column")} - {None}:
                assert column in facts[grain].columns, (grain, meta["rule_id"], column)


def test_a_suite_without_rule_meta_is_refused():
    with pytest.raises(ValueError, match="meta lacks severity"):
        suite_from_json({"name": "x", "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"},
             "meta": {"rule_id": "X", "message": "m"}}]})


def test_a_bad_suite_file_stops_the_run_naming_it(tmp_path):
    from nmr_audit.errors import InputError

    for grain in GRAINS:
        (tmp_path / f"{grain}.json").write_text((REPO / "expectations" / f"{grain}.json").read_text())
    (tmp_path / "notes.json").write_text("{not json")
    with pytest.raises(InputError, match=r"notes\.json"):
        load_suites(tmp_path)


def test_an_expectation_that_cannot_run_fails_loudly():
    suite = suite_from_json({"name": "visits", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"},
         "meta": {"rule_id": "X", "severity": "high", "message": "m"}}]})
    with pytest.raises(RuleEngineError, match="X"):
        validate({"visits": suite}, {"visits": pd.DataFrame({"row_id": [0], "a": [1]})})
