"""A run's X12 835 remittances: read whole (they are a fraction of the claims' size) and matched
to the run's audited claim lines, read back from the spill bucket by bucket.

    remits = read_remits(plan.files[REMITS], log)           # RemitIntake, or the InputError
    found = match_remittances(remits, spill, copies, reference, log)   # nmr_audit.remits.Remittances

Matching, outcomes and learnt weights are pure transforms (`nmr_audit.remits`,
`nmr_audit.denial`); this module is the I/O around them. Nothing here imports Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nmr_audit.contract import REMITS, SOURCE_FILE
from nmr_audit.errors import InputError
from nmr_audit.intake import reader_quarantine
from nmr_audit.io.readers import open_export
from nmr_audit.reference import ReferenceData
from nmr_audit.remits import Remittances, outcome_counts, remittances
from nmr_audit.runtime.buckets import LaterCopies, bucket_claims
from nmr_audit.runtime.reading import FILE_COLUMNS, Log
from nmr_audit.runtime.spill import Spill

MATCHED_COLUMNS = ["claim_id", "line_number", "cpt_code", "modifiers", "date_of_service", "line_control_number"]


@dataclass
class RemitIntake:
    """The run's 835 remittance rows (every file's, with `source_file`), what could not be read
    (quarantine rows, table `remits`), the files read (as `TableIntake.files`) and their
    envelope issues (table, source_file, segment, code, message)."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    files: pd.DataFrame
    issues: list[dict[str, Any]] = field(default_factory=list)

    @property
    def claim_ids(self) -> pd.Series:
        """The claim ids the remittances answer (CLP01), once each, dtype str."""
        if not len(self.rows):
            return pd.Series(dtype="str")
        return pd.Series(self.rows["claim_id"].dropna().unique(), dtype="str")


def read_remits(files: list[Path] | tuple[Path, ...], log: Log) -> RemitIntake | InputError:
    """Every 835 file read whole (`io.readers`' 835 reader): rows, rows that could not be read,
    files and envelope issues. Returns the InputError (one line naming the file) of a file that
    cannot be read, instead of raising it."""
    frames, held, stats, issues = [], [], [], []
    try:
        for path in files:
            export = open_export(Path(path), table=REMITS)
            for raw in export.tables:
                frames.append(raw.frame.assign(**{SOURCE_FILE: raw.source}))
                held.append(reader_quarantine(raw.invalid, REMITS, raw.source))
                issues += [{"table": REMITS, SOURCE_FILE: raw.source, **i.as_dict()} for i in getattr(raw, "issues", [])]
                stats.append({"table": REMITS, SOURCE_FILE: raw.source, "file": str(raw.path), "sheet": None,
                              "format": raw.format, "sha256": raw.sha256, "rows_read": raw.rows_read})
    except InputError as problem:
        return problem
    rows = pd.concat(frames, ignore_index=True)
    log.info("remittances: %d row(s) of %d service line(s) from %d file(s), %d could not be read",
             len(rows), int((rows["level"] == "line").sum()) if len(rows) else 0, len(files),
             sum(len(h) for h in held))
    return RemitIntake(rows, pd.concat(held, ignore_index=True), pd.DataFrame(stats, columns=FILE_COLUMNS), issues)


def match_remittances(remits: RemitIntake, spill: Spill, copies: LaterCopies, reference: ReferenceData,
                      log: Log) -> Remittances:
    """The remittances matched to the run's audited claim lines (`remits.remittances`): the lines
    read back from the spill bucket by bucket, later copies of a key left out, only those of the
    claims the remittances name; each answered line's outcome and CARCs. Call it before the
    spill's claim lines are written out and let go."""
    wanted = set(remits.claim_ids)
    parts = []
    for bucket in range(spill.buckets):
        lines = bucket_claims(spill, bucket, copies)[0]
        lines = lines[lines["claim_id"].isin(wanted).to_numpy()]
        parts.append(lines[[c for c in MATCHED_COLUMNS if c in lines.columns]])
    lines = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MATCHED_COLUMNS)
    found = remittances(remits.rows, lines, reference.carcs)
    log.info("remittances: %d claim line(s) answered (%s); %d service line(s) unmatched", len(found.outcomes),
             ", ".join(f"{k} {v}" for k, v in outcome_counts(found.outcomes).items() if v) or "none",
             len(found.unmatched))
    return found
