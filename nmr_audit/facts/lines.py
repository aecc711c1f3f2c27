"""Line facts: one row per 97112 claim line, with its visit's notes and the modifiers it carries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import NMR_CODE
from nmr_audit.facts.code_pairs import code_pair_facts, ncci_partners
from nmr_audit.facts.common import DAY, KEY, LINE_ID, any_of, by_note, modifier_rows
from nmr_audit.keys import in_order, keys_in
from nmr_audit.money import unit_fee
from nmr_audit.parse import modifiers_text
from nmr_audit.reference import ReferenceData
from nmr_audit.unreadable import rows_with


def line_facts(claim_lines: pd.DataFrame, visits: pd.DataFrame, visit_notes: pd.DataFrame,
               reference: ReferenceData, held: pd.DataFrame | None = None,
               code_pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """97112 lines with their visit's note, the modifiers they carry and should carry, and value.

    `visit_notes` are matched to their visits (`visits.match_notes`); `held` (aligned with
    `visits`: `note_quarantined`) marks visits whose note was quarantined. Columns the line
    suite reads: `has_note`, `no_note_checkable` (no quarantined note and no note whose
    supervising NPI was unreadable that day), `modifiers_readable`, `therapy_modifier`,
    `expected_therapy_modifier` (the line's own when any note of the visit is of its
    discipline), `ncci_pair_without_modifier` (from the code-pair facts, `facts.code_pairs`,
    computed here when `code_pairs` is not given), `is_duplicate_line` (a second line of 97112
    for the visit other than a CQ/CO split), and the fee and value in dollars.
    """
    readable = ~rows_with(claim_lines, {"modifiers"})
    nmr_at = (claim_lines["cpt_code"] == NMR_CODE).to_numpy()
    nmr = in_order(claim_lines[nmr_at].assign(modifiers_readable=readable[nmr_at]), [*KEY, *LINE_ID])
    context = visits[[*KEY, "note_id"]]
    if held is not None:
        context = context.assign(note_quarantined=held["note_quarantined"].to_numpy())
    facts = nmr.merge(context, on=KEY, how="left").reset_index(drop=True)
    credential = by_note(facts["note_id"], visit_notes["note_id"], visit_notes["provider_credential"])
    discipline = reference.therapy_disciplines.set_index("provider_credential")
    modifiers = modifier_rows(facts["modifiers"])
    therapy = modifiers[modifiers.isin(reference.modifiers_of("therapy"))].groupby(level=0).first()
    therapy = therapy.reindex(facts.index).astype("str")
    bypass = any_of(modifiers, reference.modifiers_of("ncci_bypass"), len(facts))
    assistant = any_of(modifiers, reference.modifiers_of("assistant"), len(facts))
    fee = unit_fee(facts, NMR_CODE, reference)
    units = facts["units"].astype("int64")
    visit = _runs(facts)  # facts are sorted by visit: a visit's lines are one run
    start = np.flatnonzero(np.r_[True, visit[1:] != visit[:-1]]) if len(visit) else np.zeros(0, "int64")
    rank = np.arange(len(facts)) - start[visit] + 1 if len(visit) else np.zeros(0, "int64")
    expected = credential.map(discipline["therapy_modifier"]).astype("str")
    documented = _documented_disciplines(facts, therapy, expected, visit_notes, discipline["therapy_modifier"])
    held_note = facts["note_quarantined"].fillna(False).astype("bool") if "note_quarantined" in facts else False
    facts = facts.assign(
        row_id=np.arange(len(facts)),
        modifiers=modifiers_text(facts["modifiers"]),
        has_note=facts["note_id"].notna(),
        no_note_checkable=~(held_note | _link_unreadable(facts, visit_notes)),
        provider_credential=credential,
        therapy_modifier=therapy,
        expected_therapy_modifier=expected.mask(documented, therapy),
        has_assistant_modifier=assistant,
        has_ncci_bypass_modifier=bypass,
        line_rank_97112=rank,
        first_claim_id=facts["claim_id"].take(start[visit]).set_axis(facts.index) if len(visit) else facts["claim_id"],
        first_line_number=facts["line_number"].take(start[visit]).set_axis(facts.index) if len(visit)
        else facts["line_number"],
        fee_97112=fee,
        value_dollars=units * fee,
    )
    facts = facts.assign(is_duplicate_line=duplicate_lines(facts, modifiers, reference, visit))
    pairs = code_pair_facts(claim_lines, reference) if code_pairs is None else code_pairs
    return facts.assign(**ncci_partners(pairs, facts))


def _runs(facts: pd.DataFrame) -> np.ndarray:
    """0, 1, … per visit of `facts` sorted by the visit key: a new number where the key changes."""
    if facts.empty:
        return np.zeros(0, dtype="int64")
    changed = np.zeros(len(facts), dtype=bool)
    changed[0] = True
    for column in KEY:
        values = facts[column].to_numpy()
        changed[1:] |= values[1:] != values[:-1]
    return np.cumsum(changed) - 1


def duplicate_lines(facts: pd.DataFrame, modifiers: pd.Series, reference: ReferenceData,
                    visit: np.ndarray | None = None) -> pd.Series:
    """Whether each 97112 line (sorted by visit and line) repeats an earlier one of its visit.

    Medicare wants a timed code on one line per date; the one exception is a split into a line
    with CQ/CO and a line without (CMS's billing examples). So a line is a duplicate when an
    earlier line of the visit has the same CQ/CO status, or when its other modifiers differ from
    the first line's. A visit with a line whose modifiers were unreadable is not judged.
    """
    visit = _runs(facts) if visit is None else visit
    several = np.bincount(visit, minlength=int(visit.max()) + 1)[visit] > 1 if len(visit) else np.zeros(0, bool)
    if not several.any():  # most visits have one 97112 line: nothing to compare
        return pd.Series(False, index=facts.index, dtype="bool")
    lines = np.flatnonzero(several)
    judged = duplicate_lines_of(facts.iloc[lines].reset_index(drop=True),
                                modifiers[np.isin(modifiers.index.to_numpy(), lines)], reference, lines, visit[lines])
    result = np.zeros(len(facts), dtype=bool)
    result[lines] = judged
    return pd.Series(result, index=facts.index, dtype="bool")


def duplicate_lines_of(facts: pd.DataFrame, modifiers: pd.Series, reference: ReferenceData, at: np.ndarray,
                       visit: np.ndarray) -> np.ndarray:
    """`duplicate_lines` over the lines of visits with several 97112 lines (`at`: their positions
    in the full frame, which index `modifiers`)."""
    modifiers = modifiers.set_axis(np.searchsorted(at, modifiers.index.to_numpy()))
    others = modifiers[~modifiers.isin(reference.modifiers_of("assistant"))]
    code, distinct = pd.factorize(others)  # a set of modifiers as a sum of their hashes: order-free, no join
    hashes = pd.util.hash_pandas_object(pd.Series(distinct, dtype="str"), index=False).to_numpy()
    signature = pd.Series(hashes[code], index=others.index).groupby(level=0).sum().reindex(facts.index, fill_value=0)
    visit = pd.Series(visit, index=facts.index)
    repeat = facts.groupby([visit, facts["has_assistant_modifier"]], sort=False).cumcount() > 0
    differs = (facts["line_rank_97112"] > 1) & (signature != signature.groupby(visit).transform("first"))
    unreadable = ~facts["modifiers_readable"].groupby(visit).transform("all")
    return ((repeat | differs) & ~unreadable).to_numpy(dtype=bool)


def _documented_disciplines(facts: pd.DataFrame, therapy: pd.Series, expected: pd.Series,
                            visit_notes: pd.DataFrame, modifier_of: pd.Series) -> pd.Series:
    """Whether a note of the line's visit is of the discipline its GP/GO/GN names (a visit with a
    PT's and an OT's note bills under either). Only lines whose modifier is not the lowest note's
    discipline (`expected`) are looked up: the rest match already."""
    found = (therapy == expected).fillna(False).to_numpy(dtype=bool).copy()
    ask = therapy.notna().to_numpy() & expected.notna().to_numpy() & ~found
    if visit_notes.empty or not ask.any():
        return pd.Series(found, index=facts.index)
    lines = facts.loc[ask, KEY].assign(therapy_modifier=therapy[ask])
    notes = visit_notes.loc[visit_notes["patient_id"].isin(lines["patient_id"].unique()).to_numpy(), KEY]
    notes = notes.assign(therapy_modifier=visit_notes.loc[notes.index, "provider_credential"].map(modifier_of)
                         .astype("str"))
    found[np.flatnonzero(ask)] = keys_in(lines, notes[notes["therapy_modifier"].notna()], [*KEY, "therapy_modifier"])
    return pd.Series(found, index=facts.index)


def _link_unreadable(facts: pd.DataFrame, visit_notes: pd.DataFrame) -> np.ndarray:
    """Lines on a patient's date where some note's supervising NPI could not be read (its visit
    is unknown: NO_NOTE must not fire on the guess)."""
    unlinked = rows_with(visit_notes, {"supervising_npi"})
    if not unlinked.any() or facts.empty:
        return np.zeros(len(facts), dtype=bool)
    return keys_in(facts[DAY], visit_notes.loc[unlinked, DAY], DAY)
