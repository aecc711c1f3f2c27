"""Patient buckets: how a run larger than memory is audited one slice of patients at a time.

Every grain the rules read (claim line, visit, note, patient-day) lies within one patient, so
all of a patient's rows must land in one bucket. A stable hash of `patient_id` decides which:
the same on every machine and in every run, so a bucketed run writes the findings a run held
whole in memory writes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def bucket_count(claim_lines: int, lines_per_bucket: int) -> int:
    """Enough buckets that each holds about `lines_per_bucket` claim lines (at least one)."""
    return max(1, math.ceil(claim_lines / max(1, lines_per_bucket)))


def patient_buckets(patient_id: pd.Series, buckets: int) -> np.ndarray:
    """The bucket (0 … buckets − 1) of each row's patient."""
    if buckets <= 1:
        return np.zeros(len(patient_id), dtype="int64")
    hashed = pd.util.hash_pandas_object(patient_id, index=False).to_numpy()
    return (hashed % np.uint64(buckets)).astype("int64")
