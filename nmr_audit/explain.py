"""Every unit decision in words: `visits.parquet`'s `explanation` and `allotment`.

For each visit the reconciliation (`nmr_audit.visits`) decided how many 97112 units the notes'
minutes support; this module says how, in a short text that walks the decision as a reviewer
would — the minutes pooled, the units the pool supports, how they were allotted among the codes
(CMS Pub. 100-04 ch. 5 §20.2: each code's full 15-minute units first, the units left over to the
codes with the most minutes remaining, ties the provider's choice, here 97112's), the CQ/CO units
CMS's de minimis method gives the assistant, and what was billed against it:

    cms: 97112 24 + 97110 23 = 47 timed min → 3 units; 97112 gets 1 full unit + the left-over
    unit (9 min remaining beats 97110's 8), 97110 1; billed 97112 3 → 1 over

and the allotment as a list per visit (`list<struct<cpt_code, minutes, units, cq_units>>`): one
entry per timed code the notes itemize, or, where the notes give only a total, one entry for
97112 with its minutes missing and the units the total leaves it.

Everything is computed over whole columns — the texts are joined with Arrow's string and list
kernels, never a Python loop per visit — so that the explanation of ten million claim lines'
visits costs seconds (`bench/units.py` measures it). The texts are stable: the same visit gives
the same words on every run, codes in a fixed order (97112 first, then by code).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import NMR_CODE
from nmr_audit.units import assistant_units, cms_left_over_rank, units_for_minutes

ALLOTMENT_TYPE = pd.ArrowDtype(pa.list_(pa.struct([("cpt_code", pa.string()), ("minutes", pa.int64()),
                                                   ("units", pa.int64()), ("cq_units", pa.int64())])))
ALLOTMENT_COLUMNS = ("visit", "cpt_code", "minutes", "assistant_minutes", "units", "cq_units", "full_units",
                     "remaining", "left_over", "rank")


def allotment_rows(visits: pd.DataFrame, code_minutes: pd.DataFrame) -> pd.DataFrame:
    """One row per (visit, timed code) of the visits whose notes itemize minutes, with the units
    the code gets and how.

    `visits`: indexed by visit number, with `rule_basis`, `medicare_rules` and `itemizes_minutes`; `code_minutes`:
    `visit, cpt_code, minutes, assistant_minutes` (minutes summed over the visit's notes, and the
    share furnished by assistants). Returns `ALLOTMENT_COLUMNS`, ordered by visit then 97112
    first, then by code: `units` (CMS: full units plus a left-over unit where `left_over`, ties
    in 97112's favour, else by code; AMA: the unit table on the code's own minutes), `cq_units`
    (`units.assistant_units` over the code's pooled minutes, for a payer that follows Medicare's
    rules — CQ/CO is Medicare's —, else 0), `full_units`, `remaining`
    (minutes % 15) and `rank` (the code's place in the queue for left-over units, 0 first).
    """
    itemized = visits.index[visits["itemizes_minutes"].to_numpy(dtype=bool)]
    rows = code_minutes[np.isin(code_minutes["visit"].to_numpy(), itemized.to_numpy())]
    code_rank, _ = pd.factorize(rows["cpt_code"], sort=True)  # a few codes: their order as integers
    order = np.lexsort((code_rank, (rows["cpt_code"] != NMR_CODE).to_numpy(), rows["visit"].to_numpy()))
    rows = rows.iloc[order].reset_index(drop=True)
    minutes = rows["minutes"].astype("int64")
    assistant = rows["assistant_minutes"].fillna(0).astype("int64").clip(upper=minutes)
    at = _positions(visits.index, rows["visit"].to_numpy())
    cms = (visits["rule_basis"] == "cms").to_numpy()[at]
    medicare = visits["medicare_rules"].fillna(False).to_numpy(dtype=bool)[at]
    rank, left = cms_left_over_rank(rows.assign(minutes=minutes), favour=NMR_CODE)
    remaining = (minutes % 15).to_numpy()
    extra = cms & (rank < left) & (remaining > 0)
    units = np.where(cms, (minutes // 15).to_numpy() + extra, units_for_minutes(minutes).to_numpy())
    units = pd.Series(units, index=rows.index, dtype="int64")
    return pd.DataFrame({
        "visit": rows["visit"].to_numpy(), "cpt_code": rows["cpt_code"].astype("str"),
        "minutes": minutes.to_numpy(), "assistant_minutes": assistant.to_numpy(), "units": units.to_numpy(),
        "cq_units": np.where(medicare, assistant_units(units, assistant, minutes - assistant).to_numpy(), 0),
        "full_units": (minutes // 15).to_numpy(), "remaining": remaining, "left_over": extra, "rank": rank,
    })


def _positions(index: pd.Index, values: np.ndarray) -> np.ndarray:
    """Where each of `values` (all in `index`) sits in `index`: a binary search when the index is
    sorted (visit numbers are), else a hash lookup."""
    if index.is_monotonic_increasing:
        return np.searchsorted(index.to_numpy(), values)
    return index.get_indexer(values)


def allotment_lists(visits: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """`allotment` per visit (aligned with `visits`): the itemized rows of `allotment_rows`, or,
    where the notes give only a total, one 97112 entry (minutes missing, the supported and CQ/CO
    units); empty where no note documents the visit."""
    total_only = ~visits["itemizes_minutes"].to_numpy(dtype=bool) & (visits["note_count"].to_numpy() > 0)
    alone = pd.DataFrame({"visit": visits.index[total_only], "cpt_code": NMR_CODE,
                          "minutes": pd.Series(pd.NA, index=range(int(total_only.sum())), dtype="Int64"),
                          "units": visits.loc[total_only, "supported_units_97112"].to_numpy(),
                          "cq_units": np.where(visits.loc[total_only, "medicare_rules"].fillna(False).to_numpy(dtype=bool),
                                               visits.loc[total_only, "cq_units_97112"].to_numpy(), 0)})
    entries = pd.concat([rows[["visit", "cpt_code", "minutes", "units", "cq_units"]].astype({"minutes": "Int64"}),
                         alone], ignore_index=True)
    at = _positions(pd.Index(visits.index), entries["visit"].to_numpy())
    order = np.argsort(at, kind="stable")
    counts = np.bincount(at, minlength=len(visits)) if len(at) else np.zeros(len(visits), "int64")
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype("int32"))
    taken = entries.iloc[order]
    structs = pa.StructArray.from_arrays(
        [pa.array(taken["cpt_code"].astype("str").to_numpy(), pa.string()),
         pa.array(taken["minutes"].to_numpy(dtype="float64", na_value=np.nan), pa.float64(),
                  from_pandas=True).cast(pa.int64()),
         pa.array(taken["units"].to_numpy(dtype="int64"), pa.int64()),
         pa.array(taken["cq_units"].to_numpy(dtype="int64"), pa.int64())],
        fields=list(ALLOTMENT_TYPE.pyarrow_dtype.value_type))
    lists = pa.ListArray.from_arrays(offsets, structs, type=ALLOTMENT_TYPE.pyarrow_dtype)
    return pd.Series(lists, index=visits.index, dtype=ALLOTMENT_TYPE)


def explanations(visits: pd.DataFrame, rows: pd.DataFrame, credentials: pd.Series | None = None) -> pd.Series:
    """`explanation` per visit (aligned with `visits`, which holds `reconcile_visits`' columns
    and `other_timed_units`, `other_fewest_minutes`, `note_count`, `all_notes_by_assistants`).

    `rows`: `allotment_rows` of the same visits; `credentials`: per visit number, the credentials
    of its notes joined (`PT, PTA`), named when several notes pool their minutes. Built with
    Arrow's element-wise string kernels (one pass per piece over the whole column)."""
    v = visits
    index = v.index
    count = len(index)

    def ints(column: str) -> np.ndarray:
        return v[column].fillna(0).to_numpy(dtype="int64")

    cms = (v["rule_basis"] == "cms").to_numpy()
    itemized = v["itemizes_minutes"].to_numpy(dtype=bool)
    noted = v["note_count"].to_numpy() > 0
    pooled = ints("pooled_timed_minutes")
    pool_units = units_for_minutes(pd.Series(pooled)).to_numpy()
    supported = ints("supported_units_97112")

    # the notes: several pooled, or an input the unit checks read could not be read
    several = v["note_count"].to_numpy() > 1
    named = (pa.array(credentials.reindex(index).fillna("").astype("str").to_numpy(), pa.large_string())
             if credentials is not None else _blank(count))
    lead = _pick([several], [_cat(_s(v["note_count"].to_numpy()), " notes pooled",
                                  pc.if_else(pc.equal(named, ""), "", _cat(" (", named, ")")), "; ")], "")
    lead = _pick([v["unit_inputs_unreadable"].to_numpy(dtype=bool)],
                 [_cat(lead, "a value the unit checks read could not be read (FIELD_UNREADABLE): no unit rule "
                             "judges this visit; ")], lead)

    # itemized: the pool and each code's share; a total only: what the other codes billed leave 97112.
    # Each case's words are built for its own visits only, then put back in place (`_by_case`).
    per_code = _per_visit_texts(rows, index)
    timed = ints("supported_timed_units")
    other, fewest = ints("other_timed_units"), ints("other_fewest_minutes")

    def cms_item(i: np.ndarray) -> pa.Array:
        return _cat(lead.take(i), "cms: ", per_code["pool"].take(i), " ", _s(pooled[i]), " timed min → ",
                    _units(pool_units[i]), "; ", per_code["share"].take(i), per_code["others"].take(i))

    def ama_item(i: np.ndarray) -> pa.Array:
        return _cat(lead.take(i), "ama, each code on its own: ", per_code["each"].take(i), " (", _s(timed[i]),
                    " timed unit", _plural(timed[i]), ")")

    def cms_total(i: np.ndarray) -> pa.Array:
        return _cat(lead.take(i), "cms, the notes give only a total: ", _s(pooled[i]), " timed min → ",
                    _units(pool_units[i]), _pick([other[i] > 0], [_cat("; the other timed codes billed take ",
                                                                      _s(other[i]))], "; no other timed code billed"),
                    " → 97112 ", _s(supported[i]))

    def ama_total(i: np.ndarray) -> pa.Array:
        return _cat(lead.take(i), "ama, the notes give only a total: ", _s(pooled[i]), " timed min",
                    _pick([other[i] > 0], [_cat("; the other timed codes' ", _units(other[i]), " need at least ",
                                                _s(fewest[i]), " min, leaving ", _s(np.maximum(pooled[i] - fewest[i], 0)))],
                          "; no other timed code billed"), " → 97112 ", _s(supported[i]))

    def no_note(i: np.ndarray) -> pa.Array:
        return _cat(lead.take(i), "no note documents this visit → 97112 0")

    case = np.select([~noted, itemized & cms, itemized, cms], [0, 1, 2, 3], 4)
    text = _by_case(case, [no_note, cms_item, ama_item, cms_total, ama_total])

    # CQ/CO: the assistant's units (payers with Medicare's rules)
    medicare = v["medicare_rules"].fillna(False).to_numpy(dtype=bool)
    assistant = ints("assistant_minutes_97112")
    therapist = np.maximum(ints("minutes_97112") - assistant, 0)
    cq, billed_cq = ints("cq_units_97112"), ints("billed_cq_units_97112")
    split = medicare & itemized & (assistant > 0)
    all_assistant = medicare & ~itemized & v["all_notes_by_assistants"].to_numpy(dtype=bool) & noted
    cq_text = _by_case(np.select([split, all_assistant], [0, 1], 2), [
        lambda i: _cat("; CQ/CO: the assistant's ", _s(assistant[i]), " min and the therapist's ", _s(therapist[i]),
                       " min of 97112 → ", _s(cq[i]), " of ", _s(supported[i]), " with CQ/CO (billed ",
                       _s(billed_cq[i]), ")"),
        lambda i: _cat("; every note by an assistant: CQ/CO on all ", _s(supported[i]), " (billed ", _s(billed_cq[i]),
                       ")"),
        lambda i: _blank(len(i))])

    # what was billed against it
    billed, excess = ints("billed_units_97112"), ints("excess_units_97112")
    under = np.maximum(supported - billed, 0)
    billed_text = _by_case(np.select([v["lines_97112"].to_numpy() == 0, excess > 0, under > 0], [0, 1, 2], 3), [
        lambda i: _constant("; 97112 not billed", len(i)),
        lambda i: _cat("; billed 97112 ", _s(billed[i]), " → ", _s(excess[i]), " over"),
        lambda i: _cat("; billed 97112 ", _s(billed[i]), " → ", _s(under[i]), " under"),
        lambda i: _cat("; billed 97112 ", _s(billed[i]), " → as supported")])
    billed_timed, supported_timed = ints("billed_timed_units"), ints("supported_timed_units")
    timed_over = np.maximum(billed_timed - supported_timed, 0)
    timed_text = _by_case((~(noted & (timed_over > 0))).astype("int64"), [
        lambda i: _cat("; all timed codes billed ", _s(billed_timed[i]), " against ", _s(supported_timed[i]), " → ",
                       _s(timed_over[i]), " over"),
        lambda i: _blank(len(i))])
    whole = _cat(text, cq_text, billed_text, timed_text)
    return pd.Series(whole, index=index, dtype="str")


def _per_visit_texts(rows: pd.DataFrame, index: pd.Index) -> dict[str, pa.Array]:
    """Per visit (aligned with `index`), the parts of an itemized explanation: `pool` (`97112 24 +
    97110 23 =`, or `97112 alone,`), `each` (`97112 24 min → 2, 97110 23 min → 2`), `share`
    (97112's units under CMS and why) and `others` (`, 97110 1`: the other codes' units)."""
    count = len(index)
    if rows.empty:
        return {"pool": _blank(count), "each": _blank(count), "others": _blank(count),
                "share": _constant("97112 has no minutes", count)}
    at = _positions(pd.Index(index), rows["visit"].to_numpy())
    code = pc.cast(pa.array(rows["cpt_code"]), pa.large_string())
    minutes, units = _s(rows["minutes"].to_numpy()), _s(rows["units"].to_numpy())
    remaining = rows["remaining"].to_numpy(dtype="int64")
    rank = rows["rank"].to_numpy(dtype="int64")
    left_over = rows["left_over"].to_numpy(dtype=bool)
    is_nmr = (rows["cpt_code"] == NMR_CODE).to_numpy()
    codes = np.bincount(at, minlength=count)
    several = codes[at] > 1
    pool = _by_case((codes <= 1).astype("int64"), [
        lambda i: _cat(_joined(np.searchsorted(i, at[several]), _cat(code.filter(pa.array(several)), " ",
                                                                     minutes.filter(pa.array(several))), " + ", len(i)),
                       " ="),
        lambda i: _cat(_joined(np.searchsorted(i, at[~several]), code.filter(pa.array(~several)), "", len(i)),
                       " alone,")])
    each = _joined(at, _cat(code, " ", minutes, " min → ", units), ", ", count)
    others = _joined(at[~is_nmr], _cat(code, " ", units).filter(pa.array(~is_nmr)), ", ", count)
    others = pc.if_else(pc.equal(others, ""), "", _cat(", ", others))

    full = np.zeros(count, "int64")
    rest = np.zeros(count, "int64")
    won = np.zeros(count, bool)
    has = np.zeros(count, bool)
    full[at[is_nmr]] = rows["full_units"].to_numpy()[is_nmr]
    rest[at[is_nmr]] = remaining[is_nmr]
    won[at[is_nmr]] = left_over[is_nmr]
    has[at[is_nmr]] = True
    # the rival: the first code in the queue that got no left-over unit though it had minutes remaining
    lost = ~is_nmr & ~left_over & (remaining > 0)
    order = np.lexsort((rank[lost], at[lost]))
    first = np.r_[True, np.diff(at[lost][order]) != 0] if lost.any() else np.zeros(0, bool)
    rival_row = np.full(count, -1)
    rival_row[at[lost][order][first]] = np.flatnonzero(lost)[order][first]
    has_rival = rival_row >= 0
    rival_left = np.where(has_rival, remaining[np.maximum(rival_row, 0)], 0)
    winners = ~is_nmr & left_over
    order = np.lexsort((rank[winners], at[winners]))
    left_count = np.bincount(at[winners], minlength=count)

    def gets(i: np.ndarray) -> pa.Array:
        return _pick([full[i] > 0], [_cat("97112 gets ", _s(full[i]), " full unit", _plural(full[i]))], "97112 gets")

    def nothing(i: np.ndarray) -> pa.Array:
        return _cat(gets(i), _pick([full[i] > 0], [""], " 0"))

    def won_text(i: np.ndarray) -> pa.Array:
        name = pc.fill_null(code.take(pa.array(rival_row[i], mask=rival_row[i] < 0)), "")
        compare = _pick([has_rival[i] & (rest[i] > rival_left[i]), has_rival[i]],
                        [_cat(" beats ", name, "'s ", _s(rival_left[i])),
                         _cat(" ties ", name, "'s ", _s(rival_left[i]), ": ties go to 97112, the provider's choice")],
                        "")
        return _cat(gets(i), _pick([full[i] > 0], [" + the left-over unit ("], " the left-over unit ("), _s(rest[i]),
                    " min remaining", compare, ")")

    def lost_text(i: np.ndarray) -> pa.Array:
        mine = np.isin(at[winners][order], i)
        taken = _joined(np.searchsorted(i, at[winners][order][mine]),
                        _cat(code, "'s ", _s(remaining)).filter(pa.array(winners)).take(pa.array(order)).filter(
                            pa.array(mine)), ", ", len(i))
        return _cat(nothing(i), _pick([left_count[i] > 1], [_cat(" (the ", _s(left_count[i]), " left-over units go to ")],
                                      " (the left-over unit goes to "), taken, " min remaining, more than its ",
                    _s(rest[i]), ")")

    share = _by_case(np.select([~has, won, (rest > 0) & (left_count > 0), rest > 0], [0, 1, 2, 3], 4), [
        lambda i: _constant("97112 has no minutes", len(i)), won_text, lost_text,
        lambda i: _cat(nothing(i), " (no unit is left over for its ", _s(rest[i]), " min remaining)"), gets])
    return {"pool": pool, "each": each, "share": share, "others": others}


def note_credentials(visit_notes: pd.DataFrame, note_visit: np.ndarray, keep: pd.Index) -> pd.Series:
    """Per visit number in `keep`: the distinct credentials of its notes, sorted and joined
    (`PT, PTA`); empty where unknown."""
    frame = pd.DataFrame({"visit": note_visit, "credential": visit_notes["provider_credential"].astype("str").to_numpy()})
    frame = frame[frame["credential"].notna().to_numpy() & np.isin(note_visit, keep.to_numpy())]
    frame = frame.drop_duplicates().sort_values(["visit", "credential"], kind="stable")
    at = pd.Index(keep).get_indexer(frame["visit"].to_numpy())
    joined = _joined(at, pa.array(frame["credential"].to_numpy(), pa.large_string()), ", ", len(keep))
    return pd.Series(joined, index=keep, dtype="str")


def _joined(at: np.ndarray, texts: pa.Array, separator: str, count: int) -> pa.Array:
    """Per position 0 … count − 1, the `texts` whose `at` is that position, joined in the order
    given (empty where none): the texts cut into one list per position by offsets (a stable sort
    first where `at` is not in order already) and joined by Arrow, no Python join per group."""
    at = np.asarray(at, dtype="int64")
    if len(at) and (np.diff(at) < 0).any():
        order = np.argsort(at, kind="stable")
        at, texts = at[order], texts.take(pa.array(order))
    offsets = np.zeros(count + 1, dtype="int64")
    np.cumsum(np.bincount(at, minlength=count), out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), texts.combine_chunks()
                                          if isinstance(texts, pa.ChunkedArray) else texts)
    return pc.binary_join(lists, pa.scalar(separator, pa.large_string()))


def _s(values: np.ndarray) -> pa.Array:
    """Whole numbers as text, a whole column at once."""
    return pc.cast(pa.array(np.asarray(values, dtype="int64")), pa.large_string())


def _cat(*parts: pa.Array | str) -> pa.Array:
    """The parts (columns or constant texts) joined element-wise: one kernel over the column."""
    return pc.binary_join_element_wise(*[p if isinstance(p, pa.Array | pa.ChunkedArray) else pa.scalar(p, pa.large_string())
                                         for p in parts], pa.scalar("", pa.large_string()))


def _pick(conditions: list[np.ndarray], choices: list[pa.Array | str], default: pa.Array | str) -> pa.Array | str:
    """The first choice whose condition holds, else `default` (np.select, in Arrow)."""
    chosen = default
    for condition, choice in reversed(list(zip(conditions, choices, strict=True))):
        chosen = pc.if_else(pa.array(np.asarray(condition, dtype=bool)), _text(choice), _text(chosen))
    return chosen


def _text(value: pa.Array | str) -> pa.Array | pa.Scalar:
    return value if isinstance(value, pa.Array | pa.ChunkedArray) else pa.scalar(value, pa.large_string())


def _blank(count: int) -> pa.Array:
    return _constant("", count)


def _constant(text: str, count: int) -> pa.Array:
    return pc.fill_null(pa.nulls(count, pa.large_string()), pa.scalar(text, pa.large_string()))


def _by_case(case: np.ndarray, builders: list) -> pa.Array:
    """Per row, the text of its case: `builders[k](positions)` builds case k's texts for the rows
    at those positions only; the pieces are put back in row order."""
    parts, where = [], []
    for k, build in enumerate(builders):
        positions = np.flatnonzero(case == k)
        if len(positions):
            built = build(positions)
            parts.append(built.combine_chunks() if isinstance(built, pa.ChunkedArray) else built)
            where.append(positions)
    if not parts:
        return _blank(0)
    order = np.empty(len(case), dtype="int64")
    order[np.concatenate(where)] = np.arange(len(case))
    return pa.concat_arrays(parts).take(pa.array(order))


def _units(values: np.ndarray) -> pa.Array:
    return _cat(_s(values), " unit", _plural(values))


def _plural(values: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(values) == 1), pa.scalar("", pa.large_string()),
                      pa.scalar("s", pa.large_string()))


def allotment_text(allotment: pd.Series) -> pd.Series:
    """`allotment` lists in words, one text per visit (aligned): `97112 24 min → 2 (1 with CQ/CO),
    97110 23 min → 1`; a 97112 entry of a total-only note reads `97112 (total only) → 1`; empty
    for an empty list. For the reports and the review workbook, which show text cells."""
    if allotment.empty:
        return pd.Series("", index=allotment.index, dtype="str")
    lists = pa.array(allotment, from_pandas=True)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    minutes = flat.field("minutes")
    cq = flat.field("cq_units").to_numpy(zero_copy_only=False)
    said = _cat(pc.cast(flat.field("cpt_code"), pa.large_string()),
                pc.if_else(pc.is_null(minutes), pa.scalar(" (total only)", pa.large_string()),
                           _cat(" ", pc.cast(pc.fill_null(minutes, 0), pa.large_string()), " min")),
                " → ", _s(flat.field("units").to_numpy(zero_copy_only=False)),
                _pick([cq > 0], [_cat(" (", _s(cq), " with CQ/CO)")], ""))
    joined = _joined(parents, said, ", ", len(allotment))
    return pd.Series(joined, index=allotment.index, dtype="str")


def describe_visit(visit: pd.Series, notes: pd.DataFrame, services: pd.DataFrame, lines: pd.DataFrame,
                   findings: pd.DataFrame) -> str:
    """One visit's unit decision as `nmr-audit explain` prints it: the visit, its explanation, the
    allotment as a table, 97112's and all timed units billed against supported, then its notes
    (credential, NPI, session, minutes per code), claim lines and findings. `visit`: a row of
    visits.parquet; the frames: the run's rows of that visit (empty where the run lacks them)."""
    said = [f"Visit of patient {visit['patient_id']} on {_day(visit['date_of_service'])} under NPI "
            f"{visit['rendering_npi']} (clinic {_or(visit.get('clinic_id'))}; payer {_or(visit.get('payer_type'))}"
            f"{_also(visit.get('payer_id'))}, {_or(visit.get('rule_basis'))} rule)", ""]
    explanation = visit.get("explanation")
    said += ["How the units were decided:",
             f"  {explanation}" if isinstance(explanation, str) else
             "  (this run's visits.parquet has no explanation: it was written before nmr-audit explained units; "
             "audit the exports again)", ""]
    allotment = visit.get("allotment")
    entries = list(allotment) if allotment is not None and not isinstance(allotment, float) else []
    if entries:
        said += ["Allotment (units the minutes support, per timed code):",
                 f"  {'code':<7}{'minutes':>9}{'units':>7}{'with CQ/CO':>12}"]
        said += [f"  {e['cpt_code']:<7}{_or(e['minutes'], 'total'):>9}{e['units']:>7}{e['cq_units']:>12}"
                 for e in entries]
        said.append("")
    held, unreadable = _true(visit.get("note_quarantined")), _true(visit.get("unit_inputs_unreadable"))
    if held or unreadable:
        said += [f"97112: billed {_int(visit.get('billed_units_97112'))}; supported and beyond the minutes not "
                 "judged until the " + ("quarantined note" if held else "unreadable unit input") + " is fixed", ""]
    else:
        said += [f"97112: billed {_int(visit.get('billed_units_97112'))}, supported "
                 f"{_int(visit.get('supported_units_97112'))}, beyond the minutes "
                 f"{_int(visit.get('excess_units_97112'))}; all timed codes: billed "
                 f"{_int(visit.get('billed_timed_units'))}, supported {_int(visit.get('supported_timed_units'))}", ""]
    said += _notes(notes, services) + _lines(lines) + _findings(findings)
    return "\n".join(said).rstrip() + "\n"


def _true(value: object) -> bool:
    """A flag cell read as True only when it is set (None, NA and False are not)."""
    return value is not None and not (isinstance(value, float) or value is pd.NA) and bool(value)


def _notes(notes: pd.DataFrame, services: pd.DataFrame) -> list[str]:
    if notes.empty:
        return ["Notes: none", ""]
    minutes = {}
    if not services.empty:
        ordered = services.sort_values(["note_id", "cpt_code"], kind="stable")
        for note_id, group in ordered.groupby("note_id", sort=False):  # a visit's few notes
            minutes[note_id] = ", ".join(f"{c} {int(m)}" for c, m in zip(group["cpt_code"], group["minutes"],
                                                                          strict=True) if pd.notna(m))
    said = [f"Notes ({len(notes)}):"]
    for note in notes.sort_values("note_id", kind="stable").to_dict("records"):
        own = note.get("note_rendering_npi") or note.get("rendering_npi")
        supervised = f" (supervised by {note['supervising_npi']})" if pd.notna(note.get("supervising_npi")) else ""
        report = "; progress report" if note.get("progress_report") is True else ""
        said.append(f"  {note['note_id']}  {_or(note.get('provider_credential'))}  NPI {own}{supervised}  "
                    f"{_or(note.get('time_in'))}–{_or(note.get('time_out'))}  treatment "
                    f"{_int(note.get('total_treatment_minutes'))} min, timed {_int(note.get('total_timed_minutes'))} min"
                    f"; minutes per code: {minutes.get(note['note_id']) or 'not itemized'}{report}")
    return [*said, ""]


def _lines(lines: pd.DataFrame) -> list[str]:
    if lines.empty:
        return ["Claim lines: none", ""]
    said = [f"Claim lines ({len(lines)}):"]
    for line in lines.sort_values(["claim_id", "line_number"], kind="stable").to_dict("records"):
        modifiers = line.get("modifiers")
        shown = ",".join(str(m) for m in modifiers) if modifiers is not None and not isinstance(modifiers, str | float) \
            else _or(modifiers, "")
        charge = f"  charged ${line['charge_amount']:,.2f}" if pd.notna(line.get("charge_amount")) else ""
        said.append(f"  {line['claim_id']} line {line['line_number']}  {line['cpt_code']} × {line['units']}  "
                    f"{shown or 'no modifiers'}{charge}")
    return [*said, ""]


def _findings(findings: pd.DataFrame) -> list[str]:
    if findings.empty:
        return ["Findings: none"]
    said = [f"Findings ({len(findings)}):"]
    for finding in findings.to_dict("records"):
        dollars = finding.get("dollars_at_risk")
        money = f"  ${dollars:,.2f}" if dollars is not None and pd.notna(dollars) else ""
        said.append(f"  {finding['severity']}  {finding['rule_id']}{money}  {finding['message']}")
    return said


def _day(value: object) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if value is not None and pd.notna(value) else "—"


def _or(value: object, missing: str = "—") -> str:
    return missing if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _also(value: object) -> str:
    return f" {value}" if isinstance(value, str) and value not in ("", "nan", "<NA>") else ""


def _int(value: object) -> str:
    return "—" if value is None or pd.isna(value) else str(int(value))


def with_quarantined_notes(visits: pd.DataFrame) -> pd.DataFrame:
    """`visits` (with `explanation`, `note_quarantined` and `billed_units_97112`) whose visits had
    their note quarantined at intake say so instead of "no note documents this visit … over":
    their units are not judged (NOTE_QUARANTINED says what to fix), as `summary.visit_totals`
    counts them apart. A new frame; the others' explanations unchanged."""
    if "explanation" not in visits or "note_quarantined" not in visits:
        return visits
    held = visits["note_quarantined"].fillna(False).to_numpy(dtype=bool)
    if not held.any():
        return visits
    said = ("its note was quarantined at intake (NOTE_QUARANTINED): no unit rule judges this visit until the "
            "note is fixed; billed 97112 " + visits["billed_units_97112"].astype("int64").astype("str"))
    return visits.assign(explanation=visits["explanation"].where(~held, said).astype("str"))



def with_quarantined_lines(visits: pd.DataFrame) -> pd.DataFrame:
    """`visits` (with `explanation` and `line_quarantined`) whose visits had a 97112 claim line
    quarantined at intake say so after the decision: the units billed that it shows leave that line
    out, and "97112 not billed" must not read as a missed charge (LINE_QUARANTINED says what to
    fix). A new frame; the others' explanations unchanged."""
    if "explanation" not in visits or "line_quarantined" not in visits:
        return visits
    held = visits["line_quarantined"].fillna(False).to_numpy(dtype=bool)
    if not held.any():
        return visits
    said = visits["explanation"].astype("str") + LINE_HELD
    return visits.assign(explanation=visits["explanation"].where(~held, said).astype("str"))


LINE_HELD = ("; a 97112 claim line of this visit was quarantined at intake (LINE_QUARANTINED): its units are not "
             "counted here; fix that row and rerun, and do not add a 97112 charge")
