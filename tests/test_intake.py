import pandas as pd
import pytest

from nmr_audit.conform import Conformed
from nmr_audit.errors import InputError
from nmr_audit.intake import (
    account,
    audited_per_file,
    combine,
    conform_file,
    drop_duplicates,
    duplicate_keys,
    rows_per_file,
)
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


def test_the_first_copy_of_a_key_is_kept_even_when_its_copies_sit_in_other_buckets(reference):
    """A bucketed run decides over all keys at once, then quarantines the copies bucket by bucket."""
    batch_a = conform_file(claims(rows=[{}, {}, {}]).assign(source_file="a.csv"), "claim_lines", TableMapping(),
                           reference, "a.csv").rows
    copies = claims(rows=[{"line_number": "2", "patient_id": "P9"}, {"line_number": "7"}]).assign(source_file="b.csv")
    batch_b = conform_file(copies, "claim_lines", TableMapping(), reference, "b.csv").rows
    keys = pd.concat([b[["claim_id", "line_number", "source_file", "source_row"]] for b in (batch_a, batch_b)],
                     ignore_index=True)
    duplicates = duplicate_keys(keys, "claim_lines")
    assert duplicates.to_dict("records") == [{"source_file": "b.csv", "source_row": 2, "first_file": "a.csv",
                                              "first_row": 3}]
    kept_a, held_a = drop_duplicates(batch_a, duplicates, "claim_lines")  # the other patient's bucket
    kept_b, held_b = drop_duplicates(batch_b, duplicates, "claim_lines")
    assert len(kept_a) == 3 and held_a.empty
    assert kept_b["line_number"].tolist() == [7]
    assert held_b["reason"].tolist() == ["duplicate (claim_id, line_number): first seen in a.csv row 3"]
    assert '"patient_id": "P9"' in held_b["record"].iloc[0]
    assert audited_per_file(keys, duplicates).to_dict() == {"a.csv": 3, "b.csv": 1}


def test_accounting_proves_no_row_is_lost_and_catches_a_lost_one():
    files = pd.DataFrame({"table": ["claim_lines"], "source_file": ["a.csv"], "rows_read": [3]})
    rows = pd.DataFrame({"source_file": ["a.csv", "a.csv"]})
    held = pd.DataFrame({"source_file": ["a.csv"]})
    counts = account(files, rows_per_file(rows), held)
    assert counts[["rows_read", "rows_audited", "rows_quarantined"]].to_numpy().tolist() == [[3, 2, 1]]
    with pytest.raises(AssertionError, match=r"a\.csv"):
        account(files, rows_per_file(rows), held.iloc[:0])


def test_file_without_required_columns_is_an_input_error(reference):
    raw = claims().drop(columns=["units", "cpt_code"])
    with pytest.raises(InputError, match="no column for cpt_code, units"):
        conform_file(raw, "claim_lines", TableMapping(), reference, "a.csv")


def test_a_notes_file_given_as_claims_says_the_options_look_swapped(reference):
    from tests.test_conform import notes

    with pytest.raises(InputError, match=r"notes\.csv: no column for claim_id, .* in this claim_lines file: it has the "
                                         r"columns of a visit_notes file .*\(were --claims and --notes swapped\?"):
        conform_file(notes([{}]), "claim_lines", TableMapping(), reference, "notes.csv")
    with pytest.raises(InputError, match=r"it has the columns of a claim_lines file .*swapped\?") as raised:
        conform_file(claims(), "visit_notes", TableMapping(), reference, "claims.csv")
    assert len(raised.value.line().splitlines()) == 1
    with pytest.raises(InputError, match=r"pass --mapping with a profile") as raised:  # neither table's columns
        conform_file(claims().drop(columns=["units", "patient_id"]), "visit_notes", TableMapping(), reference, "x.csv")
    assert "swapped" not in raised.value.line()


def test_notes_duplicates_do_not_merge_their_minutes(reference):
    from tests.test_conform import notes

    a = conform_file(notes([{"services": [{"cpt_code": "97112", "minutes": 20}]}]),
                     "visit_notes", TableMapping(), reference, "a")
    b_raw = notes([{"services": [{"cpt_code": "97112", "minutes": 30}]}]).assign(source_file="b")
    b = conform_file(b_raw, "visit_notes", TableMapping(), reference, "b")
    combined = combine([a, b], "visit_notes")
    assert isinstance(combined, Conformed)
    assert combined.services["minutes"].tolist() == [20]


def test_the_decimal_mark_comes_from_the_profile_else_from_the_delimiter():
    from nmr_audit.intake import conventions_for

    assert conventions_for("csv", ";", TableMapping()).decimal_mark == "auto"
    assert conventions_for("csv", ",", TableMapping()).decimal_mark == "."
    assert conventions_for("csv", ";", TableMapping(decimal_mark=".")).decimal_mark == "."
    assert conventions_for("parquet", None, TableMapping(decimal_mark=",")).decimal_mark == ","
    assert conventions_for("excel", None, TableMapping()).workbook


def test_two_columns_that_mean_one_contract_column_are_an_input_error(reference):
    raw = claims().assign(**{"Units ": "3"})
    with pytest.raises(InputError, match="columns 'units' and 'Units ' both mean units"):
        conform_file(raw, "claim_lines", TableMapping(), reference, "a.csv")
    named = claims().rename(columns={"units": "Qty"}).assign(Units="x")  # the profile's column wins
    result = conform_file(named, "claim_lines", TableMapping(columns={"Qty": ("units",)}), reference, "a.csv")
    assert result.rows["units"].tolist() == [2]


def test_quarantined_copies_and_unsplittable_rows_carry_the_visit_key_where_known(reference):
    from nmr_audit.intake import reader_quarantine

    a = conform_file(claims(), "claim_lines", TableMapping(), reference, "a.csv")
    b = conform_file(claims().assign(source_file="b.csv"), "claim_lines", TableMapping(), reference, "b.csv")
    held = combine([a, b], "claim_lines").quarantine
    assert held[["patient_id", "rendering_npi"]].to_numpy().tolist() == [["P1", "1234567893"]]
    assert held["date_of_service"].tolist() == [pd.Timestamp("2026-03-04")]
    invalid = pd.DataFrame({"source_row": [7], "reason": ["expected 3 fields, found 2"], "record": ["{}"]})
    split = reader_quarantine(invalid, "claim_lines", "a.csv")
    assert list(split.columns[-3:]) == ["patient_id", "date_of_service", "rendering_npi"]
    assert split[["patient_id", "date_of_service", "rendering_npi"]].isna().all(axis=None)


def _keys(*rows):
    """Claim-line keys (claim_id, line_number, source_file, source_row) in file then line order."""
    return pd.DataFrame(rows, columns=["claim_id", "line_number", "source_file", "source_row"])


def _replacing(*rows):
    """837P replacement/void claims (source_file, claim_id, claim_frequency, segment)."""
    return pd.DataFrame(rows, columns=["source_file", "claim_id", "claim_frequency", "segment"])


def test_a_replacement_or_void_in_a_later_file_takes_back_the_earlier_files_lines():
    from nmr_audit.intake import replaced_in_later_files

    keys = _keys(("C9", 1, "a.837", 30), ("C9", 2, "a.837", 34), ("C8", 1, "a.837", 40), ("C7", 1, "a.837", 50),
                 ("C9", 1, "b.837", 20), ("C7", 1, "c.837", 22))
    replacements = _replacing(("b.837", "C9", "7", 18), ("b.837", "C8", "8", 25), ("c.837", "C7", "7", 20),
                              ("c.837", "C9", "8", 30))
    found = replaced_in_later_files(keys, replacements, ["a.837", "b.837", "c.837"])
    by_row = dict(zip(zip(found["source_file"], found["source_row"], strict=True), found["reason"], strict=True))
    # a's C9 lines: replaced in b, then voided in c: the last void wins
    assert by_row[("a.837", 30)] == "claim 'C9' voided by the claim with the same CLM01 in c.837 at segment 30 (CLM05-3 = 8)"
    assert ("a.837", 34) in by_row
    assert by_row[("a.837", 40)].startswith("claim 'C8' voided by the claim with the same CLM01 in b.837 at segment 25")
    assert by_row[("a.837", 50)] == "claim 'C7' replaced by the claim with the same CLM01 in c.837 at segment 20 (CLM05-3 = 7)"
    assert by_row[("b.837", 20)].startswith("claim 'C9' voided")  # b's replacement is voided by c
    assert ("c.837", 22) not in by_row  # the replacement itself stands
    assert found[["first_file", "first_row"]].iloc[0].tolist() == ["c.837", 30]


def test_lines_in_the_replacements_own_file_are_left_to_the_duplicate_check():
    from nmr_audit.intake import replaced_in_later_files

    keys = _keys(("C9", 1, "b.837", 20), ("C9", 1, "a.csv", 2))
    found = replaced_in_later_files(keys, _replacing(("b.837", "C9", "7", 18)), ["a.csv", "b.837"])
    assert found["source_file"].tolist() == ["a.csv"]  # the CSV read before the 837P: replaced
    assert replaced_in_later_files(keys, _replacing(), ["a.csv", "b.837"]).empty
