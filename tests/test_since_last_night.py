"""Since the last night: new and resolved findings against the previous run, and the series by night."""

from __future__ import annotations

import pandas as pd
import pytest

from nmr_audit.findings import FINDING_COLUMNS
from nmr_audit.runtime.state import NightState, reexamined
from nmr_audit.since_last_night import (
    NIGHTS,
    SERIES_COLUMNS,
    line_dollars,
    new_findings,
    night_labels,
    night_series,
    resolved_findings,
    since_last_night,
)

SINCE = pd.Timestamp("2026-02-01")


def findings(*rows, first=None):
    """Findings from (finding_id, rule_id, patient_id, date_of_service, claim_id, line_number, dollars)."""
    frame = pd.DataFrame(rows, columns=["finding_id", "rule_id", "patient_id", "date_of_service", "claim_id",
                                        "line_number", "dollars_at_risk"])
    frame = frame.assign(severity="high", note_id=None, rendering_npi="1234567893", clinic_id="CL1",
                         payer_type="medicare", field=None, message="m", excess_units=None, reference_edition=None,
                         outcome=None, carcs=None)
    frame = frame[list(FINDING_COLUMNS)].astype(FINDING_COLUMNS)
    if first is not None:
        frame = frame.assign(first_run_id=first[0], first_as_of=first[1])
    return frame


def days(*pairs):
    return pd.DataFrame(pairs, columns=["patient_id", "date_of_service"]).astype({"date_of_service": "datetime64[s]"})


# Open after night 1: P1's claim line had no note; P2 billed beyond the minutes; P3's finding is
# dated before the look-back window.
STANDING = findings(("F1", "NO_NOTE", "P1", "2026-03-02", "C1", 1, 62.0),
                    ("F2", "UNITS_EXCEED_TIME", "P2", "2026-03-02", "C2", 1, 31.0),
                    ("F9", "NO_NOTE", "P3", "2026-01-05", "C9", 1, 40.0), first=("r1", "2026-03-03"))


def test_a_late_note_resolves_and_a_new_defect_is_new():
    """Tonight P1's note arrived (its day is audited again: NO_NOTE gone, but the units now
    exceed the minutes) and a new claim of P4 has no note. P2's day is not touched."""
    tonight = findings(("F3", "UNITS_EXCEED_TIME", "P1", "2026-03-02", "C1", 1, 31.0),
                       ("F4", "NO_NOTE", "P4", "2026-03-04", "C4", 1, 62.0))
    touched = days(("P1", "2026-03-02"), ("P4", "2026-03-04"))
    assert new_findings(tonight, STANDING)["finding_id"].tolist() == ["F3", "F4"]
    resolved, examined = resolved_findings(STANDING, touched, tonight, SINCE)
    assert resolved["finding_id"].tolist() == ["F1"] and examined == 1
    assert resolved[["first_run_id", "first_as_of"]].iloc[0].tolist() == ["r1", "2026-03-03"]
    # the same selection as reexamined.parquet
    seen = reexamined(NightState({"findings": STANDING}), touched, tonight, SINCE)
    assert seen.loc[seen["outcome"] == "cleared", "finding_id"].tolist() == resolved["finding_id"].tolist()


def test_a_finding_found_again_is_neither_new_nor_resolved():
    tonight = findings(("F1", "NO_NOTE", "P1", "2026-03-02", "C1", 1, 62.0))
    touched = days(("P1", "2026-03-02"))
    assert new_findings(tonight, STANDING).empty
    resolved, examined = resolved_findings(STANDING, touched, tonight, SINCE)
    assert resolved.empty and examined == 1


def test_a_finding_before_the_window_is_not_resolved_even_on_a_touched_day():
    touched = days(("P3", "2026-01-05"))
    resolved, examined = resolved_findings(STANDING, touched, findings(), SINCE)
    assert resolved.empty and examined == 0


def test_money_counts_each_claim_line_once():
    both = findings(("A", "NO_NOTE", "P1", "2026-03-02", "C1", 1, 62.0),
                    ("B", "UNITS_EXCEED_TIME", "P1", "2026-03-02", "C1", 1, 31.0),
                    ("C", "NO_NOTE", "P1", "2026-03-02", "C1", 2, 10.005))
    assert line_dollars(both) == pytest.approx(72.0, abs=0.01)
    assert line_dollars(findings()) == 0.0


def earlier_runs(count):
    start = pd.Timestamp("2026-10-01")
    nights = [(start + pd.Timedelta(days=n)).date().isoformat() for n in range(count)]
    return pd.DataFrame({"run_id": [f"run{n:02d}" for n in range(count)], "as_of": nights,
                         "findings": range(count), "dollars_at_risk": [10.0 * n for n in range(count)],
                         "new_findings": [None] * min(count, 1) + list(range(1, count)), "new_dollars_at_risk": None,
                         "resolved_findings": None, "resolved_dollars_at_risk": None})


def test_the_series_keeps_the_last_30_runs_oldest_first_with_tonight_last():
    earlier = earlier_runs(35)
    tonight = {"run_id": "tonight", "as_of": "2026-11-05", "findings": 7, "dollars_at_risk": 12.5,
               "new_findings": 2, "new_dollars_at_risk": 3.0, "resolved_findings": 1, "resolved_dollars_at_risk": 4.0}
    series = night_series(earlier, tonight)
    assert len(series) == NIGHTS == 30 and list(series.columns) == list(SERIES_COLUMNS)
    assert series["run_id"].tolist() == [f"run{n:02d}" for n in range(6, 35)] + ["tonight"]
    assert series["dollars_at_risk"].tolist()[:2] == [60.0, 70.0] and series["dollars_at_risk"].iloc[-1] == 12.5
    assert series.iloc[-1]["resolved_findings"] == 1 and pd.isna(series.iloc[0]["resolved_findings"])
    assert len(night_series(earlier.head(3), tonight)) == 4
    assert night_series(earlier.head(0), tonight)["run_id"].tolist() == ["tonight"]
    # a run given twice (tonight's id already recorded) keeps its last row
    again = night_series(earlier.head(3), {**tonight, "run_id": "run02"})
    assert again["run_id"].tolist() == ["run00", "run01", "run02"] and again.iloc[-1]["findings"] == 7


def test_nights_with_several_runs_are_numbered():
    series = pd.DataFrame({"as_of": ["2026-11-21", "2026-11-22", "2026-11-22", "2026-11-23"]})
    assert night_labels(series).tolist() == ["2026-11-21", "2026-11-22 (1)", "2026-11-22 (2)", "2026-11-23"]


def test_the_first_night_has_nothing_to_compare_with():
    tonight = findings(("F4", "NO_NOTE", "P4", "2026-03-04", "C4", 1, 62.0))
    since = since_last_night(tonight, 62.0, "r1", "2026-03-05", None, None, None, days(), SINCE,
                             earlier_runs(0), 30)
    assert since.first_night and since.new.empty and since.resolved.empty
    assert since.totals()["new_findings"] is None and "first run" in since.notes[0]
    night = since.series.iloc[0]
    assert night[["run_id", "as_of", "findings", "dollars_at_risk"]].tolist() == ["r1", "2026-03-05", 1, 62.0]
    assert night[["new_findings", "new_dollars_at_risk", "resolved_findings", "resolved_dollars_at_risk"]].isna().all()


def test_the_second_night_counts_new_resolved_and_their_money():
    tonight = findings(("F3", "UNITS_EXCEED_TIME", "P1", "2026-03-02", "C1", 1, 31.0),
                       ("F4", "NO_NOTE", "P4", "2026-03-04", "C4", 1, 62.0))
    previous_run = STANDING.head(2)
    since = since_last_night(tonight, 93.0, "r2", "2026-03-05", {"run_id": "r1", "as_of": "2026-03-03"},
                             previous_run, STANDING, days(("P1", "2026-03-02"), ("P4", "2026-03-04")), SINCE,
                             earlier_runs(1), 30)
    assert since.totals() == {"previous_run_id": "r1", "previous_as_of": "2026-03-03", "new_findings": 2,
                              "new_dollars_at_risk": 93.0, "resolved_findings": 1, "resolved_dollars_at_risk": 62.0,
                              "reexamined_findings": 1, "look_back_days": 30}
    assert since.series["run_id"].tolist() == ["run00", "r2"] and since.series.iloc[-1]["resolved_dollars_at_risk"] == 62
    masked = since.shown(lambda frame: frame.drop(columns="patient_id"))
    assert "patient_id" not in masked.new and "patient_id" not in masked.resolved and "patient_id" in since.new


def test_without_a_look_back_nothing_resolves_and_the_previous_runs_findings_are_not_new():
    tonight = findings(("F1", "NO_NOTE", "P1", "2026-03-02", "C1", 1, 62.0),  # the file sent again (--full)
                       ("F4", "NO_NOTE", "P4", "2026-03-04", "C4", 1, 62.0))
    since = since_last_night(tonight, 124.0, "r2", "2026-03-05", {"run_id": "r1", "as_of": "2026-03-03"},
                             STANDING.head(1), None, days(), SINCE, earlier_runs(1), 0)
    assert since.new["finding_id"].tolist() == ["F4"] and since.resolved.empty
    assert any("look-back is off" in note for note in since.notes)
