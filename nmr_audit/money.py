"""What a unit of a code pays: the fee schedule of `data/reference/fee_schedule.csv`.

Dollars at risk are units times the fee for the claim's payer type and the year of service.
A consultant replaces the file with a client's contracted rates; rows not verified from a
primary source say so in the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def fee_per_unit(payer_type: pd.Series, date_of_service: pd.Series, cpt_code: str,
                 fee_schedule: pd.DataFrame) -> pd.Series:
    """The fee for one unit of `cpt_code`, by payer type and year of service.

    A year the schedule lacks takes the latest earlier year of that payer type (or, before the
    schedule starts, its first year); a payer type with no row has no fee (missing).
    """
    rows = fee_schedule[fee_schedule["cpt_code"] == cpt_code][["payer_type", "year", "amount"]]
    wanted = pd.DataFrame({"payer_type": payer_type.astype("str").to_numpy(),
                           "year": date_of_service.dt.year.astype("int64").to_numpy(),
                           "at": np.arange(len(payer_type))})
    if wanted.empty or rows.empty:
        return pd.Series(np.nan, index=payer_type.index, dtype="float64")
    rows = rows.sort_values("year").astype({"year": "int64", "payer_type": "str"})
    ordered = wanted.sort_values("year")
    earlier = pd.merge_asof(ordered, rows, on="year", by="payer_type", direction="backward")
    later = pd.merge_asof(ordered, rows, on="year", by="payer_type", direction="forward")
    amount = earlier["amount"].fillna(later["amount"]).to_numpy()
    result = np.empty(len(wanted))
    result[ordered["at"].to_numpy()] = amount
    return pd.Series(result, index=payer_type.index, dtype="float64")


def fees_per_unit(payer_type: pd.Series, cpt_code: pd.Series, date_of_service: pd.Series,
                  fee_schedule: pd.DataFrame) -> pd.Series:
    """The fee for one unit of each line's own code (dollars, float64; aligned with the inputs),
    by payer type, code and year of service, as `fee_per_unit` finds it for one code: the latest
    earlier year the schedule has (or its first year, before the schedule starts); missing where
    the schedule has no row for the payer type and code. One pair of `merge_asof` over all lines."""
    rows = fee_schedule[["payer_type", "cpt_code", "year", "amount"]].astype(
        {"year": "int64", "payer_type": "str", "cpt_code": "str"}).sort_values("year")
    wanted = pd.DataFrame({"payer_type": payer_type.astype("str").to_numpy(), "cpt_code": cpt_code.astype("str").to_numpy(),
                           "year": date_of_service.dt.year.astype("int64").to_numpy(),
                           "at": np.arange(len(payer_type))})
    if wanted.empty or rows.empty:
        return pd.Series(np.nan, index=payer_type.index, dtype="float64")
    ordered = wanted.sort_values("year", kind="stable")
    by = ["payer_type", "cpt_code"]
    earlier = pd.merge_asof(ordered, rows, on="year", by=by, direction="backward")
    later = pd.merge_asof(ordered, rows, on="year", by=by, direction="forward")
    result = np.empty(len(wanted))
    result[ordered["at"].to_numpy()] = earlier["amount"].fillna(later["amount"]).to_numpy()
    return pd.Series(result, index=payer_type.index, dtype="float64")


def dollars_text(cents: pd.Series) -> pd.Series:
    """Whole cents as dollars for a message (`2510.00`), over a whole column; empty where missing."""
    values = cents.astype("Int64")
    whole = (values // 100).astype("str")
    part = (values % 100).astype("str").str.zfill(2)
    return (whole + "." + part).fillna("").astype("str")
