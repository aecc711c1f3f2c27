"""Units that documented minutes support: the CMS 8-minute rule and the AMA midpoint rule.

Both use the same table (8–22 minutes → 1 unit, 23–37 → 2, …; units = ⌊(M + 7) / 15⌋ from 8
minutes); they differ in what M is. CMS pools the day's timed minutes and then allots the
units among codes (Medicare Claims Processing Manual ch. 5 §20.2); AMA counts each code alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def units_for_minutes(minutes: pd.Series) -> pd.Series:
    """The unit table: 0 below 8 minutes, else ⌊(M + 7) / 15⌋."""
    return ((minutes + 7) // 15).where(minutes >= 8, 0).astype("int64")


def cms_allotment(services: pd.DataFrame, visit: str = "visit") -> pd.Series:
    """Units per (visit, timed code) row under the CMS rule.

    Each code takes its full 15-minute units; the pooled units still left go to the codes with
    the largest remaining minutes (ties: the earlier row). `services` holds one row per timed
    code of a visit with `minutes`.
    """
    minutes = services["minutes"].astype("int64")
    by_visit = services[visit]
    pooled = units_for_minutes(minutes.groupby(by_visit).transform("sum"))
    full = minutes // 15
    left = pooled - full.groupby(by_visit).transform("sum")
    remainder = minutes % 15
    order = pd.DataFrame({"v": by_visit.to_numpy(), "r": -remainder.to_numpy(),
                          "i": np.arange(len(services))})
    rank = order.sort_values(["v", "r", "i"]).groupby("v").cumcount().sort_index().to_numpy()
    extra = (rank < left.to_numpy()) & (remainder.to_numpy() > 0)
    return pd.Series(full.to_numpy() + extra, index=services.index, dtype="int64")
