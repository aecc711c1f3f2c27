"""Progress reports: treatment days numbered since the last progress report per plan of care and
discipline, the evaluation being day 1 (BPM ch. 15 §220.3.D: at least once every 10 treatment days)."""

import pandas as pd

from nmr_audit.facts.progress import treatment_day_facts
from nmr_audit.therapy import TherapyHistory, progress_recorded, treatment_days
from nmr_audit.visits import match_notes
from tests.builders import NPI, PTA_NPI, tables, visit

POC = pd.Timestamp("2026-01-02")


def course(days, reports=(), poc=POC, patient="P", credential="PT", payer_type="medicare", start=0, **more):
    return [visit(patient_id=patient, payer_type=payer_type, billed={"97112": 1}, minutes={"97112": 15},
                  date_of_service=(pd.Timestamp("2026-01-05") + pd.Timedelta(days=2 * (start + n))).strftime("%Y-%m-%d"),
                  note_fields={"plan_of_care_signed_date": poc, "progress_report": n + 1 in reports,
                               "provider_credential": credential}, **more)
            for n in range(days)]


def facts(reference, *visits, recorded=True, history=None):
    claim_lines, notes, _ = tables(*visits)
    return treatment_day_facts(claim_lines, match_notes(claim_lines, notes), reference, recorded, history)


def test_the_eleventh_treatment_day_without_a_report_is_overdue(reference):
    got = facts(reference, *course(12))
    assert got["day_number"].tolist() == list(range(1, 13))
    assert got["overdue"].tolist() == [False] * 10 + [True, False]  # fires on the 11th, once
    assert got["since_text"].iloc[10] == "since the plan's first treatment day, 2026-01-05"
    assert got["checkable"].all()


def test_a_report_ends_the_period_and_the_count_starts_again(reference):
    got = facts(reference, *course(21, reports=(10,)))
    assert got["day_number"].tolist()[8:12] == [9, 0, 1, 2]
    assert got.loc[got["overdue"], "date_of_service"].dt.strftime("%Y-%m-%d").tolist() == ["2026-02-14"]  # day 21
    assert got.loc[got["overdue"], "since_text"].tolist() == ["since the progress report of 2026-01-23"]
    assert not facts(reference, *course(11, reports=(10,)))["overdue"].any()  # a report on day 10 is in time


def test_per_plan_of_care_and_discipline(reference):
    new_plan = course(6) + course(6, poc=pd.Timestamp("2026-01-16"), start=6)
    assert not facts(reference, *new_plan)["overdue"].any()  # a recertified plan starts at day 1
    pt_and_ot = course(6) + course(6, credential="OT", start=6, modifiers={"97112": "GO"})
    assert not facts(reference, *pt_and_ot)["overdue"].any()  # six days each, never eleven
    same_day_notes = course(11, notes=[{"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
                                        "minutes": {"97110": 10}}])
    got = facts(reference, *same_day_notes)
    assert len(got) == 11 and got["overdue"].sum() == 1  # a PT's and a PTA's note of one day: one treatment day


def test_skipped_without_the_column_and_for_payers_without_medicares_rules(reference):
    assert not facts(reference, *course(12), recorded=False)["checkable"].any()
    assert not facts(reference, *course(12, payer_type="commercial"))["checkable"].any()
    _, notes, _ = tables(*course(3))
    assert progress_recorded(notes) and not progress_recorded(notes.assign(progress_report=pd.NA))


def test_earlier_nights_days_count_first_and_a_note_seen_again_counts_once(reference):
    earlier = course(8)
    lines, notes, _ = tables(*earlier)
    history = TherapyHistory(TherapyHistory.none().amounts, treatment_days(notes, reference))
    tonight = course(4, start=8)
    tonight_lines, tonight_notes, _ = tables(*tonight)
    tonight_notes = tonight_notes.assign(note_id="T" + tonight_notes["note_id"])  # other notes than the earlier N0…
    got = treatment_day_facts(tonight_lines, tonight_notes, reference, True, history)
    assert got["day_number"].tolist() == [9, 10, 11, 12] and got["overdue"].tolist() == [False, False, True, False]
    both = pd.concat([notes.tail(2), tonight_notes], ignore_index=True)  # two earlier notes audited again tonight
    got = treatment_day_facts(pd.concat([lines, tonight_lines]), both, reference, True, history)
    assert got["day_number"].tolist() == [7, 8, 9, 10, 11, 12]  # each day once
