"""Executors: a worker process that dies under a bucket, quarantined notes cut to their bucket,
and every strategy auditing the same buckets into the same visits and findings."""

import os
import signal

import pandas as pd
import pytest

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.facts import held_notes
from nmr_audit.gx_engine import RuleEngine
from nmr_audit.io.suites import load_suites
from nmr_audit.runtime.buckets import BucketWork, LaterCopies, audit_bucket, patient_buckets
from nmr_audit.runtime.executors import BucketWorkerError, InProcess, Partitions, WorkerProcesses
from nmr_audit.runtime.spill import Spill
from tests.builders import NPI, tables, visit

NONE = LaterCopies(pd.DataFrame(columns=["source_file", "source_row"]), pd.DataFrame(columns=["source_file", "source_row"]))


def spilled(tmp_path, patients: list[str], buckets: int = 2) -> Spill:
    """Two buckets of one-visit patients, each billed 97112 with no note (NO_NOTE each)."""
    lines, notes, services = tables(*[visit(patient_id=p, billed={"97112": 1}, note=False) for p in patients])
    lineage = {"source_file": "x.csv"}
    spill = Spill(buckets, tmp_path / "spill")
    spill.add(CLAIM_LINES, lines.assign(**lineage, source_row=range(2, 2 + len(lines))),
              patient_buckets(lines["patient_id"], buckets))
    spill.add(VISIT_NOTES, notes.assign(**lineage, source_row=pd.Series(dtype="int64")),
              patient_buckets(notes["patient_id"], buckets))
    spill.add(NOTE_SERVICES, services.assign(**lineage, source_row=pd.Series(dtype="int64")),
              patient_buckets(services["note_id"], buckets))
    return spill


def test_a_worker_killed_under_a_bucket_stops_the_run_with_what_to_do_next(tmp_path, reference):
    executor = WorkerProcesses(workers=1, expectations=None)
    try:
        for process in list(executor._pool._processes.values()):  # as the out-of-memory killer would
            os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(BucketWorkerError, match=r"bucket 1 of 2 stopped .*smaller --lines-per-bucket"):
            executor.audit(0, BucketWork(Spill(2, tmp_path / "spill"), NONE, reference))
    finally:
        executor.close()


def test_quarantined_notes_reach_the_bucket_of_their_patient(tmp_path, reference):
    """runtime.buckets.audit_bucket cuts the run's quarantined notes to its bucket's patients."""
    spill = spilled(tmp_path, [f"P{n}" for n in range(8)])
    held = held_notes(pd.DataFrame({
        "table": "visit_notes", "source_file": "notes.csv", "source_row": [5], "reason": ["clinic_id: required"],
        "record": ["{}"], "patient_id": ["P3"], "date_of_service": pd.to_datetime(["2026-03-04"]).astype("datetime64[s]"),
        "rendering_npi": [NPI]}))
    engine = RuleEngine(load_suites())
    work = BucketWork(spill, NONE, reference, held)
    found = pd.concat([audit_bucket(b, work, engine).audited.findings for b in (0, 1)])
    rules = found.set_index("patient_id")["rule_id"]
    assert rules["P3"] == "NOTE_QUARANTINED" and (rules.drop("P3") == "NO_NOTE").all() and len(rules) == 8


def test_every_executor_audits_a_bucket_into_the_same_visits_and_findings(tmp_path, reference):
    spill = spilled(tmp_path, [f"P{n}" for n in range(12)])
    work = BucketWork(spill, NONE, reference)
    suites = load_suites()
    executors = {"in process": InProcess(suites), "worker processes": WorkerProcesses(1, None),
                 "partitions": Partitions(None, tmp_path / "spill" / "results")}
    order = [0, 0, 1, 1]  # worker processes: each bucket once in this process, once in the worker (slots take turns)
    try:
        done = {name: [executor.audit(b, work).load() for b in order] for name, executor in executors.items()}
    finally:
        for executor in executors.values():
            executor.close()
    for name in ("worker processes", "partitions"):
        for mine, theirs in zip(done[name], done["in process"], strict=True):
            pd.testing.assert_frame_equal(mine.audited.visits, theirs.audited.visits)
            pd.testing.assert_frame_equal(mine.audited.findings, theirs.audited.findings)
            assert mine.claim_lines == theirs.claim_lines
    assert len(done["in process"][0].audited.findings) + len(done["in process"][2].audited.findings) == 12
    assert not list((tmp_path / "spill" / "results").iterdir())  # each stored bucket read once, then gone
