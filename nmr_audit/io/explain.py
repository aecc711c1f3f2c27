"""One visit read from a run's folder, for `nmr-audit explain`: its row of visits.parquet, its
notes and their minutes, its claim lines and its findings. Only the rows of that visit are kept
(Arrow filters on read), so a run of millions of lines answers in a moment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds

from nmr_audit.errors import InputError
from nmr_audit.io.readers import canonical_frame


@dataclass(frozen=True)
class FoundVisit:
    visit: pd.Series  # the row of visits.parquet
    notes: pd.DataFrame  # visit_notes.parquet rows of the visit's note_ids (empty without the file)
    services: pd.DataFrame  # note_services.parquet rows of those notes: note_id, cpt_code, minutes
    lines: pd.DataFrame  # claim_lines.parquet rows of the visit key
    findings: pd.DataFrame  # findings.parquet rows of the visit key


def read_visit(folder: Path, patient_id: str, date_of_service: str, rendering_npi: str) -> FoundVisit:
    """The visit (patient, YYYY-MM-DD, NPI) of the run in `folder`.

    Raises InputError naming the folder or visits.parquet: not a finished run, or no such visit
    (the message lists the NPIs the patient has visits under that day, if any).
    """
    path = folder / "visits.parquet"
    if not path.exists():
        raise InputError(folder, "no visits.parquet: not the folder of a finished `nmr-audit audit` run",
                         "give --out the folder an audit wrote")
    day = pd.Timestamp(date_of_service)
    same_day = _rows(path, (pc.field("patient_id") == patient_id) & (pc.field("date_of_service") == day))
    visit = same_day[same_day["rendering_npi"].astype("str") == rendering_npi] if len(same_day) else same_day
    if visit.empty:
        others = sorted(same_day["rendering_npi"].astype("str").unique()) if len(same_day) else []
        elsewhere = (f"; that day the patient has visits under NPI {', '.join(others)}" if others
                     else "; the patient has no visit with 97112 that day")
        raise InputError(path, f"no visit of patient {patient_id} on {date_of_service} under NPI {rendering_npi}"
                         + elsewhere, "a visit is listed when it has a 97112 line or 97112 minutes; an assistant's "
                         "note belongs to the visit of its supervising therapist's NPI")
    row = visit.iloc[0]
    key = ((pc.field("patient_id") == patient_id) & (pc.field("date_of_service") == day)
           & (pc.field("rendering_npi") == rendering_npi))
    note_ids = [str(n) for n in row["note_ids"]] if "note_ids" in row.index and row["note_ids"] is not None else (
        [row["note_id"]] if pd.notna(row.get("note_id")) else [])
    notes = _rows(folder / "visit_notes.parquet", pc.field("note_id").isin(note_ids)) if note_ids else pd.DataFrame()
    services = _rows(folder / "note_services.parquet", pc.field("note_id").isin(note_ids)) if note_ids else pd.DataFrame()
    return FoundVisit(row, notes, services, _rows(folder / "claim_lines.parquet", key),
                      _rows(folder / "findings.parquet", key))


def _rows(path: Path, where: pc.Expression) -> pd.DataFrame:
    """The rows of a Parquet output matching `where` (an empty frame when the file is absent)."""
    if not path.exists():
        return pd.DataFrame()
    dataset = ds.dataset(path, format="parquet")
    names = set(dataset.schema.names)
    if not all(name in names for name in _fields(where)):
        return pd.DataFrame()
    table = dataset.to_table(filter=where)
    return canonical_frame(table)


def _fields(where: pc.Expression) -> list[str]:
    text = str(where)
    return [name for name in ("patient_id", "date_of_service", "rendering_npi", "note_id") if name in text]
