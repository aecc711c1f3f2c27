"""Reading what a nightly output root holds of its earlier runs, for `since_last_night`.

Only runs the ledger names count (the ledger is the commit point): the previous run is the
ledger's last one (`latest` points at it once `runtime.root.recover` has run), and the series
by night is read from the `summary.json` of the ledger's runs, in the order it recorded them. A
run folder the ledger does not name — one killed before its commit, marked abandoned — is never
read. A named run whose folder or summary is gone (removed by hand) is left out of the series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from nmr_audit.io.ledger_file import read_ledger
from nmr_audit.ledger import head, runs
from nmr_audit.runtime.root import RUNS
from nmr_audit.runtime.state import FINDINGS, PATIENT_DAY
from nmr_audit.since_last_night import NIGHTS, SERIES_COLUMNS, SinceLastNight, since_last_night


@dataclass(frozen=True)
class EarlierNights:
    """What tonight compares with: the previous run (`run_id`, `as_of`; None on the first
    night), its findings (findings.parquet; None when it has none on disk), and the ledger's
    runs for the series by night (`since_last_night.SERIES_COLUMNS`, oldest first)."""

    previous: dict[str, Any] | None
    previous_findings: pd.DataFrame | None
    series: pd.DataFrame


def earlier_nights(root: Path, nights: int = NIGHTS) -> EarlierNights:
    """The root's committed runs as the ledger names them (read before tonight commits)."""
    ledger = read_ledger(root)
    last = head(ledger)
    if last is None:
        return EarlierNights(None, None, pd.DataFrame({c: pd.Series(dtype=t) for c, t in SERIES_COLUMNS.items()}))
    as_of = ledger.groupby("run_id", sort=False)["as_of"].last()
    rows = [_figures(root / RUNS / run_id, run_id, str(as_of[run_id])) for run_id in runs(ledger)[-nights:]]
    series = pd.DataFrame([r for r in rows if r is not None], columns=list(SERIES_COLUMNS)).astype(SERIES_COLUMNS)
    findings = root / RUNS / last / f"{FINDINGS}.parquet"
    return EarlierNights({"run_id": last, "as_of": str(as_of[last])}, _findings(findings), series)


def state_findings(folder: Path | None) -> pd.DataFrame | None:
    """The findings standing in a look-back state folder (`state/<run_id>/findings.parquet`),
    None when there is no state or it keeps no findings."""
    if folder is None:
        return None
    return _findings(folder / f"{FINDINGS}.parquet")


def _findings(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    from nmr_audit.io.readers import canonical_frame

    return canonical_frame(pq.read_table(path))


def _figures(run_dir: Path, run_id: str, as_of: str) -> dict[str, Any] | None:
    """A run's row of the series from its summary.json; None when the summary cannot be read."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = summary.get("findings") or {}
    since = summary.get("since_last_night") or {}
    return {"run_id": run_id, "as_of": as_of, "findings": found.get("total"),
            "dollars_at_risk": found.get("dollars_at_risk"),
            **{k: since.get(k) for k in ("new_findings", "new_dollars_at_risk", "resolved_findings",
                                         "resolved_dollars_at_risk")}}


def compare_nights(root: Path, history: Path | None, since_day: date | None, as_of: date | None,
                   findings: pd.DataFrame, summary: dict[str, Any], touched: pd.DataFrame | None) -> SinceLastNight:
    """Tonight's findings against the nightly root's previous run (read through its ledger) and
    the state it left (`nmr_audit.since_last_night`); the figures go into `summary`
    (`since_last_night`) so that later nights read them back for their series. `since_day`: the
    look-back window's first date of service; `touched`: the patient-days tonight touched."""
    earlier = earlier_nights(root)
    look_back = (as_of - since_day).days if since_day and as_of else 0
    compared = since_last_night(
        findings, summary["findings"]["dollars_at_risk"], summary["run"]["run_id"], as_of.isoformat() if as_of else "",
        earlier.previous, earlier.previous_findings, state_findings(history),
        touched if touched is not None else pd.DataFrame(columns=PATIENT_DAY),
        pd.Timestamp(since_day) if since_day else pd.Timestamp.min, earlier.series, look_back)
    summary["since_last_night"] = compared.totals()
    return compared
