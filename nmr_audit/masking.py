"""Patient ids in reports shared outside the compliance team: kept, replaced by a keyed hash, or dropped.

The hash is HMAC-SHA-256 under a key the client keeps, so the same patient gets the same
pseudonym in every report of that client (rows can still be followed across runs) and nobody
without the key can recompute it from a patient id. Parquet outputs always keep the raw ids.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

import pandas as pd

Masking = Literal["keep", "hash", "drop"]


def mask_patients(frame: pd.DataFrame, how: Masking, key: bytes | None = None) -> pd.DataFrame:
    """`frame` with its `patient_id` column kept, pseudonymized (`P-` + 16 hex) or removed."""
    if how == "keep" or "patient_id" not in frame.columns:
        return frame
    if how == "drop":
        return frame.drop(columns="patient_id")
    if not key:
        raise ValueError("hashing patient ids needs a key (NMR_AUDIT_MASK_KEY or --mask-key-file)")
    distinct = frame["patient_id"].dropna().unique()
    pseudonyms = {p: "P-" + hmac.new(key, str(p).encode(), hashlib.sha256).hexdigest()[:16] for p in distinct}
    return frame.assign(patient_id=frame["patient_id"].map(pseudonyms).astype("str"))
