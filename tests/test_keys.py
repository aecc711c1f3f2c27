"""Composite keys as numbers: membership and ordering over millions of rows, as a merge or a
pandas sort would decide them."""

import numpy as np
import pandas as pd

from nmr_audit.keys import dense_numbers, group_numbers, in_order, keys_in, later_copies


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


def test_group_numbers_run_in_order_of_first_appearance_as_pandas_factorize_numbers_them():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"claim_id": rng.choice(["C1", "C2", "C3", None], 500), "line": rng.integers(1, 4, 500)})
    numbers = group_numbers(frame, ["claim_id", "line"])
    as_tuples = pd.factorize(pd.Series(list(zip(frame["claim_id"], frame["line"], strict=True))))[0]
    assert numbers.tolist() == as_tuples.tolist()
    values = rng.integers(0, 50, 1000)
    assert dense_numbers(values).tolist() == pd.factorize(values)[0].tolist()


def test_later_copies_are_the_rows_pandas_calls_duplicated_each_with_its_first_row():
    frame = pd.DataFrame({"claim_id": ["C1", "C2", "C1", "C1", "C2", "C3"], "line": [1, 1, 1, 2, 1, 1]})
    later, first = later_copies(group_numbers(frame, ["claim_id", "line"]))
    assert later.tolist() == np.flatnonzero(frame.duplicated()).tolist() == [2, 4]
    assert first.tolist() == [0, 1]
