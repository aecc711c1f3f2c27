"""Buckets' frames kept column by column and merged a column at a time: the merged frames equal
the concatenated and sorted ones, every dtype as it was."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nmr_audit.findings import FINDING_COLUMNS, FINDING_ORDER, empty_findings, finding_order, ordered
from nmr_audit.pipeline import Audited
from nmr_audit.runtime.buckets import BucketAudit, stored
from nmr_audit.runtime.results import merge_buckets
from nmr_audit.runtime.stored_frames import HeldFrames, StoredFrames, merged, write_frames
from nmr_audit.visits import NOTE_IDS_TYPE, VISIT_ORDER, in_visit_order, visit_order


def visits(count: int, seed: int) -> pd.DataFrame:
    """Visits of every dtype a bucket's visits carry, missing values in each, in no order."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "patient_id": pd.Series([f"P{p:03d}" for p in rng.integers(0, 30, count)], dtype="str"),
        "date_of_service": (pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 60, count), unit="D")
                            ).astype("datetime64[ms]"),
        "rendering_npi": pd.Series([f"{1000000000 + seed * 1000 + i}" for i in range(count)], dtype="str"),
        "clinic_id": pd.Series(rng.choice(["C1", "C2", None], count), dtype="str"),
        "minutes_97112": pd.array([None if i % 5 == 0 else int(m) for i, m in enumerate(rng.integers(0, 60, count))],
                                  dtype="Int64"),
        "billed_units_97112": rng.integers(0, 5, count),
        "excess_units_97112": rng.integers(0, 2, count),
        "note_quarantined": rng.random(count) < 0.2,
        "note_ids": pd.Series(pa.array([[f"N{seed}-{i}"] if i % 3 else [] for i in range(count)],
                                       pa.list_(pa.string())), dtype=NOTE_IDS_TYPE),
    })


def findings(count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = empty_findings().reindex(range(count))
    frame = frame.assign(
        finding_id=[f"F{seed}-{i:04d}" for i in range(count)],
        rule_id=rng.choice(["UNITS_EXCEED_MINUTES", "NO_NOTE", "MISSING_GP"], count),
        severity=rng.choice(["high", "medium", "info"], count),
        claim_id=[None if i % 4 == 0 else f"C{rng.integers(0, 50)}" for i in range(count)],
        line_number=pd.array([None if i % 4 == 0 else int(i % 3 + 1) for i in range(count)], dtype="Int64"),
        clinic_id=rng.choice(["C1", "C2"], count),
        date_of_service=pd.to_datetime("2026-02-01") + pd.to_timedelta(rng.integers(0, 20, count), unit="D"),
        dollars_at_risk=pd.array(rng.random(count).round(2), dtype="Float64"),
        message=[f"message {i}" for i in range(count)])
    return ordered(frame)


def assert_same_frames(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_stored_frames_come_back_column_by_column_with_every_dtype_as_it_was(tmp_path):
    frame = visits(40, 1)
    path = write_frames(tmp_path / "b.frames", {"visits": frame, "findings": findings(9, 1),
                                                "empty": frame.iloc[:0]})
    back = StoredFrames(path)
    assert back.columns("visits") == list(frame.columns) and back.rows("visits") == 40
    assert_same_frames(back.frame("visits"), frame)
    pd.testing.assert_series_equal(back.column("visits", "note_ids"), frame["note_ids"])
    assert back.rows("empty") == 0 and back.frame("empty").dtypes.equals(frame.dtypes)
    assert_same_frames(back.frame("findings"), findings(9, 1))


def test_a_file_cut_short_is_said_to_be_no_stored_frames(tmp_path):
    (tmp_path / "cut.frames").write_bytes(b"\x00\x01")
    with pytest.raises(ValueError, match="not a file of stored frames"):
        StoredFrames(tmp_path / "cut.frames")


def test_merging_a_column_at_a_time_equals_concatenating_and_sorting(tmp_path):
    parts = [visits(50, 0), visits(0, 1), visits(35, 2), visits(1, 3)]  # an empty bucket among them
    sources = [HeldFrames({"visits": p}) if n % 2 else StoredFrames(write_frames(tmp_path / f"{n}.frames", {"visits": p}))
               for n, p in enumerate(parts)]
    got, source = merged(sources, "visits", VISIT_ORDER, visit_order)
    tagged = pd.concat([p.assign(_part=n) for n, p in enumerate(parts)], ignore_index=True)
    want = in_visit_order(tagged)
    assert_same_frames(got, want.drop(columns="_part"))
    assert source.tolist() == want["_part"].tolist()


def test_merged_findings_are_in_the_order_and_dtypes_of_a_whole_run():
    parts = [findings(30, 0), empty_findings(), findings(12, 5)]
    got, _ = merged([HeldFrames({"findings": p}) for p in parts], "findings", FINDING_ORDER, finding_order,
                    FINDING_COLUMNS, list(FINDING_COLUMNS))
    assert_same_frames(got, ordered(pd.concat(parts, ignore_index=True)))
    assert got["severity"].iloc[0] == "high" and got["severity"].iloc[-1] == "info"


def test_a_merge_of_stored_buckets_reads_them_and_removes_their_files(tmp_path):
    done = []
    for bucket, (count, seed) in enumerate([(20, 7), (25, 8)]):
        audited = Audited(in_visit_order(visits(count, seed)), findings(count // 2, seed),
                          {"reconcile_units": 1.0, "apply_rules": 2.0}, {"PROGRESS_REPORT_OVERDUE": "no flag"})
        done.append(stored(BucketAudit(audited, pd.DataFrame({"row": [bucket]}), count), bucket, tmp_path / "results"))
    files = [d.path for d in done]
    audit = merge_buckets(done, 0.0, None, 2)
    assert not any(path.exists() for path in files) and done == []
    assert len(audit.visits) == 45 and audit.visits.equals(in_visit_order(audit.visits))
    assert len(audit.findings) == 22 and audit.seconds["apply_rules"] == 4.0
    assert audit.skipped == {"PROGRESS_REPORT_OVERDUE": "no flag"} and audit.quarantine["row"].tolist() == [0, 1]
