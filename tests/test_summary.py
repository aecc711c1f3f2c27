"""The run's totals: visits whose units could not be checked are counted apart, never as excess."""

from __future__ import annotations

import pandas as pd

from nmr_audit.gx_engine import RuleEngine
from nmr_audit.io.suites import load_suites
from nmr_audit.pipeline import audit_tables
from nmr_audit.summary import checked_excess, visit_totals
from tests.builders import NPI, tables, visit


def test_a_visit_whose_note_was_quarantined_is_not_counted_as_excess_or_as_without_a_note(reference):
    """Newcomer's report: a visit whose note sat in quarantine (clinic_id missing) read as "no
    note", and all its 3 billed units as excess, in summary.json and the report's headline."""
    lines, notes, services = tables(
        visit(patient_id="P1", billed={"97112": 3}, note=False),  # its note is in quarantine
        visit(patient_id="P2", billed={"97112": 2}, note=False),  # no note at all
        visit(patient_id="P3", billed={"97112": 3}, minutes={"97112": 30}),  # 30 min → 2 units: 1 over
    )
    held = pd.DataFrame({
        "table": "visit_notes", "source_file": "notes.csv", "source_row": [5], "reason": ["clinic_id: required"],
        "record": ["{}"], "patient_id": ["P1"], "date_of_service": lines.loc[lines["patient_id"] == "P1",
                                                                              "date_of_service"].iloc[:1].to_numpy(),
        "rendering_npi": [NPI]})
    audited = audit_tables(lines, notes, services, reference, RuleEngine(load_suites()), quarantine=held)
    visits = audited.visits.set_index("patient_id")
    assert visits["note_quarantined"].to_dict() == {"P1": True, "P2": False, "P3": False}
    totals = visit_totals(audited.visits)
    assert totals["note_quarantined"] == 1 and totals["without_note"] == 1
    assert totals["excess_units_97112"] == 2 + 1  # P2's two unsupported units and P3's one; not P1's three
    assert totals["with_excess_units_97112"] == 2
    assert totals["units_unchecked"] == 1 and totals["billed_units_97112_unchecked"] == 3
    assert checked_excess(audited.visits).tolist() == [0 if p == "P1" else visits.loc[p, "excess_units_97112"]
                                                       for p in audited.visits["patient_id"]]
    rules = audited.findings.groupby("patient_id")["rule_id"].apply(set)
    assert "NOTE_QUARANTINED" in rules["P1"] and "NO_NOTE" not in rules["P1"] and "NO_NOTE" in rules["P2"]


def test_totals_of_visits_without_the_audit_columns_count_every_excess():
    visits = pd.DataFrame({"rule_basis": ["CMS", "CMS"], "note_id": ["N1", None], "billed_units_97112": [3, 2],
                           "supported_units_97112": [2, 0], "excess_units_97112": [1, 2],
                           "billed_timed_units": [3, 2], "supported_timed_units": [2, 0]})
    totals = visit_totals(visits)
    assert (totals["excess_units_97112"], totals["without_note"], totals["units_unchecked"]) == (3, 1, 0)
