"""Collects row-level contract violations and spells them out as quarantine reasons."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

Message = str | Callable[[pd.Index], pd.Series]


class RowChecks:
    """Accumulates (mask, message) pairs over one frame's rows.

    Messages are built only for failing rows, so a clean file of millions of lines costs a few
    boolean operations per check.
    """

    def __init__(self, index: pd.Index) -> None:
        self._index = index
        self._checks: list[tuple[pd.Series, Message]] = []

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
