"""Every rule of the registry: a case that fires and a close case that must not.

All scenarios are audited together once (each is its own patient, of one visit or several),
through the real path: reconcile → facts → the GX suites from `expectations/` → findings. Each
test then reads the findings of its own patient, so a rule that fires on a neighbour's row would
show up too. The issue-17 cases (who treated whom, unreadable optional values, quarantined notes,
the day across providers, payers) are written from the issue's examples and CMS's published ones.
"""

import pandas as pd
import pytest

from nmr_audit.facts import build_facts
from nmr_audit.findings import FINDING_COLUMNS, build_findings
from nmr_audit.gx_engine import validate
from nmr_audit.io.suites import load_suites
from nmr_audit.visits import reconcile_visits
from tests.builders import NPI, OTHER_PT_NPI, PTA_NPI, tables, visit

CLEAN = {"billed": {"97112": 2, "97110": 1}, "minutes": {"97112": 24, "97110": 23}}
PTA = {"provider_credential": "PTA"}
SUPERVISED_PTA = {"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA"}
TIME = "a time such as 09:00 or 9:00 AM"
# The example c (CMS Scenario 1 with 97112): PTA 23 min of 97112; PT 13 of 97112 and 30 of 97140.
CMS_1 = {"billed": {"97140": 2}, "minutes": {"97112": 13, "97140": 30},
         "notes": [{**SUPERVISED_PTA, "minutes": {"97112": 23}}]}
SPLIT = [("97112", 1, "GP,CQ"), ("97112", 1, "GP")]
STRICT = {"payer_type": "commercial", "payer_id": "SYNTH-STRICT-PPO", "billed": {"97112": 1, "97530": 1, "97140": 1},
          "minutes": {"97112": 15, "97530": 15, "97140": 15}}

def _course(visits, start=0, kx_from=None, modifier="GP", credential="PT", payer_type="medicare", poc=None,
            reports=(), units=4):
    """A course of care in 2026, every third day from 5 January: 97112 ×`units` for 15 minutes a unit; KX from
    visit `kx_from` (1 = the first); the plan of care certified on `poc` for all (default: ten days before
    each visit, so no two visits share one); a progress report on the visits numbered in `reports`."""
    course = []
    for number in range(1, visits + 1):
        day = pd.Timestamp("2026-01-05") + pd.Timedelta(days=3 * (start + number - 1))
        fields = {"provider_credential": credential, "progress_report": number in reports}
        if poc:
            fields["plan_of_care_signed_date"] = pd.Timestamp(poc)
        kx = kx_from is not None and number >= kx_from
        course.append({"date_of_service": day.strftime("%Y-%m-%d"), "payer_type": payer_type,
                       "billed": {"97112": units}, "minutes": {"97112": 15 * units}, "note_fields": fields,
                       "modifiers": {"97112": f"{modifier},KX" if kx else modifier}})
    return course


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
    "duplicate-across-claims": ({"billed": {"97112": 1}, "extra_lines": [("97112", 1, "GP")], "claims": 2,
                                 "minutes": {"97112": 30}}, {"DUPLICATE_LINE": 1}),
    "one-line-two-units": ({"billed": {"97112": 2}, "minutes": {"97112": 30}}, {}),
    "canalith": ({**CLEAN, "note_fields": {"techniques": "Epley maneuver, right posterior canal"}},
                 {"CANALITH_AS_97112": 1}),
    "canalith-close": ({**CLEAN, "note_fields": {"techniques": "vestibular habituation, gaze stabilization"}}, {}),
    # b: the PTA signs under the PTA's own NPI; the claim goes under the supervising PT (with CQ)
    "pta-under-supervisor": ({**CLEAN, "note_fields": SUPERVISED_PTA,
                              "modifiers": {"97112": "GP,CQ", "97110": "GP,CQ"}}, {}),
    "pta-under-supervisor-no-cq": ({**CLEAN, "note_fields": SUPERVISED_PTA}, {"MISSING_ASSISTANT_MODIFIER": 1}),
    # c: CMS's split, one line GP,CQ and one GP: no DUPLICATE_LINE, no MISSING_ASSISTANT_MODIFIER
    "cms-scenario-1": ({**CMS_1, "extra_lines": SPLIT}, {}),
    "cms-scenario-1-one-line": ({**CMS_1, "billed": {"97140": 2, "97112": 2}}, {"MISSING_ASSISTANT_MODIFIER": 1}),
    "cms-scenario-1-both-cq": ({**CMS_1, "extra_lines": [("97112", 1, "GP,CQ"), ("97112", 1, "GP,CQ")]},
                               {"DUPLICATE_LINE": 1}),
    "split-other-modifier": ({**CMS_1, "extra_lines": [("97112", 1, "GP,CQ"), ("97112", 1, "GP,59")]},
                             {"DUPLICATE_LINE": 1}),  # the lines differ by more than CQ/CO
    "two-notes-poc-expired": ({**CMS_1, "extra_lines": SPLIT, "plan_of_care_days_before": 91},
                              {"PLAN_OF_CARE_EXPIRED": 1}),  # raised once for the visit, not per note
    "two-notes-unsigned": ({**CMS_1, "extra_lines": SPLIT, "note_fields": {"signed": False}},
                           {"NOTE_UNSIGNED": 2}),  # a note-level rule: each note
    # h: a session across midnight is 50 minutes, not −1,390
    "midnight": ({**CLEAN, "note_fields": {"time_in": "23:40", "time_out": "00:30", "total_treatment_minutes": 47}},
                 {}),
    "midnight-short": ({**CLEAN, "note_fields": {"time_in": "23:40", "time_out": "00:10",
                                                 "total_treatment_minutes": 47}}, {"TIME_INCONSISTENT": 1}),
    # a: an unreadable optional cell costs the field, not the note
    "unreadable-time": ({**CLEAN, "note_fields": {"time_in": None}, "unreadable": [("time_in", "25:61", TIME)]},
                        {"FIELD_UNREADABLE": 1}),
    "issue-a-12-hour-times": ({"billed": {"97112": 2}, "minutes": {"97112": 23},
                               "note_fields": {"time_in": None, "time_out": None},
                               "unreadable": [("time_in", "9:00 AM", TIME), ("time_out", "9:28 AM", TIME)]},
                              {"FIELD_UNREADABLE": 2}),  # as intake would have it, had it not read 12-hour times
    "unreadable-minutes": ({"billed": {"97112": 2, "97110": 1}, "minutes": {"97110": 23},
                            "unreadable": [("minutes_97112", "24 mins?", "a whole number of minutes ≥ 0")]},
                           {"FIELD_UNREADABLE": 1}),  # not NO_97112_TIME, not UNITS_EXCEED_TIME
    "unreadable-total-timed": ({"billed": {"97112": 3}, "minutes": None,
                                "unreadable": [("total_timed_minutes", "forty", "a whole number ≥ 0")]},
                               {"FIELD_UNREADABLE": 1}),
    "unreadable-poc": ({**CLEAN, "plan_of_care_days_before": None,
                        "unreadable": [("plan_of_care_signed_date", "13/45/2026", "a real date")]},
                       {"FIELD_UNREADABLE": 1}),  # not PLAN_OF_CARE_MISSING
    "unreadable-modifiers": ({**CLEAN, "modifiers": {"97112": ""},
                              "line_unreadable": {"97112": [("modifiers", "GP;;C Q", "0-4 modifiers")]}},
                             {"FIELD_UNREADABLE": 1}),  # not MISSING_THERAPY_MODIFIER
    "unreadable-supervisor": ({**CLEAN, "note_fields": {**SUPERVISED_PTA, "supervising_npi": None},
                               "unreadable": [("supervising_npi", "123456789", "10 digits with a valid check digit")]},
                              {"FIELD_UNREADABLE": 1}),  # not NO_NOTE, not UNBILLED_97112
    "unreadable-charge": ({**CLEAN, "line_unreadable": {"97110": [("charge_amount", "$12,3,4", "an amount ≥ 0")]}},
                          {"FIELD_UNREADABLE": 1}),
    # NOTE_QUARANTINED: the note exists but was set aside (QUARANTINED below names the rows)
    "note-quarantined": ({"billed": {"97112": 2}, "note": False}, {"NOTE_QUARANTINED": 1}),
    "note-quarantined-assistant": ({"billed": {"97112": 2}, "note": False}, {"NOTE_QUARANTINED": 1}),
    "note-quarantined-other-day": ({"billed": {"97112": 2}, "note": False}, {"NO_NOTE": 1}),
    # LINE_QUARANTINED: the 97112 line was billed but set aside (QUARANTINED_LINES below names the rows), so
    # UNBILLED_97112's "check the charge entry for a missed charge" would bill it twice
    "line-quarantined": ({"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}}, {"LINE_QUARANTINED": 1}),
    "line-quarantined-npi-unreadable": ({"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}},
                                        {"LINE_QUARANTINED": 1}),  # its visit taken by patient and date
    "line-quarantined-code-unreadable": ({"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}},
                                         {"LINE_QUARANTINED": 1}),  # maybe 97112: not judged
    "line-quarantined-other-code": ({"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}},
                                    {"UNBILLED_97112": 1}),  # the set-aside line was 97140: 97112 still unbilled
    "line-quarantined-other-day": ({"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}},
                                   {"UNBILLED_97112": 1}),
    # one of the visit's 97112 lines read, another set aside (a CQ/CO split): the units billed are not all
    # known, so neither "bill the supported units" (UNITS_BELOW_TIME) nor the CQ/CO count is judged
    "line-quarantined-one-of-two": ({"billed": {"97112": 1}, "minutes": {"97112": 38}}, {}),
    # 5: the day across providers (cms basis): two PTs each 97112 ×1 for 10 minutes: 20 minutes, 1 unit
    "day-two-providers": ([{"billed": {"97112": 1}, "minutes": {"97112": 10}},
                           {"billed": {"97112": 1}, "minutes": {"97112": 10}, "rendering_npi": OTHER_PT_NPI}],
                          {"DAY_UNITS_EXCEED_TIME": 1}),
    "day-two-providers-enough": ([{"billed": {"97112": 1}, "minutes": {"97112": 12}},
                                  {"billed": {"97112": 1}, "minutes": {"97112": 11}, "rendering_npi": OTHER_PT_NPI}],
                                 {}),
    "day-two-providers-ama": ([{"billed": {"97112": 1}, "minutes": {"97112": 10}, "payer_type": "commercial"},
                               {"billed": {"97112": 1}, "minutes": {"97112": 10}, "payer_type": "commercial",
                                "rendering_npi": OTHER_PT_NPI}], {}),
    "day-two-disciplines": ([{"billed": {"97112": 1}, "minutes": {"97112": 10}},
                             {"billed": {"97112": 1}, "minutes": {"97112": 10}, "rendering_npi": OTHER_PT_NPI,
                              "modifiers": {"97112": "GO"}, "note_fields": {"provider_credential": "OT"}}], {}),
    "pt-and-ot-notes": ({**CLEAN, "modifiers": {"97112": "GO", "97110": "GO"},
                         "notes": [{"provider_credential": "OT", "minutes": {}}]},
                        {}),  # GO matches one of the visit's notes (not only the lowest id's)
    # k: payers as payers
    "payer-counts-cms-way": ({"payer_type": "commercial", "payer_id": "SYNTH-CMSWAY-PPO",
                              "billed": {"97112": 2, "97110": 2}, "minutes": {"97112": 24, "97110": 23}},
                             {"TIMED_UNITS_EXCEED_TOTAL": 1}),
    "tricare": ({**CLEAN, "payer_type": "tricare"}, {}),
    # issue 19: the yearly therapy threshold (2026: $2,480; review $3,000). 97112 ×4 at $32.73 = $130.92 a
    # visit: 18 visits $2,356.56, the 19th $2,487.48 — past the threshold; the 23rd $3,011.16 — past $3,000.
    "kx-missing": (_course(20), {"KX_MISSING": 2}),  # visits 19 and 20 lack KX
    "kx-present": (_course(20, kx_from=19), {}),
    "kx-ga": (_course(20, kx_from=19, modifier="GP,GA"), {}),  # an ABN on file: liability decided otherwise
    "kx-one-short": (_course(18), {}),  # $2,356.56: below the threshold
    "kx-review": (_course(24, kx_from=19), {"KX_REVIEW_THRESHOLD": 1}),  # once, on the 23rd visit
    "kx-commercial": (_course(20, payer_type="commercial"), {}),  # no threshold for the payer
    "kx-ot-apart": (_course(10) + _course(10, start=40, modifier="GO", credential="OT"), {}),  # $1,309.20 each
    "kx-pt-and-slp-together": (_course(10) + _course(10, start=40, modifier="GN", credential="SLP"),
                               {"KX_MISSING": 2}),  # GP and GN share one amount: the 19th and 20th lines
    # issue 19: progress reports (BPM ch. 15 §220.3.D): at least once every 10 treatment days, the evaluation day 1
    "progress-overdue": (_course(11, poc="2026-01-02", units=1), {"PROGRESS_REPORT_OVERDUE": 1}),  # day 11, no report
    "progress-day-10": (_course(11, poc="2026-01-02", reports=(10,), units=1), {}),  # a report on day 10: day 11 is 1
    "progress-after-report": (_course(21, poc="2026-01-02", reports=(10,), units=1),
                              {"PROGRESS_REPORT_OVERDUE": 1}),  # day 21 is the 11th after the report of day 10
    "progress-new-plan": (_course(6, poc="2026-01-02", units=1) + _course(6, start=30, poc="2026-01-30", units=1),
                          {}),
    "progress-commercial": (_course(11, poc="2026-01-02", payer_type="commercial", units=1), {}),
    # issue 18: a payer that denies 97530 with 97140 on one day even with 59 (payer_edits.csv, a synthetic row)
    "payer-edit": ({**STRICT, "modifiers": {"97112": "GP,59", "97140": "GP,59"}}, {"PAYER_EDIT": 1}),
    "payer-edit-other-payer": ({**STRICT, "payer_id": "BCBS-PPO", "modifiers": {"97112": "GP,59", "97140": "GP,59"}},
                               {}),
    "payer-edit-before-effective": ({**STRICT, "date_of_service": "2019-12-31",
                                     "modifiers": {"97112": "GP,59", "97140": "GP,59"}}, {}),
    "payer-edit-and-ncci": ({**STRICT, "modifiers": {"97140": "GP,59"}},
                            {"PAYER_EDIT": 1, "MISSING_NCCI_MODIFIER": 1}),  # NCCI's finding stays NCCI's
}
QUARANTINED = {  # patient: (the quarantined note's NPI, its date)
    "note-quarantined": (NPI, "2026-03-04"), "note-quarantined-assistant": (PTA_NPI, "2026-03-04"),
    "note-quarantined-other-day": (NPI, "2026-03-05"),
}


QUARANTINED_LINES = {  # patient: (the quarantined claim line's NPI, its date, its cpt_code cell as read)
    "line-quarantined": (NPI, "2026-03-04", '"97112"'), "line-quarantined-npi-unreadable": (None, "2026-03-04", "97112"),
    "line-quarantined-code-unreadable": (NPI, "2026-03-04", '"9711"'),
    "line-quarantined-other-code": (NPI, "2026-03-04", '"97140"'),
    "line-quarantined-other-day": (NPI, "2026-03-05", '"97112"'),
    "line-quarantined-one-of-two": (NPI, "2026-03-04", '"97112"'),
}


def quarantine_rows():
    """Quarantined notes and claim lines with the visit key intake could read (interface of issue 17,
    §2), each claim line's cells as read in `record` (JSON, as `conform.records_json` writes it)."""
    notes = pd.DataFrame({
        "table": "visit_notes", "source_file": "notes.csv", "source_row": range(2, 2 + len(QUARANTINED)),
        "reason": "note_id: required value missing", "record": "{}",
        "patient_id": pd.Series(list(QUARANTINED), dtype="str"),
        "date_of_service": pd.to_datetime([d for _, d in QUARANTINED.values()]).astype("datetime64[s]"),
        "rendering_npi": pd.Series([n for n, _ in QUARANTINED.values()], dtype="str")})
    lines = pd.DataFrame({
        "table": "claim_lines", "source_file": "claims.csv", "source_row": range(7, 7 + len(QUARANTINED_LINES)),
        "reason": "units '-1' could not be read (expected a whole number of units ≥ 1)",
        "record": [f'{{"claim_id": "C9", "cpt_code": {code}, "units": "-1"}}' for _, _, code in QUARANTINED_LINES.values()],
        "patient_id": pd.Series(list(QUARANTINED_LINES), dtype="str"),
        "date_of_service": pd.to_datetime([d for _, d, _ in QUARANTINED_LINES.values()]).astype("datetime64[s]"),
        "rendering_npi": pd.Series([n for n, _, _ in QUARANTINED_LINES.values()], dtype="str")})
    return pd.concat([notes, lines], ignore_index=True)


def scenario_visits(name):
    cases = SCENARIOS[name][0]
    return [visit(patient_id=name, **kwargs) for kwargs in (cases if isinstance(cases, list) else [cases])]


def all_visits():
    return [v for name in SCENARIOS for v in scenario_visits(name)]


def audit(reference, *visits, quarantine=None):
    claim_lines, notes, services = tables(*visits)
    visit_table = reconcile_visits(claim_lines, notes, services, reference)
    facts = build_facts(claim_lines, notes, services, visit_table, reference, quarantine).by_grain()
    return build_findings(validate(load_suites(), facts), facts)


@pytest.fixture(scope="module")
def findings(reference):
    return audit(reference, *all_visits(), quarantine=quarantine_rows())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_rule_fires_exactly_where_expected(findings, name):
    expected = SCENARIOS[name][1]
    got = findings.loc[findings["patient_id"] == name, "rule_id"].value_counts().to_dict()
    assert got == expected, findings.loc[findings["patient_id"] == name, ["rule_id", "message"]].to_string()


def test_every_registered_rule_is_exercised(findings):
    from nmr_audit.contract import RULE_IDS

    assert set(findings["rule_id"]) == set(RULE_IDS)


def test_findings_table_follows_the_contract(findings):
    assert list(findings.columns) == list(FINDING_COLUMNS)
    assert findings["finding_id"].is_unique and findings["finding_id"].str.fullmatch(r"F[0-9a-f]{16}").all()
    assert findings["severity"].isin(["high", "medium", "low", "info"]).all()


def test_money_on_units_beyond_the_minutes(findings, reference):
    row = findings[(findings["patient_id"] == "units-exceed") & (findings["rule_id"] == "UNITS_EXCEED_TIME")].iloc[0]
    fee = reference.fee_schedule.set_index(["payer_type", "cpt_code", "year"]).loc[("medicare", "97112", 2026), "amount"]
    assert row["excess_units"] == 1 and row["dollars_at_risk"] == pytest.approx(fee)
    assert (row["claim_id"], row["line_number"], row["note_id"]) == ("C3-0", 1, "N3")  # the fourth scenario
    assert "97112 billed 3 unit(s); the note's minutes support 2 under the cms rule" in row["message"]


def test_no_note_puts_the_whole_line_at_risk(findings):
    row = findings[findings["patient_id"] == "no-note"].iloc[0]
    assert row["excess_units"] == 2 and row["dollars_at_risk"] > 0 and pd.isna(row["note_id"])


def test_necessity_findings_name_the_missing_field(findings):
    fields = findings.loc[findings["patient_id"] == "necessity", "field"]
    assert sorted(fields) == ["techniques", "treatment_goals"]
    others = findings.loc[~findings["rule_id"].isin(["MISSING_NECESSITY_FIELD", "FIELD_UNREADABLE"]), "field"]
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
    again = audit(reference, *all_visits(), quarantine=quarantine_rows())
    pd.testing.assert_frame_equal(findings, again)


def test_finding_ids_do_not_depend_on_row_order(reference):
    frames = tables(*all_visits())
    shuffled = [f.sample(frac=1, random_state=7).reset_index(drop=True) for f in frames]
    ids = []
    for claim_lines, notes, services in (frames, shuffled):
        visit_table = reconcile_visits(claim_lines, notes, services, reference)
        facts = build_facts(claim_lines, notes, services, visit_table, reference).by_grain()
        ids.append(sorted(build_findings(validate(load_suites(), facts), facts)["finding_id"]))
    assert ids[0] == ids[1] and len(ids[0]) > 20


@pytest.mark.slow  # GX Data Docs rendered in full
def test_the_data_docs_path_flags_the_same_rows(reference, tmp_path):
    """With Data Docs each suite runs whole through a checkpoint; without, each expectation runs
    over its own narrow batch. Both must flag exactly the same rows."""
    frames = tables(*all_visits())
    visit_table = reconcile_visits(*frames, reference)
    facts = build_facts(*frames, visit_table, reference).by_grain()
    fast = validate(load_suites(), facts)
    with_docs = validate(load_suites(), facts, tmp_path / "docs")
    assert len(fast) > 20 and (tmp_path / "docs" / "index.html").exists()
    pd.testing.assert_frame_equal(fast.sort_values(["grain", "expectation", "row_id"]).reset_index(drop=True),
                                  with_docs.sort_values(["grain", "expectation", "row_id"]).reset_index(drop=True))


@pytest.mark.slow  # GX Data Docs rendered in full, bucket after bucket
def test_one_rule_engine_validates_bucket_after_bucket_and_its_docs_list_each(reference, tmp_path):
    """A run in patient buckets reuses one engine: each call sees only its own frames, and the Data
    Docs gain one validation result per suite and call."""
    from nmr_audit.gx_engine import RuleEngine

    cases = all_visits()
    halves = [cases[: len(cases) // 2], cases[len(cases) // 2:]]
    facts = []
    for half in halves:
        frames = tables(*half)
        facts.append(build_facts(*frames, reconcile_visits(*frames, reference), reference).by_grain())
    expected = [validate(load_suites(), part) for part in facts]  # a fresh engine for each part
    for docs in (None, tmp_path / "docs"):
        engine = RuleEngine(load_suites(), docs)
        for calls, (part, alone) in enumerate(zip(facts, expected, strict=True), 1):
            assert_frame_equal_sorted(engine.validate(part), alone)
            if docs is not None:  # rendered at the end of each call: every page so far, and an index listing them
                pages = sorted(p.relative_to(docs).as_posix() for p in (docs / "validations").rglob("*.html"))
                assert len(pages) == calls * len(load_suites())
                assert all(page in (docs / "index.html").read_text(encoding="utf-8") for page in pages)
                assert {p.stem for p in (docs / "expectations").glob("*.html")} == set(load_suites())


def assert_frame_equal_sorted(left, right):
    order = ["grain", "expectation", "row_id"]
    pd.testing.assert_frame_equal(left.sort_values(order).reset_index(drop=True),
                                  right.sort_values(order).reset_index(drop=True))


def of(findings, patient, rule):
    rows = findings[(findings["patient_id"] == patient) & (findings["rule_id"] == rule)]
    assert len(rows) == 1, rows.to_string()
    return rows.iloc[0]


def test_an_unreadable_value_names_file_line_column_value_and_the_checks_it_blocked(findings):
    low = of(findings, "unreadable-time", "FIELD_UNREADABLE")
    assert (low["severity"], low["field"]) == ("low", "time_in") and low["note_id"].startswith("N")
    assert "time_in '25:61' could not be read (expected a time such as 09:00 or 9:00 AM)" in low["message"]
    assert "MISSING_NECESSITY_FIELD" in low["message"] and "TIME_INCONSISTENT" in low["message"]
    assert pd.isna(low["dollars_at_risk"])


def test_unreadable_minutes_block_a_unit_check_and_say_so_at_medium(findings):
    medium = of(findings, "unreadable-minutes", "FIELD_UNREADABLE")
    assert (medium["severity"], medium["field"]) == ("medium", "minutes_97112")
    assert "NO_97112_TIME" in medium["message"] and "UNITS_EXCEED_TIME" in medium["message"]
    modifiers = of(findings, "unreadable-modifiers", "FIELD_UNREADABLE")  # modifier checks are not unit checks
    assert modifiers["severity"] == "low" and "MISSING_THERAPY_MODIFIER" in modifiers["message"]
    line = of(findings, "unreadable-charge", "FIELD_UNREADABLE")
    assert (line["severity"], line["field"], line["line_number"]) == ("low", "charge_amount", 2)
    assert line["message"].endswith("the row was audited without it; no audit rule reads it")


def test_a_quarantined_note_is_named_instead_of_no_note(findings):
    row = of(findings, "note-quarantined", "NOTE_QUARANTINED")
    assert row["severity"] == "medium" and pd.isna(row["note_id"]) and row["claim_id"] is not None
    assert "notes.csv line 2: note_id: required value missing" in row["message"]
    assistant = of(findings, "note-quarantined-assistant", "NOTE_QUARANTINED")  # keyed by the PTA's own NPI
    assert "notes.csv line 3" in assistant["message"]


def test_a_quarantined_97112_line_is_named_instead_of_an_unbilled_charge(findings):
    row = of(findings, "line-quarantined", "LINE_QUARANTINED")
    assert row["severity"] == "medium" and pd.isna(row["claim_id"]) and row["note_id"].startswith("N")
    assert pd.isna(row["dollars_at_risk"]) and pd.isna(row["excess_units"])  # the line's amount is unknown
    assert row["message"] == ("note {} documents 20 minute(s) of 97112 and a claim line of this visit was quarantined at "
                              "intake (claims.csv line 7: units '-1' could not be read (expected a whole number of "
                              "units ≥ 1)); fix that row and rerun — UNBILLED_97112 was not judged (the line was billed "
                              "but could not be read: do not add a charge)").format(row["note_id"])
    assert "claims.csv line 8" in of(findings, "line-quarantined-npi-unreadable", "LINE_QUARANTINED")["message"]


def test_the_assistant_finding_says_how_many_units_should_carry_cq_against_how_many_do(findings):
    row = of(findings, "cms-scenario-1-one-line", "MISSING_ASSISTANT_MODIFIER")
    assert row["message"].startswith("CMS's de minimis method assigns 1 of the 2 billed 97112 unit(s) to the "
                                     "assistant (23 of 36 97112 minute(s) on assistants' notes); 0 carry CQ/CO")
    assert row["excess_units"] == 1
    fee = row["dollars_at_risk"] / 0.15
    assert 25 < fee < 40  # one unit's 15% (the assistant reduction) at the 97112 fee


def test_the_day_across_providers_names_the_pool_and_the_excess(findings):
    row = of(findings, "day-two-providers", "DAY_UNITS_EXCEED_TIME")
    assert row["excess_units"] == 1 and row["dollars_at_risk"] > 0
    assert row["message"].startswith("2 GP timed unit(s) billed by 2 providers at CL1 this day; the day's pooled "
                                     "20 timed minutes support 1 (cms basis)")


def test_a_visit_level_rule_on_two_notes_is_raised_once_on_the_lowest_note(findings):
    row = of(findings, "two-notes-poc-expired", "PLAN_OF_CARE_EXPIRED")
    assert row["note_id"].startswith("N") and not row["note_id"].endswith("b")  # N<k>, not the PTA's N<k>b


def test_the_audit_does_not_change_its_input_frames(reference):
    frames = tables(*all_visits())
    copies = [f.copy() for f in frames]
    quarantine = quarantine_rows()
    kept = quarantine.copy()
    visit_table = reconcile_visits(*frames, reference)
    build_facts(*frames, visit_table, reference, quarantine)
    for frame, copy in zip([*frames, quarantine], [*copies, kept], strict=True):
        pd.testing.assert_frame_equal(frame, copy)


def test_a_payer_edit_names_both_lines_the_payer_and_its_source(findings, reference):
    row = of(findings, "payer-edit", "PAYER_EDIT")
    assert (row["severity"], row["line_number"], row["excess_units"]) == ("high", 3, 1)  # the 97140 line
    assert row["message"].startswith("the payer (commercial SYNTH-STRICT-PPO) does not pay 97140 billed with 97530 "
                                     "on one day (claim C")
    assert "modifiers it accepts for the pair: none; this line carries GP,59" in row["message"]
    assert "SYNTHETIC example row" in row["message"]
    fee = reference.fee_schedule.set_index(["payer_type", "cpt_code", "year"]).loc[("commercial", "97140", 2026), "amount"]
    assert row["dollars_at_risk"] == pytest.approx(fee)  # one unit of the column-2 code
    assert row["reference_edition"].startswith("payer_edits ")


def test_the_ncci_finding_keeps_its_line_and_message_beside_a_payer_edit(findings):
    ncci = of(findings, "payer-edit-and-ncci", "MISSING_NCCI_MODIFIER")
    assert ncci["line_number"] == 1 and "with 97530 (NCCI PTP pair, unverified" in ncci["message"]
    assert ncci["reference_edition"].startswith("ncci_ptp ")
