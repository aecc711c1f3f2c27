import numpy as np
import pandas as pd

from nmr_audit.runtime.buckets import bucket_count, patient_buckets


def test_every_row_of_a_patient_lands_in_the_same_bucket_and_every_bucket_is_used():
    patients = pd.Series([f"P{n % 40}" for n in range(400)], dtype="str")
    bucket = patient_buckets(patients, 4)
    assert bucket.min() == 0 and bucket.max() == 3 and len(np.unique(bucket)) == 4
    per_patient = pd.Series(bucket).groupby(patients.to_numpy()).nunique()
    assert (per_patient == 1).all()


def test_buckets_do_not_depend_on_row_order_or_on_the_other_patients():
    patients = pd.Series(["A1", "B2", "C3", "D4"], dtype="str")
    alone = patient_buckets(pd.Series(["C3"], dtype="str"), 5)
    shuffled = patient_buckets(patients.iloc[::-1].reset_index(drop=True), 5)
    assert patient_buckets(patients, 5)[2] == alone[0] == shuffled[1]


def test_one_bucket_needs_no_hashing_and_the_count_rounds_up():
    assert patient_buckets(pd.Series(["A", "B"], dtype="str"), 1).tolist() == [0, 0]
    assert [bucket_count(n, 1_000) for n in (0, 999, 1_000, 1_001, 10_500)] == [1, 1, 1, 2, 11]


def test_buckets_audited_two_at_a_time_come_in_pairs_so_neither_side_waits_alone_at_the_end():
    assert [bucket_count(n, 1_000, 2) for n in (999, 1_001, 2_500, 10_500)] == [1, 2, 4, 12]
    assert bucket_count(10_500, 1_000, 3) == 12 and bucket_count(12_500, 1_000, 3) == 15
