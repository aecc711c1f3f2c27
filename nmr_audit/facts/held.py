"""Notes set aside at intake: which visits they belong to, so that a visit whose note was
quarantined reads NOTE_QUARANTINED (with the reason, file and line), never NO_NOTE.

Intake keeps, on each quarantined row, its visit key as far as the cells could be read
(`patient_id`, `date_of_service`, `rendering_npi`; null where unreadable). Pure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import SOURCE_FILE, SOURCE_ROW, VISIT_NOTES
from nmr_audit.facts.common import DAY, KEY
from nmr_audit.keys import keys_in

HELD_COLUMNS = (*KEY, "reason", SOURCE_FILE, SOURCE_ROW)


def held_notes(quarantine: pd.DataFrame | None) -> pd.DataFrame:
    """The quarantined notes whose patient and date could be read: `HELD_COLUMNS`, in file and
    line order. `quarantine`: the run's quarantine frame (table, source_file, source_row,
    reason, …, patient_id, date_of_service, rendering_npi), or held notes already (no `table`
    column); None, or without the key columns, gives none."""
    empty = pd.DataFrame({"patient_id": pd.Series(dtype="str"), "date_of_service": pd.Series(dtype="datetime64[s]"),
                          "rendering_npi": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
                          SOURCE_FILE: pd.Series(dtype="str"), SOURCE_ROW: pd.Series(dtype="int64")})
    if quarantine is None or quarantine.empty or not set(DAY) <= set(quarantine.columns):
        return empty
    is_note = (quarantine["table"] == VISIT_NOTES).to_numpy() if "table" in quarantine.columns else True
    notes = quarantine[is_note & quarantine["patient_id"].notna().to_numpy()
                       & quarantine["date_of_service"].notna().to_numpy()]
    if notes.empty:
        return empty
    npi = notes["rendering_npi"] if "rendering_npi" in notes.columns else pd.Series(pd.NA, index=notes.index)
    held = pd.DataFrame({"patient_id": notes["patient_id"].astype("str"),
                         "date_of_service": pd.to_datetime(notes["date_of_service"]).astype("datetime64[s]"),
                         "rendering_npi": npi.astype("str"), "reason": notes["reason"].astype("str"),
                         SOURCE_FILE: notes[SOURCE_FILE].astype("str"), SOURCE_ROW: notes[SOURCE_ROW].astype("int64")})
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
    out = pd.DataFrame({"note_quarantined": np.zeros(len(visits), dtype=bool),
                        "quarantine_reason": pd.Series(pd.NA, index=visits.index, dtype="str"),
                        "quarantine_file": pd.Series(pd.NA, index=visits.index, dtype="str"),
                        "quarantine_row": pd.Series(pd.NA, index=visits.index, dtype="Int64")}, index=visits.index)
    if held.empty or visits.empty:
        return out
    wanted = visits[[*KEY, "note_id"]].reset_index(drop=True).assign(at=np.arange(len(visits)))
    owned = keys_in(held[KEY], visits[KEY], KEY)  # held notes keyed exactly to some visit stay with it
    pairs = wanted.merge(held.assign(owned=owned).rename(columns={"rendering_npi": "held_npi"}), on=DAY)
    same = (pairs["held_npi"] == pairs["rendering_npi"]).fillna(False)
    loose = pairs["note_id"].isna() & ~pairs["owned"] & ~same
    pairs = pairs[(same | loose).to_numpy()]
    if pairs.empty:
        return out
    first = pairs.sort_values(["at", SOURCE_FILE, SOURCE_ROW], kind="stable").drop_duplicates("at")
    rows = visits.index[first["at"].to_numpy()]
    out.loc[rows, "note_quarantined"] = True
    out.loc[rows, "quarantine_reason"] = first["reason"].to_numpy()
    out.loc[rows, "quarantine_file"] = first[SOURCE_FILE].to_numpy()
    out.loc[rows, "quarantine_row"] = first[SOURCE_ROW].to_numpy()
    return out
