"""Scale-out: the audit split by clinic and month, one task per partition, merged at the end.

Tasks pass folder paths, not frames: a partition's inputs are Parquet files in a work folder
that every worker can read (one machine, or a shared filesystem for a remote Dask cluster), and
its outputs come back the same way. Run under prefect-dask's DaskTaskRunner, the partition
tasks execute on the cluster's workers.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from nmr_audit.findings import ordered
from nmr_audit.gx_engine import RuleEngine
from nmr_audit.io.readers import read_canonical
from nmr_audit.io.suites import default_expectations_dir, load_suites, suites_fingerprint
from nmr_audit.io.writers import write_parquet
from nmr_audit.partition import partition_labels, payer_history
from nmr_audit.pipeline import audit_tables
from nmr_audit.reference import ReferenceData
from nmr_audit.therapy import TherapyHistory
from nmr_audit.visits import in_visit_order

INPUTS = ("claim_lines", "visit_notes", "note_services", "history")
AMOUNTS, DAYS = "therapy_amounts", "treatment_days"  # the year of the partition's patients beyond it
_ENGINES = threading.local()  # a GX context is never shared between threads


@task(name="split into partitions", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def split_partitions(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, note_services: pd.DataFrame,
                     work: str, quarantined_notes: pd.DataFrame | None = None,
                     therapy: TherapyHistory | None = None) -> list[str]:
    """One folder per clinic and month with that partition's canonical tables, and the
    quarantined notes (`facts.held_notes`) and the therapy of the year (`therapy`: the run's and
    earlier nights' amounts and treatment days) of its patients."""
    line_label, note_label = partition_labels(claim_lines, visit_notes)
    service_label = note_services["note_id"].map(pd.Series(note_label.to_numpy(), index=visit_notes["note_id"]))
    history = payer_history(claim_lines)
    folders = []
    for number, label in enumerate(sorted(set(line_label) | set(note_label))):
        folder = Path(work) / f"p{number:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = claim_lines[line_label == label]
        notes = visit_notes[note_label == label]
        write_parquet(lines, folder / "claim_lines.parquet")
        write_parquet(notes, folder / "visit_notes.parquet")
        write_parquet(note_services[service_label == label], folder / "note_services.parquet")
        patients = pd.concat([lines["patient_id"], notes["patient_id"]]).unique()
        write_parquet(history[history["patient_id"].isin(patients)], folder / "history.parquet")
        if quarantined_notes is not None and len(quarantined_notes):
            write_parquet(quarantined_notes[quarantined_notes["patient_id"].isin(patients)], folder / "held.parquet")
        if therapy is not None:
            write_parquet(therapy.amounts[therapy.amounts["patient_id"].isin(patients)], folder / f"{AMOUNTS}.parquet")
            write_parquet(therapy.days[therapy.days["patient_id"].isin(patients)], folder / f"{DAYS}.parquet")
        (folder / "label.txt").write_text(label, encoding="utf-8")
        folders.append(str(folder))
    get_run_logger().info("split into %d partition(s) by clinic and month", len(folders))
    return folders


@task(name="audit partition", cache_policy=NO_CACHE)
def audit_partition(folder: str, reference: ReferenceData, expectations: str | None, progress: bool = False) -> str:
    """Reconcile and apply the rules to one partition; write its visits and findings beside it.
    `progress`: the run's notes say which are progress reports."""
    path = Path(folder)
    tables = {name: read_canonical(path / f"{name}.parquet") for name in INPUTS}
    held = read_canonical(path / "held.parquet") if (path / "held.parquet").exists() else None
    therapy = TherapyHistory(read_canonical(path / f"{AMOUNTS}.parquet"), read_canonical(path / f"{DAYS}.parquet")) \
        if (path / f"{AMOUNTS}.parquet").exists() else None
    audited = audit_tables(tables["claim_lines"], tables["visit_notes"], tables["note_services"], reference,
                           rule_engine(expectations), history=tables["history"], quarantine=held, therapy=therapy,
                           progress=progress)
    write_parquet(audited.visits, path / "visits.parquet")
    write_parquet(audited.findings, path / "findings.parquet")
    get_run_logger().info("partition %s: %d visit(s), %d finding(s)",
                          (path / "label.txt").read_text(encoding="utf-8"), len(audited.visits),
                          len(audited.findings))
    return folder


def rule_engine(expectations: str | None) -> RuleEngine:
    """This thread's rule engine for the suites in `expectations` (the project's own if None), built
    for its first partition and kept: a Dask worker audits partition after partition, and building
    an engine (a GX context, a batch per expectation) costs about a third of validating a small
    partition. Keyed by the suites' files, so an edited suite counts from the next partition on."""
    folder = Path(expectations) if expectations else default_expectations_dir()
    key = (str(folder), suites_fingerprint(folder))
    if getattr(_ENGINES, "key", None) != key:
        _ENGINES.engine, _ENGINES.key = RuleEngine(load_suites(folder)), key
    return _ENGINES.engine


@task(name="merge partitions", cache_policy=NO_CACHE)
def merge_partitions(folders: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All partitions' visits and findings, in the order a single-process run writes them."""
    visits = pd.concat([read_canonical(Path(f) / "visits.parquet") for f in folders], ignore_index=True)  # note_ids: a list
    findings = pd.concat([pd.read_parquet(Path(f) / "findings.parquet") for f in folders], ignore_index=True)
    return in_visit_order(visits.astype({"date_of_service": "datetime64[s]"})), ordered(findings)

