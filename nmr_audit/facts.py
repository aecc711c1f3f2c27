"""The facts the rules read, one frame per grain, computed in pandas before any rule runs.

The rule suites (`expectations/*.json`) only compare columns of these frames; every fact that
needs another table (the visit's note, the units the minutes support, a code on the same day
that forms an NCCI pair, the fee for a unit) is joined here. Grains:

- `claim_lines`: one row per 97112 claim line;
- `visits`: one row per 97112 visit (`visits.parquet` plus the visit's first 97112 line);
- `notes`: one row per note of a 97112 visit;
- `patient_days`: one row per patient and date of service with 97112 billed.

Each frame has a `row_id` (0 … n − 1), the id GX reports unexpected rows by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmr_audit.contract import NMR_CODE, VISIT_KEY
from nmr_audit.keys import in_order, positions
from nmr_audit.money import fee_per_unit
from nmr_audit.parse import clock_minutes, modifiers_text
from nmr_audit.reference import ReferenceData

KEY = list(VISIT_KEY)
LINE_ID = ["claim_id", "line_number"]


@dataclass(frozen=True)
class Facts:
    claim_lines: pd.DataFrame
    visits: pd.DataFrame
    notes: pd.DataFrame
    patient_days: pd.DataFrame

    def by_grain(self) -> dict[str, pd.DataFrame]:
        return {"claim_lines": self.claim_lines, "visits": self.visits, "notes": self.notes,
                "patient_days": self.patient_days}


def build_facts(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, note_services: pd.DataFrame,
                visits: pd.DataFrame, reference: ReferenceData) -> Facts:
    lines = line_facts(claim_lines, visits, visit_notes, reference)
    first_lines = lines.loc[lines["line_rank_97112"] == 1, [*KEY, *LINE_ID]]
    return Facts(
        claim_lines=lines,
        visits=visit_facts(visits, first_lines, reference),
        notes=note_facts(visit_notes, note_services, visits, first_lines, reference),
        patient_days=patient_day_facts(lines, reference),
    )


def line_facts(claim_lines: pd.DataFrame, visits: pd.DataFrame, visit_notes: pd.DataFrame,
               reference: ReferenceData) -> pd.DataFrame:
    """97112 lines with their visit's note, the modifiers they carry and should carry, and value."""
    nmr = in_order(claim_lines[claim_lines["cpt_code"] == NMR_CODE], [*KEY, *LINE_ID])
    facts = nmr.merge(visits[[*KEY, "note_id"]], on=KEY, how="left").reset_index(drop=True)
    credential = _by_note(facts["note_id"], visit_notes["note_id"], visit_notes["provider_credential"])
    discipline = reference.therapy_disciplines.set_index("provider_credential")
    assistant_modifier = credential.map(discipline["assistant_modifier"])
    modifiers = _modifier_rows(facts["modifiers"])
    therapy = modifiers[modifiers.isin(reference.modifiers_of("therapy"))].groupby(level=0).first()
    bypass = _any_of(modifiers, reference.modifiers_of("ncci_bypass"), len(facts))
    fee = fee_per_unit(facts["payer_type"], facts["date_of_service"], NMR_CODE, reference.fee_schedule)
    units = facts["units"].astype("int64")
    first = facts.groupby(KEY, sort=False)[LINE_ID].transform("first")
    facts = facts.assign(
        row_id=np.arange(len(facts)),
        modifiers=modifiers_text(facts["modifiers"]),
        has_note=facts["note_id"].notna(),
        provider_credential=credential,
        therapy_modifier=therapy.reindex(facts.index).astype("str"),
        expected_therapy_modifier=credential.map(discipline["therapy_modifier"]).astype("str"),
        needs_assistant_modifier=(assistant_modifier.fillna("").ne("")
                                  & facts["payer_type"].isin(reference.medicare_payer_types)).astype("bool"),
        expected_assistant_modifier=assistant_modifier.astype("str"),
        has_assistant_modifier=_any_of(modifiers, reference.modifiers_of("assistant"), len(facts)),
        has_ncci_bypass_modifier=bypass,
        line_rank_97112=facts.groupby(KEY, sort=False).cumcount() + 1,
        first_claim_id=first["claim_id"],
        first_line_number=first["line_number"],
        fee_97112=fee,
        value_dollars=units * fee,
        assistant_dollars=units * fee * reference.policy("assistant_payment_reduction"),
    )
    return facts.assign(**_ncci_partner(facts, claim_lines, reference))


def _by_note(note_ids: pd.Series, all_ids: pd.Series, values: pd.Series) -> pd.Series:
    """`values` (one per note of `all_ids`) looked up for each of `note_ids`; missing where unknown."""
    if not len(all_ids):
        return pd.Series(pd.NA, index=note_ids.index, dtype=values.dtype)
    at = positions(note_ids, all_ids)
    return values.take(np.maximum(at, 0)).set_axis(note_ids.index).where(at >= 0)


def _modifier_rows(modifiers: pd.Series) -> pd.Series:
    """One row per modifier, indexed by its line's position."""
    exploded = modifiers.reset_index(drop=True).explode()
    return exploded[exploded.notna()].astype("str")


def _any_of(modifiers: pd.Series, wanted: list[str], count: int) -> pd.Series:
    hit = modifiers.isin(wanted)
    return hit.groupby(level=0).any().reindex(range(count), fill_value=False).astype("bool")


def _ncci_partner(facts: pd.DataFrame, claim_lines: pd.DataFrame, reference: ReferenceData
                  ) -> dict[str, pd.Series]:
    """The code billed on the same visit that forms an NCCI PTP pair with 97112 in force on the
    date of service, where neither line carries a bypass modifier (59, XE, XS, XP, XU)."""
    ptp = reference.ncci_ptp
    partners = pd.concat([
        ptp[ptp["column_1"] == NMR_CODE].assign(partner=ptp["column_2"]),
        ptp[ptp["column_2"] == NMR_CODE].assign(partner=ptp["column_1"]),
    ])[["partner", "modifier_indicator", "effective_from", "effective_to", "verified"]]
    others = claim_lines.loc[claim_lines["cpt_code"].isin(partners["partner"]).to_numpy(),
                             [*KEY, "cpt_code", "modifiers"]]  # only what the pairing reads: no copy of the rest
    none = pd.Series(pd.NA, index=facts.index, dtype="str")
    if others.empty:
        return {"ncci_pair_without_modifier": none, "ncci_pair_verified": none}
    other_mods = _modifier_rows(others["modifiers"])
    others = others.reset_index(drop=True).assign(
        other_bypass=_any_of(other_mods, reference.modifiers_of("ncci_bypass"), len(others)))
    pairs = facts[["row_id", *KEY, "has_ncci_bypass_modifier"]].merge(
        others[[*KEY, "cpt_code", "other_bypass"]], on=KEY).merge(
        partners, left_on="cpt_code", right_on="partner")
    in_force = (pairs["effective_from"] <= pairs["date_of_service"]) & (
        pairs["effective_to"].isna() | (pairs["date_of_service"] <= pairs["effective_to"]))
    open_pairs = pairs[in_force & ~pairs["has_ncci_bypass_modifier"] & ~pairs["other_bypass"]]
    first = open_pairs.sort_values(["row_id", "partner"]).groupby("row_id").first()
    return {
        "ncci_pair_without_modifier": first["partner"].reindex(facts["row_id"]).set_axis(facts.index).astype("str"),
        "ncci_pair_verified": first["verified"].map({True: "verified", False: "unverified"})
        .reindex(facts["row_id"]).set_axis(facts.index).astype("str"),
    }


def visit_facts(visits: pd.DataFrame, first_lines: pd.DataFrame, reference: ReferenceData
                ) -> pd.DataFrame:
    """`visits.parquet` rows with the facts the unit rules compare, and what the excess is worth."""
    facts = visits.merge(first_lines, on=KEY, how="left")
    fee = fee_per_unit(facts["payer_type"], facts["date_of_service"], NMR_CODE, reference.fee_schedule)
    has_note = facts["note_id"].notna()
    timed_excess = (facts["billed_timed_units"] - facts["supported_timed_units"]).clip(lower=0)
    beyond_97112 = (timed_excess - facts["excess_units_97112"]).clip(lower=0)
    return facts.assign(
        row_id=np.arange(len(facts)),
        has_note=has_note,
        documents_no_97112_time=(has_note & facts["itemizes_minutes"]
                                 & facts["minutes_97112"].fillna(0).eq(0)).astype("bool"),
        timed_excess_units=timed_excess,
        units_below_time=(facts["supported_units_97112"] - facts["billed_units_97112"]).clip(lower=0),
        timed_units_to_spare=facts["billed_timed_units"] < facts["supported_timed_units"],
        fee_97112=fee,
        excess_dollars=facts["excess_units_97112"] * fee,
        billed_97112_dollars=facts["billed_units_97112"] * fee,
        timed_beyond_97112_dollars=beyond_97112 * fee,
    )


def note_facts(visit_notes: pd.DataFrame, note_services: pd.DataFrame, visits: pd.DataFrame,
               first_lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """Notes of 97112 visits with session length, itemized minutes and plan-of-care age."""
    context = visits[[*KEY, "payer_type", "lines_97112", "billed_units_97112"]].merge(
        first_lines, on=KEY, how="left")
    notes = in_order(visit_notes.merge(context, on=KEY), ["note_id"])
    timed = note_services["cpt_code"].isin(reference.timed_codes)
    note_of = positions(note_services["note_id"], notes["note_id"])
    minutes = note_services["minutes"].fillna(0).astype("int64").to_numpy()
    all_minutes = np.bincount(note_of[note_of >= 0], minutes[note_of >= 0], minlength=len(notes))
    timed_of = (note_of >= 0) & timed.to_numpy()
    timed_minutes = np.bincount(note_of[timed_of], minutes[timed_of], minlength=len(notes))
    itemizes = notes["itemizes_minutes"].astype("bool")
    fee = fee_per_unit(notes["payer_type"], notes["date_of_service"], NMR_CODE, reference.fee_schedule)
    return notes.assign(
        row_id=np.arange(len(notes)),
        medicare_rules=notes["payer_type"].isin(reference.medicare_payer_types),
        billed_97112=notes["lines_97112"] > 0,
        days_since_plan_of_care=(notes["date_of_service"] - notes["plan_of_care_signed_date"]).dt.days,
        session_minutes=clock_minutes(notes["time_out"]) - clock_minutes(notes["time_in"]),
        itemized_minutes=pd.Series(all_minutes.astype("int64"), dtype="Int64").where(itemizes),
        itemized_timed_minutes=pd.Series(timed_minutes.astype("int64"), dtype="Int64").where(itemizes),
        billed_97112_dollars=notes["billed_units_97112"] * fee,
    )


def patient_day_facts(lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """97112 units per patient and date of service (the contract's MUE grain) against the MUE."""
    day = ["patient_id", "date_of_service"]
    grouped = in_order(lines, [*day, *LINE_ID]).groupby(day, sort=False)
    days = grouped.agg(units_97112=("units", "sum"), claim_id=("claim_id", "first"),
                       line_number=("line_number", "first"), rendering_npi=("rendering_npi", "first"),
                       clinic_id=("clinic_id", "first"), payer_type=("payer_type", "first"),
                       providers=("rendering_npi", "nunique"), fee_97112=("fee_97112", "first"),
                       ).reset_index()
    mue = _mue_on(days["date_of_service"], reference)
    excess = (days["units_97112"] - mue).clip(lower=0)
    return days.assign(row_id=np.arange(len(days)), mue=mue, mue_excess_units=excess,
                       mue_excess_dollars=excess * days["fee_97112"])


def _mue_on(dates: pd.Series, reference: ReferenceData) -> pd.Series:
    """The 97112 MUE in force on each date (the latest row effective on or before it)."""
    rows = reference.mue[reference.mue["cpt_code"] == NMR_CODE].sort_values("effective_from")
    if rows.empty:
        return pd.Series(np.nan, index=dates.index)
    at = np.searchsorted(rows["effective_from"].to_numpy(), dates.to_numpy(), side="right") - 1
    values = rows["mue"].to_numpy()[np.maximum(at, 0)].astype("float64")
    return pd.Series(np.where(at >= 0, values, np.nan), index=dates.index)
