"""Code-pair facts: one row per pair of claim lines of one visit whose codes form an edit in
force on the date of service — any pair of codes, not only pairs with 97112.

Two tables of edits meet here, each row a (column 1, column 2) pair with its dates:

- `ncci_ptp.csv` (CMS's practitioner PTP edits; `nmr-audit reference import --ptp`): the column-2
  code is denied when billed with the column-1 code by the same provider for the same patient
  on the same day, unless the edit's modifier indicator is 1 and one of the lines carries an
  NCCI-associated modifier (59, XE, XS, XP, XU: `modifiers.csv` kind `ncci_bypass`). Indicator 0
  edits cannot be bypassed; indicator 9 edits are never in force (NCCI Policy Manual for
  Medicare Services, Introduction; the bypass on either line: nmr-audit contract v1);
- `payer_edits.csv` (a payer's own edits beside NCCI's): a row names a `payer_id` (that payer
  only) or a `payer_type` (every payer of that type), the pair, and the bypass modifiers the
  payer accepts (`bypass_modifiers`, space- or comma-separated; empty: none bypasses it).

A pair applies from `effective_from` through `effective_to` (the last day in force; empty: still
in force). The visit is the contract's visit key (patient, date of service, rendering NPI); the
payer is the column-2 line's. Rules read this frame: PAYER_EDIT (suite `code_pairs`) over the
payer rows; MISSING_NCCI_MODIFIER over the NCCI rows of 97112 lines (`ncci_partners`, which the
line facts take), so an NCCI finding stays an NCCI finding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.facts.common import KEY, LINE_ID, modifier_rows
from nmr_audit.money import unit_fees
from nmr_audit.parse import modifiers_text
from nmr_audit.reference import ReferenceData
from nmr_audit.unreadable import rows_with

NCCI, PAYER = "ncci", "payer"
CODE_PAIR_COLUMNS = (
    "row_id", *KEY, "clinic_id", "payer_type", "payer_id", "claim_id", "line_number", "cpt_code", "modifiers",
    "units", "partner_claim_id", "partner_line_number", "partner_code", "partner_modifiers", "edit", "column_1",
    "column_2", "modifier_indicator", "bypass_modifiers", "bypassed", "checkable", "verified", "edit_source", "edition",
    "fee", "value_dollars",
)
_EDIT_COLUMNS = ("edit", "column_1", "column_2", "modifier_indicator", "bypass", "bypass_modifiers", "effective_from",
                 "effective_to", "verified", "edit_source", "edition", "edit_payer_id", "edit_payer_type")


def edits(reference: ReferenceData) -> pd.DataFrame:
    """The NCCI and payer edits as one table (`_EDIT_COLUMNS`): `bypass` the list of modifiers
    that bypass each (NCCI: the `ncci_bypass` modifiers where the indicator is 1, none otherwise),
    `edition` the row's imported edition or the table's layer (`packaged`, `home`, `reference`)."""
    layers = reference.layers or {}
    ptp = reference.ncci_ptp
    bypass = reference.modifiers_of("ncci_bypass")
    indicator = ptp["modifier_indicator"].astype("int64")
    ncci = pd.DataFrame({
        "edit": NCCI, "column_1": ptp["column_1"].astype("str"), "column_2": ptp["column_2"].astype("str"),
        "modifier_indicator": indicator,
        "bypass": [list(bypass) if i == 1 else [] for i in indicator],
        "bypass_modifiers": np.where(indicator == 1, " ".join(bypass), "none (modifier indicator "
                                     + indicator.astype("str") + ")"),
        "effective_from": ptp["effective_from"], "effective_to": ptp["effective_to"],
        "verified": ptp["verified"].astype("bool"), "edit_source": ptp["source"].astype("str"),
        "edition": _edition(ptp, "ncci_ptp", layers), "edit_payer_id": pd.NA, "edit_payer_type": pd.NA})
    parts = [ncci]
    payer = reference.payer_edits
    if payer is not None and len(payer):
        allowed = payer["bypass_modifiers"].fillna("").astype("str").str.upper().str.replace(",", " ").str.split()
        parts.append(pd.DataFrame({
            "edit": PAYER, "column_1": payer["column_1"].astype("str"), "column_2": payer["column_2"].astype("str"),
            "modifier_indicator": pd.NA, "bypass": allowed.tolist(),
            "bypass_modifiers": allowed.map(lambda m: " ".join(m) if m else "none"),
            "effective_from": payer["effective_from"], "effective_to": payer["effective_to"],
            "verified": payer["verified"].astype("bool"), "edit_source": payer["source"].astype("str"),
            "edition": _edition(payer, "payer_edits", layers),
            "edit_payer_id": payer["payer_id"].replace("", pd.NA), "edit_payer_type": payer["payer_type"].replace("", pd.NA)}))
    table = pd.concat(parts, ignore_index=True)
    return table.astype({"edit_payer_id": "str", "edit_payer_type": "str", "modifier_indicator": "Int64"})[
        list(_EDIT_COLUMNS)]


def _edition(table: pd.DataFrame, name: str, layers: dict[str, str]) -> pd.Series:
    """`<table> <edition>` per row: an imported row's own edition (its quarter), else its layer."""
    layer = f"{name} {layers.get(name, 'packaged')}"
    if "edition" not in table.columns:
        return pd.Series(layer, index=table.index, dtype="str")
    own = table["edition"].astype("str").str.strip()
    return (name + " " + own).where(own.notna() & (own != ""), layer).astype("str")


def code_pair_facts(claim_lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """One row per (column-2 line, column-1 line, edit) of one visit, the edit in force on the date
    and applicable to the column-2 line's payer (`CODE_PAIR_COLUMNS`).

    `claim_lines`: canonical claim lines (any codes). The row is about the column-2 line (the
    one the payer denies: claim_id, line_number, cpt_code, units) and names its partner.
    `bypassed`: a modifier the edit accepts is on either line; `checkable`: both lines' modifiers
    were readable (else a bypass may have been there: no rule fires). `fee` and `value_dollars`
    price the column-2 line (`money.unit_fees`). Vectorized: only lines whose code is in some
    edit are joined, visit by visit.
    """
    table = edits(reference)
    codes = set(table["column_1"]) | set(table["column_2"])
    wanted = claim_lines["cpt_code"].isin(codes).to_numpy()
    if not wanted.any():
        return _empty()
    columns = [*KEY, *LINE_ID, "clinic_id", "payer_type", "payer_id", "cpt_code", "modifiers", "units"]
    lines = claim_lines.loc[wanted, [c for c in columns if c in claim_lines.columns]].reset_index(drop=True)
    if "payer_id" not in lines:
        lines["payer_id"] = pd.Series(pd.NA, index=lines.index, dtype="str")
    lines = lines.assign(position=np.arange(len(lines)),
                         unreadable=rows_with(claim_lines, {"modifiers"})[wanted])
    first = lines[lines["cpt_code"].isin(table["column_1"]).to_numpy()]
    second = lines[lines["cpt_code"].isin(table["column_2"]).to_numpy()]
    second = second.rename(columns={c: f"b_{c}" for c in lines.columns if c not in KEY})
    pairs = first.merge(second, on=KEY)  # the visit's pairs of lines (a few per visit), then their edits
    pairs = pairs[(pairs["position"] != pairs["b_position"]).to_numpy()]
    pairs = pairs.merge(table, left_on=["cpt_code", "b_cpt_code"], right_on=["column_1", "column_2"])
    date = pairs["date_of_service"]
    in_force = (pairs["effective_from"] <= date) & (pairs["effective_to"].isna() | (date <= pairs["effective_to"]))
    payer_id, payer_type = pairs["b_payer_id"].astype("str"), pairs["b_payer_type"].astype("str")
    applies = ((pairs["edit"] == NCCI) | (pairs["edit_payer_id"].notna() & (pairs["edit_payer_id"] == payer_id))
               | (pairs["edit_payer_id"].isna() & (pairs["edit_payer_type"] == payer_type))).fillna(False)
    pairs = pairs[(in_force & applies).to_numpy()].reset_index(drop=True)
    if pairs.empty:
        return _empty()
    bypassed = _bypassed(pairs, lines, reference.modifiers_of("ncci_bypass"))
    facts = pd.DataFrame({
        **{c: pairs[c] for c in KEY}, "clinic_id": pairs["b_clinic_id"], "payer_type": pairs["b_payer_type"],
        "payer_id": pairs["b_payer_id"], "claim_id": pairs["b_claim_id"], "line_number": pairs["b_line_number"],
        "cpt_code": pairs["column_2"], "modifiers": modifiers_text(pairs["b_modifiers"]), "units": pairs["b_units"],
        "partner_claim_id": pairs["claim_id"], "partner_line_number": pairs["line_number"],
        "partner_code": pairs["column_1"], "partner_modifiers": modifiers_text(pairs["modifiers"]),
        "edit": pairs["edit"], "column_1": pairs["column_1"], "column_2": pairs["column_2"],
        "modifier_indicator": pairs["modifier_indicator"], "bypass_modifiers": pairs["bypass_modifiers"],
        "bypassed": bypassed, "checkable": ~(pairs["unreadable"].to_numpy() | pairs["b_unreadable"].to_numpy()),
        "verified": pairs["verified"].map({True: "verified", False: "unverified"}).astype("str"),
        "edit_source": pairs["edit_source"], "edition": pairs["edition"]})
    facts = facts.sort_values([*KEY, *LINE_ID, "partner_code", "partner_claim_id", "partner_line_number", "edit"],
                              kind="stable").reset_index(drop=True)
    priced = unit_fees(facts, facts["cpt_code"], reference)
    facts = facts.assign(row_id=np.arange(len(facts)), fee=priced["fee"].to_numpy(),
                         value_dollars=facts["units"].astype("float64").to_numpy() * priced["fee"].to_numpy())
    return facts[list(CODE_PAIR_COLUMNS)]


def _bypassed(pairs: pd.DataFrame, lines: pd.DataFrame, ncci_bypass: list[str]) -> np.ndarray:
    """Whether one of the modifiers each pair's edit accepts is on either of its lines: for NCCI
    edits of indicator 1 the `ncci_bypass` modifiers (a flag per paired line, computed once), for
    payer edits each row's own list."""
    paired = np.unique(np.concatenate([pairs["position"].to_numpy(), pairs["b_position"].to_numpy()]))
    held = modifier_rows(lines["modifiers"].iloc[paired])  # the paired lines' modifiers, one row each
    held = pd.DataFrame({"position": paired[held.index.to_numpy()], "modifier": held.to_numpy()})
    flag = np.zeros(len(lines), dtype=bool)
    flag[held.loc[held["modifier"].isin(ncci_bypass).to_numpy(), "position"].to_numpy()] = True
    ncci = (pairs["edit"] == NCCI).to_numpy()
    indicator = pairs["modifier_indicator"].fillna(0).to_numpy(dtype="int64")
    hit = ncci & (indicator == 1) & (flag[pairs["position"].to_numpy()] | flag[pairs["b_position"].to_numpy()])
    own = pairs.loc[~ncci, "bypass"].explode().dropna()  # the payer edits' own lists (few rows)
    if own.empty:
        return hit
    asked = pd.DataFrame({"pair": own.index.to_numpy(), "modifier": own.astype("str").to_numpy()})
    for side in ("position", "b_position"):
        on_line = asked.assign(position=pairs[side].to_numpy()[asked["pair"].to_numpy()])
        hit[on_line.merge(held, on=["position", "modifier"])["pair"].unique()] = True
    return hit


def ncci_partners(pairs: pd.DataFrame, facts: pd.DataFrame) -> dict[str, pd.Series]:
    """For each 97112 line of `facts` (claim_id, line_number, row_id, modifiers_readable): the
    first code (by code) it forms an NCCI edit with on its visit, on either side, in force, not
    bypassed and both lines' modifiers readable — `ncci_pair_without_modifier` — whether that
    edit's row is verified (`ncci_pair_verified`) and its edition (`ncci_pair_edition`). Missing
    where there is none."""
    none = pd.Series(pd.NA, index=facts.index, dtype="str")
    open_pairs = pairs[(pairs["edit"] == NCCI).to_numpy() & pairs["checkable"].to_numpy() & ~pairs["bypassed"].to_numpy()]
    if open_pairs.empty or facts.empty:
        return {"ncci_pair_without_modifier": none, "ncci_pair_verified": none, "ncci_pair_edition": none}
    kept = ["verified", "edition"]
    as_column_2 = pd.DataFrame({"claim_id": open_pairs["claim_id"], "line_number": open_pairs["line_number"],
                                "partner": open_pairs["partner_code"], **{c: open_pairs[c] for c in kept}})
    as_column_1 = pd.DataFrame({"claim_id": open_pairs["partner_claim_id"],
                                "line_number": open_pairs["partner_line_number"],
                                "partner": open_pairs["cpt_code"], **{c: open_pairs[c] for c in kept}})
    both = pd.concat([as_column_2, as_column_1], ignore_index=True).astype({"line_number": "Int64"})
    mine = facts.loc[facts["modifiers_readable"].to_numpy(), ["row_id", *LINE_ID]].astype({"line_number": "Int64"})
    found = mine.merge(both, on=LINE_ID).sort_values(["row_id", "partner"], kind="stable").groupby("row_id").first()
    return {
        "ncci_pair_without_modifier": found["partner"].reindex(facts["row_id"]).set_axis(facts.index).astype("str"),
        "ncci_pair_verified": found["verified"].reindex(facts["row_id"]).set_axis(facts.index).astype("str"),
        "ncci_pair_edition": found["edition"].reindex(facts["row_id"]).set_axis(facts.index).astype("str"),
    }


def _empty() -> pd.DataFrame:
    types = {"date_of_service": "datetime64[s]", "row_id": "int64", "line_number": "Int64", "partner_line_number": "Int64",
             "units": "Int64", "bypassed": "bool", "checkable": "bool", "fee": "float64", "value_dollars": "float64",
             "modifier_indicator": "Int64"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "str")) for c in CODE_PAIR_COLUMNS})
