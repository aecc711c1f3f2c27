"""A large run's canonical tables written by its buckets and joined in bucket order."""

import pandas as pd

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.names import names_in_rows
from nmr_audit.runtime import canonical_parts
from nmr_audit.runtime.canonical_parts import join_parts, part_path, write_parts


def rows(bucket: int, count: int, named: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"claim_id": pd.Series([f"C{bucket}-{i}" for i in range(count)], dtype="str"),
                          "line_number": pd.Series(range(1, count + 1), dtype="int64"),
                          "rendering_npi": pd.Series(["1234567893"] * count, dtype="str")})
    if named:
        frame["rendering_provider_name"] = pd.Series(["Pat Lee"] * count, dtype="str")
    return frame


def test_the_buckets_parts_join_into_one_table_in_bucket_order_and_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(canonical_parts, "PART_ROW_GROUP", 7)  # several row groups a part
    buckets = [rows(0, 20, True), rows(1, 0, True), rows(2, 33, True)]
    notes = pd.DataFrame({"note_id": pd.Series(dtype="str")})
    for number, frame in enumerate(buckets):
        write_parts(tmp_path, number, frame, notes, notes)
    assert [len(names_in_rows(frame).providers) for frame in buckets] == [1, 0, 1] and not names_in_rows(notes).any
    join_parts(tmp_path, CLAIM_LINES, 3, tmp_path / "claim_lines.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "claim_lines.parquet"),
                                  pd.concat(buckets, ignore_index=True))
    assert not part_path(tmp_path, CLAIM_LINES, 0).exists()
    for table in (VISIT_NOTES, NOTE_SERVICES):
        join_parts(tmp_path, table, 3, tmp_path / f"{table}.parquet")
        assert pd.read_parquet(tmp_path / f"{table}.parquet").empty
