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
