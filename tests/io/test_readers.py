import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nmr_audit.errors import InputError
from nmr_audit.io.readers import read_export

HEADER = ["claim_id", "line_number", "units"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_any_common_delimiter(tmp_path, delimiter):
    path = tmp_path / "claims.csv"
    path.write_text(delimiter.join(HEADER) + "\nC1" + delimiter + "1" + delimiter + "2\n")
    raw = read_export(path)
    assert raw.frame[HEADER].iloc[0].tolist() == ["C1", "1", "2"]
    assert raw.frame["source_row"].tolist() == [2]


def test_csv_with_bom_and_crlf(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_bytes(b"\xef\xbb\xbfclaim_id;line_number;units\r\nC1;1;2\r\nC2;1;3\r\n")
    raw = read_export(path)
    assert list(raw.frame.columns[:3]) == HEADER
    assert raw.frame["units"].tolist() == ["2", "3"]
    assert raw.frame["source_row"].tolist() == [2, 3]


def test_csv_ragged_row_is_reported_with_its_line_and_the_rest_is_read(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,line_number,units\nC1,1,2\nC2,1\nC3,1,1\n")
    raw = read_export(path)
    assert raw.frame["claim_id"].tolist() == ["C1", "C3"]
    assert raw.frame["source_row"].tolist() == [2, 4]
    assert raw.invalid[["source_row", "reason"]].to_numpy().tolist() == [
        [3, "expected 3 fields, found 2"]]
    assert raw.rows_read == 3


def test_csv_quoted_value_over_two_lines_keeps_later_line_numbers(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('note_id,techniques\nN1,"PNF\nbalance"\nN2,gait\n')
    raw = read_export(path)
    assert raw.frame["source_row"].tolist() == [2, 4]


def test_csv_keeps_leading_zeros_and_empty_cells_as_text(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("patient_id,payer_id\n00123,\n")
    raw = read_export(path)
    assert raw.frame["patient_id"].iloc[0] == "00123"
    assert raw.frame["payer_id"].iloc[0] == ""


def test_xlsx_sheet_keeps_numbers_typed_and_dates_as_contract_text(tmp_path):
    path = tmp_path / "claims.xlsx"
    pd.DataFrame({"claim_id": ["C1"], "units": [2], "date_of_service": [pd.Timestamp("2026-03-04")]}
                 ).to_excel(path, index=False)
    raw = read_export(path)
    assert raw.frame["claim_id"].tolist() == ["C1"] and raw.frame["units"].tolist() == [2]
    assert raw.frame["units"].dtype == "Int64"  # a column of numbers stays numbers, as in Parquet
    assert raw.frame["date_of_service"].tolist() == ["2026-03-04"]
    assert raw.frame["source_row"].tolist() == [2]
    assert raw.frame["source_file"].tolist() == [f"{path}#Sheet1"] and raw.sheet == "Sheet1"


def test_parquet_numbers_stay_numbers_and_other_typed_columns_become_contract_text(tmp_path):
    path = tmp_path / "claims.parquet"
    pq.write_table(pa.table({"units": pa.array([2, None], pa.int64()),
                             "date_of_service": pa.array([pd.Timestamp("2026-03-04")] * 2),
                             "signed": pa.array([True, False])}), path)
    raw = read_export(path)
    assert raw.frame["units"].dtype == "Int64"  # validated as a number: no round trip through text
    assert raw.frame["units"].iloc[0] == 2 and pd.isna(raw.frame["units"].iloc[1])
    assert raw.frame["date_of_service"].tolist() == ["2026-03-04"] * 2
    assert raw.frame["signed"].tolist() == ["true", "false"]
    assert raw.frame["source_row"].tolist() == [1, 2]


def test_jsonl_services_kept_as_lists_and_bad_lines_reported(tmp_path):
    path = tmp_path / "notes.jsonl"
    good = {"note_id": "N1", "total_treatment_minutes": 40, "signed": True,
            "services": [{"cpt_code": "97112", "minutes": 23}]}
    path.write_text(json.dumps(good) + "\n\n{not json\n[1, 2]\n")
    raw = read_export(path)
    row = raw.frame.iloc[0]
    assert (row["note_id"], row["total_treatment_minutes"], row["signed"]) == ("N1", "40", "true")
    assert row["services"] == [{"cpt_code": "97112", "minutes": 23}]
    assert raw.invalid["source_row"].tolist() == [3, 4]
    assert raw.invalid["reason"].iloc[0].startswith("not valid JSON")


@pytest.mark.parametrize(("name", "content", "says"), [
    ("empty.csv", b"", "empty"),
    ("dup.csv", b"a,a\n1,2\n", "repeats"),
    ("latin1.csv", "claim_id\nJos\xe9\n".encode("latin-1"), "cannot be read"),
    ("broken.parquet", b"PAR1 not really", "cannot be read"),
    ("broken.xlsx", b"not a zip", "cannot be read"),
    ("night.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Excel 97"),
    ("claims.pdf", b"%PDF-1.7 \x00\x01", "unsupported file type"),
    ("all_bad.csv", b"a;b;c\n1,2\n3,4\n", "no row has the header's 3 fields"),
    ("doc.jsonl", b'{\n  "note_id": "N1"\n}\n', "no line is a JSON object"),
])
def test_unreadable_files_raise_one_line_naming_the_file(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        list(read_export(path).batches())  # a CSV file is streamed: bad bytes surface as it is read
    assert str(path) in caught.value.line() and says in caught.value.line()
    assert "\n" not in caught.value.line()


def test_a_parquet_file_is_read_in_batches_that_keep_the_row_numbers(tmp_path):
    path = tmp_path / "claims.parquet"
    table = pa.table({"claim_id": [f"C{n}" for n in range(7)], "units": list(range(7))})
    pq.write_table(table, path, row_group_size=3)  # batches cut across row groups
    raw = read_export(path)
    batches = list(raw.batches(4))
    assert raw.rows_read == 7 and [len(b) for b in batches] == [4, 3]
    assert [b["source_row"].tolist() for b in batches] == [[1, 2, 3, 4], [5, 6, 7]]
    assert batches[1]["claim_id"].tolist() == ["C4", "C5", "C6"] and batches[1]["units"].tolist() == [4, 5, 6]
    assert (batches[0]["source_file"] == str(path)).all()


def test_a_csv_file_is_handed_out_in_batches_with_each_record_s_first_line(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('note_id,techniques\nN1,"balance\nand gait"\nN2,x\nN3,y\n')  # N1 spans two lines
    batches = list(read_export(path).batches(2))
    assert [b["note_id"].tolist() for b in batches] == [["N1", "N2"], ["N3"]]
    assert [b["source_row"].tolist() for b in batches] == [[2, 4], [5]]


def test_malformed_rows_and_values_that_span_lines_get_their_exact_lines_in_any_batch_size(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("note_id,techniques\n"
                    'N1,"balance\nand gait"\n'   # lines 2-3
                    "broken\n"                      # line 4: one field
                    "N2,x\n"                        # line 5
                    'N3,y,"extra\nfield"\n'        # lines 6-7: three fields
                    'N4,"a\nb\nc"\n'              # lines 8-10
                    "N5,z\n")                       # line 11
    for size in (1, 2, 3, 10):
        raw = read_export(path)
        batches = list(raw.batches(size))
        rows = pd.concat(batches, ignore_index=True)
        assert rows["note_id"].tolist() == ["N1", "N2", "N4", "N5"]
        assert rows["source_row"].tolist() == [2, 5, 8, 11], size
        assert raw.invalid["source_row"].tolist() == [4, 6], size
        assert raw.invalid["reason"].tolist() == ["expected 2 fields, found 1", "expected 2 fields, found 3"]
        assert json.loads(raw.invalid["record"].iloc[1]) == {"line": 'N3,y,"extra\nfield"'}
        assert (raw.rows, raw.rows_read) == (4, 6)


@pytest.mark.parametrize("end", ["", "\n", "\r\n", "\n\n"])
def test_a_header_only_csv_is_an_empty_table_with_or_without_a_final_line_end(tmp_path, end):
    """Issue 17 j: a day without claims, its header without a final newline, is not an error."""
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,line_number,units" + end, newline="")
    raw = read_export(path)
    assert raw.frame.empty and list(raw.frame.columns[:3]) == HEADER
    assert (raw.rows_read, len(raw.invalid)) == (0, 0)


def test_a_header_longer_than_64_kib_is_read(tmp_path):
    names = ["claim_id"] + [f"extra_column_with_a_long_name_{n:05d}" for n in range(3000)]  # ~120 KiB
    path = tmp_path / "claims.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["C1"] + ["x"] * 3000) + "\n")
    raw = read_export(path)
    assert len(raw.frame.columns) == len(names) + 2 and raw.frame["claim_id"].tolist() == ["C1"]


def test_a_header_past_the_limit_is_refused_in_one_line(tmp_path, monkeypatch):
    from nmr_audit.io.readers import delimited

    monkeypatch.setattr(delimited, "MAX_HEADER_BYTES", 1 << 17)
    path = tmp_path / "claims.csv"
    path.write_text(",".join(f"c{n}" for n in range(40_000)) + "\n1\n")
    with pytest.raises(InputError, match="header row is longer than the 0 MiB limit"):
        read_export(path)


def test_a_value_larger_than_a_parse_block_is_read_and_the_rows_keep_their_lines(tmp_path, monkeypatch):
    """Fields up to the 64 MiB limit are read (here with 1 KiB parse blocks, the same path as a
    64 MiB value in 16 MiB blocks); one past the limit is refused in one line naming it."""
    from nmr_audit.io.readers import delimited

    monkeypatch.setattr(delimited, "CSV_BLOCK", 1024)
    monkeypatch.setattr(delimited, "_LARGE_BLOCK", 64 * 1024)
    big = "balance " * 4000  # 32 KiB
    path = tmp_path / "notes.csv"
    path.write_text("note_id,techniques\n" + "".join(f"N{n},short\n" for n in range(200))
                    + f'N200,"{big}\nsecond line"\nN201,x\n')
    raw = read_export(path)
    rows = pd.concat(list(raw.batches(64)), ignore_index=True)
    assert len(rows) == 202 and rows["techniques"].iloc[200].startswith("balance")
    assert rows["source_row"].iloc[[0, 199, 200, 201]].tolist() == [2, 201, 202, 204]
    path.write_text("note_id,techniques\nN1,x\n" + f'N2,"{big * 8}"\n')
    with pytest.raises(InputError, match="longer than the 64 MiB limit"):
        list(read_export(path).batches())


def test_a_field_of_64_mib_is_read(tmp_path):
    path = tmp_path / "notes.csv"
    big = "x" * ((64 << 20) - 1)
    path.write_text(f'note_id,techniques\nN1,"{big}"\nN2,y\n')
    raw = read_export(path)
    frame = raw.frame
    assert frame["techniques"].str.len().tolist() == [len(big), 1] and frame["source_row"].tolist() == [2, 3]
