"""Composite keys as numbers: membership and ordering over millions of rows, as a merge or a
pandas sort would decide them."""

import numpy as np
import pandas as pd

from nmr_audit.keys import in_order, keys_in


def test_a_key_is_in_the_other_frame_only_when_every_column_matches_missing_matching_missing():
    visits = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3"], "npi": ["A", "B", "A", None]}, dtype="str")
    found = pd.DataFrame({"patient_id": ["P1", "P3", "P9"], "npi": ["B", None, "A"]}, dtype="str")
    assert keys_in(visits, found, ["patient_id", "npi"]).tolist() == [False, True, False, True]
    merged = visits.reset_index().merge(found.drop_duplicates(), on=["patient_id", "npi"])["index"]
    assert np.flatnonzero(keys_in(visits, found, ["patient_id", "npi"])).tolist() == sorted(merged)
    assert keys_in(visits, found.iloc[:0], ["patient_id"]).tolist() == [False] * 4


def test_rows_are_ordered_stably_with_missing_values_last():
    frame = pd.DataFrame({"rule": ["B", "A", None, "A"], "line": pd.array([1, None, 3, 1], dtype="Int64"),
                          "tag": ["w", "x", "y", "z"]})
    ordered = in_order(frame, ["rule", "line"])
    assert ordered["tag"].tolist() == ["z", "x", "w", "y"]
    assert ordered["tag"].tolist() == frame.sort_values(["rule", "line"], kind="stable", na_position="last")["tag"].tolist()
