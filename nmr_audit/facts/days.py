"""Day facts: a patient's 97112 units per day (the MUE's grain), and a patient's timed units per
discipline, date and clinic across rendering NPIs (the CMS day pool)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import NMR_CODE
from nmr_audit.facts.common import DAY, KEY, LINE_ID, modifier_rows
from nmr_audit.keys import first_positions, group_numbers, in_order, keys_in, positions
from nmr_audit.money import unit_fee
from nmr_audit.reference import ReferenceData
from nmr_audit.units import units_for_minutes
from nmr_audit.unreadable import rows_with


def patient_day_facts(lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """97112 units per patient and date of service (the contract's MUE grain) against the MUE.

    The MUE row in force on the date (`mue.csv`, the latest `effective_from` on or before it)
    says by its adjudication indicator how it counts (`per`: CMS, Medically Unlikely Edits):
    MAI 1 is a line edit — each line's units against the MUE, the excess summed over the day's
    lines, the finding on the day's largest line; MAI 2 and 3 are date-of-service edits — the
    day's units across lines against it. `mue_units` holds what is compared (the largest line's
    units, or the day's), `mue_edition` the row's edition. A table without `per` counts per day.
    """
    ordered = in_order(lines, [*DAY, *LINE_ID])
    grouped = ordered.groupby(DAY, sort=False)
    days = grouped.agg(units_97112=("units", "sum"), claim_id=("claim_id", "first"),
                       line_number=("line_number", "first"), rendering_npi=("rendering_npi", "first"),
                       clinic_id=("clinic_id", "first"), payer_type=("payer_type", "first"),
                       providers=("rendering_npi", "nunique"), fee_97112=("fee_97112", "first"),
                       ).reset_index()
    mue, per, edition = _mue_on(days["date_of_service"], reference)
    per_line = (per == "line").to_numpy()
    units = days["units_97112"].astype("float64")
    excess = (units - mue).clip(lower=0)
    compared = units
    if per_line.any():  # the line edit: each line of those days against the day's MUE
        day = group_numbers(ordered[DAY], DAY) if len(ordered) else np.zeros(0, dtype="int64")
        line_units = ordered["units"].astype("float64").to_numpy()
        line_mue = mue.to_numpy()[day]
        over = np.clip(line_units - line_mue, 0, None)
        largest = pd.Series(line_units).groupby(day).idxmax().to_numpy()
        line_excess = np.bincount(day, np.nan_to_num(over), minlength=len(days))
        compared = units.where(~per_line, line_units[largest])
        excess = excess.where(~per_line, line_excess)
        top = ordered.iloc[largest]
        days = days.assign(claim_id=days["claim_id"].where(~per_line, top["claim_id"].to_numpy()),
                           line_number=days["line_number"].where(~per_line, top["line_number"].to_numpy()),
                           rendering_npi=days["rendering_npi"].where(~per_line, top["rendering_npi"].to_numpy()))
    return days.assign(row_id=np.arange(len(days)), mue=mue, mue_per=per, mue_units=compared,
                       mue_grain=np.where(per_line, "on one line (MUE line edit, MAI 1)",
                                          "in one day (MUE date-of-service edit)"),
                       mue_edition=edition, mue_excess_units=excess,
                       mue_excess_dollars=excess * days["fee_97112"])


def _mue_on(dates: pd.Series, reference: ReferenceData) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The 97112 MUE in force on each date (the latest row effective on or before it): its value,
    how it counts (`line` or `patient_day`) and its edition (`mue 2026Q1`, `mue packaged`)."""
    table = reference.mue
    rows = table[table["cpt_code"] == NMR_CODE].sort_values("effective_from", kind="stable")
    none = pd.Series(pd.NA, index=dates.index, dtype="str")
    if rows.empty:
        return pd.Series(np.nan, index=dates.index), none.fillna("patient_day"), none
    at = np.searchsorted(rows["effective_from"].to_numpy(), dates.to_numpy(), side="right") - 1
    pick = np.maximum(at, 0)
    values = rows["mue"].to_numpy()[pick].astype("float64")
    per = (rows["per"].astype("str").str.strip().replace("", "patient_day").fillna("patient_day")
           if "per" in rows.columns else pd.Series("patient_day", index=rows.index, dtype="str"))
    layer = f"mue {(reference.layers or {}).get('mue', 'packaged')}"
    own = rows["edition"].astype("str").str.strip() if "edition" in rows.columns else pd.Series(pd.NA, index=rows.index)
    edition = ("mue " + own).where(own.notna() & (own != ""), layer)
    found = at >= 0
    return (pd.Series(np.where(found, values, np.nan), index=dates.index),
            pd.Series(np.where(found, per.to_numpy()[pick], "patient_day"), index=dates.index, dtype="str"),
            pd.Series(np.where(found, edition.to_numpy()[pick], None), index=dates.index, dtype="str"))


DISCIPLINE_DAY_COLUMNS = ("row_id", *DAY, "clinic_id", "discipline", "rendering_npi", "claim_id", "line_number",
                          "payer_type", "rule_basis", "providers", "day_timed_minutes", "day_supported_units",
                          "day_billed_units", "visits_excess_units", "day_excess_units", "checkable", "fee_97112",
                          "day_excess_dollars")


def discipline_day_facts(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, note_services: pd.DataFrame,
                         visits: pd.DataFrame, reference: ReferenceData, note_held: pd.Series) -> pd.DataFrame:
    """One row per patient, date, clinic and discipline (GP, GO, GN) billed under two or more
    rendering NPIs on a day with a 97112 visit: the day's pooled timed minutes against its timed units.

    CMS counts a patient's timed minutes per day (Pub. 100-04 ch. 5 §20.2), and GP, GO and GN are
    separate plans of care (§20.1), so the minutes of one discipline pool across the providers
    who billed that day at one clinic. `day_excess_units` is what the pool shows beyond the
    visits' own excess (each visit's units against its own notes), so only the excess that no
    visit-level check sees is reported. A line's discipline is its GP/GO/GN (else its visit's
    first note's); a note's, its credential's. `checkable` is false, and nothing is claimed, when
    a note of the day gives no timed minutes, has an unknown credential or an unreadable unit
    input, or a note of the day was quarantined (`note_held`: aligned with `visits`). cms basis
    only (the first line's payer terms). `visit_notes` are matched to their visits.
    """
    line_day, note_day = _shared_days(claim_lines, visit_notes, reference)
    lines = in_order(claim_lines[line_day], [*KEY, *LINE_ID])  # the day's first line, whatever the input order
    notes = visit_notes[note_day]
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in DISCIPLINE_DAY_COLUMNS})
    modifier_of = reference.therapy_disciplines.set_index("provider_credential")["therapy_modifier"]
    note_discipline = notes["provider_credential"].map(modifier_of).astype("str")
    line_discipline = _line_discipline(lines, notes, note_discipline, reference)
    note_minutes, minutes_known = _note_timed_minutes(notes, note_services, reference)
    doubtful_notes = (~minutes_known | note_discipline.isna().to_numpy()
                      | rows_with(notes, {"supervising_npi", "total_timed_minutes"}, minutes=True))
    doubtful_days = pd.concat([notes.loc[doubtful_notes, DAY], visits.loc[note_held.to_numpy(), DAY]])
    rows = pd.concat([
        pd.DataFrame({**{c: lines[c].to_numpy() for c in [*KEY, "clinic_id"]}, "discipline": line_discipline,
                      "units": lines["units"].astype("int64").to_numpy(), "minutes": 0, "line": np.arange(len(lines))}),
        pd.DataFrame({**{c: notes[c].to_numpy() for c in [*KEY, "clinic_id"]},
                      "discipline": note_discipline.to_numpy(), "units": 0, "minutes": note_minutes, "line": -1}),
    ], ignore_index=True)
    rows = rows[rows["discipline"].notna().to_numpy()].reset_index(drop=True)
    group = group_numbers(rows, [*DAY, "clinic_id", "discipline"])
    visit = group_numbers(rows, [*KEY, "discipline"])
    count = int(group.max()) + 1
    per_visit = pd.DataFrame({"group": group, "visit": visit, "units": rows["units"], "minutes": rows["minutes"]}
                             ).groupby("visit").agg(group=("group", "first"), units=("units", "sum"),
                                                    minutes=("minutes", "sum"))
    visit_excess = (per_visit["units"] - units_for_minutes(per_visit["minutes"])).clip(lower=0)
    billed = np.bincount(group, rows["units"], minlength=count).astype("int64")
    minutes = np.bincount(group, rows["minutes"], minlength=count).astype("int64")
    providers = np.bincount(per_visit["group"].to_numpy(), minlength=count)  # visits = rendering NPIs here
    excess_seen = np.bincount(per_visit["group"].to_numpy(), visit_excess.to_numpy(), minlength=count).astype("int64")
    supported = units_for_minutes(pd.Series(minutes)).to_numpy()
    is_line = rows["line"].to_numpy() >= 0
    first_line = pd.Series(rows["line"].to_numpy()[is_line]).groupby(group[is_line]).min().reindex(
        range(count), fill_value=-1).to_numpy()
    keep = (providers >= 2) & (first_line >= 0)
    first = lines.iloc[first_line[keep]].reset_index(drop=True)
    terms = reference.payer_terms(first["payer_type"], first["payer_id"] if "payer_id" in first.columns else None)
    top = rows.iloc[first_positions(group, count)[keep]].reset_index(drop=True)
    excess = np.clip(billed[keep] - supported[keep], 0, None) - excess_seen[keep]
    fee = unit_fee(first, NMR_CODE, reference)
    facts = pd.DataFrame({
        "patient_id": top["patient_id"].astype("str"), "date_of_service": top["date_of_service"].astype("datetime64[s]"),
        "clinic_id": top["clinic_id"].astype("str"), "discipline": top["discipline"].astype("str"),
        "rendering_npi": first["rendering_npi"], "claim_id": first["claim_id"], "line_number": first["line_number"],
        "payer_type": first["payer_type"], "rule_basis": terms["rule_basis"],
        "providers": providers[keep].astype("int64"), "day_timed_minutes": minutes[keep],
        "day_supported_units": supported[keep], "day_billed_units": billed[keep],
        "visits_excess_units": excess_seen[keep], "day_excess_units": np.clip(excess, 0, None).astype("int64"),
    })
    checkable = (facts["rule_basis"] == "cms").to_numpy() & ~keys_in(facts, doubtful_days, DAY)
    facts = facts.assign(checkable=checkable, fee_97112=fee, day_excess_dollars=facts["day_excess_units"] * fee)
    facts = in_order(facts, [*DAY, "clinic_id", "discipline"])
    return facts.assign(row_id=np.arange(len(facts)))[list(DISCIPLINE_DAY_COLUMNS)]


def _shared_days(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, reference: ReferenceData
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which timed lines and which notes lie on a patient-day that has a 97112 visit and timed
    lines under two or more rendering NPIs (few days: everything after works on those alone).

    The lines' days numbered once and NPIs counted per day from integer codes; the notes are
    found only for the (few) days that qualify."""
    timed = claim_lines["cpt_code"].isin(reference.timed_codes).to_numpy()
    none = np.zeros(len(claim_lines), dtype=bool), np.zeros(len(visit_notes), dtype=bool)
    if not timed.any():
        return none
    line_day = group_numbers(claim_lines[DAY], DAY)
    npi, _ = pd.factorize(claim_lines["rendering_npi"])
    spread = pd.Series(npi[timed]).groupby(line_day[timed]).agg(["min", "max"])  # two NPIs: min ≠ max
    several = np.zeros(int(line_day.max()) + 1, dtype=bool)
    several[spread.index[spread["min"] != spread["max"]]] = True
    with_97112 = np.zeros(len(several), dtype=bool)
    with_97112[line_day[(claim_lines["cpt_code"] == NMR_CODE).to_numpy()]] = True
    days = several & with_97112
    lines = days[line_day] & timed
    if not lines.any():
        return none
    wanted = claim_lines.loc[lines, DAY].drop_duplicates()
    near = visit_notes["patient_id"].isin(wanted["patient_id"].unique()).to_numpy()  # a cheap cut before the join
    notes = np.zeros(len(visit_notes), dtype=bool)
    notes[np.flatnonzero(near)] = keys_in(visit_notes.loc[near, DAY], wanted, DAY)
    return lines, notes


def _line_discipline(lines: pd.DataFrame, notes: pd.DataFrame, note_discipline: pd.Series,
                     reference: ReferenceData) -> np.ndarray:
    """GP/GO/GN of each line, else the discipline of its visit's first note (missing if neither)."""
    modifiers = modifier_rows(lines["modifiers"])
    own = modifiers[modifiers.isin(reference.modifiers_of("therapy"))].groupby(level=0).first()
    own = own.reindex(range(len(lines))).astype("str")
    if own.isna().any() and len(notes):
        firsts = notes[KEY].assign(discipline=note_discipline.to_numpy()).dropna(subset=["discipline"])
        firsts = firsts.drop_duplicates(KEY)
        at = lines[KEY].reset_index(drop=True).merge(firsts, on=KEY, how="left")["discipline"]
        own = own.fillna(at.astype("str"))
    return own.to_numpy()


def _note_timed_minutes(notes: pd.DataFrame, note_services: pd.DataFrame, reference: ReferenceData
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Each note's timed minutes (itemized, else its stated total) and whether it gives any."""
    note_of = positions(note_services["note_id"], notes["note_id"])
    timed = (note_of >= 0) & note_services["cpt_code"].isin(reference.timed_codes).to_numpy()
    itemized = np.bincount(note_of[timed], note_services["minutes"].fillna(0).astype("int64").to_numpy()[timed],
                           minlength=len(notes)).astype("int64")
    itemizes = notes["itemizes_minutes"].astype("bool").to_numpy() & ~rows_with(notes, minutes=True)
    stated = notes["total_timed_minutes"]
    minutes = np.where(itemizes, itemized, stated.fillna(0).astype("int64").to_numpy())
    return minutes, itemizes | stated.notna().to_numpy()
