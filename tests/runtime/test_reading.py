"""Reading a table's files into the spill: many small files conformed together give what one
file gives, each note's itemized minutes staying with its own note and file."""

from __future__ import annotations

import pandas as pd

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, SOURCE_FILE, SOURCE_ROW, VISIT_NOTES
from nmr_audit.io.reference import load_reference
from nmr_audit.mapping import IDENTITY
from nmr_audit.report_data import unreadable_fields, unreadable_keys
from nmr_audit.runtime.reading import LOGGED_FILES, read_table
from nmr_audit.runtime.spill import Spill
from tests.conftest import REPO

NOTES = REPO / "data" / "sample" / "canonical" / "notes" / "notes.csv"


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)


def one_row_files(folder, count):
    header, *rows = NOTES.read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir()
    paths = []
    for number, row in enumerate(rows[:count]):
        path = folder / f"note-{number:03d}.csv"
        path.write_text(header + row, encoding="utf-8")
        paths.append(path)
    return paths


def without_lineage(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows without their file and line, in one order (a note's minutes are spilled by batch)."""
    rest = frame.drop(columns=[SOURCE_FILE, SOURCE_ROW])
    return rest.sort_values(list(rest.columns[:2]), kind="stable").reset_index(drop=True)


def test_many_one_row_note_files_read_as_one_file_of_the_same_rows(tmp_path):
    count = LOGGED_FILES + 40  # past the files logged one by one: the rest are conformed in batches
    paths = one_row_files(tmp_path / "notes", count)
    whole = tmp_path / "whole.csv"
    whole.write_text("".join(NOTES.read_text(encoding="utf-8").splitlines(keepends=True)[: count + 1]), encoding="utf-8")
    reference = load_reference()
    many_spill, one_spill, log = Spill(1), Spill(1), Lines()
    many = read_table(VISIT_NOTES, paths, IDENTITY, reference, many_spill, 500_000, log)
    one = read_table(VISIT_NOTES, [whole], IDENTITY, reference, one_spill, 500_000, Lines())

    many_rows, one_rows = many_spill.load(VISIT_NOTES, 0), one_spill.load(VISIT_NOTES, 0)
    assert len(many.files) == count and 0 < len(many_rows) == len(one_rows) < count  # the sample's defects quarantined
    assert len(many.quarantine) == len(one.quarantine) == count - len(many_rows)
    pd.testing.assert_frame_equal(without_lineage(many_rows), without_lineage(one_rows), check_dtype=False,
                                  check_categorical=False)
    assert (many_rows[SOURCE_ROW] == 2).all()  # every note is the line after the header of its own file
    assert set(many_rows[SOURCE_FILE].astype("str")) | set(many.quarantine[SOURCE_FILE].astype("str")) == {
        str(p) for p in paths}

    many_services, one_services = many_spill.load(NOTE_SERVICES, 0), one_spill.load(NOTE_SERVICES, 0)
    assert len(many_services) == len(one_services) > count  # several codes' minutes per note
    pd.testing.assert_frame_equal(without_lineage(many_services), without_lineage(one_services), check_dtype=False,
                                  check_categorical=False)
    note_file = dict(zip(many_rows["note_id"], many_rows[SOURCE_FILE].astype("str"), strict=True))
    assert (many_services["note_id"].map(note_file) == many_services[SOURCE_FILE].astype("str")).all()

    per_file = [line for line in log.lines if line.startswith(f"{VISIT_NOTES}: read 1 row(s) from note-")]
    assert len(per_file) == LOGGED_FILES  # then one line for the rest, not one per file
    assert f"{VISIT_NOTES}: read {count} row(s) from {count} file(s), {len(many.quarantine)} quarantined" in log.lines


CLAIMS = REPO / "data" / "sample" / "canonical" / "claims" / "claims.csv"


def test_keys_put_aside_count_and_place_rows_as_the_keys_held_in_memory_did(tmp_path):
    """A run spilled to disk puts its keys aside after reading: rows audited per file, distinct
    claim ids and the files of the keys a FIELD_UNREADABLE finding names are what they were."""
    reference = load_reference()
    held = read_table(CLAIM_LINES, [CLAIMS], IDENTITY, reference, Spill(1), 500_000, Lines())
    aside = read_table(CLAIM_LINES, [CLAIMS], IDENTITY, reference, Spill(1), 500_000, Lines())
    aside.put_keys_aside(tmp_path / "claim_lines-keys.parquet")
    assert aside.keys.empty and held.keys_file is None and aside.keys_file.exists()
    pd.testing.assert_series_equal(aside.audited_rows(), held.audited_rows())
    assert aside.distinct_claims() == held.distinct_claims() == held.keys["claim_id"].nunique() > 0
    named = held.keys["claim_id"].drop_duplicates().iloc[[0, 3]].to_numpy()
    findings = pd.DataFrame({"rule_id": ["FIELD_UNREADABLE", "FIELD_UNREADABLE", "NO_NOTE"],
                             "claim_id": [named[0], named[1], "C-none"],
                             "line_number": pd.array([1, 1, 1], dtype="Int64"), "field": ["units", "charge", None]})
    column, values = unreadable_keys(findings, CLAIM_LINES)
    assert column == "claim_id" and sorted(values) == sorted(named)
    back = aside.keys_named(column, values)
    assert sorted(back["claim_id"]) == sorted(held.keys_named(column, values)["claim_id"])
    assert back["source_file"].astype("str").eq(str(CLAIMS)).all()
    assert unreadable_fields(findings, {CLAIM_LINES: back}).equals(unreadable_fields(findings, {CLAIM_LINES: held.keys}))
    assert aside.keys_named(column, values[:0]).empty
