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


def bucket_count(claim_lines: int, lines_per_bucket: int, side_by_side: int = 1) -> int:
    """Enough buckets that each holds about `lines_per_bucket` claim lines (at least one).

    More than one is rounded up to a multiple of the buckets audited side by side, so that the
    last bucket does not run alone with the other cores idle (11 buckets of 10M lines on 2 cores
    left one core idle for a bucket's 12 s).
    """
    needed = max(1, math.ceil(claim_lines / max(1, lines_per_bucket)))
    return needed if needed == 1 else math.ceil(needed / max(1, side_by_side)) * max(1, side_by_side)


def patient_buckets(patient_id: pd.Series, buckets: int) -> np.ndarray:
    """The bucket (0 … buckets − 1) of each row's patient."""
    if buckets <= 1:
        return np.zeros(len(patient_id), dtype="int64")
    hashed = pd.util.hash_pandas_object(patient_id, index=False).to_numpy()
    return (hashed % np.uint64(buckets)).astype("int64")
