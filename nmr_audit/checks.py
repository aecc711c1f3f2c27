"""Collects row-level contract violations: quarantine reasons, and unreadable optional values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Message = str | Callable[[pd.Index], pd.Series]

UNREADABLE_ENTRY = pa.struct([("column", pa.string()), ("value", pa.string()), ("expected", pa.string())])
UNREADABLE_TYPE = pa.list_(UNREADABLE_ENTRY)
UNREADABLE_DTYPE = pd.ArrowDtype(UNREADABLE_TYPE)
SHOWN_CHARACTERS = 80  # of an unreadable value, in its entry


class RowChecks:
    """Accumulates (mask, message) pairs over one frame's rows.

    Messages are built only for failing rows, so a clean file of millions of lines costs a few
    boolean operations per check. A failed check quarantines its row; an unreadable optional
    value (`unreadable`) only records an entry for the row's `unreadable_fields`.
    """

    def __init__(self, index: pd.Index) -> None:
        self._index = index
        self._checks: list[tuple[pd.Series, Message]] = []
        self._unreadable: list[tuple[pd.Series, str, pd.Series, str]] = []

    def add(self, failed: pd.Series, message: Message) -> None:
        """`message`: one text for every failing row, or a function of the failing rows' index."""
        self._checks.append((failed.fillna(False).astype(bool), message))

    def require(self, values: pd.Series, column: str) -> None:
        self.add(values.isna(), f"{column} is missing")

    def malformed(self, failed: pd.Series, column: str, text: pd.Series, expected: str) -> None:
        """A present cell that does not parse: quote it (truncated) and say what was expected.

        The quote is built for the failing rows only, when the reasons are asked for.
        """
        def message(rows: pd.Index) -> pd.Series:
            return f"{column} '" + text.loc[rows].astype("str").str.slice(0, 40) + f"' is not {expected}"

        self.add(failed, message)

    def unreadable(self, failed: pd.Series, column: str, text: pd.Series, expected: str) -> None:
        """An optional value that cannot be read: the row keeps its place, the value is set aside
        as {column, value as read, expected} in the row's `unreadable_fields`."""
        failed = failed.fillna(False).astype(bool)
        if failed.any():
            self._unreadable.append((failed, column, text, expected))

    def failed(self) -> pd.Series:
        failed = pd.Series(False, index=self._index)
        for mask, _ in self._checks:
            failed = failed | mask
        return failed

    def reasons(self) -> pd.Series:
        """One '; '-joined reason per failing row, in the order the checks were added."""
        failed = self.failed()
        reasons = pd.Series("", index=self._index[failed.to_numpy()], dtype="str")
        for mask, message in self._checks:
            hit = mask[failed]
            if not hit.any():
                continue
            text = message if isinstance(message, str) else message(hit.index[hit.to_numpy()])
            joined = reasons[hit].where(reasons[hit] == "", reasons[hit] + "; ") + text
            reasons = reasons.mask(hit, joined)
        return reasons

    def unreadable_fields(self) -> pd.Series:
        """Per row, the list of its unreadable optional values, in the order they were checked
        (an empty list for most rows): built column-wise from the failing cells only."""
        rows = len(self._index)
        if not self._unreadable:
            return pd.Series(pd.arrays.ArrowExtensionArray(_empty_lists(rows)), index=self._index)
        positions, columns, values, expected = [], [], [], []
        for mask, column, text, wanted in self._unreadable:
            at = np.flatnonzero(mask.to_numpy())
            positions.append(at)
            columns.append(np.full(len(at), column, dtype=object))
            values.append(shown(text.iloc[at]).to_numpy(dtype=object, na_value=None))
            expected.append(np.full(len(at), wanted, dtype=object))
        where = np.concatenate(positions)
        order = np.argsort(where, kind="stable")  # by row, then check order
        entries = pa.StructArray.from_arrays(
            [pa.array(np.concatenate(part)[order], pa.string()) for part in (columns, values, expected)],
            fields=list(UNREADABLE_ENTRY))
        offsets = np.concatenate([[0], np.cumsum(np.bincount(where, minlength=rows))]).astype("int32")
        lists = pa.ListArray.from_arrays(pa.array(offsets), entries, type=UNREADABLE_TYPE)
        return pd.Series(pd.arrays.ArrowExtensionArray(lists), index=self._index)


def _empty_lists(rows: int) -> pa.Array:
    offsets = pa.array(np.zeros(rows + 1, dtype="int32"))
    return pa.ListArray.from_arrays(offsets, pa.array([], UNREADABLE_ENTRY), type=UNREADABLE_TYPE)


def empty_unreadable(index: pd.Index) -> pd.Series:
    """An `unreadable_fields` column with no entries (frames built without validation)."""
    return pd.Series(pd.arrays.ArrowExtensionArray(_empty_lists(len(index))), index=index)


def shown(values: pd.Series) -> pd.Series:
    """A cell as read, shown safely: text, control characters as `?`, at most 80 characters.

    Plain text: nothing is interpreted (a leading `=` stays as written; the report layer defuses)."""
    text = pa.array(values.astype("str").array, type=pa.string()) if len(values) else pa.array([], pa.string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = pc.replace_substring_regex(text, r"[\x00-\x1f\x7f]", "?")
    return pd.Series(pc.utf8_slice_codeunits(text, 0, SHOWN_CHARACTERS), index=values.index, dtype="str")
