"""CMS's files (as `nmr_audit.io.cms_files` reads them) turned into nmr-audit's reference tables.

Pure: text frames in, typed reference frames out, in the shapes `data/reference/` uses (every
row with `effective_from`, `verified` and `source`), plus what CMS's files add (deletion dates,
the MUE adjudication indicator, rationales). Rows that cannot be read are returned apart with
their reason, never dropped silently.

Sources of the rules encoded here: NCCI Policy Manual for Medicare Services, Introduction (column
1/column 2, modifier indicator 0 = no bypass, 1 = a PTP-associated modifier may bypass, 9 = not
applicable; a deletion date ends an edit); CMS MUE page (MAI 1 = line edit, 2 = date of service
edit: policy, 3 = date of service edit: clinical — 2 and 3 count all units of a day); Physician
Fee Schedule: payment = (work RVU × work GPCI + PE RVU × PE GPCI + MP RVU × MP GPCI) × conversion
factor (42 CFR 414.22; CMS PFS relative value files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PTP_TABLE = ("column_1", "column_2", "modifier_indicator", "effective_from", "effective_to", "verified", "source",
             "deletion_date", "prior_to_1996", "rationale", "edition")
MUE_TABLE = ("cpt_code", "mue", "per", "adjudication_indicator", "adjudication", "rationale", "effective_from",
             "verified", "source", "edition")
MAI_PER = {"1": "line", "2": "patient_day", "3": "patient_day"}


def _dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.where(text.str.fullmatch(r"\d{8}")), format="%Y%m%d", errors="coerce")


def ptp_table(raw: pd.DataFrame, codes: frozenset[str] | None, edition: str, source: str
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ncci_ptp rows, rejected rows with `reason`). `codes`: keep only pairs with either code
    in it (None keeps all). An edit does not apply on or after its deletion date (CMS writes `*`
    when there is none), so `effective_to`, the last day in force, is the day before it; the
    deletion date is kept as given in `deletion_date`. An edit of modifier indicator 9 is
    deleted on the day it took effect: never in force."""
    effective = _dates(raw["effective_date"])
    deleted = _dates(raw["deletion_date"])
    indicator = raw["modifier_indicator"].str[:1]
    bad = pd.Series("", index=raw.index, dtype="object")
    bad[effective.isna()] += "effective date is not YYYYMMDD; "
    bad[deleted.isna() & (raw["deletion_date"] != "*") & (raw["deletion_date"] != "")] += "deletion date is not YYYYMMDD or *; "
    bad[~indicator.isin(["0", "1", "9"])] += "modifier indicator is not 0, 1 or 9; "
    bad[~raw["column_1"].str.fullmatch(r"[0-9A-Z]{5}") | ~raw["column_2"].str.fullmatch(r"[0-9A-Z]{5}")] += (
        "a code is not 5 characters; ")
    ok = (bad == "").to_numpy()
    keep = ok.copy()
    if codes is not None:
        keep &= (raw["column_1"].isin(codes) | raw["column_2"].isin(codes)).to_numpy()
    rows = raw[keep]
    table = pd.DataFrame({
        "column_1": rows["column_1"], "column_2": rows["column_2"], "modifier_indicator": indicator[keep].astype("int64"),
        "effective_from": effective[keep].dt.strftime("%Y-%m-%d"),
        "effective_to": (deleted[keep] - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d").fillna(""),
        "deletion_date": deleted[keep].dt.strftime("%Y-%m-%d").fillna(""),
        "verified": "true", "source": source, "prior_to_1996": (rows["prior_to_1996"] == "*").map({True: "true", False: "false"}),
        "rationale": rows["rationale"], "edition": edition,
    })
    return table.reset_index(drop=True), _rejected(raw, ~ok, bad)


def mue_table(raw: pd.DataFrame, effective_from: str, edition: str, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mue rows, rejected rows). `per` follows the adjudication indicator: MAI 1 → line, 2 and
    3 → patient_day (all units of the day, across lines)."""
    mue = pd.to_numeric(raw["mue"], errors="coerce")
    indicator = raw["adjudication"].str.extract(r"^\s*([123])", expand=False)
    bad = pd.Series("", index=raw.index, dtype="object")
    bad[mue.isna() | (mue < 0) | (mue % 1 != 0)] += "MUE value is not a whole number ≥ 0; "
    bad[indicator.isna()] += "adjudication indicator is not 1, 2 or 3; "
    bad[~raw["cpt_code"].str.fullmatch(r"[0-9A-Z]{5}")] += "code is not 5 characters; "
    ok = (bad == "").to_numpy()
    rows = raw[ok]
    table = pd.DataFrame({
        "cpt_code": rows["cpt_code"], "mue": mue[ok].astype("int64"), "per": indicator[ok].map(MAI_PER),
        "adjudication_indicator": indicator[ok], "adjudication": rows["adjudication"], "rationale": rows["rationale"],
        "effective_from": effective_from, "verified": "true", "source": source, "edition": edition})
    return table.reset_index(drop=True), _rejected(raw, ~ok, bad)


def rvu_table(raw: pd.DataFrame, effective_from: str, edition: str, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pfs_rvu rows: RVUs and conversion factor as numbers, blank RVUs as 0, rejected rows)."""
    numbers = {c: pd.to_numeric(raw[c].replace("", "0"), errors="coerce")
               for c in ("work_rvu", "pe_rvu_nonfacility", "pe_rvu_facility", "mp_rvu", "conversion_factor")}
    bad = pd.Series("", index=raw.index, dtype="object")
    for column, values in numbers.items():
        bad[values.isna()] += f"{column} is not a number; "
    ok = (bad == "").to_numpy()
    table = pd.DataFrame({"cpt_code": raw["cpt_code"], "modifier": raw["modifier"], "description": raw["description"],
                          "status": raw["status"], **numbers})[ok].assign(
        effective_from=effective_from, verified="true", source=source, edition=edition)
    return table.reset_index(drop=True), _rejected(raw, ~ok, bad)


def gpci_table(raw: pd.DataFrame, effective_from: str, edition: str, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(gpci rows: one per MAC and locality, GPCIs as numbers; rejected rows)."""
    numbers = {c: pd.to_numeric(raw[c], errors="coerce") for c in ("work_gpci", "pe_gpci", "mp_gpci")}
    bad = pd.Series("", index=raw.index, dtype="object")
    for column, values in numbers.items():
        bad[values.isna()] += f"{column} is not a number; "
    ok = (bad == "").to_numpy()
    table = pd.DataFrame({"mac": raw["mac"], "state": raw["state"], "locality": raw["locality"].str.zfill(2),
                          "locality_name": raw["locality_name"], **numbers})[ok].assign(
        effective_from=effective_from, verified="true", source=source, edition=edition)
    return table.reset_index(drop=True), _rejected(raw, ~ok, bad)


def locality_fees(rvu: pd.DataFrame, gpci: pd.DataFrame, codes: frozenset[str] | None) -> pd.DataFrame:
    """Fee per unit (dollars, rounded to cents) for each code without modifier × MAC locality:
    (work RVU × work GPCI + PE RVU × PE GPCI + MP RVU × MP GPCI) × conversion factor, in the
    non-facility and facility settings (their PE RVUs). `codes`: the codes to price (None: all)."""
    base = rvu[(rvu["modifier"] == "") & (rvu["cpt_code"].isin(codes) if codes is not None else True)]
    pairs = base.merge(gpci, how="cross", suffixes=("", "_gpci"))
    common = pairs["work_rvu"] * pairs["work_gpci"] + pairs["mp_rvu"] * pairs["mp_gpci"]
    nonfacility = ((common + pairs["pe_rvu_nonfacility"] * pairs["pe_gpci"]) * pairs["conversion_factor"]).round(2)
    facility = ((common + pairs["pe_rvu_facility"] * pairs["pe_gpci"]) * pairs["conversion_factor"]).round(2)
    return pd.DataFrame({
        "mac": pairs["mac"], "locality": pairs["locality"], "locality_name": pairs["locality_name"],
        "cpt_code": pairs["cpt_code"], "nonfacility_amount": nonfacility, "facility_amount": facility,
        "conversion_factor": pairs["conversion_factor"], "effective_from": pairs["effective_from"],
        "verified": "true", "edition": pairs["edition"],
        "source": "computed by nmr-audit: (work RVU × work GPCI + PE RVU × PE GPCI + MP RVU × MP GPCI) × CF from "
                  + pairs["source"] + " and " + pairs["source_gpci"],
    }).reset_index(drop=True)


def _rejected(raw: pd.DataFrame, bad: np.ndarray | pd.Series, reasons: pd.Series) -> pd.DataFrame:
    mask = np.asarray(bad, dtype=bool)
    return raw[mask].assign(reason=reasons[mask].str.rstrip("; ")).reset_index(drop=True)
