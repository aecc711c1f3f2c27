"""The reports' numbers: visits with their findings, the quarantine as people read it, unreadable
fields by file and column, and why the rules' dollars exceed the headline."""

import json

import pandas as pd
import pytest

from nmr_audit.names import Names
from nmr_audit.report_data import (
    CELL_CHARS,
    build_report_data,
    quarantine_rows,
    unreadable_fields,
    visit_number,
)
from nmr_audit.rule_catalogue import rule_catalogue
from nmr_audit.visits import reconcile_visits
from tests.builders import tables, visit
from tests.test_rules import audit

SUMMARY = {"totals": {"claim_lines": {"rows_audited": 9, "rows_quarantined": 1}}, "findings": {"dollars_at_risk": 0.0}}


@pytest.fixture(scope="module")
def run(reference):
    cases = [visit(patient_id="A", billed={"97112": 3, "97110": 1}, minutes={"97112": 24, "97110": 23}),  # 2 rules
             visit(patient_id="B", billed={"97112": 2}, note=False),
             visit(patient_id="C", billed={"97112": 1}, minutes={"97112": 30})]
    findings = audit(reference, *cases)
    visits = reconcile_visits(*tables(*cases), reference)
    return findings, visits


def test_visit_groups_hold_each_visits_facts_and_money(run):
    findings, visits = run
    data = build_report_data(SUMMARY, visits, findings, 3)
    groups = data.visit_groups
    assert len(groups) == 3 and groups["findings"].sum() == len(findings)
    by_patient = findings.assign(visit=visit_number(findings)).groupby("patient_id")["visit"].first()
    a = groups.set_index("visit").loc[by_patient["A"]]
    # visit A: 3 units billed, 24 minutes support 2 (CMS pooled 47 min → 97112 ×2): one excess unit
    assert (a["billed_units_97112"], a["supported_units_97112"], a["excess_units_97112"]) == (3, 2, 1)
    assert set(a["rules"].split(", ")) == {"UNITS_EXCEED_TIME", "TIMED_UNITS_EXCEED_TOTAL"}
    b = groups.set_index("visit").loc[by_patient["B"]]
    assert pd.isna(b["note_id"]) and b["dollars_at_risk"] > 0
    assert list(groups["dollars_at_risk"]) == sorted(groups["dollars_at_risk"], reverse=True)
    assert "patient_id" not in groups.columns  # the reports show the finding rows' own (masked) ids
    assert a["explanation"].startswith("cms: 97112 24 + 97110 23 = 47 timed min → 3 units; 97112 gets 1 full unit")
    assert b["explanation"].startswith("no note documents this visit")


def test_visit_groups_leave_the_explanation_empty_for_visits_without_one(run):
    findings, visits = run  # visits.parquet of a run made before explanations existed
    groups = build_report_data(SUMMARY, visits.drop(columns=["explanation", "allotment"]), findings, 3).visit_groups
    assert groups["explanation"].isna().all()


def test_visit_numbers_survive_masking_and_dropped_columns(run):
    findings, _ = run
    numbers = visit_number(findings)
    assert len(set(numbers)) == findings["patient_id"].nunique()
    without = visit_number(findings.drop(columns="patient_id"))
    assert len(without) == len(findings)


def test_rules_dollars_against_the_headline_say_why_they_differ(run):
    findings, visits = run
    line_once = findings.groupby(["claim_id", "line_number"])["dollars_at_risk"].max().sum()
    summary = {**SUMMARY, "findings": {"dollars_at_risk": round(float(line_once), 2)}}
    data = build_report_data(summary, visits, findings, 3)
    per_rule = round(float(findings["dollars_at_risk"].astype("float64").fillna(0).sum()), 2)
    assert data.overlap["per_rule_dollars"] == per_rule
    assert data.overlap["difference"] == pytest.approx(per_rule - float(line_once), abs=0.01)
    priced = findings[findings["dollars_at_risk"].astype("float64").fillna(0) > 0]
    several = priced.groupby(["claim_id", "line_number"])["rule_id"].nunique().gt(1).sum()
    assert data.overlap["lines_with_several_rules"] == several


def test_each_rule_of_the_run_comes_with_what_it_means_and_what_to_fix(run):
    findings, visits = run
    data = build_report_data(SUMMARY, visits, findings, 3)
    assert set(data.by_rule["rule_id"]) == set(findings["rule_id"]) == set(data.rules["rule_id"])
    assert data.by_rule["meaning"].str.len().gt(20).all() and data.by_rule["fix"].str.len().gt(10).all()
    custom = rule_catalogue().assign(fix="call the billing office")
    assert (build_report_data(SUMMARY, visits, findings, 3, rules=custom).by_rule["fix"]
            == "call the billing office").all()


def test_names_sit_beside_ids(run, reference):
    findings, visits = run
    names = Names(pd.DataFrame({"rendering_npi": ["1234567893"], "provider_name": ["Dana Reyes, PT"]}),
                  pd.DataFrame({"clinic_id": ["CL1"], "clinic_name": ["Lakeside Rehab"]}))
    data = build_report_data(SUMMARY, visits, findings, 3, names=names)
    assert list(data.by_provider.columns[:4]) == ["rendering_npi", "provider_name", "clinic_id", "clinic_name"]
    assert data.by_provider["provider_name"].eq("Dana Reyes, PT").all()
    assert data.by_clinic.loc[0, "clinic_name"] == "Lakeside Rehab"
    plain = build_report_data(SUMMARY, visits, findings, 3)
    assert plain.by_provider["provider_name"].isna().all()


def test_quarantine_rows_show_every_cell_and_cut_long_ones_visibly():
    record = json.dumps({"claim_id": "C1", "units": "-1", "note": "x" * (CELL_CHARS + 50), "payer_id": None})
    quarantine = pd.DataFrame({"table": ["claim_lines", "claim_lines"], "source_file": ["b.csv", "a.csv"],
                               "source_row": [7, 3], "reason": ["units '-1' is not a whole number ≥ 0", "bad"],
                               "record": [record, "not json"]})
    shown = quarantine_rows(quarantine)
    assert list(shown["source_file"]) == ["a.csv", "b.csv"] and list(shown["source_row"]) == [3, 7]
    cells = shown.loc[1, "cells"]
    assert cells.startswith("claim_id: C1 · units: -1 · note: xxx") and "… [50 more characters]" in cells
    assert cells.endswith("payer_id: ") and shown.loc[0, "cells"] == "not json"


def test_quarantine_by_file_counts_reasons_without_the_rows_values(reference, run):
    findings, visits = run
    quarantine = pd.DataFrame({"table": ["claim_lines"] * 3, "source_file": ["a.csv"] * 3, "source_row": [2, 3, 4],
                               "reason": ["units '-1' is not a whole number ≥ 0", "units '-7' is not a whole number ≥ 0",
                                          "date_of_service '2026-02-30' is not a real date"], "record": ["{}"] * 3})
    table = build_report_data(SUMMARY, visits, findings, 3, quarantine=quarantine).quarantine_by_file
    assert table.to_dict("records")[0] == {"table": "claim_lines", "source_file": "a.csv",
                                           "reason": "units … is not a whole number ≥ 0", "rows": 2}


def test_unreadable_fields_are_counted_by_file_and_column():
    findings = pd.DataFrame({
        "rule_id": ["FIELD_UNREADABLE"] * 4 + ["NO_NOTE"],
        "claim_id": ["C1", "C2", None, None, "C9"], "line_number": pd.array([1, 1, None, None, 1], dtype="Int64"),
        "note_id": [None, None, "N1", "N2", None], "field": ["charge_amount", "charge_amount", "time_in", "time_in", None]})
    lineage = {"claim_lines": pd.DataFrame({"claim_id": ["C1", "C2"], "line_number": [1, 1],
                                            "source_file": pd.Categorical(["claims.csv", "claims.csv"])}),
               "visit_notes": pd.DataFrame({"note_id": ["N1"], "source_file": ["notes.csv"]})}
    table = unreadable_fields(findings, lineage)
    assert table.to_dict("records") == [
        {"source_file": "claims.csv", "column": "charge_amount", "fields": 2},
        {"source_file": "(file not recorded)", "column": "time_in", "fields": 1},
        {"source_file": "notes.csv", "column": "time_in", "fields": 1}]
    assert unreadable_fields(findings[findings["rule_id"] == "NO_NOTE"], lineage).empty


def test_unreadable_fields_read_the_intake_keys_as_they_are(recwarn):
    """The run hands the intake's keys over whole (source_row and every other note included, not a
    copy): only the notes the findings name are looked up, and a note no file lists is 'not recorded'."""
    findings = pd.DataFrame({"rule_id": ["FIELD_UNREADABLE"] * 3, "note_id": ["N2", "N7", "N7"],
                             "field": ["time_in", "time_out", "time_out"]})
    keys = pd.DataFrame({"note_id": pd.Series([f"N{n}" for n in range(1, 6)], dtype="str"),
                         "source_file": pd.Categorical(["a.csv", "b.csv", "a.csv", "b.csv", "a.csv"]),
                         "source_row": [2, 2, 3, 3, 4]})
    table = unreadable_fields(findings, {"visit_notes": keys})
    assert table.to_dict("records") == [{"source_file": "(file not recorded)", "column": "time_out", "fields": 2},
                                        {"source_file": "b.csv", "column": "time_in", "fields": 1}]
    none = unreadable_fields(findings[findings["note_id"] == "N7"], {"visit_notes": keys})
    assert none.to_dict("records") == [{"source_file": "(file not recorded)", "column": "time_out", "fields": 2}]
    assert not [w for w in recwarn if "fill value" in str(w.message)]  # an all-missing lookup stays text
