import pandas as pd
import pytest

from nmr_audit.conform import Conformed
from nmr_audit.errors import InputError
from nmr_audit.intake import account, combine, conform_file
from nmr_audit.mapping import TableMapping
from tests.test_conform import claims


def test_duplicate_keys_across_files_keep_the_first_and_name_it(reference):
    first = conform_file(claims().assign(source_file="a.csv"), "claim_lines", TableMapping(), reference, "a.csv")
    second_raw = claims(rows=[{}, {"line_number": "9"}]).assign(source_file="b.csv")
    second = conform_file(second_raw, "claim_lines", TableMapping(), reference, "b.csv")
    combined = combine([first, second], "claim_lines")
    assert combined.rows[["source_file", "line_number"]].to_numpy().tolist() == [["a.csv", 1],
                                                                              ["b.csv", 9]]
    assert combined.quarantine["reason"].tolist() == [
        "duplicate (claim_id, line_number): first seen in a.csv row 2"]


def test_accounting_proves_no_row_is_lost_and_catches_a_lost_one():
    files = pd.DataFrame({"table": ["claim_lines"], "source_file": ["a.csv"], "rows_read": [3]})
    rows = pd.DataFrame({"source_file": ["a.csv", "a.csv"]})
    held = pd.DataFrame({"source_file": ["a.csv"]})
    counts = account(files, rows, held)
    assert counts[["rows_read", "rows_audited", "rows_quarantined"]].to_numpy().tolist() == [[3, 2, 1]]
    with pytest.raises(AssertionError, match=r"a\.csv"):
        account(files, rows, held.iloc[:0])


def test_file_without_required_columns_is_an_input_error(reference):
    raw = claims().drop(columns=["units", "cpt_code"])
    with pytest.raises(InputError, match="no column for cpt_code, units"):
        conform_file(raw, "claim_lines", TableMapping(), reference, "a.csv")


def test_notes_duplicates_do_not_merge_their_minutes(reference):
    from tests.test_conform import notes

    a = conform_file(notes([{"services": [{"cpt_code": "97112", "minutes": 20}]}]),
                     "visit_notes", TableMapping(), reference, "a")
    b_raw = notes([{"services": [{"cpt_code": "97112", "minutes": 30}]}]).assign(source_file="b")
    b = conform_file(b_raw, "visit_notes", TableMapping(), reference, "b")
    combined = combine([a, b], "visit_notes")
    assert isinstance(combined, Conformed)
    assert combined.services["minutes"].tolist() == [20]
