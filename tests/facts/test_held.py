"""Quarantined notes and 97112 claim lines: which visit they belong to (interface of issue 17, §2: intake keeps
the key)."""

import pandas as pd

from nmr_audit.facts.held import held_for_visits, held_lines, held_notes, held_rows, lines_held_for_visits
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


def line_record(code):
    """A claim line's cells as intake keeps them in quarantine (`conform.records_json`)."""
    return '{"claim_id": "C1", "cpt_code": ' + code + ', "units": "-1"}'


def test_held_lines_keep_97112_and_unreadable_codes_and_leave_other_codes_to_unbilled_97112():
    frame = quarantine(
        ("claim_lines", "c.csv", 2, "units '-1'", "P1", "2026-03-04", NPI),
        ("claim_lines", "c.csv", 3, "units '-1'", "P2", "2026-03-04", NPI),
        ("claim_lines", "c.csv", 4, "cpt_code '9711'", "P3", "2026-03-04", NPI),
        ("claim_lines", "c.csv", 5, "units '-1'", "P4", "2026-03-04", NPI),
        ("claim_lines", "c.csv", 6, "date_of_service '03/32/2026'", "P5", None, NPI),
        ("visit_notes", "n.csv", 2, "clinic_id: required value missing", "P6", "2026-03-04", NPI))
    frame = frame.assign(record=[line_record('"97112"'), line_record("97112"), line_record('"9711"'),
                                 line_record('"97140"'), line_record('"97112"'), "{}"])
    assert held_lines(frame)["patient_id"].tolist() == ["P1", "P2", "P3"]  # not 97140, not the unreadable date
    assert held_lines(held_notes(frame)).empty  # held notes already (no `table`): no claim line among them


def test_held_rows_hand_each_reader_its_own_rows_without_the_record():
    frame = quarantine(("claim_lines", "c.csv", 2, "units '-1'", "P1", "2026-03-04", NPI),
                       ("visit_notes", "n.csv", 2, "clinic_id: required value missing", "P2", "2026-03-04", NPI))
    frame = frame.assign(record=[line_record('"97112"'), "{}"])
    both = held_rows(frame[frame["table"] == "claim_lines"], frame[frame["table"] == "visit_notes"], None)
    assert "record" not in both.columns and both["table"].tolist() == ["visit_notes", "claim_lines"]
    assert held_notes(both)["patient_id"].tolist() == ["P2"] and held_lines(both)["patient_id"].tolist() == ["P1"]
    assert held_rows(None).empty and list(held_rows()) == ["table", "patient_id", "date_of_service", "rendering_npi",
                                                            "reason", "source_file", "source_row"]


def test_a_held_line_belongs_to_its_visit_or_to_a_visit_without_a_97112_line_that_day():
    held = held_lines(quarantine(
        ("claim_lines", "c.csv", 2, "r1", "P1", "2026-03-04", NPI),  # P1's visit exactly
        ("claim_lines", "c.csv", 3, "r2", "P2", "2026-03-04", None),  # NPI unreadable: P2's visit with no 97112 line
        ("claim_lines", "c.csv", 4, "r3", "P3", "2026-03-04", None),  # P3's visit has its 97112 line read
        ("claim_lines", "c.csv", 5, "r4", "P4", "2026-03-05", NPI)))  # another day
    frame = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "rendering_npi": NPI, "lines_97112": [0, 0, 1, 0],
                          "date_of_service": pd.to_datetime(["2026-03-04"] * 4).astype("datetime64[s]")})
    result = lines_held_for_visits(frame, held)
    assert result["line_quarantined"].tolist() == [True, True, False, False]
    assert result["line_quarantine_reason"].tolist()[:2] == ["r1", "r2"]
    assert result["line_quarantine_file"].tolist()[:2] == ["c.csv", "c.csv"]
    assert result["line_quarantine_row"].tolist()[:2] == [2, 3]
