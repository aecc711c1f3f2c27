"""The nightly state: which earlier rows a night audits again, what it re-examined, what it keeps."""

from __future__ import annotations

from datetime import date

import pandas as pd

from nmr_audit.runtime.state import (
    NightState,
    next_state,
    read_state,
    reexamined,
    rows_to_reaudit,
    touched_days,
    window_start,
    write_state,
)


def claims(*rows):
    frame = pd.DataFrame(rows, columns=["claim_id", "line_number", "patient_id", "date_of_service", "source_file",
                                        "source_row"])
    return frame.astype({"date_of_service": "datetime64[s]", "line_number": "int64", "source_row": "int64"})


def notes(*rows):
    frame = pd.DataFrame(rows, columns=["note_id", "patient_id", "date_of_service", "source_file", "source_row"])
    return frame.astype({"date_of_service": "datetime64[s]", "source_row": "int64"})


def services(*rows):
    return pd.DataFrame(rows, columns=["note_id", "cpt_code", "minutes", "source_file", "source_row"]).astype(
        {"source_row": "int64"})


def findings(*rows):
    frame = pd.DataFrame(rows, columns=["finding_id", "rule_id", "severity", "patient_id", "date_of_service",
                                        "rendering_npi", "claim_id", "line_number", "note_id", "first_run_id",
                                        "first_as_of"])
    return frame.astype({"date_of_service": "datetime64[s]"})


EARLIER = NightState({
    "claim_lines": claims(("C1", 1, "P1", "2026-03-02", "n1/claims.csv", 2),
                          ("C2", 1, "P2", "2026-03-02", "n1/claims.csv", 3),
                          ("C3", 1, "P1", "2026-01-05", "n1/claims.csv", 4)),  # outside a 30-day window
    "visit_notes": notes(("N2", "P2", "2026-03-02", "n1/notes.csv", 2)),
    "note_services": services(("N2", "97112", 30, "n1/notes.csv", 2)),
    "findings": findings(("F1", "NO_NOTE", "high", "P1", "2026-03-02", "1234567893", "C1", 1, None, "r1", "2026-03-03"),
                         ("F2", "NOTE_UNSIGNED", "medium", "P2", "2026-03-02", "1234567893", None, None, "N2", "r1",
                          "2026-03-03")),
}, {"run_id": "r1"})


def test_a_late_note_brings_back_its_days_claim_lines_and_nothing_else():
    tonight_notes = notes(("N1", "P1", "2026-03-02", "n2/notes.csv", 2))
    touched = touched_days(claims(), tonight_notes)
    assert touched.to_dict("records") == [{"patient_id": "P1", "date_of_service": pd.Timestamp("2026-03-02")}]
    due = rows_to_reaudit(EARLIER, touched, {"visit_notes": tonight_notes}, ["n2/notes.csv"],
                          window_start(date(2026, 3, 4), 30))
    assert due["claim_lines"]["claim_id"].tolist() == ["C1"]  # P1's day only; C3 is P1's too but out of the window
    assert due["visit_notes"].empty and due["note_services"].empty


def test_a_corrected_row_or_a_file_sent_again_replaces_the_earlier_rows():
    corrected = claims(("C2", 1, "P2", "2026-03-02", "n2/claims.csv", 2))  # same key, new version
    touched = touched_days(corrected, notes())
    due = rows_to_reaudit(EARLIER, touched, {"claim_lines": corrected}, ["n2/claims.csv"], pd.Timestamp("2026-02-01"))
    assert due["claim_lines"].empty  # C2's earlier version is replaced, not audited beside the new one
    assert due["visit_notes"]["note_id"].tolist() == ["N2"] and due["note_services"]["minutes"].tolist() == [30]
    resent = rows_to_reaudit(EARLIER, touched, {"claim_lines": claims()}, ["n1/notes.csv"], pd.Timestamp("2026-02-01"))
    assert resent["visit_notes"].empty  # n1/notes.csv arrived again: its new content replaces the old rows


def test_re_examined_findings_are_found_again_or_cleared():
    touched = pd.DataFrame({"patient_id": ["P1", "P2"], "date_of_service": pd.to_datetime(["2026-03-02"] * 2)})
    tonight = pd.DataFrame({"finding_id": ["F2", "F9"]})
    seen = reexamined(EARLIER, touched, tonight, pd.Timestamp("2026-02-01"))
    assert dict(zip(seen["finding_id"], seen["outcome"], strict=True)) == {"F1": "cleared", "F2": "found again"}
    assert seen["first_run_id"].tolist() == ["r1", "r1"]
    assert reexamined(NightState(), touched, tonight, pd.Timestamp("2026-02-01")).empty


def test_the_next_state_keeps_the_window_replaces_re_audited_rows_and_remembers_first_sightings(tmp_path):
    audited = {"claim_lines": claims(("C1", 1, "P1", "2026-03-02", "n1/claims.csv", 2)),
               "visit_notes": notes(("N1", "P1", "2026-03-02", "n2/notes.csv", 2)),
               "note_services": services(("N1", "97112", 24, "n2/notes.csv", 2))}
    tonight = findings(("F3", "UNITS_EXCEED_TIME", "high", "P1", "2026-03-02", "1234567893", "C1", 1, "N1", None,
                        None)).drop(columns=["first_run_id", "first_as_of"])
    after = next_state(EARLIER, audited, tonight, ["n2/notes.csv"], "r2", date(2026, 3, 4), 30)
    assert sorted(after.tables["claim_lines"]["claim_id"]) == ["C1", "C2"]  # C3 fell out of the window, C1 once
    assert sorted(after.tables["visit_notes"]["note_id"]) == ["N1", "N2"]
    assert sorted(after.tables["note_services"]["note_id"]) == ["N1", "N2"]
    kept = after.tables["findings"].set_index("finding_id")
    assert sorted(kept.index) == ["F2", "F3"]  # F1 (P1's day, examined again) is gone: tonight did not find it
    assert kept.loc["F3", "first_run_id"] == "r2" and kept.loc["F2", "first_run_id"] == "r1"
    assert after.info == {"run_id": "r2", "as_of": "2026-03-04", "look_back_days": 30, "since": "2026-02-02"}

    write_state(after, tmp_path / "state")
    back = read_state(tmp_path / "state")
    assert back.info == after.info and set(back.tables) == set(after.tables)
    assert back.tables["claim_lines"]["date_of_service"].dtype == "datetime64[s]"
    assert read_state(tmp_path / "missing").tables == {}


def test_tables_the_state_does_not_know_are_carried_over():
    extended = NightState({**EARLIER.tables, "beneficiary_year": pd.DataFrame({"patient_id": ["P1"], "dollars": [1.0]})})
    audited = {"claim_lines": claims(), "visit_notes": notes(), "note_services": services()}
    after = next_state(extended, audited, findings().drop(columns=["first_run_id", "first_as_of"]), [], "r2",
                       date(2026, 3, 4), 30)
    assert after.tables["beneficiary_year"]["dollars"].tolist() == [1.0]


def amounts(*rows):
    frame = pd.DataFrame(rows, columns=["claim_id", "line_number", "patient_id", "date_of_service", "allowed_cents",
                                        "source_file"])
    return frame.assign(year=frame["date_of_service"].str[:4].astype("int64"), bucket="PT and SLP",
                        payer_type="medicare", priced=True).astype({"date_of_service": "datetime64[s]"})


def days(*rows):
    frame = pd.DataFrame(rows, columns=["note_id", "patient_id", "date_of_service", "progress_report", "source_file"])
    return frame.assign(discipline="PT", plan_of_care_signed_date=pd.Timestamp("2026-01-02")).astype(
        {"date_of_service": "datetime64[s]", "progress_report": "boolean"})


def test_the_beneficiaries_year_is_kept_by_key_and_a_night_run_again_counts_nothing_twice():
    from nmr_audit.runtime.state import therapy_history, year_start
    from nmr_audit.therapy import TherapyHistory

    audited = {"claim_lines": claims(), "visit_notes": notes(), "note_services": services()}
    first = TherapyHistory(amounts(("C1", 1, "P1", "2026-01-10", 245000, "n1/claims.csv"),
                                   ("C0", 1, "P1", "2025-06-01", 10000, "n1/claims.csv")),  # before the year kept
                           days(("N1", "P1", "2026-01-10", False, "n1/notes.csv")))
    state = next_state(NightState(), audited, findings(), ["n1/claims.csv"], "r1", date(2026, 3, 3), 30, first)
    assert year_start(date(2026, 3, 3), 30) == pd.Timestamp("2025-10-24")  # 100 days before the window: plans of care
    assert year_start(date(2026, 9, 3), 30) == pd.Timestamp("2026-01-01")
    assert state.table("therapy_amounts")["claim_id"].tolist() == ["C1"]
    again = next_state(state, audited, findings(), ["n1/claims.csv"], "r2", date(2026, 3, 3), 30, first)  # --full
    assert again.table("therapy_amounts")["allowed_cents"].sum() == 245000
    assert len(again.table("treatment_days")) == 1
    later = TherapyHistory(amounts(("C2", 1, "P1", "2026-03-05", 6000, "n2/claims.csv")),
                           days(("N2", "P1", "2026-03-05", True, "n2/notes.csv")))
    after = next_state(again, audited, findings(), ["n2/claims.csv"], "r3", date(2026, 3, 6), 30, later)
    assert after.table("therapy_amounts").groupby("patient_id")["allowed_cents"].sum().to_dict() == {"P1": 251000}
    history = therapy_history(after, pd.Series(["P1", "P9"]), ["n2/claims.csv"])
    assert history.amounts["claim_id"].tolist() == ["C1"]  # n2's rows are tonight's, sent again
    assert therapy_history(NightState(), pd.Series(["P1"]), []) is None  # a state from before issue 19
