"""Patient buckets: the unit of work of every run, whichever way it is executed.

Every grain the rules read (claim line, visit, note, patient-day) lies within one patient, so
all of a patient's rows must land in one bucket. A stable hash of `patient_id` decides which:
the same on every machine and in every run, so a run audited bucket by bucket (in this process,
in worker processes, or as tasks on a Dask cluster: `runtime.executors`) writes the findings a
run held whole in memory writes. Buckets are sized by work (about `LINES_PER_BUCKET` claim
lines each, 300,000 by default), so each pays the rule engine's fixed cost once per few
hundred thousand lines, not once per clinic and month.

`audit_bucket` loads one bucket from the spill, audits it and lets it go, in whichever process
runs it.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.intake import drop_duplicates, keep_lineage
from nmr_audit.names import Names, names_in_rows
from nmr_audit.pipeline import Audited, audit_tables
from nmr_audit.reference import ReferenceData
from nmr_audit.runtime.canonical_parts import write_parts
from nmr_audit.runtime.memory import give_back_memory
from nmr_audit.runtime.spill import Spill
from nmr_audit.runtime.state import THERAPY_AMOUNTS, TREATMENT_DAYS
from nmr_audit.runtime.stored_frames import HeldFrames, StoredFrames, write_frames
from nmr_audit.runtime.visit_parts import write_part
from nmr_audit.summary import checked_excess
from nmr_audit.therapy import TherapyHistory

VISITS, FINDINGS = "visits", "findings"  # a bucket's frames, as the merge reads them (`frames()`)


def bucket_count(claim_lines: int, lines_per_bucket: int, side_by_side: int = 1) -> int:
    """Enough buckets that each holds about `lines_per_bucket` claim lines (at least one).

    More than one is rounded up to a multiple of the buckets audited side by side, so that the
    last bucket does not run alone with the other cores idle (11 buckets of 10M lines on 2 cores
    left one core idle for a bucket's 12 s).
    """
    needed = max(1, math.ceil(claim_lines / max(1, lines_per_bucket)))
    return needed if needed == 1 else math.ceil(needed / max(1, side_by_side)) * max(1, side_by_side)


def patient_buckets(patient_id: pd.Series, buckets: int) -> np.ndarray:
    """The bucket (0 … buckets − 1) of each row's patient."""
    if buckets <= 1:
        return np.zeros(len(patient_id), dtype="int64")
    hashed = pd.util.hash_pandas_object(patient_id, index=False).to_numpy()
    return (hashed % np.uint64(buckets)).astype("int64")


@dataclass(frozen=True)
class LaterCopies:
    """The later copies of a unique key in each table (`intake.duplicate_keys`): held back from
    every bucket, so the first copy read is the one audited."""

    claim_lines: pd.DataFrame
    visit_notes: pd.DataFrame


@dataclass(frozen=True)
class BucketWork:
    """What auditing any bucket of a run reads: the spill, the later copies held back, the
    reference tables, the run's quarantined notes and 97112 lines (`facts.held_rows`: their visit
    keys make NOTE_QUARANTINED instead of NO_NOTE, LINE_QUARANTINED instead of UNBILLED_97112)
    and whether its notes say which are progress reports.
    A bucket holds every row of its patients, so a patient's year is counted in one bucket; the
    earlier nights' part of it (`bucket_therapy`) waits in the spill beside the rows.
    Picklable: a worker process or a Dask worker gets it whole (the spill's rows stay in its files)."""

    spill: Spill
    copies: LaterCopies
    reference: ReferenceData
    quarantined_notes: pd.DataFrame | None = None
    progress: bool = False  # the run's notes say which are progress reports (PROGRESS_REPORT_OVERDUE applies)
    parts: Path | None = None  # a run spilled to disk: each bucket's visits and canonical rows go here


@dataclass(frozen=True)
class BucketAudit:
    """One bucket audited: its visits and findings with the stage times (`pipeline.Audited`),
    the later copies found in it (for the quarantine) and how many claim lines it held."""

    audited: Audited
    held: pd.DataFrame
    claim_lines: int
    names: tuple[Names, Names] | None = None  # the provider and clinic names its claim lines and notes carry

    def load(self) -> BucketAudit:
        """Itself (a bucket audited in another process may come back as files: `executors`)."""
        return self

    @property
    def seconds(self) -> dict[str, float]:
        return self.audited.seconds

    @property
    def skipped(self) -> dict[str, str]:
        return self.audited.skipped

    def frames(self) -> HeldFrames:
        """Its `visits` and `findings`, read a column at a time by the merge."""
        return HeldFrames({VISITS: self.audited.visits, FINDINGS: self.audited.findings})

    def discard(self) -> None:
        """Nothing to remove: its frames go with it."""

    def counts(self) -> dict[str, int]:
        """What a bucket's log line says: claim lines, visits with 97112, of them billing more
        units than documented, findings."""
        visits = self.audited.visits
        return {"claim_lines": self.claim_lines, "visits": len(visits),
                "excess": int((checked_excess(visits) > 0).sum()), "findings": len(self.audited.findings)}


def bucket_claims(spill: Spill, bucket: int, copies: LaterCopies) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One bucket's claim lines without the later copies of a unique key, and those copies."""
    return drop_duplicates(spill.load(CLAIM_LINES, bucket), copies.claim_lines, CLAIM_LINES)


def bucket_notes(spill: Spill, bucket: int, copies: LaterCopies) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One bucket's notes (later copies taken out), their minutes, and the copies."""
    visit_notes, held = drop_duplicates(spill.load(VISIT_NOTES, bucket), copies.visit_notes, VISIT_NOTES)
    return visit_notes, keep_lineage(spill.load(NOTE_SERVICES, bucket), visit_notes), held


def bucket_tables(spill: Spill, bucket: int, copies: LaterCopies
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One bucket's claim lines, notes and note minutes, and the later copies of a unique key."""
    lines, held_lines = bucket_claims(spill, bucket, copies)
    visit_notes, services, held_notes = bucket_notes(spill, bucket, copies)
    return lines, visit_notes, services, pd.concat([held_lines, held_notes], ignore_index=True)


def bucket_therapy(spill: Spill, bucket: int) -> TherapyHistory | None:
    """The bucket's patients' earlier therapy (the nightly state's `therapy_amounts` and
    `treatment_days`, spilled by patient by `runtime.history.add_history`), or None in a run
    without history."""
    if THERAPY_AMOUNTS not in spill.tables and TREATMENT_DAYS not in spill.tables:
        return None
    none = TherapyHistory.none()
    return TherapyHistory(spill.load(THERAPY_AMOUNTS, bucket) if THERAPY_AMOUNTS in spill.tables else none.amounts,
                          spill.load(TREATMENT_DAYS, bucket) if TREATMENT_DAYS in spill.tables else none.days)


def audit_bucket(bucket: int, work: BucketWork, rules: object) -> BucketAudit:
    """Load, audit and let go of one bucket in one call, so that nothing of it outlives the call
    in whichever process ran it. `rules`: a `gx_engine.RuleEngine` this thread alone uses. The
    run's quarantined notes are cut to the bucket's patients; their earlier therapy
    (`bucket_therapy`) counts toward the KX threshold and progress reports. A run spilled to
    disk (`work.parts`) writes the bucket's canonical rows (`runtime.canonical_parts`) and its
    visits whole to part files, and keeps the visits in visits.parquet's order without their
    detail columns (`runtime.visit_parts.write_part`)."""
    lines, visit_notes, services, held = bucket_tables(work.spill, bucket, work.copies)
    names = names_in_rows(lines), names_in_rows(visit_notes)  # for the reports, however the tables are written
    if work.parts is not None:
        write_parts(work.parts, bucket, lines, visit_notes, services)
    quarantined = work.quarantined_notes
    if quarantined is not None and len(quarantined):
        quarantined = quarantined[patient_buckets(quarantined["patient_id"], work.spill.buckets) == bucket]
    audited = audit_tables(lines, visit_notes, services, work.reference, rules, quarantine=quarantined,  # type: ignore[arg-type]
                           therapy=bucket_therapy(work.spill, bucket), progress=work.progress)
    count = len(lines)
    del lines, visit_notes, services
    if work.parts is not None:  # the flow keeps the slim rows; visits.parquet is written from the parts
        audited = replace(audited, visits=write_part(work.parts, bucket, audited.visits))
    give_back_memory()
    return BucketAudit(audited, held, count, names)


@dataclass(frozen=True)
class StoredBucket:
    """A bucket audited in another process whose visits and findings wait in a file of the run's
    work folder (small to send back; read once, by the flow's merge)."""

    path: Path
    held: pd.DataFrame
    claim_lines: int
    seconds: dict[str, float]
    counted: dict[str, int]
    skipped: dict[str, str] = field(default_factory=dict)  # rules the bucket could not apply (`Audited.skipped`)
    names: tuple[Names, Names] | None = None  # `BucketAudit.names`

    def counts(self) -> dict[str, int]:
        return self.counted

    def frames(self) -> StoredFrames:
        """Its `visits` and `findings` in their file, read a column at a time by the merge."""
        return StoredFrames(self.path)

    def load(self) -> BucketAudit:
        """The bucket audited, read whole (its file removed)."""
        frames = self.frames()
        audited = Audited(frames.frame(VISITS), frames.frame(FINDINGS), self.seconds, self.skipped)
        self.discard()
        return BucketAudit(audited, self.held, self.claim_lines, self.names)

    def discard(self) -> None:
        """Remove its file (once merged or loaded)."""
        self.path.unlink(missing_ok=True)


def stored(done: BucketAudit, bucket: int, results: Path) -> StoredBucket:
    """`done`'s visits and findings written to a file in `results` a column at a time
    (`runtime.stored_frames`: every dtype comes back as it was), and what the flow needs before
    it reads them."""
    results.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = results / f"b{bucket:05d}-{uuid.uuid4().hex[:8]}.frames"
    write_frames(path, {VISITS: done.audited.visits, FINDINGS: done.audited.findings})
    return StoredBucket(path, done.held, done.claim_lines, done.audited.seconds, done.counts(), done.audited.skipped,
                        done.names)
