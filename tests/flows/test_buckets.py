"""Buckets audited in worker processes: what the flow does when a worker dies under one."""

import os
import signal

import pandas as pd
import pytest

from flows.buckets import BucketRunner, BucketWorkerError, LaterCopies
from nmr_audit.io.spill import Spill
from nmr_audit.io.suites import load_suites


def test_a_worker_killed_under_a_bucket_stops_the_run_with_what_to_do_next(tmp_path, reference):
    runner = BucketRunner(load_suites(), threads=0, workers=1)
    try:
        for process in list(runner._pool._processes.values()):  # as the out-of-memory killer would
            os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(BucketWorkerError, match=r"bucket 1 of 2 stopped .*smaller --lines-per-bucket"):
            runner.audit(0, Spill(2, tmp_path / "spill"), LaterCopies(pd.DataFrame(), pd.DataFrame()), reference)
    finally:
        runner.close()


def test_quarantined_notes_reach_the_bucket_of_their_patient(tmp_path, reference):
    """flows.buckets.audit_one cuts the run's quarantined notes to its bucket's patients."""
    from flows.buckets import audit_one
    from nmr_audit.buckets import patient_buckets
    from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
    from nmr_audit.facts import held_notes
    from nmr_audit.gx_engine import RuleEngine
    from tests.builders import NPI, tables, visit

    patients = [f"P{n}" for n in range(8)]
    lines, notes, services = tables(*[visit(patient_id=p, billed={"97112": 1}, note=False) for p in patients])
    lineage = {"source_file": "x.csv"}
    spill = Spill(2, tmp_path / "spill")
    spill.add(CLAIM_LINES, lines.assign(**lineage, source_row=range(2, 2 + len(lines))),
              patient_buckets(lines["patient_id"], 2))
    spill.add(VISIT_NOTES, notes.assign(**lineage, source_row=pd.Series(dtype="int64")), patient_buckets(notes["patient_id"], 2))
    spill.add(NOTE_SERVICES, services.assign(**lineage, source_row=pd.Series(dtype="int64")),
              patient_buckets(services["note_id"], 2))
    held = held_notes(pd.DataFrame({
        "table": "visit_notes", "source_file": "notes.csv", "source_row": [5], "reason": ["clinic_id: required"],
        "record": ["{}"], "patient_id": ["P3"], "date_of_service": pd.to_datetime(["2026-03-04"]).astype("datetime64[s]"),
        "rendering_npi": [NPI]}))
    none = LaterCopies(pd.DataFrame(columns=["source_file", "source_row"]), pd.DataFrame(columns=["source_file", "source_row"]))
    engine = RuleEngine(load_suites())
    found = pd.concat([audit_one(b, spill, none, reference, engine, held).audited.findings for b in (0, 1)])
    rules = found.set_index("patient_id")["rule_id"]
    assert rules["P3"] == "NOTE_QUARANTINED" and (rules.drop("P3") == "NO_NOTE").all() and len(rules) == 8
