import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nmr_audit.runtime.spill import Spill


def rows(first: int, count: int) -> pd.DataFrame:
    """Canonical-looking rows: text, nullable ints, dates, booleans and a list column."""
    numbers = range(first, first + count)
    return pd.DataFrame({
        "patient_id": pd.Series([f"P{n}" for n in numbers], dtype="str"),
        "units": pd.Series([n if n % 3 else None for n in numbers], dtype="Int64"),
        "date_of_service": pd.Series(pd.to_datetime(["2026-03-04"] * count)).astype("datetime64[s]"),
        "signed": pd.Series([True, None] * (count // 2) + [False] * (count % 2), dtype="boolean"),
        "modifiers": pd.Series([["GP"], []] * (count // 2) + [["GP", "59"]] * (count % 2),
                               dtype=pd.ArrowDtype(pa.list_(pa.string()))),
        "source_row": np.arange(first, first + count, dtype="int64"),
    })


def test_a_spilled_bucket_comes_back_with_its_rows_in_order_and_its_dtypes(tmp_path):
    spill = Spill(3, tmp_path / "spill")
    batches = [rows(1, 7), rows(8, 5)]
    for batch in batches:
        spill.add("claim_lines", batch, batch["source_row"].to_numpy() % 3)
    whole = pd.concat(batches, ignore_index=True)
    for bucket in range(3):
        back = spill.load("claim_lines", bucket)
        expected = whole[whole["source_row"] % 3 == bucket].reset_index(drop=True)
        pd.testing.assert_frame_equal(back, expected)
    spill.close()
    assert not (tmp_path / "spill").exists()


def test_a_bucket_without_rows_is_an_empty_frame_of_the_same_columns(tmp_path):
    spill = Spill(4, tmp_path / "spill")
    spill.add("visit_notes", rows(1, 3), np.zeros(3, dtype="int64"))
    empty = spill.load("visit_notes", 2)
    assert empty.empty and empty.dtypes.equals(rows(1, 3).dtypes)


def test_one_bucket_stays_in_memory_and_more_need_a_folder():
    spill = Spill(1)
    spill.add("claim_lines", rows(1, 2), np.zeros(2, dtype="int64"))
    spill.add("claim_lines", rows(3, 2), np.zeros(2, dtype="int64"))
    assert spill.load("claim_lines", 0)["source_row"].tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="folder"):
        Spill(2)


def test_a_released_table_leaves_the_disk_at_once_and_is_never_read_back_empty(tmp_path):
    spill = Spill(2, tmp_path / "spill")
    spill.add("claim_lines", rows(1, 6), np.arange(6) % 2)
    spill.add("visit_notes", rows(1, 4), np.arange(4) % 2)
    spill.release("claim_lines")
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "spill").iterdir()) == ["visit_notes", "visit_notes"]
    with pytest.raises(RuntimeError, match="removed once written"):
        spill.load("claim_lines", 0)  # not an empty frame: a retried write must not write nothing
    assert len(spill.load("visit_notes", 1)) == 2
    spill.close()
