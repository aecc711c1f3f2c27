"""A large run's visits on disk bucket by bucket: visits.parquet and the reports' rows as a run
held in memory makes them."""

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nmr_audit.explain import ALLOTMENT_TYPE
from nmr_audit.findings import empty_findings
from nmr_audit.io.writers import write_parquet
from nmr_audit.pipeline import Audited
from nmr_audit.runtime import visit_parts
from nmr_audit.runtime.buckets import BucketAudit
from nmr_audit.runtime.results import merge_buckets
from nmr_audit.runtime.visit_parts import DETAIL_COLUMNS, KEPT_COLUMNS, write_part
from nmr_audit.visits import NOTE_IDS_TYPE, in_visit_order


def visits_frame(count: int, seed: int) -> pd.DataFrame:
    """Visits with the columns that order them, a count, and the three detail columns (some
    missing values in each), in no particular order."""
    rng = np.random.default_rng(seed)
    patients = rng.integers(0, 40, count)
    notes = [[f"N{seed}-{i}", f"N{seed}-{i}b"] if i % 3 else [] for i in range(count)]
    allotment = [[{"cpt_code": "97112", "minutes": int(m) if i % 5 else None, "units": int(m // 15), "cq_units": 0}]
                 if i % 4 else [] for i, m in enumerate(rng.integers(8, 60, count))]
    return pd.DataFrame({
        "patient_id": pd.Series([f"P{p:03d}" for p in patients], dtype="str"),
        "date_of_service": pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 90, count), unit="D"),
        "rendering_npi": pd.Series([f"{1000000000 + i}" for i in range(count)], dtype="str"),  # keys unique
        "clinic_id": pd.Series(rng.choice(["C1", "C2", None], count), dtype="str"),
        "billed_units_97112": rng.integers(0, 5, count),
        "payer_type": pd.Series(rng.choice(["medicare", "commercial", None], count), dtype="str"),  # left in the parts
        "minutes_97112": pd.array([None if i % 6 == 0 else int(m) for i, m in enumerate(rng.integers(0, 60, count))],
                                  dtype="Int64"),
        "note_ids": pd.Series(pa.array(notes, pa.list_(pa.string())), dtype=NOTE_IDS_TYPE),
        "explanation": pd.Series([f"cms: visit {seed}-{i}" if i % 7 else None for i in range(count)], dtype="str"),
        "allotment": pd.Series(pa.array(allotment, ALLOTMENT_TYPE.pyarrow_dtype), dtype=ALLOTMENT_TYPE),
        "note_quarantined": rng.random(count) < 0.1,
    })


def plain(values: pd.Series) -> list:
    """Values as Python lists/strings, missing as None (list columns read back as arrays)."""
    return [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
            else v if isinstance(v, str) else [dict(x) if isinstance(x, dict) else x for x in v] for v in values]


def bucket_runs(tmp_path, sizes: list[int]) -> tuple[pd.DataFrame, list[BucketAudit]]:
    """The whole run's visits, and the same visits audited as buckets of `sizes` whose parts
    were written to tmp_path/parts."""
    buckets = [visits_frame(size, seed) for seed, size in enumerate(sizes)]
    whole = in_visit_order(pd.concat(buckets, ignore_index=True))
    done = []
    for number, visits in enumerate(buckets):
        slim = write_part(tmp_path / "parts", number, visits)
        done.append(BucketAudit(Audited(slim, empty_findings(), {
            "reconcile_units": 0.0, "apply_rules": 0.0}), pd.DataFrame(), len(visits)))
    return whole, done


@pytest.mark.parametrize("sizes", [[120, 0, 75, 210], [5], [0, 0]])
def test_visits_written_from_bucket_parts_equal_the_whole_run_written_at_once(tmp_path, monkeypatch, sizes):
    monkeypatch.setattr(visit_parts, "CHUNK_VISITS", 64)  # several chunks, each taking from several parts
    whole, done = bucket_runs(tmp_path, sizes)
    audit = merge_buckets(done, time.perf_counter(), None, 0, tmp_path / "parts")
    assert audit.parts is not None and set(audit.visits.columns) <= set(KEPT_COLUMNS)
    pd.testing.assert_frame_equal(audit.visits, whole[list(audit.visits.columns)])  # the kept columns, in order
    assert {"payer_type", "minutes_97112", *DETAIL_COLUMNS}.isdisjoint(audit.visits.columns)
    audit.parts.write(tmp_path / "from_parts.parquet")
    write_parquet(whole, tmp_path / "at_once.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "from_parts.parquet"),
                                  pd.read_parquet(tmp_path / "at_once.parquet"))


def test_the_reports_get_the_details_of_the_visits_they_list_and_no_others(tmp_path):
    whole, done = bucket_runs(tmp_path, [90, 60, 150])
    audit = merge_buckets(done, time.perf_counter(), None, 0, tmp_path / "parts")
    shown = np.zeros(len(audit.visits), dtype=bool)
    shown[::3] = True
    detailed = audit.parts.with_details(audit.visits, shown)
    expected = whole[shown]
    assert list(detailed.columns) == list(whole.columns)  # visits.parquet's column order
    assert detailed["explanation"].dtype == whole["explanation"].dtype
    for column in DETAIL_COLUMNS:
        assert plain(detailed[column]) == plain(expected[column])
    pd.testing.assert_frame_equal(detailed.drop(columns=list(DETAIL_COLUMNS)), expected.drop(columns=list(DETAIL_COLUMNS)))
    assert detailed["minutes_97112"].dtype == "Int64" and detailed["payer_type"].dtype == "str"  # read back as made


def test_no_visit_listed_gives_no_rows_with_the_detail_columns_of_the_right_kind(tmp_path):
    _, done = bucket_runs(tmp_path, [20, 30])
    audit = merge_buckets(done, time.perf_counter(), None, 0, tmp_path / "parts")
    detailed = audit.parts.with_details(audit.visits, np.zeros(len(audit.visits), dtype=bool))
    assert detailed.empty and set(DETAIL_COLUMNS) <= set(detailed.columns)
    assert isinstance(detailed["allotment"].dtype, pd.ArrowDtype) and detailed["explanation"].dtype == "str"
