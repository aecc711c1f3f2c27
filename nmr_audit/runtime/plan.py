"""What a run loads and decides before it reads a row: its settings and its plan.

`load_settings` reads the mapping profile, the reference tables (with an audit profile's
changes) and the rule suites; `plan_run` finds the input files and sizes the run: how many
buckets of patients, spilled to disk or held in memory, and how many worker processes audit
them (a spilled run audits every bucket in worker processes, one per core it may use). The flow
and the command's head start (`runtime.head_start`) call the same two functions, so a head start
reads exactly what the flow would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
from nmr_audit.io.discover import discover, estimated_rows
from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.io.profile_file import load_profile
from nmr_audit.io.readers import recognise
from nmr_audit.io.reference import load_reference
from nmr_audit.mapping import IDENTITY, MappingProfile
from nmr_audit.reference import ReferenceData
from nmr_audit.runtime.buckets import bucket_count
from nmr_audit.runtime.config import RunConfig

TABLES = (CLAIM_LINES, VISIT_NOTES)  # read into the spill by patient bucket; remittances are read whole


@dataclass
class Settings:
    """What the run's settings files say: the mapping profile, the reference tables (with the
    audit profile's changes) and the rule suites by grain (GX suites; empty where not loaded)."""

    mapping: MappingProfile
    reference: ReferenceData
    suites: dict[str, Any] = field(default_factory=dict)


def load_settings(config: RunConfig, suites: bool = True) -> Settings:
    """The mapping profile (`config.mapping`: a file, or a shipped profile's name; the identity
    mapping when None), the reference tables (`config.reference`, else the imported and shipped
    ones) changed by the audit profile (`config.profile`), and, with `suites`, the rule suites
    (`config.expectations`, else the shipped ones: this imports GX). Raises InputError naming the
    file that cannot be read."""
    reference = load_reference(Path(config.reference) if config.reference else None)
    if config.profile:
        reference = load_profile(Path(config.profile), reference)
    mapping = load_mapping(Path(config.mapping)) if config.mapping else IDENTITY
    if not suites:
        return Settings(mapping, reference)
    from nmr_audit.io.suites import load_suites

    return Settings(mapping, reference, load_suites(Path(config.expectations) if config.expectations else None))


@dataclass(frozen=True)
class RunPlan:
    """The files a run reads and how it audits them.

    `files`: each table's files, sorted (and `remits`' 835 files, where the run was given
    remittances); `skipped`: files seen in folders that no reader takes
    (kind, source, reason); `expected_lines`: the claim lines the files hold, estimated without
    reading them; `buckets`: buckets of patients (`runtime.buckets.bucket_count`); `spill`: the
    work folder the buckets wait in (None: held in memory, one bucket); `workers`: worker
    processes that audit the buckets of a spilled run, one per core it may use; the flow's own
    process audits none (`runtime.executors`).
    """

    files: dict[str, tuple[Path, ...]]
    skipped: list[dict[str, str]]
    expected_lines: int
    buckets: int
    spill: Path | None
    workers: int

    @property
    def strategy(self) -> str:
        """How the buckets are audited, as logs and the benchmark name it."""
        if self.spill is None:
            return "in memory"
        return f"{self.buckets} buckets" + (f", {self.workers} worker process(es)" if self.workers else "")


def discover_tables(claims: tuple[str, ...], notes: tuple[str, ...], allow_empty: bool = False,
                    remits: tuple[str, ...] = (), remits_may_be_empty: bool = False
                    ) -> tuple[dict[str, tuple[Path, ...]], list[dict[str, str]]]:
    """Each table's files (`io.discover.discover`: files, folders, globs), and the files seen in
    folders that no reader takes (kind, source, reason). A table given no path is allowed only
    with `allow_empty`. `remits`: 835 remittance paths, listed under `remits` only when some are
    given; with `remits_may_be_empty` (the nightly run: payers' files come when they come)
    remittance folders holding no 835 yet are no error, but a path that does not exist still is.
    Raises InputError for a path that matches no file nmr-audit reads."""
    files, skipped = {}, []
    for table, paths in zip(TABLES, (claims, notes), strict=True):
        found, left = discover(list(paths), table) if paths or not allow_empty else ([], [])
        files[table] = tuple(found)
        skipped += [{"kind": "file", "source": s.source, "reason": s.reason} for s in left]
    if remits:
        found, left = [], []
        if not (remits_may_be_empty and all(Path(p).is_dir() and not readable_835(Path(p)) for p in remits)):
            found, left = discover(list(remits), REMITS)
        files[REMITS] = tuple(found)
        skipped += [{"kind": "file", "source": s.source, "reason": s.reason} for s in left]
    return files, skipped


def readable_835(folder: Path) -> list[Path]:
    """The 835 files a remittance folder holds now (none: nothing new from the payers)."""
    return [p for p in folder.rglob("*") if p.is_file() and recognise(p, table=REMITS).reader is not None]


def plan_run(config: RunConfig, allow_empty: bool = False) -> RunPlan:
    """The run's files and sizes. A table given no path is allowed only with `allow_empty` (a
    nightly run whose history holds that table's rows). Raises InputError for a path that
    matches no file nmr-audit reads."""
    files, skipped = discover_tables(config.claims, config.notes, allow_empty, config.remits)
    expected = estimated_rows(list(files[CLAIM_LINES]))
    side_by_side = config.side_by_side
    buckets = bucket_count(expected, config.lines_per_bucket, side_by_side)
    on_disk = buckets > 1 or config.partitioned  # a partition task may run in another process
    spill = Path(config.out) / f".spill-{uuid.uuid4().hex[:12]}" if on_disk else None
    # a run writing Data Docs audits in the flow's process: one GX site lists every bucket
    in_workers = buckets > 1 and not config.partitioned and not config.data_docs
    workers = max(1, min(side_by_side, buckets)) if in_workers else 0
    return RunPlan(files, skipped, expected, buckets, spill, workers)


def same_reading(plan: RunPlan, other: RunPlan) -> bool:
    """Whether two plans read the same files into the same buckets with the same workers (a
    head start's plan and the flow's: their spill folders' names differ)."""
    return (plan.files, plan.buckets, plan.workers, plan.spill is None) == (
        other.files, other.buckets, other.workers, other.spill is None)

