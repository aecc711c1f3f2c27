"""The nightly state: what earlier nights audited, so that each night sees its history.

A nightly run audits only the files that arrived since the last run. Alone, that leaves a claim
whose note is exported a night later as `NO_NOTE` forever. The output root therefore keeps the
audited canonical rows of a look-back window (dates of service from `as_of - look_back_days`
on) and the findings made of them, as Parquet files in `state/<run_id>/`:

    claim_lines.parquet, visit_notes.parquet, note_services.parquet   canonical rows + lineage
    findings.parquet                                                   + first_run_id, first_as_of
    state.json                                                         run_id, as_of, look_back_days, since

Each night re-audits, beside its new rows, the state's rows of every patient and date of service
its new rows touch (`rows_to_reaudit`): a claim line, note or minutes of a touched patient-day
is audited again with the new rows, so the late note clears the finding and the day-level rules
(DAY_UNITS_EXCEED_TIME, MUE_EXCEEDED, NCCI pairs) see the whole day. Findings have stable ids
(`findings.finding_ids`: a hash of what the finding is about), so a night tells which earlier
findings it re-examined and whether each was found again or cleared (`reexamined`).

The state is written by the nightly flow before the ledger names the run (the ledger's rename
is the commit point) and is current while the ledger's last run is its run: a run killed
before that leaves a state folder no ledger names, removed as abandoned at the next start.

The beneficiaries' year (issue 19) is kept beside them, for longer than the look-back window:

    therapy_amounts.parquet   one row per claim line toward a yearly therapy threshold:
                              claim_id, line_number, patient_id, date_of_service, year, bucket,
                              payer_type, allowed_cents, priced, source_file (`therapy.therapy_amounts`)
    treatment_days.parquet    one row per note of a known discipline: note_id, patient_id,
                              date_of_service, discipline, plan_of_care_signed_date,
                              progress_report, source_file (`therapy.treatment_days`)

from the first of January of the window's first year (and at least 100 days back, so a plan of
care that began the year before keeps its treatment days). The yearly totals and the treatment
days since a progress report are computed from these rows, never kept as running sums: a row is
keyed by its claim line or note, so a night audited again (a file sent again, `--full`) replaces
its rows and counts nothing twice, and a claim line that arrives late still counts on its date.

Pure functions (frames in, frames out) but for `read_state`/`write_state`. A table is a name in
`NightState.tables` and a file of that name; `next_state` carries tables it does not know over
unchanged, and `read_state` reads every `*.parquet` of the folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from nmr_audit.contract import CLAIM_LINES, LINEAGE, NOTE_SERVICES, SOURCE_FILE, UNIQUE_KEYS, VISIT_NOTES
from nmr_audit.sizes import LOOK_BACK_DAYS  # noqa: F401  (the nightly default, kept here for its readers)
from nmr_audit.therapy import TherapyHistory

FINDINGS = "findings"
THERAPY_AMOUNTS, TREATMENT_DAYS = "therapy_amounts", "treatment_days"
THERAPY_KEYS = {THERAPY_AMOUNTS: ["claim_id", "line_number"], TREATMENT_DAYS: ["note_id"]}
PLAN_DAYS_KEPT = 100  # treatment days kept back at least this far (a plan of care is certified for 90 days at most)
ROW_TABLES = (CLAIM_LINES, VISIT_NOTES, NOTE_SERVICES)
PATIENT_DAY = ["patient_id", "date_of_service"]
REEXAMINED_COLUMNS = ["finding_id", "rule_id", "severity", "patient_id", "date_of_service", "rendering_npi",
                      "claim_id", "line_number", "note_id", "first_run_id", "first_as_of", "outcome"]


@dataclass(frozen=True)
class NightState:
    """The state after one nightly run.

    `tables`: `claim_lines`, `visit_notes` (canonical columns, `source_file`, `source_row`;
    `date_of_service` datetime64), `note_services` (a note's minutes, linked to its note by
    `source_file`, `source_row`), `findings` (`findings.FINDING_COLUMNS` plus `first_run_id`,
    `first_as_of`: the night that first found it). A table may be missing (an empty state).
    `info`: run_id, as_of (YYYY-MM-DD), look_back_days, since (first date of service kept).
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


def window_start(as_of: date, look_back_days: int) -> pd.Timestamp:
    """The first date of service inside the look-back window of the night `as_of`."""
    return pd.Timestamp(as_of - timedelta(days=look_back_days))


def year_start(as_of: date, look_back_days: int) -> pd.Timestamp:
    """The first date of service of the beneficiaries' year the state keeps (`THERAPY_KEYS`
    tables): 1 January of the window's first year, or `PLAN_DAYS_KEPT` days before the window
    when that is earlier."""
    since = window_start(as_of, look_back_days)
    return min(pd.Timestamp(year=since.year, month=1, day=1), since - pd.Timedelta(days=PLAN_DAYS_KEPT))


def therapy_history(state: NightState, patients: pd.Series, new_files: Collection[str]) -> TherapyHistory | None:
    """The state's therapy amounts and treatment days of `patients` (tonight's), but for the rows
    of files sent again tonight (tonight's versions replace them); None for a state without them
    (the first night, or a state from before issue 19)."""
    if state.table(THERAPY_AMOUNTS) is None and state.table(TREATMENT_DAYS) is None:
        return None
    none = TherapyHistory.none()
    wanted = set(patients.astype("str"))

    def rows(name: str, empty: pd.DataFrame) -> pd.DataFrame:
        table = state.table(name)
        if table is None or table.empty:
            return empty
        keep = table["patient_id"].astype("str").isin(wanted) & ~table[SOURCE_FILE].astype("str").isin(list(new_files))
        return table[keep].reset_index(drop=True)

    return TherapyHistory(rows(THERAPY_AMOUNTS, none.amounts), rows(TREATMENT_DAYS, none.days))


def touched_days(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame) -> pd.DataFrame:
    """The (patient_id, date_of_service) pairs that tonight's new rows touch, unique."""
    days = pd.concat([claim_lines[PATIENT_DAY], visit_notes[PATIENT_DAY]], ignore_index=True)
    return days.drop_duplicates().reset_index(drop=True)


def _on_days(rows: pd.DataFrame, days: pd.DataFrame) -> pd.Series:
    """A boolean per row of `rows`: its (patient_id, date_of_service) is one of `days`."""
    if rows.empty or days.empty:
        return pd.Series(False, index=rows.index)
    wanted = pd.MultiIndex.from_frame(days[PATIENT_DAY].astype({"patient_id": "str"}))
    return pd.Series(pd.MultiIndex.from_frame(rows[PATIENT_DAY].astype({"patient_id": "str"})).isin(wanted),
                     index=rows.index)


def _keys_in(rows: pd.DataFrame, others: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A boolean per row of `rows`: its `columns` values occur in `others`."""
    if rows.empty or others.empty:
        return pd.Series(False, index=rows.index)
    wanted = pd.MultiIndex.from_frame(others[columns].astype("str"))
    return pd.Series(pd.MultiIndex.from_frame(rows[columns].astype("str")).isin(wanted), index=rows.index)


def superseded(rows: pd.DataFrame, table: str, new_rows: pd.DataFrame, new_files: Collection[str]) -> pd.Series:
    """A boolean per state row of `table`: tonight replaces it. A new row with the same unique
    key (claim_id and line_number; note_id) is the newer version; a file sent again under the
    same path replaces every row its earlier version gave."""
    replaced = rows[SOURCE_FILE].astype("str").isin(list(new_files))
    if table in UNIQUE_KEYS:
        replaced |= _keys_in(rows, new_rows, list(UNIQUE_KEYS[table]))
    return replaced


def rows_to_reaudit(state: NightState, touched: pd.DataFrame, new_rows: dict[str, pd.DataFrame],
                    new_files: Collection[str], since: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The state's rows to audit again tonight, by table: the claim lines and notes of the
    `touched` patient-days dated `since` or later that tonight does not replace (`superseded`),
    and those notes' minutes. `new_rows`: tonight's canonical claim_lines and visit_notes.
    Every table of `ROW_TABLES` is in the result (empty where nothing is due)."""
    chosen: dict[str, pd.DataFrame] = {}
    for table in (CLAIM_LINES, VISIT_NOTES):
        rows = state.table(table)
        if rows is None:
            chosen[table] = pd.DataFrame()
            continue
        keep = _on_days(rows, touched) & (rows["date_of_service"] >= since)
        keep &= ~superseded(rows, table, new_rows.get(table, pd.DataFrame(columns=rows.columns)), new_files)
        chosen[table] = rows[keep].reset_index(drop=True)
    services = state.table(NOTE_SERVICES)
    if services is None:
        chosen[NOTE_SERVICES] = pd.DataFrame()
    else:
        chosen[NOTE_SERVICES] = services[_keys_in(services, chosen[VISIT_NOTES], list(LINEAGE))].reset_index(drop=True)
    return chosen


def reexamined(state: NightState, touched: pd.DataFrame, findings: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """The earlier findings tonight examined again (those of the touched patient-days inside the
    window), each with `outcome`: `found again` (the same finding_id tonight) or `cleared`.
    Columns `REEXAMINED_COLUMNS`; one row per earlier finding."""
    earlier = state.table(FINDINGS)
    if earlier is None or earlier.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in REEXAMINED_COLUMNS})
    due = earlier[_on_days(earlier, touched) & (earlier["date_of_service"] >= since)]
    outcome = due["finding_id"].isin(findings["finding_id"]).map({True: "found again", False: "cleared"})
    return due.assign(outcome=outcome.astype("str"))[REEXAMINED_COLUMNS].reset_index(drop=True)


def next_state(state: NightState, audited: dict[str, pd.DataFrame], findings: pd.DataFrame, new_files: Collection[str],
               run_id: str, as_of: date, look_back_days: int, therapy: TherapyHistory | None = None) -> NightState:
    """The state after tonight: the earlier rows tonight did not replace, and every row tonight
    audited (new and re-audited), dated inside tonight's window; the earlier findings of the
    days tonight did not examine again, and tonight's findings (an earlier id keeps the night
    that first found it). `audited`: tonight's canonical claim_lines, visit_notes,
    note_services (the run's Parquet outputs). `therapy`: tonight's therapy amounts and
    treatment days (`therapy.therapy_amounts`, `therapy.treatment_days` of the audited rows),
    merged into the state's by key, kept from `year_start`. Tables the state holds but this
    function does not know are carried over unchanged."""
    since = window_start(as_of, look_back_days)
    tables: dict[str, pd.DataFrame] = dict(state.tables)
    for table in (CLAIM_LINES, VISIT_NOTES):
        now = audited[table]
        before = state.table(table)
        if before is not None and not before.empty:
            before = before[~superseded(before, table, now, new_files)]
            now = pd.concat([before, now], ignore_index=True) if not now.empty else before
        tables[table] = now[now["date_of_service"] >= since].reset_index(drop=True)
    services = pd.concat([s for s in (state.table(NOTE_SERVICES), audited[NOTE_SERVICES]) if s is not None],
                         ignore_index=True).drop_duplicates(subset=[*LINEAGE, "cpt_code"], keep="last")
    tables[NOTE_SERVICES] = services[_keys_in(services, tables[VISIT_NOTES], list(LINEAGE))].reset_index(drop=True)
    tables[FINDINGS] = _next_findings(state, audited, findings, run_id, as_of, since)
    if therapy is not None:
        kept_from = year_start(as_of, look_back_days)
        for name, tonight in ((THERAPY_AMOUNTS, therapy.amounts), (TREATMENT_DAYS, therapy.days)):
            tables[name] = _next_rows(state.table(name), tonight, THERAPY_KEYS[name], new_files, kept_from)
    return NightState(tables, {"run_id": run_id, "as_of": as_of.isoformat(), "look_back_days": look_back_days,
                               "since": since.date().isoformat()})


def _next_rows(before: pd.DataFrame | None, tonight: pd.DataFrame, key: list[str], new_files: Collection[str],
               since: pd.Timestamp) -> pd.DataFrame:
    """A keyed table after tonight: the earlier rows that neither a file sent again nor a row of
    the same key replaces, then tonight's, dated `since` or later."""
    tonight = tonight.reset_index(drop=True)
    if before is not None and not before.empty:
        replaced = before[SOURCE_FILE].astype("str").isin(list(new_files)) | _keys_in(before, tonight, key)
        columns = list(tonight.columns) if not tonight.columns.empty else list(before.columns)
        tonight = pd.concat([before.loc[~replaced, [c for c in columns if c in before.columns]], tonight],
                            ignore_index=True) if not tonight.empty else before[~replaced]
    if tonight.empty:
        return tonight.reset_index(drop=True)
    tonight = tonight.drop_duplicates(key, keep="last")
    return tonight[pd.to_datetime(tonight["date_of_service"]) >= since].reset_index(drop=True)


def _next_findings(state: NightState, audited: dict[str, pd.DataFrame], findings: pd.DataFrame, run_id: str,
                   as_of: date, since: pd.Timestamp) -> pd.DataFrame:
    earlier = state.table(FINDINGS)
    tonight = findings.assign(first_run_id=run_id, first_as_of=as_of.isoformat())
    if earlier is not None and not earlier.empty:
        examined = touched_days(audited[CLAIM_LINES], audited[VISIT_NOTES])
        first = earlier.drop_duplicates("finding_id").set_index("finding_id")
        known = tonight["finding_id"].isin(first.index)
        tonight.loc[known, "first_run_id"] = tonight.loc[known, "finding_id"].map(first["first_run_id"])
        tonight.loc[known, "first_as_of"] = tonight.loc[known, "finding_id"].map(first["first_as_of"])
        kept = earlier[~_on_days(earlier, examined) & ~earlier["finding_id"].isin(tonight["finding_id"])]
        tonight = pd.concat([kept, tonight], ignore_index=True)
    return tonight[tonight["date_of_service"] >= since].reset_index(drop=True)


def read_state(folder: Path | None) -> NightState:
    """The state kept in `folder` (every `*.parquet` a table; `state.json` the info); an empty
    state when `folder` is None or missing. Dates come back as datetime64[s]."""
    if folder is None or not folder.is_dir():
        return NightState()
    from nmr_audit.io.readers import canonical_frame

    tables = {path.stem: canonical_frame(pq.read_table(path)) for path in sorted(folder.glob("*.parquet"))}
    info_file = folder / "state.json"
    info = json.loads(info_file.read_text(encoding="utf-8")) if info_file.exists() else {}
    return NightState(tables, info)


def write_state(state: NightState, folder: Path) -> Path:
    """Every table of `state` as `<name>.parquet` and its info as `state.json` into `folder`
    (created; a folder staged by the caller, who renames it into place)."""
    from nmr_audit.io.writers import write_parquet

    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in state.tables.items():
        write_parquet(frame, folder / f"{name}.parquet")
    partial = folder / ".state.json.tmp"
    partial.write_text(json.dumps(state.info, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, folder / "state.json")
    return folder
