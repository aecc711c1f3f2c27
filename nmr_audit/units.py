"""Units that documented minutes support: the CMS 8-minute rule and the AMA midpoint rule.

Both use the same table (8–22 minutes → 1 unit, 23–37 → 2, …; units = ⌊(M + 7) / 15⌋ from 8
minutes); they differ in what M is. CMS pools the day's timed minutes and then allots the
units among codes (Medicare Claims Processing Manual ch. 5 §20.2); AMA counts each code alone.
Everything here is arithmetic over whole columns: one call covers every visit of a run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def units_for_minutes(minutes: pd.Series) -> pd.Series:
    """The unit table: 0 below 8 minutes, else ⌊(M + 7) / 15⌋."""
    return ((minutes + 7) // 15).where(minutes >= 8, 0).astype("int64")


def fewest_minutes(units: pd.Series) -> pd.Series:
    """The fewest minutes of one code that support `units` units on its own (8, 23, 38, …)."""
    return (units * 15 - 7).clip(lower=0).astype("int64")


def ama_ceiling(minutes: pd.Series, codes: pd.Series) -> pd.Series:
    """The most units `minutes` can support under the AMA rule when split over `codes` codes.

    For notes that give only a total: a unit needs its code to reach 8 minutes, and every
    further unit 15 more, so the best split gives units to j = min(codes, ⌊M / 8⌋) codes and
    supports ⌊(M + 7j) / 15⌋ units in all.
    """
    spread = np.minimum(codes.clip(lower=1), minutes // 8)
    return ((minutes + 7 * spread) // 15).astype("int64")


def cms_allotment(services: pd.DataFrame, visit: str = "visit", favour: str | None = None
                  ) -> pd.Series:
    """Units per (visit, timed code) row under the CMS rule, as a biller would allot them.

    Each code takes its full 15-minute units; the pooled units still left go to the codes with
    the largest remaining minutes. Ties are the provider's choice: `favour` (e.g. 97112) wins
    them, then the earlier row. `services` holds one row per timed code of a visit.
    """
    minutes = services["minutes"].astype("int64")
    rank, left = cms_left_over_rank(services, visit, favour)
    extra = (rank < left) & ((minutes % 15).to_numpy() > 0)
    return pd.Series((minutes // 15).to_numpy() + extra, index=services.index, dtype="int64")


def cms_left_over_rank(services: pd.DataFrame, visit: str = "visit", favour: str | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Each (visit, timed code) row's place in the queue for the units left over once every code
    has its full 15-minute units (0 first: most minutes remaining, then `favour`, then the
    earlier row), and its visit's number of units left over (aligned with the rows). A row with
    minutes remaining gets a left-over unit when its place is below that number."""
    minutes = services["minutes"].astype("int64")
    by_visit = services[visit]
    left = _units_left(minutes, by_visit)
    remainder = minutes % 15
    favoured = (services["cpt_code"] == favour).to_numpy() if favour else np.zeros(len(services), bool)
    group = by_visit.to_numpy() if pd.api.types.is_integer_dtype(by_visit) else pd.factorize(by_visit)[0]
    count = len(services)
    order = np.lexsort((np.arange(count), ~favoured, -remainder.to_numpy(), group))
    in_order = group[order]
    starts = np.ones(count, dtype=bool)
    starts[1:] = in_order[1:] != in_order[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    rank = np.empty(count, dtype="int64")
    rank[order] = np.arange(count) - first
    return rank, left.reindex(by_visit).to_numpy()


def cms_most_units(services: pd.DataFrame, code: str, visit: str = "visit") -> pd.Series:
    """Per visit, the most units `code` can carry under any valid CMS allotment.

    The code keeps its full units and wins one of the units left over when it has remaining
    minutes and fewer other codes than units left have strictly more remaining minutes (ties
    go its way). `services`: one row per (visit, timed code) with `minutes`.
    """
    minutes = services["minutes"].astype("int64")
    by_visit = services[visit]
    left = _units_left(minutes, by_visit)
    is_code = services["cpt_code"] == code
    own = minutes.where(is_code, 0).groupby(by_visit).sum()
    own_remainder = own % 15
    ahead = ((minutes % 15).to_numpy() > own_remainder.reindex(by_visit).to_numpy()) & ~is_code
    ahead_count = pd.Series(ahead, index=services.index).groupby(by_visit).sum()
    wins_extra = (own_remainder > 0) & (ahead_count < left)
    return (own // 15 + wins_extra).astype("int64")


def _units_left(minutes: pd.Series, by_visit: pd.Series) -> pd.Series:
    """Per visit, the pooled units that full 15-minute units leave to allot by remainder."""
    pooled = units_for_minutes(minutes.groupby(by_visit).sum())
    return pooled - (minutes // 15).groupby(by_visit).sum()


DE_MINIMIS_SHARE = 0.10  # CQ/CO when the assistant furnished more than 10% of a unit (CY 2020 PFS final rule)
THERAPIST_ALONE_MINUTES = 8  # a therapist's own minutes that bill the final unit without CQ/CO (CY 2022)


def assistant_units(units: pd.Series, assistant_minutes: pd.Series, therapist_minutes: pd.Series
                    ) -> pd.Series:
    """How many of a timed code's `units` carry CQ/CO, unit by unit, as CMS assigns them.

    The method of CMS's page "Billing Examples Using CQ/CO Modifiers for Services Furnished In
    Whole or In Part by PTAs and OTAs" (Claims Processing Manual ch. 5 §20.1; CY 2020 PFS final
    rule, 84 FR 62702; CY 2022 PFS final rule, 86 FR 64996): the code's units are counted from
    the pooled minutes of both clinicians first (`units`); then each clinician's full 15-minute
    units are theirs — the assistant's with CQ/CO, the therapist's without; the final unit(s)
    left are shared: one goes without CQ/CO when the therapist's remaining minutes alone reach 8
    (the therapist meets the billing requirement for it without the assistant's minutes, CY 2022
    revision), and a unit left after that carries CQ/CO when the assistant's remaining minutes
    exceed 10% of the remaining minutes (the de minimis standard). So two units left where each
    clinician furnished 9–14 minutes are one with CQ/CO and one without. Where fewer units than
    the full units are given, the therapist's full units come first (the reading that asks for
    the fewest CQ/CO units). Minutes are those each clinician furnished on their own note (the
    contract cannot mark time furnished together, which CMS counts as the therapist's).

    Aligned Series of ints (minutes ≥ 0); returns int64 CQ/CO units, 0 … units.
    """
    n = units.astype("int64").to_numpy()
    a = assistant_minutes.fillna(0).astype("int64").to_numpy()
    t = therapist_minutes.fillna(0).astype("int64").to_numpy()
    full_a, full_t = a // 15, t // 15
    rest_a, rest_t = a % 15, t % 15
    left = np.maximum(n - full_a - full_t, 0)
    therapist_final = np.minimum(left, (rest_t >= THERAPIST_ALONE_MINUTES).astype("int64"))
    assistant_share = rest_a > DE_MINIMIS_SHARE * (rest_a + rest_t)
    final = (left - therapist_final) * assistant_share
    shared = np.minimum(full_a, np.maximum(n - full_t, 0)) + final
    return pd.Series(np.clip(shared, 0, n), index=units.index, dtype="int64")
