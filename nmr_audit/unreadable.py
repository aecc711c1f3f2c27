"""Unreadable optional values: what intake recorded, in the shapes the audit reads.

Intake keeps a row whose optional value is malformed: the value becomes missing and the row's
`unreadable_fields` (list<struct<column, value, expected>>, empty when none) names it. A frame
without the column (older callers, tests) has none. Pure; vectorized through Arrow's list
kernels, never a Python loop over rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import MINUTES_PREFIX, SERVICES_COLUMN

UNREADABLE = "unreadable_fields"
UNREADABLE_TYPE = pd.ArrowDtype(pa.list_(pa.struct([("column", pa.string()), ("value", pa.string()),
                                                    ("expected", pa.string())])))
CELL_COLUMNS = ("row", "column", "value", "expected")


def unreadable_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per unreadable cell of `frame`: `row` (int64 position in `frame`), `column`,
    `value` (as shown safely by intake), `expected` (str). Empty when the column is absent."""
    if UNREADABLE not in frame.columns or frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "str") for c in CELL_COLUMNS})
    lists = pa.array(frame[UNREADABLE], from_pandas=True)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    if not pa.types.is_list(lists.type) and not pa.types.is_large_list(lists.type):
        raise TypeError(f"{UNREADABLE} must be a list of {{column, value, expected}}, not {lists.type}")
    items = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype("int64")
    if not len(items):
        return unreadable_cells(frame.iloc[:0].drop(columns=UNREADABLE))
    field = {name: pd.Series(items.field(name), dtype="str") for name in ("column", "value", "expected")}
    return pd.DataFrame({"row": rows, **field})


def rows_with(frame: pd.DataFrame, columns: set[str] | None = None, minutes: bool = False) -> np.ndarray:
    """Whether each row of `frame` has an unreadable value in one of `columns` (or, with
    `minutes`, in per-code minutes: a `minutes_<CPT>` column or the `services` list)."""
    cells = unreadable_cells(frame)
    hit = cells["column"].isin(list(columns or ()))
    if minutes:
        hit |= cells["column"].str.startswith(MINUTES_PREFIX).fillna(False) | (cells["column"] == SERVICES_COLUMN)
    found = np.zeros(len(frame), dtype=bool)
    found[cells.loc[hit.to_numpy(), "row"].to_numpy()] = True
    return found
