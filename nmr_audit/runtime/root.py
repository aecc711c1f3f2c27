"""A nightly output root: its layout, the commit of a night, and the recovery at the next start.

    output_root/
      .nmr-audit, .nmr-audit.lock, .nmr-audit.holder.json   marker, lock, who holds it
      ledger.csv                 every audited file by SHA-256, with the run that audited it
      runs/<date>_<id>/          one folder per run (the audit's outputs, reexamined.parquet)
      state/<run_id>/            the look-back state after that run (`runtime.state`)
      latest.json, latest        the last committed run

A night commits in this order, each step one rename: the run's folder (its own crash-safe
commit), its state folder, then `ledger.csv` — the commit point: a run counts once the ledger
names it — then `latest`. Killed anywhere, the next start (`recover`, under the lock) rolls
`latest` forward to the ledger's last run, and marks abandoned every run folder the ledger does
not name (its outputs removed, `abandoned.json` left saying why; its files are new again, so
that night audits them again) and removes every state folder but the current one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.io.ledger_file import point_latest, read_latest, read_ledger, write_ledger
from nmr_audit.io.writers import write_parquet
from nmr_audit.ledger import head, record, runs
from nmr_audit.reference import ReferenceData
from nmr_audit.runtime.commit import SUMMARY
from nmr_audit.runtime.faults import checkpoint
from nmr_audit.runtime.lock import read_holder
from nmr_audit.runtime.permissions import Access, restrict
from nmr_audit.runtime.state import NightState, next_state, reexamined, touched_days, window_start, write_state
from nmr_audit.therapy import TherapyHistory, therapy_amounts, treatment_days

RUNS = "runs"
STATE = "state"
ABANDONED = "abandoned.json"
REEXAMINED = "reexamined.parquet"


@dataclass
class Recovery:
    """What the start of a night found and repaired."""

    head: str | None  # the ledger's last run (the committed one)
    latest_rolled_forward: bool = False
    abandoned: list[str] = field(default_factory=list)  # run folders the ledger does not name
    crashed_flow_runs: list[str] = field(default_factory=list)  # their flow runs, if they died Running
    states_removed: list[str] = field(default_factory=list)


def recover(root: Path, given: Access) -> Recovery:
    """Bring `root` back to its last committed night (call under the root's lock): see the module."""
    ledger = read_ledger(root)
    named, last = set(runs(ledger)), head(ledger)
    found = Recovery(last)
    latest = read_latest(root)
    if last is not None and (latest is None or latest.get("run_id") != last) and (root / RUNS / last).is_dir():
        as_of = ledger.loc[ledger["run_id"] == last, "as_of"].iloc[-1]
        point_latest(root, root / RUNS / last, {"run_id": last, "as_of": as_of, "finished_at": _now(),
                                               "rolled_forward": True}, given.file)
        found.latest_rolled_forward = True
    for run_dir in sorted((root / RUNS).iterdir()) if (root / RUNS).is_dir() else []:
        if run_dir.is_dir() and run_dir.name not in named and not (run_dir / ABANDONED).exists():
            holder = abandon(run_dir, given)
            found.abandoned.append(run_dir.name)
            if holder.get("flow_run_id") and "released_at" not in holder:
                found.crashed_flow_runs.append(holder["flow_run_id"])
    for state_dir in sorted((root / STATE).iterdir()) if (root / STATE).is_dir() else []:
        if state_dir.name != last:
            shutil.rmtree(state_dir, ignore_errors=True)
            found.states_removed.append(state_dir.name)
    return found


def abandon(run_dir: Path, given: Access) -> dict[str, Any]:
    """Mark a run folder the ledger does not name as abandoned: its outputs (patient data of a
    run that never counted) are removed and `abandoned.json` says why. Returns the holder
    record of its lock (which flow run wrote it, and whether it ended in order)."""
    holder = read_holder(run_dir)
    had_summary = (run_dir / SUMMARY).exists()
    for entry in run_dir.iterdir():
        if entry.name in (".nmr-audit",):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    note = {"abandoned_at": _now(), "reason": (
        "the run was stopped before the ledger named it" + (" (after its outputs were written)" if had_summary else "")
        + "; its input files were not recorded and are audited again by the next run"),
        "flow_run_id": holder.get("flow_run_id"), "host": holder.get("host"), "pid": holder.get("pid"),
        "started_at": holder.get("started_at")}
    _write(run_dir / ABANDONED, json.dumps(note, indent=2) + "\n", given.file)
    return holder


def current_state_folder(root: Path) -> Path | None:
    """The state folder of the ledger's last run, None when there is none."""
    last = head(read_ledger(root))
    folder = root / STATE / last if last else None
    return folder if folder is not None and folder.is_dir() else None


@dataclass
class Night:
    """One night's commit: what it needs and what it wrote."""

    root: Path
    run_id: str
    as_of: date
    look_back_days: int
    files: pd.DataFrame  # the files audited (table, file, sha256, bytes)
    access: Access
    reexamined: pd.DataFrame | None = None
    reference: ReferenceData | None = None  # the run's tables: tonight's therapy amounts are priced with them


def commit_night(night: Night, before: NightState) -> Night:
    """After the run's folder is complete: the earlier findings it re-examined into the run's
    folder, the next state (with tonight's therapy amounts and treatment days where
    `night.reference` prices them), the ledger (commit point), `latest`; then the older state
    folders go. `before`: the state the run started from."""
    root, run_dir = night.root, night.root / RUNS / night.run_id
    audited = {t: _read(run_dir / f"{t}.parquet") for t in (CLAIM_LINES, VISIT_NOTES, NOTE_SERVICES)}
    findings = _read(run_dir / "findings.parquet")
    since = window_start(night.as_of, night.look_back_days)
    night.reexamined = reexamined(before, touched_days(audited[CLAIM_LINES], audited[VISIT_NOTES]), findings, since)
    partial = run_dir / f".{REEXAMINED}.tmp"
    write_parquet(night.reexamined, partial)
    os.chmod(partial, night.access.file)
    os.replace(partial, run_dir / REEXAMINED)
    checkpoint("nightly:reexamined")
    new_files = night.files["file"].astype("str").tolist()
    therapy = None if night.reference is None else TherapyHistory(
        therapy_amounts(audited[CLAIM_LINES], night.reference), treatment_days(audited[VISIT_NOTES], night.reference))
    after = next_state(before, audited, findings, new_files, night.run_id, night.as_of, night.look_back_days, therapy)
    staged = root / f".staging-{uuid.uuid4().hex[:12]}"
    write_state(after, staged)
    restrict(staged, night.access)
    (root / STATE).mkdir(mode=night.access.folder, exist_ok=True)
    os.replace(staged, root / STATE / night.run_id)
    checkpoint("nightly:state")
    write_ledger(root, record(read_ledger(root), night.files, night.run_id, night.as_of.isoformat(), _now()),
                 night.access.file)
    checkpoint("nightly:ledger")
    point_latest(root, run_dir, {"run_id": night.run_id, "as_of": night.as_of.isoformat(), "finished_at": _now()},
                 night.access.file)
    checkpoint("nightly:latest")
    for state_dir in (root / STATE).iterdir():
        if state_dir.name != night.run_id:
            shutil.rmtree(state_dir, ignore_errors=True)
    return night


def _read(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from nmr_audit.io.readers import canonical_frame

    return canonical_frame(pq.read_table(path))


def _write(path: Path, text: str, mode: int) -> None:
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.chmod(partial, mode)
    os.replace(partial, path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
