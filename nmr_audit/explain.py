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

    `visits`: indexed by visit number, with `rule_basis` and `itemizes_minutes`; `code_minutes`:
    `visit, cpt_code, minutes, assistant_minutes` (minutes summed over the visit's notes, and the
    share furnished by assistants). Returns `ALLOTMENT_COLUMNS`, ordered by visit then 97112
    first, then by code: `units` (CMS: full units plus a left-over unit where `left_over`, ties
    in 97112's favour, else by code; AMA: the unit table on the code's own minutes), `cq_units`
    (`units.assistant_units` over the code's pooled minutes), `full_units`, `remaining`
    (minutes % 15) and `rank` (the code's place in the queue for left-over units, 0 first).
    """
    itemized = visits.index[visits["itemizes_minutes"].to_numpy(dtype=bool)]
    rows = code_minutes[np.isin(code_minutes["visit"].to_numpy(), itemized.to_numpy())]
    rows = rows.assign(first=(rows["cpt_code"] != NMR_CODE).to_numpy())
    rows = rows.sort_values(["visit", "first", "cpt_code"], kind="stable").drop(columns="first").reset_index(drop=True)
    minutes = rows["minutes"].astype("int64")
    assistant = rows["assistant_minutes"].fillna(0).astype("int64").clip(upper=minutes)
    cms = (rows["visit"].map(visits["rule_basis"]) == "cms").to_numpy()
    rank, left = cms_left_over_rank(rows.assign(minutes=minutes), favour=NMR_CODE)
    remaining = (minutes % 15).to_numpy()
    extra = cms & (rank < left) & (remaining > 0)
    units = np.where(cms, (minutes // 15).to_numpy() + extra, units_for_minutes(minutes).to_numpy())
    units = pd.Series(units, index=rows.index, dtype="int64")
    return pd.DataFrame({
        "visit": rows["visit"].to_numpy(), "cpt_code": rows["cpt_code"].astype("str").to_numpy(),
        "minutes": minutes.to_numpy(), "assistant_minutes": assistant.to_numpy(), "units": units.to_numpy(),
        "cq_units": assistant_units(units, assistant, minutes - assistant).to_numpy(),
        "full_units": (minutes // 15).to_numpy(), "remaining": remaining, "left_over": extra, "rank": rank,
    })


def allotment_lists(visits: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """`allotment` per visit (aligned with `visits`): the itemized rows of `allotment_rows`, or,
    where the notes give only a total, one 97112 entry (minutes missing, the supported and CQ/CO
    units); empty where no note documents the visit."""
    total_only = ~visits["itemizes_minutes"].to_numpy(dtype=bool) & (visits["note_count"].to_numpy() > 0)
    alone = pd.DataFrame({"visit": visits.index[total_only], "cpt_code": NMR_CODE,
                          "minutes": pd.Series(pd.NA, index=range(int(total_only.sum())), dtype="Int64"),
                          "units": visits.loc[total_only, "supported_units_97112"].to_numpy(),
                          "cq_units": visits.loc[total_only, "cq_units_97112"].to_numpy()})
    entries = pd.concat([rows[["visit", "cpt_code", "minutes", "units", "cq_units"]].astype({"minutes": "Int64"}),
                         alone], ignore_index=True)
    at = pd.Index(visits.index).get_indexer(entries["visit"].to_numpy())
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

    `rows`: `allotment_rows` of the same visits; `credentials`: per visit, the credentials of its
    notes joined (`PT, PTA`), named when several notes pool their minutes."""
    v = visits
    index = v.index
    cms = (v["rule_basis"] == "cms").to_numpy()
    itemized = v["itemizes_minutes"].to_numpy(dtype=bool)
    noted = v["note_count"].to_numpy() > 0
    pooled = v["pooled_timed_minutes"].astype("int64")
    pool_units = units_for_minutes(pooled)
    supported = v["supported_units_97112"].astype("int64")
    text = pd.Series("", index=index, dtype="str")

    # the notes: several pooled, or an input the unit checks read could not be read
    several = v["note_count"].to_numpy() > 1
    named = credentials.reindex(index).fillna("") if credentials is not None else pd.Series("", index=index, dtype="str")
    text = text.where(~several, _n(v["note_count"]) + " notes pooled"
                      + pd.Series(np.where(named != "", " (" + named + ")", ""), index=index, dtype="str") + "; ")
    blocked = v["unit_inputs_unreadable"].to_numpy(dtype=bool)
    text = text.where(~blocked, text + "a value the unit checks read could not be read (FIELD_UNREADABLE): "
                      "no unit rule judges this visit; ")

    # itemized: the pool and each code's share
    per_code = _per_visit_texts(rows, index)
    cms_item = (text + "cms: " + per_code["pool"] + " " + _n(pooled) + " timed min → " + _units(pool_units)
                + "; " + per_code["share"] + per_code["others"])
    timed = v["supported_timed_units"]
    ama_item = (text + "ama, each code on its own: " + per_code["each"] + " (" + _n(timed) + " timed unit"
                + _plural(timed) + ")")
    # a total only: what the other codes billed leave 97112
    other = v["other_timed_units"].astype("int64")
    fewest = v["other_fewest_minutes"].astype("int64")
    cms_total = (text + "cms, the notes give only a total: " + _n(pooled) + " timed min → " + _units(pool_units)
                 + pd.Series(np.where(other > 0, "; the other timed codes billed take " + _n(other), "; no other timed "
                                      "code billed"), index=index, dtype="str")
                 + " → 97112 " + _n(supported))
    left = (pooled - fewest).clip(lower=0)
    ama_total = (text + "ama, the notes give only a total: " + _n(pooled) + " timed min"
                 + pd.Series(np.where(other > 0, "; the other timed codes' " + _units(other) + " need at least "
                                      + _n(fewest) + " min, leaving " + _n(left), "; no other timed code billed"),
                             index=index, dtype="str")
                 + " → 97112 " + _n(supported))
    no_note = text + "no note documents this visit → 97112 0"
    text = pd.Series(np.select([~noted, itemized & cms, itemized, cms], [no_note, cms_item, ama_item, cms_total],
                               ama_total), index=index, dtype="str")

    # CQ/CO: the assistant's units (payers with Medicare's rules)
    medicare = v["medicare_rules"].fillna(False).to_numpy(dtype=bool)
    assistant = v["assistant_minutes_97112"].fillna(0).astype("int64")
    therapist = (v["minutes_97112"].fillna(0).astype("int64") - assistant).clip(lower=0)
    cq = v["cq_units_97112"].astype("int64")
    billed_cq = v["billed_cq_units_97112"].astype("int64")
    split = medicare & itemized & (assistant > 0).to_numpy()
    all_assistant = medicare & ~itemized & v["all_notes_by_assistants"].to_numpy(dtype=bool) & noted
    cq_text = np.select(
        [split, all_assistant],
        ["; CQ/CO: the assistant's " + _n(assistant) + " min and the therapist's " + _n(therapist)
         + " min of 97112 → " + _n(cq) + " of " + _n(supported) + " with CQ/CO (billed " + _n(billed_cq) + ")",
         "; every note by an assistant: CQ/CO on all " + _n(supported) + " (billed " + _n(billed_cq) + ")"], "")
    text = text + pd.Series(cq_text, index=index, dtype="str")

    # what was billed against it
    billed = v["billed_units_97112"].astype("int64")
    excess = v["excess_units_97112"].astype("int64")
    under = (supported - billed).clip(lower=0)
    billed_text = np.select(
        [(v["lines_97112"] == 0).to_numpy(), (excess > 0).to_numpy(), (under > 0).to_numpy()],
        ["; 97112 not billed", "; billed 97112 " + _n(billed) + " → " + _n(excess) + " over",
         "; billed 97112 " + _n(billed) + " → " + _n(under) + " under"],
        "; billed 97112 " + _n(billed) + " → as supported")
    timed_over = (v["billed_timed_units"] - v["supported_timed_units"]).clip(lower=0).astype("int64")
    timed_text = np.where(noted & (timed_over > 0).to_numpy(),
                          "; all timed codes billed " + _n(v["billed_timed_units"]) + " against "
                          + _n(v["supported_timed_units"]) + " → " + _n(timed_over) + " over", "")
    return (text + pd.Series(billed_text, index=index, dtype="str")
            + pd.Series(timed_text, index=index, dtype="str")).astype("str")


def _per_visit_texts(rows: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Per visit, the parts of an itemized explanation: `pool` (`97112 24 + 97110 23`), `each`
    (`97112 24 min → 2, 97110 23 min → 2`), `share` (97112's units under CMS and why) and
    `others` (`, 97110 1`: the other codes' units)."""
    blank = pd.Series("", index=index, dtype="str")
    if rows.empty:
        return pd.DataFrame({"pool": blank, "each": blank, "share": "97112 has no minutes", "others": blank})
    code, minutes, units = rows["cpt_code"].astype("str"), _n(rows["minutes"]), _n(rows["units"])
    visit = rows["visit"].to_numpy()
    is_nmr = (rows["cpt_code"] == NMR_CODE).to_numpy()
    pool = _joined(visit, code + " " + minutes, " + ", index)
    each = _joined(visit, code + " " + minutes + " min → " + units, ", ", index)
    others = _joined(visit[~is_nmr], code[~is_nmr] + " " + units[~is_nmr], ", ", index)
    others = pd.Series(np.where(others != "", ", " + others, ""), index=index, dtype="str")

    nmr = rows[is_nmr].set_index("visit")
    full = nmr["full_units"].reindex(index)
    remaining = nmr["remaining"].reindex(index)
    won = nmr["left_over"].reindex(index).fillna(False).astype("bool").to_numpy()
    has = full.notna().to_numpy()
    full, remaining = full.fillna(0).astype("int64"), remaining.fillna(0).astype("int64")
    # the rival: the first code in the queue that got no left-over unit though it had minutes remaining
    losers = rows[~is_nmr & ~rows["left_over"].to_numpy() & (rows["remaining"] > 0).to_numpy()]
    rival = losers.sort_values(["visit", "rank"], kind="stable").drop_duplicates("visit").set_index("visit")
    rival_code = rival["cpt_code"].reindex(index).astype("str")
    rival_left = rival["remaining"].reindex(index)
    has_rival = rival_left.notna().to_numpy()
    rival_left = rival_left.fillna(0).astype("int64")
    winners = rows[~is_nmr & rows["left_over"].to_numpy()].sort_values(["visit", "rank"], kind="stable")
    taken = _joined(winners["visit"].to_numpy(), winners["cpt_code"].astype("str") + "'s " + _n(winners["remaining"]),
                    ", ", index)
    left_over = rows.groupby("visit")["left_over"].sum().reindex(index, fill_value=0).to_numpy()

    gets = pd.Series(np.where(full > 0, "97112 gets " + _n(full) + " full unit" + _plural(full), "97112 gets"),
                     index=index, dtype="str")
    compare = np.select(
        [has_rival & (remaining > rival_left).to_numpy(), has_rival],
        [" beats " + rival_code + "'s " + _n(rival_left),
         " ties " + rival_code + "'s " + _n(rival_left) + ": ties go to 97112, the provider's choice"], "")
    won_text = (gets + pd.Series(np.where(full > 0, " + the left-over unit (", " the left-over unit ("), index=index,
                                 dtype="str") + _n(remaining) + " min remaining" + pd.Series(compare, index=index,
                                                                                             dtype="str") + ")")
    nothing = gets + pd.Series(np.where(full > 0, "", " 0"), index=index, dtype="str")
    lost_text = (nothing + pd.Series(np.where(left_over > 1, " (the " + _n(pd.Series(left_over, index=index))
                                              + " left-over units go to ", " (the left-over unit goes to "),
                                     index=index, dtype="str")
                 + taken + " min remaining, more than its " + _n(remaining) + ")")
    none_left = nothing + " (no unit is left over for its " + _n(remaining) + " min remaining)"
    share = np.select(
        [~has, won, (remaining > 0).to_numpy() & (left_over > 0), (remaining > 0).to_numpy()],
        ["97112 has no minutes", won_text, lost_text, none_left], gets)
    codes = rows.groupby("visit").size().reindex(index, fill_value=0).to_numpy()
    alone = _joined(visit, code + " alone,", "", index)
    pool = pd.Series(np.where(codes > 1, pool + " =", alone), index=index, dtype="str")
    return pd.DataFrame({"pool": pool, "each": each, "share": pd.Series(share, index=index, dtype="str"),
                         "others": others})


def note_credentials(visit_notes: pd.DataFrame, note_visit: np.ndarray, keep: pd.Index) -> pd.Series:
    """Per visit number in `keep`: the distinct credentials of its notes, sorted and joined
    (`PT, PTA`); empty where unknown."""
    frame = pd.DataFrame({"visit": note_visit, "credential": visit_notes["provider_credential"].astype("str").to_numpy()})
    frame = frame[frame["credential"].notna().to_numpy() & np.isin(note_visit, keep.to_numpy())]
    frame = frame.drop_duplicates().sort_values(["visit", "credential"], kind="stable")
    return _joined(frame["visit"].to_numpy(), frame["credential"], ", ", keep)


def _joined(groups: np.ndarray, texts: pd.Series, separator: str, index: pd.Index) -> pd.Series:
    """Each group's texts joined in the order given, aligned with `index` (empty where none):
    Arrow's ordered list aggregation, not a Python join per group."""
    if len(groups) == 0:
        return pd.Series("", index=index, dtype="str")
    table = pa.table({"group": pa.array(np.asarray(groups, dtype="int64")),
                      "text": pa.array(texts.astype("str").to_numpy(), type=pa.string())})
    lists = table.group_by("group", use_threads=False).aggregate([("text", "list")])
    joined = pd.Series(pc.binary_join(lists["text_list"], separator).to_numpy(zero_copy_only=False),
                       index=pd.Index(lists["group"].to_numpy()), dtype="str")
    return joined.reindex(index).fillna("").astype("str")


def _n(values: pd.Series | np.ndarray) -> pd.Series:
    """Whole numbers as text, over a whole column."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    return series.fillna(0).astype("int64").astype("str")


def _units(values: pd.Series) -> pd.Series:
    return _n(values) + " unit" + _plural(values)


def _plural(values: pd.Series) -> pd.Series:
    return pd.Series(np.where(np.asarray(values) == 1, "", "s"), index=getattr(values, "index", None), dtype="str")
