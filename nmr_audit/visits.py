"""Visits: claim lines and notes joined on the visit key, and the 97112 units the notes support.

A visit is one (patient_id, date_of_service, rendering_npi): Medicare pools every timed minute
of that day, so all of the visit's claims and notes count together, not line by line. The
rendering NPI is the billing line's: an assistant's note that names its supervising therapist
(`supervising_npi`) joins the visit billed under that therapist's NPI (PTAs and OTAs in private
practice are billed under the supervising therapist). Several notes of one visit pool their
minutes per code, each note's credential kept with its own minutes, so that the units CMS's
de minimis method assigns to the assistant (CQ/CO) can be counted. Pure: frames in, one frame
out, vectorized over every visit of the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import NMR_CODE, UNKNOWN_PAYER, VISIT_COLUMNS, VISIT_EXTRA_COLUMNS, VISIT_KEY
from nmr_audit.explain import allotment_lists, allotment_rows, explanations, note_credentials
from nmr_audit.keys import first_positions, group_numbers, in_order, key_codes, order_of, positions
from nmr_audit.reference import ReferenceData
from nmr_audit.rules import rules_reading
from nmr_audit.units import ama_ceiling, assistant_units, cms_most_units, fewest_minutes, units_for_minutes
from nmr_audit.unreadable import rows_with, unreadable_cells

KEY = list(VISIT_KEY)
NOTE_NPI = "note_rendering_npi"  # a note's own NPI, once `match_notes` gave it its visit's
SUPERVISING = "supervising_npi"
NOTE_IDS_TYPE = pd.ArrowDtype(pa.list_(pa.string()))
# visits.parquet columns nmr-audit adds beside VISIT_EXTRA_COLUMNS (contract v1.1 and issue 17)
VISIT_AUDIT_COLUMNS = ("note_ids", "payer_id", "medicare_rules", "assistant_minutes_97112",
                       "cq_units_97112", "required_cq_units_97112", "billed_cq_units_97112",
                       "unit_inputs_unreadable")
EXPLAINED_COLUMNS = ("explanation", "allotment")  # contract v1.1 (issue 19): the unit decision in words


def reconcile_visits(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame,
                     note_services: pd.DataFrame, reference: ReferenceData,
                     history: pd.DataFrame | None = None, explain: bool = True) -> pd.DataFrame:
    """`visits.parquet`: one row per visit with a 97112 line or 97112 minutes, billed vs supported.

    `history` (patient_id, date_of_service, payer_type[, payer_id]) is where an unbilled visit
    looks for its patient's payer; by default the claim lines themselves (a partition passes the
    whole run's). Rows are ordered by clinic, date, patient and provider, whatever the input order.
    Columns: the contract's (`VISIT_COLUMNS`), `VISIT_EXTRA_COLUMNS`, then `VISIT_AUDIT_COLUMNS`:
    `note_ids` (list<str>, every note of the visit, sorted; `note_id` is the lowest), `payer_id`,
    `medicare_rules` (bool), the 97112 minutes furnished by assistants, the CQ/CO units CMS's method
    assigns among the supported 97112 units (`cq_units_97112`) and among those billed
    (`required_cq_units_97112`), the 97112 units billed with CQ/CO, and `unit_inputs_unreadable`
    (an optional value a unit check reads could not be read: no unit rule fires on the visit),
    then `EXPLAINED_COLUMNS`: `explanation` (str) and `allotment`
    (list<struct<cpt_code, minutes, units, cq_units>>), the decision in words and per code
    (`nmr_audit.explain`; left out with `explain=False`, which only a benchmark asks for).
    """
    visit_notes = match_notes(claim_lines, visit_notes)
    line_visit, note_visit, keys = visit_ids(claim_lines, visit_notes)
    count = len(keys)
    note_of = positions(note_services["note_id"], visit_notes["note_id"])
    known = note_of >= 0  # conform keeps minutes only for notes it keeps; stay safe anyway
    services = note_services[known].assign(note=note_of[known], visit=note_visit[note_of[known]])
    timed = services[_is_timed(services["cpt_code"], reference.timed_codes)]
    assistant = assistant_notes(visit_notes, reference)
    timed = timed.assign(assistant_minutes=timed["minutes"].astype("int64").to_numpy()
                         * assistant[timed["note"].to_numpy()])
    visits = pd.concat([keys, billed_units(claim_lines, line_visit, count, reference),
                        documented_minutes(visit_notes, note_visit, timed, count, assistant),
                        unreadable_inputs(claim_lines, line_visit, visit_notes, note_visit, count)], axis=1)
    visits = visits.assign(clinic_id=visits["clinic_id"].fillna(visits.pop("note_clinic_id")))
    visits = visits[(visits["lines_97112"] > 0) | (visits["minutes_97112"].fillna(0) > 0)]
    visits = with_rule_basis(visits, claim_lines if history is None else history, reference)
    code_minutes = minutes_by_code(timed[np.isin(timed["visit"].to_numpy(), visits.index.to_numpy())])
    visits = with_assistant_units(supported_units(visits, code_minutes))
    visits = visits.assign(note_ids=note_id_lists(visit_notes, note_visit, count).take(visits.index.to_numpy())
                           .set_axis(visits.index))
    columns = [*VISIT_COLUMNS, *VISIT_EXTRA_COLUMNS, *VISIT_AUDIT_COLUMNS]
    if explain:
        rows = allotment_rows(visits, code_minutes)
        credentials = note_credentials(visit_notes, note_visit, visits.index[visits["note_count"].to_numpy() > 1])
        visits = visits.assign(explanation=explanations(visits, rows, credentials),
                               allotment=allotment_lists(visits, rows))
        columns += EXPLAINED_COLUMNS
    return in_visit_order(visits[columns])


def match_notes(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame) -> pd.DataFrame:
    """The notes with the rendering NPI of the visit they document; their own kept in
    `note_rendering_npi`.

    A note naming a `supervising_npi` documents the visit billed under that therapist when no
    claim line was billed under the note's own NPI that day and a line or another note exists
    under the supervising NPI (same patient and date): a PTA's note then pools with the billing
    line and the therapist's own note. Anything else keeps its own NPI. Idempotent (a frame that
    has `note_rendering_npi` is returned as is); never mutates `visit_notes`.
    """
    if NOTE_NPI in visit_notes.columns:
        return visit_notes
    notes = visit_notes.assign(**{NOTE_NPI: visit_notes["rendering_npi"]})
    if SUPERVISING not in notes.columns or notes.empty:
        return notes
    supervising = notes[SUPERVISING]
    candidate = (supervising.notna() & (supervising != notes["rendering_npi"])).to_numpy()
    if not candidate.any():
        return notes
    own = notes.loc[candidate, KEY]
    keys = pd.concat([claim_lines[KEY], notes[KEY], own.assign(rendering_npi=supervising[candidate].to_numpy())],
                     ignore_index=True)
    code = pd.Series(key_codes(keys, KEY))  # membership only: integer codes, no dense renumbering
    lines_end, notes_end = len(claim_lines), len(claim_lines) + len(notes)
    billed_own = code.iloc[lines_end:notes_end][candidate].isin(code.iloc[:lines_end]).to_numpy()
    supervised = code.iloc[notes_end:].isin(code.iloc[:notes_end]).to_numpy()
    move = np.zeros(len(notes), dtype=bool)
    move[np.flatnonzero(candidate)[~billed_own & supervised]] = True
    return notes.assign(rendering_npi=notes["rendering_npi"].mask(move, supervising))


def assistant_notes(visit_notes: pd.DataFrame, reference: ReferenceData) -> np.ndarray:
    """Whether each note is an assistant's whose Medicare services carry CQ/CO (PTA, OTA: the
    credential's `assistant_modifier` in therapy_disciplines.csv; not SLPA, which has none)."""
    table = reference.therapy_disciplines.set_index("provider_credential")["assistant_modifier"]
    code, distinct = pd.factorize(visit_notes["provider_credential"])  # a few credentials, a million notes
    modifier = pd.Index(distinct).map(table)
    flagged = np.asarray(modifier.notna() & (modifier.astype("str") != ""), dtype=bool)
    return flagged[code] & (code >= 0) if len(flagged) else np.zeros(len(visit_notes), dtype=bool)


def note_id_lists(visit_notes: pd.DataFrame, note_visit: np.ndarray, count: int) -> pd.Series:
    """Per visit number 0 … count − 1: its note ids, sorted (list<str>; empty without a note).

    Arrow sorts by (visit, note id) and cuts one list per visit from the offsets: no Python per visit.
    """
    table = pa.table({"visit": pa.array(note_visit, pa.int64()),
                      "note_id": pa.array(visit_notes["note_id"], pa.string(), from_pandas=True)})
    ordered = table.take(pc.sort_indices(table, sort_keys=[("visit", "ascending"), ("note_id", "ascending")]))
    per_visit = np.bincount(note_visit, minlength=count) if len(note_visit) else np.zeros(count, "int64")
    offsets = pa.array(np.concatenate([[0], np.cumsum(per_visit)]).astype("int32"))
    lists = pa.ListArray.from_arrays(offsets, ordered["note_id"].combine_chunks())
    return pd.Series(lists, dtype=NOTE_IDS_TYPE)


VISIT_ORDER = ("clinic_id", "date_of_service", "patient_id", "rendering_npi")  # visits.parquet's order


def in_visit_order(visits: pd.DataFrame) -> pd.DataFrame:
    """The order visits.parquet lists visits in: clinic, date, patient, provider."""
    return in_order(visits, list(VISIT_ORDER))


def visit_order(visits: pd.DataFrame) -> np.ndarray:
    """The row positions of `visits` (with at least `VISIT_ORDER`) in `in_visit_order`'s order."""
    return order_of(visits, list(VISIT_ORDER))


def visit_ids(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame
              ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """A visit number (0, 1, … in order of first appearance) for every line and note, and the keys.

    Dense numbers (`nmr_audit.keys`) let every per-visit sum below be a `bincount`.
    """
    keys = pd.concat([claim_lines[KEY], visit_notes[KEY]], ignore_index=True)
    if keys.empty:
        return np.zeros(0, "int64"), np.zeros(0, "int64"), keys
    visit = group_numbers(keys, KEY)
    first = first_positions(visit, int(visit.max()) + 1)
    return visit[: len(claim_lines)], visit[len(claim_lines):], keys.iloc[first].reset_index(drop=True)


def billed_units(lines: pd.DataFrame, visit: np.ndarray, count: int, reference: ReferenceData
                 ) -> pd.DataFrame:
    """Per visit: units billed for 97112 (and with CQ/CO) and for all timed codes, and the payer.

    `other_fewest_minutes` is what the other timed codes' billed units need at the least under
    the AMA rule (8 minutes for one unit, 23 for two …), for notes that give only a total.
    The payer and clinic are those of the visit's first line.
    """
    timed_codes = reference.timed_codes
    units = lines["units"].astype("int64").to_numpy()
    code, distinct = pd.factorize(lines["cpt_code"])
    is_nmr = code == (distinct.get_loc(NMR_CODE) if NMR_CODE in distinct else -2)
    is_timed = _is_timed(lines["cpt_code"], timed_codes)
    per_code = pd.Series(units[is_timed]).groupby(visit[is_timed] * max(len(distinct), 1) + code[is_timed],
                                                  sort=False).sum()
    code_visit = per_code.index.to_numpy() // max(len(distinct), 1)
    other = ~np.isin(per_code.index.to_numpy() % max(len(distinct), 1), np.flatnonzero(distinct == NMR_CODE))
    first = first_positions(visit, count)
    with_cq = carries_any(lines["modifiers"], reference.modifiers_of("assistant"), is_nmr)
    return pd.DataFrame({
        "billed_units_97112": _per_visit(visit, units * is_nmr, count),
        "billed_cq_units_97112": _per_visit(visit, units * (is_nmr & with_cq), count),
        "billed_timed_units": _per_visit(visit, units * is_timed, count),
        "lines_97112": _per_visit(visit, is_nmr, count),
        "timed_codes_billed": _per_visit(code_visit, per_code.to_numpy() > 0, count),
        "other_timed_units": _per_visit(visit, units * (is_timed & ~is_nmr), count),
        "other_fewest_minutes": _per_visit(code_visit[other], fewest_minutes(per_code[other]).to_numpy(), count),
        "clinic_id": _take(lines["clinic_id"], first),
        "payer_type": _take(lines["payer_type"], first),
        "payer_id": _take(lines["payer_id"], first) if "payer_id" in lines.columns
        else pd.Series(pd.NA, index=range(count), dtype="str"),
    })


def carries_any(modifiers: pd.Series, wanted: list[str], among: np.ndarray | None = None) -> np.ndarray:
    """Whether each line's modifier list holds one of `wanted` (only the lines `among` are read)."""
    found = np.zeros(len(modifiers), dtype=bool)
    at = np.flatnonzero(among) if among is not None else np.arange(len(modifiers))
    if not len(at) or not wanted:
        return found
    lists = pa.array(modifiers.take(at), from_pandas=True)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    hit = pc.is_in(pc.list_flatten(lists), value_set=pa.array(wanted)).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    found[at[np.unique(parents[hit])]] = True
    return found


def documented_minutes(notes: pd.DataFrame, visit: np.ndarray, timed_services: pd.DataFrame,
                       count: int, assistant: np.ndarray | None = None) -> pd.DataFrame:
    """Per visit: the note(s) and the timed minutes they document.

    A note that itemizes minutes contributes the sum of its timed codes to the pool; one that
    does not contributes its `total_timed_minutes` (Medicare does not require per-code minutes).
    A note whose per-code minutes were unreadable counts as not itemizing. A visit counts as
    itemized only when every one of its notes itemizes. `timed_services` carries each row's note
    position (`note`), so sums per note are a bincount, not a join. `assistant` (one flag per
    note) splits 97112's minutes into the assistants' and the therapists'.
    """
    minutes = timed_services["minutes"].astype("int64").to_numpy()
    note = timed_services["note"].to_numpy()
    is_nmr = (timed_services["cpt_code"] == NMR_CODE).to_numpy()
    itemizes = notes["itemizes_minutes"].astype("bool").to_numpy() & ~rows_with(notes, minutes=True)
    assistant = np.zeros(len(notes), dtype=bool) if assistant is None else assistant
    own_sum = _per_visit(note, minutes, len(notes))
    own_97112 = _per_visit(note[is_nmr], minutes[is_nmr], len(notes))
    stated = notes["total_timed_minutes"]
    total = np.where(stated.notna(), stated.fillna(0).to_numpy(dtype="int64"), own_sum)
    total_known = stated.notna().to_numpy() | itemizes
    notes_per_visit = _per_visit(visit, np.ones(len(notes), "int64"), count)
    itemizing = _per_visit(visit, itemizes, count)
    assistants = _per_visit(visit, assistant, count)
    first = first_positions(visit, count)
    return pd.DataFrame({
        "assistant_minutes_97112": _nullable(_per_visit(visit, own_97112 * itemizes * assistant, count), itemizing > 0),
        "all_notes_by_assistants": (notes_per_visit > 0) & (assistants == notes_per_visit),
        "note_id": _lowest_note_id(notes, visit, first),
        "note_count": notes_per_visit,
        "note_clinic_id": _take(notes["clinic_id"], first),
        "itemizes_minutes": (notes_per_visit > 0) & (itemizing == notes_per_visit),
        "total_timed_minutes": _nullable(_per_visit(visit, total * total_known, count),
                                         _per_visit(visit, total_known, count) > 0),
        "minutes_97112": _nullable(_per_visit(visit, own_97112 * itemizes, count), itemizing > 0),
        "pooled_timed_minutes": _per_visit(visit, np.where(itemizes, own_sum, total * total_known), count),
    })


def minutes_by_code(timed_services: pd.DataFrame) -> pd.DataFrame:
    """(visit, cpt_code, minutes[, assistant_minutes]): a code's minutes summed over the visit's
    notes (and the assistants' share, where `timed_services` has `assistant_minutes`)."""
    code, distinct = pd.factorize(timed_services["cpt_code"])  # a few codes: one integer key per pair
    width = max(len(distinct), 1)
    pair, of_row = np.unique(timed_services["visit"].to_numpy() * width + code, return_inverse=True)
    minutes = _per_visit(of_row, timed_services["minutes"].astype("int64").to_numpy(), len(pair))
    sums = pd.DataFrame({"visit": pair // width, "cpt_code": pd.Series(distinct.take(pair % width), dtype="str"),
                         "minutes": minutes})
    if "assistant_minutes" in timed_services.columns:
        sums["assistant_minutes"] = _per_visit(of_row, timed_services["assistant_minutes"].to_numpy(), len(pair))
    return sums


def unreadable_inputs(lines: pd.DataFrame, line_visit: np.ndarray, notes: pd.DataFrame, note_visit: np.ndarray,
                      count: int) -> pd.Series:
    """Per visit: whether a line or note of it has an unreadable optional value that a unit check
    reads (`contract.RULES`: `unit_check` rules' `reads`), e.g. per-code or total timed minutes,
    or the supervising NPI that links an assistant's note. No unit rule fires on such a visit."""
    blocked = np.zeros(count, dtype=bool)
    for frame, visit in ((lines, line_visit), (notes, note_visit)):
        cells = unreadable_cells(frame)
        if cells.empty:
            continue
        distinct = cells["column"].dropna().unique()
        units = {c: any(r.unit_check for r in rules_reading(c)) for c in distinct}
        hit = cells["column"].map(units).fillna(False).astype("bool").to_numpy()
        blocked[visit[cells.loc[hit, "row"].to_numpy()]] = True
    return pd.Series(blocked, name="unit_inputs_unreadable")


def with_assistant_units(visits: pd.DataFrame) -> pd.DataFrame:
    """The CQ/CO units of 97112: among the supported units, and among the units billed.

    Itemized visits split 97112's pooled minutes into the assistants' and the therapists' and
    follow `units.assistant_units`; a visit documented only by assistants' notes that give just
    a total has every unit by an assistant; a mixed visit without per-code minutes cannot be
    split and asks for none. Of the billed units, the ones not billed are taken to be the CQ/CO
    ones first (`required_cq_units_97112`: the fewest CQ/CO units the billing can need).
    """
    supported = visits["supported_units_97112"]
    split = assistant_units(supported, visits["assistant_minutes_97112"],
                            visits["minutes_97112"].fillna(0) - visits["assistant_minutes_97112"].fillna(0))
    all_assistant = visits["all_notes_by_assistants"].to_numpy()
    cq = np.where(visits["itemizes_minutes"].to_numpy(), split, np.where(all_assistant, supported, 0))
    unbilled = (supported - visits["billed_units_97112"]).clip(lower=0).to_numpy()
    required = np.clip(cq - unbilled, 0, visits["billed_units_97112"].to_numpy())
    return visits.assign(cq_units_97112=cq.astype("int64"), required_cq_units_97112=required.astype("int64"))


def _lowest_note_id(notes: pd.DataFrame, visit: np.ndarray, first: np.ndarray) -> pd.Series:
    """The visit's note id (the lowest when several notes document one visit: stable under reordering)."""
    ids = _take(notes["note_id"], first)
    shared = pd.Series(visit).duplicated(keep=False).to_numpy()
    if shared.any():
        lowest = notes.loc[shared, "note_id"].groupby(visit[shared]).min()
        ids.loc[lowest.index] = lowest.to_numpy()
    return ids


def _is_timed(codes: pd.Series, timed_codes: frozenset[str]) -> np.ndarray:
    """Membership through the few distinct codes: far cheaper than testing every text cell."""
    positions, distinct = pd.factorize(codes)
    return np.isin(positions, np.flatnonzero(pd.Index(distinct).isin(list(timed_codes))))


def _per_visit(group: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Sum of `values` per group number 0 … count − 1 (0 where a group has no row)."""
    return np.bincount(group, weights=values, minlength=count).round().astype("int64")


def _take(column: pd.Series, positions: np.ndarray) -> pd.Series:
    """`column` at `positions`, missing where the position is −1."""
    taken = column.take(np.maximum(positions, 0)).reset_index(drop=True) if len(column) else \
        pd.Series(pd.NA, index=range(len(positions)), dtype=column.dtype)
    return taken.where(positions >= 0)


def _nullable(values: np.ndarray, known: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="Int64").where(known)


def with_rule_basis(visits: pd.DataFrame, lines: pd.DataFrame, reference: ReferenceData
                    ) -> pd.DataFrame:
    """The payer, its unit-counting basis and whether it follows Medicare's rules, per visit.

    A payer listed in `payers.csv` (by the first line's `payer_id`) takes its row's terms, any
    other its payer type's (`ReferenceData.payer_terms`). A visit documented but never billed
    takes the payer of the same patient's claim line nearest in date (`lines`: claim lines or a
    payer history, anything with patient_id, date_of_service, payer_type and optionally
    payer_id); a patient with no claim line at all gets the `unknown` payer's basis.
    """
    unbilled = visits["payer_type"].isna()
    payer = visits["payer_type"]
    payer_id = visits["payer_id"] if "payer_id" in visits.columns else pd.Series(pd.NA, index=visits.index, dtype="str")
    if unbilled.any() and len(lines):
        wanted = visits.loc[unbilled, ["patient_id", "date_of_service"]].reset_index(names="visit")
        carried = ["payer_type", "payer_id"] if "payer_id" in lines.columns else ["payer_type"]
        history = lines.loc[lines["patient_id"].isin(wanted["patient_id"].unique()),
                            ["patient_id", "date_of_service", *carried]]
        nearest = pd.merge_asof(wanted.sort_values("date_of_service"),
                                history.sort_values("date_of_service"), on="date_of_service",
                                by="patient_id", direction="nearest").set_index("visit")
        payer = payer.fillna(nearest["payer_type"])
        if "payer_id" in nearest.columns:
            payer_id = payer_id.fillna(nearest["payer_id"])
    payer = payer.fillna(UNKNOWN_PAYER).astype("str")
    terms = reference.payer_terms(payer, payer_id)
    return visits.assign(payer_type=payer, payer_id=payer_id.astype("str"), rule_basis=terms["rule_basis"],
                         medicare_rules=terms["medicare_rules"])


def supported_units(visits: pd.DataFrame, code_minutes: pd.DataFrame) -> pd.DataFrame:
    """Units the documented minutes support, for 97112 and for all timed codes of the visit.

    CMS: the pooled table, and 97112's best valid allotment (ties in its favour). AMA: each
    code on its own. Notes without per-code minutes: 97112 gets what the total leaves after the
    other timed codes billed (the pooled units less theirs under CMS; the minutes less the
    fewest their units need under AMA), and all timed units are held to the total's ceiling.
    """
    minutes = visits["pooled_timed_minutes"]
    pooled = units_for_minutes(minutes)
    cms = (visits["rule_basis"] == "cms").to_numpy()
    itemized = visits["itemizes_minutes"].to_numpy()
    cms_97112 = cms_most_units(code_minutes, NMR_CODE).reindex(visits.index, fill_value=0)
    ama_97112 = units_for_minutes(visits["minutes_97112"].fillna(0).astype("int64"))
    ama_timed = units_for_minutes(code_minutes["minutes"]).groupby(code_minutes["visit"].to_numpy()
                                                                   ).sum().reindex(visits.index, fill_value=0)
    total_only_97112 = np.where(
        cms, (pooled - visits["other_timed_units"]).clip(lower=0),
        units_for_minutes((minutes - visits["other_fewest_minutes"]).clip(lower=0)))
    supported = np.select([cms & itemized, ~cms & itemized], [cms_97112, ama_97112], total_only_97112)
    supported_timed = np.select([cms, itemized], [pooled, ama_timed],
                                ama_ceiling(minutes, visits["timed_codes_billed"]))
    return visits.assign(
        supported_units_97112=supported.astype("int64"),
        excess_units_97112=(visits["billed_units_97112"] - supported).clip(lower=0).astype("int64"),
        supported_timed_units=supported_timed.astype("int64"),
    )
