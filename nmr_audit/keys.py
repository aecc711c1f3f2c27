"""Dense group numbers for composite keys: the cheap way to group millions of rows.

Each key column is factorized and the codes combined into one integer, far cheaper than
grouping on several text/date columns; numbers run 0, 1, … in order of first appearance, so
per-group sums can be `bincount`s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.parse import arrow_text


def group_numbers(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One number per row: rows with the same values in `columns` share it, missing values
    included (frame not empty)."""
    codes = [pd.factorize(frame[column], use_na_sentinel=False)[0] for column in columns]
    if len(codes) == 1:
        return codes[0]
    return dense_numbers(np.ravel_multi_index(codes, [int(c.max()) + 1 for c in codes]))


def key_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 per row, equal for rows with equal `columns` (missing values included), not
    dense: enough to test membership (`Series.isin`) without `group_numbers`' stable sort."""
    codes = [pd.factorize(frame[column], use_na_sentinel=False)[0] for column in columns]
    if len(codes) == 1:
        return codes[0].astype("int64")
    return np.ravel_multi_index(codes, [int(c.max()) + 1 for c in codes]).astype("int64")


def dense_numbers(values: np.ndarray) -> np.ndarray:
    """0, 1, … per distinct value, in order of first appearance, by a stable sort: pandas'
    hash-based `factorize` took 3.5 s for 10M distinct combined keys, this 0.9 s (rows of one
    claim or visit mostly lie together, and a stable sort runs fast over runs already in order)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.ones(len(values), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    first = order[starts]  # the first row of each value, values in sorted order
    rank = np.empty(len(first), dtype="int64")
    rank[np.argsort(first)] = np.arange(len(first))
    numbers = np.empty(len(values), dtype="int64")
    numbers[order] = rank[np.cumsum(starts) - 1]
    return numbers


def later_copies(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rows whose group (`group_numbers`) an earlier row already had, and the
    position of that group's first row for each."""
    seen = np.maximum.accumulate(group)
    is_first = np.ones(len(group), dtype=bool)
    is_first[1:] = group[1:] > seen[:-1]  # numbers run in order of first appearance
    later = np.flatnonzero(~is_first)
    return later, np.flatnonzero(is_first)[group[later]]


def keys_in(frame: pd.DataFrame, other: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Whether each row's key (`columns`) occurs in `other`; missing values match each other, as
    in a merge. One numbering over both frames: a merge or MultiIndex lookup on three text and
    date columns took 2 s for 4M visits."""
    if frame.empty or other.empty:
        return np.zeros(len(frame), dtype=bool)
    number = group_numbers(pd.concat([frame[columns], other[columns]], ignore_index=True), columns)
    return np.isin(number[:len(frame)], number[len(frame):])


def first_positions(group: np.ndarray, count: int) -> np.ndarray:
    """Row position of each group's first row; −1 for a group with no row."""
    first = np.full(count, -1, dtype="int64")
    numbers, positions = np.unique(group, return_index=True)
    first[numbers] = positions
    return first


def positions(values: pd.Series, universe: pd.Series) -> np.ndarray:
    """Where each text value (an id) first occurs in `universe`, −1 where it does not.

    Arrow's hash lookup: `pd.Index(text).get_indexer` on pyarrow-backed text goes through Python
    objects and took 11 s for 10M lookups into 4M note ids; this takes 2 s.
    """
    found = pc.index_in(arrow_text(values), value_set=arrow_text(universe))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")


def in_order(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Stable sort, ascending, missing last, by Arrow's multi-key sort (pandas took 8 s for 4M
    visits and 5 s for 750,000 findings)."""
    return frame.take(order_of(frame, columns)).reset_index(drop=True)


def order_of(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The row positions of `frame` in `in_order`'s order (int64)."""
    keys = pa.table({c: pa.array(frame[c]) for c in columns})
    return pc.sort_indices(keys, sort_keys=[(c, "ascending", "at_end") for c in columns]).to_numpy()
