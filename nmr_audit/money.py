"""What a unit of a code pays: the fee schedule of `data/reference/fee_schedule.csv`, or, where
CMS's Physician Fee Schedule was imported, its locality fees (`unit_fees`).

Dollars at risk are units times the fee for the claim's payer type and the year of service.
A consultant replaces the file with a client's contracted rates; rows not verified from a
primary source say so in the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.reference import ReferenceData


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


def unit_fee(rows: pd.DataFrame, cpt_code: str, reference: ReferenceData) -> pd.Series:
    """The fee (dollars) for one unit of `cpt_code` on each row of `rows` (payer_type,
    date_of_service, clinic_id): `unit_fees` without the editions (the facts' money)."""
    if reference.pfs_fees is None and reference.pfs_rvu is None:  # the usual case: one lookup, no labels
        return fee_per_unit(rows["payer_type"], rows["date_of_service"], cpt_code, reference.fee_schedule)
    return unit_fees(rows, cpt_code, reference)["fee"]


def unit_fees(rows: pd.DataFrame, cpt_code: str | pd.Series, reference: ReferenceData) -> pd.DataFrame:
    """Fee per unit of `cpt_code` (one code, or one per row) and the edition it was taken from.

    Where CMS's Physician Fee Schedule has been imported (`nmr-audit reference import --pfs`:
    `pfs_fees.csv`, `pfs_rvu.csv` in the reference home), rows of a Medicare-rules payer type
    (`payer_rule_basis.csv` medicare_rules: medicare, medicare_advantage) are priced from it: the
    non-facility fee of the clinic's MAC locality (`clinics.csv` mac, locality) in force on the
    date of service (42 CFR 414.22; payment = RVUs × GPCIs × conversion factor); a clinic whose
    locality is not given is priced at the national amount (every GPCI 1.000: (work + non-facility
    PE + MP RVU) × conversion factor) and the edition says so — an approximation, since claims do
    not carry the locality (837P's service ZIP would need CMS's ZIP-to-locality file, not
    imported). Every other row, and every row when the PFS is not imported, takes
    `fee_schedule.csv` (`fee_per_unit`: by payer type and year). Returns `fee` (float64, missing
    where no table prices it) and `fee_edition` (`pfs_fees 2026Q1 locality 01131/18`,
    `pfs_rvu 2026Q1 national (clinic locality unknown)`, `fee_schedule packaged`), aligned with `rows`.
    """
    codes = cpt_code if isinstance(cpt_code, pd.Series) else pd.Series(cpt_code, index=rows.index, dtype="str")
    if isinstance(cpt_code, pd.Series):
        fee = fees_per_unit(rows["payer_type"], codes, rows["date_of_service"], reference.fee_schedule)
    else:
        fee = fee_per_unit(rows["payer_type"], rows["date_of_service"], cpt_code, reference.fee_schedule)
    layer = (reference.layers or {}).get("fee_schedule", "packaged")
    edition = pd.Series(f"fee_schedule {layer}", index=rows.index, dtype="str")
    if reference.pfs_fees is None and reference.pfs_rvu is None:
        return pd.DataFrame({"fee": fee, "fee_edition": edition})
    medicare = rows["payer_type"].isin(list(reference.medicare_payer_types)).to_numpy()
    if not medicare.any():
        return pd.DataFrame({"fee": fee, "fee_edition": edition})
    where = _clinic_localities(rows["clinic_id"] if "clinic_id" in rows else pd.Series(pd.NA, index=rows.index),
                               reference)
    wanted = pd.DataFrame({"at": np.flatnonzero(medicare), "cpt_code": codes.to_numpy()[medicare],
                           "date_of_service": rows["date_of_service"].to_numpy()[medicare],
                           "locality": where.to_numpy()[medicare]})
    priced = _pfs_fees(wanted, reference)
    found = priced["fee"].notna().to_numpy()
    at = priced["at"].to_numpy()[found]
    fee.iloc[at] = priced["fee"].to_numpy()[found]
    edition.iloc[at] = priced["fee_edition"].to_numpy()[found]
    return pd.DataFrame({"fee": fee, "fee_edition": edition})


def _clinic_localities(clinics: pd.Series, reference: ReferenceData) -> pd.Series:
    """`mac/locality` of each row's clinic in `clinics.csv` (missing where not given)."""
    table = reference.clinics
    if table is None or not {"mac", "locality"} <= set(table.columns):
        return pd.Series(pd.NA, index=clinics.index, dtype="str")
    given = table[(table["mac"].astype("str").str.strip() != "") & (table["locality"].astype("str").str.strip() != "")]
    key = given["mac"].astype("str").str.strip() + "/" + given["locality"].astype("str").str.strip().str.zfill(2)
    return clinics.map(pd.Series(key.to_numpy(), index=given["clinic_id"].astype("str"))).astype("str")


def _pfs_fees(wanted: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """`wanted` (at, cpt_code, date_of_service, locality `mac/locality` or missing) priced from the
    imported PFS: the locality's non-facility fee in force on the date, else the national amount."""
    out = wanted.assign(fee=np.nan, fee_edition=pd.Series(pd.NA, index=wanted.index, dtype="str"))
    fees = reference.pfs_fees
    if fees is not None and len(fees) and wanted["locality"].notna().any():
        table = fees.assign(locality=fees["mac"].astype("str") + "/" + fees["locality"].astype("str").str.zfill(2))
        found = _in_force(wanted[wanted["locality"].notna()], table, ["cpt_code", "locality"], "nonfacility_amount")
        label = "pfs_fees " + found["edition"].fillna("") + " locality " + found["locality"]
        out.loc[found.index, "fee"] = found["value"]
        out.loc[found.index, "fee_edition"] = label.where(found["value"].notna())
    rvu = reference.pfs_rvu
    left = out["fee"].isna()
    if rvu is not None and len(rvu) and left.any():
        base = rvu[rvu["modifier"].fillna("").astype("str").str.strip() == ""]
        national = base.assign(value=((base["work_rvu"] + base["pe_rvu_nonfacility"] + base["mp_rvu"])
                                      * base["conversion_factor"]).round(2))
        found = _in_force(out[left], national, ["cpt_code"], "value")
        reason = np.where(out.loc[found.index, "locality"].isna(), "clinic locality unknown",
                          "locality not in pfs_fees")
        out.loc[found.index, "fee"] = found["value"]
        out.loc[found.index, "fee_edition"] = ("pfs_rvu " + found["edition"].fillna("") + " national (" + reason
                                               + ")").where(found["value"].notna())
    return out


def _in_force(wanted: pd.DataFrame, table: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    """For each row of `wanted`, the `column` value (as `value`) and `edition` of the latest row of
    `table` with the same `by` values effective on or before its date of service (NaN where none),
    indexed like `wanted`."""
    rows = table.assign(value=table[column].astype("float64"),
                        edition=table["edition"].astype("str") if "edition" in table else pd.Series(
                            "", index=table.index, dtype="str"),
                        effective_from=pd.to_datetime(table["effective_from"]).astype("datetime64[s]"))
    rows = rows[[*by, "effective_from", "value", "edition"]].sort_values("effective_from")
    asked = wanted.assign(date_of_service=pd.to_datetime(wanted["date_of_service"]).astype("datetime64[s]"),
                          _row=np.arange(len(wanted))).sort_values("date_of_service")
    matched = pd.merge_asof(asked, rows, left_on="date_of_service", right_on="effective_from", by=by,
                            direction="backward")
    matched = matched.sort_values("_row")
    return pd.DataFrame({"value": matched["value"].to_numpy(), "edition": matched["edition"].to_numpy(),
                         "locality": matched["locality"].to_numpy() if "locality" in matched else pd.NA},
                        index=wanted.index)


def dollars(value: float | None) -> str:
    """`value` (dollars) as people write money: "$1,234.50", "-$431.39" (the sign before the
    dollar sign), "" for None."""
    if value is None:
        return ""
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"
