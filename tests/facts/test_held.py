"""Quarantined notes: which visit they belong to (interface of issue 17, §2: intake keeps the key)."""

import pandas as pd

from nmr_audit.facts.held import held_for_visits, held_notes
from tests.builders import NPI, OTHER_PT_NPI, PTA_NPI


def quarantine(*rows):
    frame = pd.DataFrame(rows, columns=["table", "source_file", "source_row", "reason", "patient_id",
                                        "date_of_service", "rendering_npi"])
    return frame.assign(record="{}", date_of_service=pd.to_datetime(frame["date_of_service"]).astype("datetime64[s]"))


def visits(*rows):
    frame = pd.DataFrame(rows, columns=["patient_id", "date_of_service", "rendering_npi", "note_id"])
    return frame.assign(date_of_service=pd.to_datetime(frame["date_of_service"]).astype("datetime64[s]"))


def test_only_notes_whose_patient_and_date_could_be_read_are_kept_in_file_order():
    held = held_notes(quarantine(
        ("visit_notes", "b.csv", 4, "clinic_id: required value missing", "P1", "2026-03-04", NPI),
        ("claim_lines", "c.csv", 2, "units: not a number", "P1", "2026-03-04", NPI),
        ("visit_notes", "a.csv", 9, "date_of_service: not a date", "P1", None, NPI),
        ("visit_notes", "a.csv", 7, "rendering_npi: bad check digit", "P2", "2026-03-04", None)))
    assert held[["source_file", "source_row", "patient_id"]].to_numpy().tolist() == [["a.csv", 7, "P2"],
                                                                                     ["b.csv", 4, "P1"]]


def test_a_quarantine_without_the_key_columns_holds_no_note():
    old = pd.DataFrame({"table": ["visit_notes"], "source_file": ["n.csv"], "source_row": [2], "reason": ["x"],
                        "record": ["{}"]})
    assert held_notes(old).empty and held_notes(None).empty


def test_a_held_note_belongs_to_its_visit_or_to_a_visit_without_a_note_that_day():
    held = held_notes(quarantine(
        ("visit_notes", "n.csv", 2, "r1", "P1", "2026-03-04", NPI),  # P1's visit exactly
        ("visit_notes", "n.csv", 3, "r2", "P2", "2026-03-04", PTA_NPI),  # an assistant's, billed under the PT
        ("visit_notes", "n.csv", 4, "r3", "P3", "2026-03-04", NPI)))  # P3's PT visit: not the other PT's
    result = held_for_visits(visits(("P1", "2026-03-04", NPI, None), ("P2", "2026-03-04", NPI, None),
                                    ("P3", "2026-03-04", NPI, "N3"), ("P3", "2026-03-04", OTHER_PT_NPI, None),
                                    ("P4", "2026-03-04", NPI, None)), held)
    assert result["note_quarantined"].tolist() == [True, True, True, False, False]
    assert result["quarantine_reason"].tolist()[:3] == ["r1", "r2", "r3"]
    assert result["quarantine_row"].tolist()[:3] == [2, 3, 4]
