"""Earlier nights' rows audited again beside tonight's (a nightly run's look-back window).

`add_history` reads the nightly state (`runtime.state`), picks the rows of the patients and
days tonight's rows touch (`state.rows_to_reaudit`) and puts them into the run's spill beside
tonight's rows, in tonight's dtypes, so that every executor audits them like any other row; the
beneficiaries' year kept by earlier nights (therapy amounts toward the KX threshold, treatment
days since the last progress report: `state.therapy_history`) goes into the spill by patient
too, so each bucket (and each partition: a bucket of patients) sees its patients' whole year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from nmr_audit.contract import CLAIM_LINES, LINEAGE, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.runtime.buckets import patient_buckets
from nmr_audit.runtime.reading import Log
from nmr_audit.runtime.spill import Spill
from nmr_audit.runtime.state import (
    PATIENT_DAY,
    THERAPY_AMOUNTS,
    TREATMENT_DAYS,
    read_state,
    rows_to_reaudit,
    therapy_history,
    touched_days,
)


@dataclass(frozen=True)
class History:
    """What a run added of earlier nights: for summary.json (rows audited again per table,
    patient-days touched, the window's first date) and the patient-days touched."""

    summary: dict[str, Any]
    touched: pd.DataFrame


def add_history(spill: Spill, folder: Path, since: date | None, files: list[str], log: Log,
                remit_claims: pd.Series | None = None) -> History:
    """Earlier nights' rows of the patients and days tonight's rows touch, from the state in
    `folder` (rows dated `since` or later), into `spill` beside them, cast to tonight's dtypes.
    `files`: tonight's input files (a row of the state read from one of them is tonight's).
    Tonight's remittances touch the days of the earlier claim lines they answer (`remit_claims`:
    their claim ids), so a remittance that arrives nights after its claim finds the line
    audited again tonight."""
    state = read_state(folder)
    tonight = {t: pd.concat([spill.load(t, b) for b in range(spill.buckets)], ignore_index=True)
               if t in spill.tables else None for t in (CLAIM_LINES, VISIT_NOTES)}
    patients = pd.concat([f["patient_id"] for f in tonight.values() if f is not None] or [pd.Series(dtype="str")])
    therapy = therapy_history(state, patients, files)
    if therapy is not None:  # the beneficiaries' year: KX totals and treatment days, beside their rows
        for name, rows in ((THERAPY_AMOUNTS, therapy.amounts), (TREATMENT_DAYS, therapy.days)):
            spill.add(name, rows, patient_buckets(rows["patient_id"].astype("str"), spill.buckets))
    touched = touched_days(*(f if f is not None else pd.DataFrame(columns=PATIENT_DAY) for f in tonight.values()))
    earlier_lines = state.table(CLAIM_LINES)
    if remit_claims is not None and len(remit_claims) and earlier_lines is not None and len(earlier_lines):
        answered = earlier_lines.loc[earlier_lines["claim_id"].isin(remit_claims).to_numpy(), PATIENT_DAY]
        touched = pd.concat([touched, answered], ignore_index=True).drop_duplicates().reset_index(drop=True)
    start = pd.Timestamp(since) if since else pd.Timestamp.min
    due = rows_to_reaudit(state, touched, {t: f for t, f in tonight.items() if f is not None}, files, start)
    added = {}
    for table in (CLAIM_LINES, VISIT_NOTES):
        rows = due[table]
        if tonight[table] is not None and not rows.empty:
            template = tonight[table]
            rows = rows[list(template.columns)].astype(template.dtypes.to_dict())
        if rows.columns.empty:
            continue
        bucket = patient_buckets(rows["patient_id"], spill.buckets)
        spill.add(table, rows, bucket)
        if table == VISIT_NOTES and not due[NOTE_SERVICES].columns.empty:  # even none: the table's columns
            services = due[NOTE_SERVICES]
            if NOTE_SERVICES in spill.tables:
                template = spill.load(NOTE_SERVICES, 0)
                services = services[list(template.columns)].astype(template.dtypes.to_dict())
            note_of = pd.MultiIndex.from_frame(rows[list(LINEAGE)].astype("str")).get_indexer(
                pd.MultiIndex.from_frame(services[list(LINEAGE)].astype("str")))
            spill.add(NOTE_SERVICES, services.loc[note_of >= 0], bucket[note_of[note_of >= 0]])
        added[table] = len(rows)
    log.info("history: %d patient-day(s) touched; %d claim line(s) and %d note(s) of earlier nights audited again",
             len(touched), added.get(CLAIM_LINES, 0), added.get(VISIT_NOTES, 0))
    return History({"rows_audited_again": added, "patient_days_touched": len(touched),
                    "since": start.date().isoformat() if since else None,
                    "therapy_rows": {"therapy_amounts": len(therapy.amounts), "treatment_days": len(therapy.days)}
                    if therapy is not None else None}, touched)
