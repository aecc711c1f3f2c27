"""What the fact modules share: keys, and lookups of a note's or a line's values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import VISIT_KEY
from nmr_audit.keys import positions

KEY = list(VISIT_KEY)
LINE_ID = ["claim_id", "line_number"]
DAY = ["patient_id", "date_of_service"]


def by_note(note_ids: pd.Series, all_ids: pd.Series, values: pd.Series) -> pd.Series:
    """`values` (one per note of `all_ids`) looked up for each of `note_ids`; missing where unknown."""
    if not len(all_ids):
        return pd.Series(pd.NA, index=note_ids.index, dtype=values.dtype)
    at = positions(note_ids, all_ids)
    return values.take(np.maximum(at, 0)).set_axis(note_ids.index).where(at >= 0)


def modifier_rows(modifiers: pd.Series) -> pd.Series:
    """One row per modifier, indexed by its line's position."""
    exploded = modifiers.reset_index(drop=True).explode()
    return exploded[exploded.notna()].astype("str")


def any_of(modifiers: pd.Series, wanted: list[str], count: int) -> pd.Series:
    """Per line position 0 … count − 1: whether one of its modifiers (`modifier_rows`) is wanted."""
    hit = modifiers.isin(wanted)
    return hit.groupby(level=0).any().reindex(range(count), fill_value=False).astype("bool")

