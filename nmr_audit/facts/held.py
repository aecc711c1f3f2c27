"""Notes and claim lines set aside at intake: which visits they belong to, so that a visit whose
note was quarantined reads NOTE_QUARANTINED (with the reason, file and line), never NO_NOTE, and a
visit whose 97112 line was quarantined reads LINE_QUARANTINED, never UNBILLED_97112 (the line was
billed; it could not be read).

Intake keeps, on each quarantined row, its visit key as far as the cells could be read
(`patient_id`, `date_of_service`, `rendering_npi`; null where unreadable). Pure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import CLAIM_LINES, NMR_CODE, SOURCE_FILE, SOURCE_ROW, VISIT_NOTES
from nmr_audit.facts.common import DAY, KEY
from nmr_audit.keys import keys_in
from nmr_audit.parse import parse_cpt_codes

HELD_COLUMNS = (*KEY, "reason", SOURCE_FILE, SOURCE_ROW)
_CPT_IN_RECORD = r'"cpt_code": "?([^",}]*)'  # the code's cell in the quarantine's `record` (JSON, as read)


def held_rows(*quarantines: pd.DataFrame | None) -> pd.DataFrame:
    """The quarantined notes and 97112 claim lines (`held_notes`, `held_lines`) of the run's
    quarantine frames, with `table` (visit_notes, claim_lines) before `HELD_COLUMNS`: the small
    frame the flow hands each bucket and partition (no `record` cells). Either function below
    reads its own rows back from it."""
    parts = [frame for frame in quarantines if frame is not None and not frame.empty]
    quarantine = pd.concat(parts, ignore_index=True) if parts else None
    notes, lines = held_notes(quarantine), held_lines(quarantine)
    return pd.concat([notes.assign(table=VISIT_NOTES), lines.assign(table=CLAIM_LINES)],
                     ignore_index=True)[["table", *HELD_COLUMNS]].astype({"table": "str"})


def held_notes(quarantine: pd.DataFrame | None) -> pd.DataFrame:
    """The quarantined notes whose patient and date could be read: `HELD_COLUMNS`, in file and
    line order. `quarantine`: the run's quarantine frame (table, source_file, source_row,
    reason, …, patient_id, date_of_service, rendering_npi), or held notes already (no `table`
    column); None, or without the key columns, gives none."""
    return _held(quarantine, VISIT_NOTES)


def held_lines(quarantine: pd.DataFrame | None) -> pd.DataFrame:
    """The quarantined claim lines whose patient and date could be read and whose procedure code
    reads 97112 or could not be read (a row quarantined for another code leaves UNBILLED_97112 to
    judge the visit): `HELD_COLUMNS`, in file and line order. `quarantine` as for `held_notes`,
    with its `table` column (a frame without one holds notes only) and, to tell the code, its
    `record` (the row's cells as JSON; without it every claim line is kept)."""
    return _held(quarantine, CLAIM_LINES)


def _held(quarantine: pd.DataFrame | None, table: str) -> pd.DataFrame:
    empty = pd.DataFrame({"patient_id": pd.Series(dtype="str"), "date_of_service": pd.Series(dtype="datetime64[s]"),
                          "rendering_npi": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
                          SOURCE_FILE: pd.Series(dtype="str"), SOURCE_ROW: pd.Series(dtype="int64")})
    if quarantine is None or quarantine.empty or not set(DAY) <= set(quarantine.columns):
        return empty
    if "table" in quarantine.columns:
        of_table = (quarantine["table"] == table).to_numpy()
    else:  # held notes already
        of_table = np.full(len(quarantine), table == VISIT_NOTES)
    if table == CLAIM_LINES and "record" in quarantine.columns:
        code, _ = parse_cpt_codes(quarantine["record"].astype("str").str.extract(_CPT_IN_RECORD)[0].str.strip())
        of_table = of_table & (code.isna() | (code == NMR_CODE)).to_numpy(dtype=bool)
    rows = quarantine[of_table & quarantine["patient_id"].notna().to_numpy()
                      & quarantine["date_of_service"].notna().to_numpy()]
    if rows.empty:
        return empty
    npi = rows["rendering_npi"] if "rendering_npi" in rows.columns else pd.Series(pd.NA, index=rows.index)
    held = pd.DataFrame({"patient_id": rows["patient_id"].astype("str"),
                         "date_of_service": pd.to_datetime(rows["date_of_service"]).astype("datetime64[s]"),
                         "rendering_npi": npi.astype("str"), "reason": rows["reason"].astype("str"),
                         SOURCE_FILE: rows[SOURCE_FILE].astype("str"), SOURCE_ROW: rows[SOURCE_ROW].astype("int64")})
    return held.sort_values([SOURCE_FILE, SOURCE_ROW], kind="stable").reset_index(drop=True)


def held_for_visits(visits: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Per row of `visits` (a frame with the visit key and `note_id`): whether a quarantined note
    belongs to it, and the first such note's reason, file and line.

    A held note belongs to the visit with its key; a visit without a kept note also takes a held
    note of the same patient and date whose NPI is unreadable or another's (an assistant's note
    whose supervising NPI could not be read is keyed by the assistant's own NPI) and that no
    visit has exactly. Returns
    `note_quarantined` (bool), `quarantine_reason`, `quarantine_file` (str), `quarantine_row`
    (Int64), aligned with `visits`.
    """
    free = visits["note_id"].isna().to_numpy(dtype=bool) if len(visits) else np.zeros(0, dtype=bool)
    return _belonging(visits, held, free, ("note_quarantined", "quarantine_reason", "quarantine_file",
                                           "quarantine_row"))


def lines_held_for_visits(visits: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """Per row of `visits` (a frame with the visit key and `lines_97112`): whether a quarantined
    97112 claim line (`held_lines`) belongs to it, and the first such line's reason, file and line.

    As `held_for_visits` for notes: a held line belongs to the visit with its key; a visit with no
    97112 line read also takes a held line of the same patient and date whose NPI is unreadable
    or another's and that no visit has exactly. Returns `line_quarantined` (bool),
    `line_quarantine_reason`, `line_quarantine_file` (str), `line_quarantine_row` (Int64),
    aligned with `visits`.
    """
    free = (visits["lines_97112"].fillna(0).to_numpy() == 0) if len(visits) else np.zeros(0, dtype=bool)
    return _belonging(visits, held, free, ("line_quarantined", "line_quarantine_reason", "line_quarantine_file",
                                           "line_quarantine_row"))


def _belonging(visits: pd.DataFrame, held: pd.DataFrame, free: np.ndarray, names: tuple[str, str, str, str]
               ) -> pd.DataFrame:
    """`names` (flag, reason, file, row) per visit: the first held row of the visit's key, or, for a
    `free` visit (nothing of that table kept), of its patient and date with an NPI no visit has."""
    flag, reason, file, row = names
    out = pd.DataFrame({flag: np.zeros(len(visits), dtype=bool),
                        reason: pd.Series(pd.NA, index=visits.index, dtype="str"),
                        file: pd.Series(pd.NA, index=visits.index, dtype="str"),
                        row: pd.Series(pd.NA, index=visits.index, dtype="Int64")}, index=visits.index)
    if held.empty or visits.empty:
        return out
    wanted = visits[KEY].reset_index(drop=True).assign(at=np.arange(len(visits)), free=free)
    owned = keys_in(held[KEY], visits[KEY], KEY)  # held rows keyed exactly to some visit stay with it
    pairs = wanted.merge(held[list(HELD_COLUMNS)].assign(owned=owned).rename(columns={"rendering_npi": "held_npi"}),
                         on=DAY)
    same = (pairs["held_npi"] == pairs["rendering_npi"]).fillna(False)
    loose = pairs["free"] & ~pairs["owned"] & ~same
    pairs = pairs[(same | loose).to_numpy()]
    if pairs.empty:
        return out
    first = pairs.sort_values(["at", SOURCE_FILE, SOURCE_ROW], kind="stable").drop_duplicates("at")
    rows = visits.index[first["at"].to_numpy()]
    out.loc[rows, flag] = True
    out.loc[rows, reason] = first["reason"].to_numpy()
    out.loc[rows, file] = first[SOURCE_FILE].to_numpy()
    out.loc[rows, row] = first[SOURCE_ROW].to_numpy()
    return out
