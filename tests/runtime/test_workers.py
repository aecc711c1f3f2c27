"""A partition task's rule engine: built once per thread, rebuilt when the suites change."""

from __future__ import annotations

import json
import shutil
import sys
import threading

import pytest

from nmr_audit.errors import InputError
from nmr_audit.io.suites import default_expectations_dir
from nmr_audit.runtime.workers import thread_engine as rule_engine


def test_partitions_in_one_thread_share_its_engine():
    assert rule_engine(None) is rule_engine(None)
    assert rule_engine(str(default_expectations_dir())) is rule_engine(None)


def test_each_thread_has_an_engine_of_its_own():
    mine = rule_engine(None)
    theirs = []
    other = threading.Thread(target=lambda: theirs.append(rule_engine(None)))
    other.start()
    other.join()
    assert theirs and theirs[0] is not mine


def test_an_edited_suite_counts_from_the_next_partition_on(tmp_path):
    folder = tmp_path / "expectations"
    shutil.copytree(default_expectations_dir(), folder)
    before = rule_engine(str(folder))
    suite = folder / "visits.json"
    document = json.loads(suite.read_text())
    document["expectations"][0]["meta"]["message"] = "edited: " + document["expectations"][0]["meta"]["message"]
    suite.write_text(json.dumps(document))
    after = rule_engine(str(folder))
    assert after is not before
    assert after.suites["visits"].expectations[0].meta["message"].startswith("edited: ")
    assert rule_engine(str(folder)) is after


def test_a_missing_suite_is_named_not_cached(tmp_path):
    folder = tmp_path / "expectations"
    shutil.copytree(default_expectations_dir(), folder)
    kept = (folder / "notes.json").read_bytes()
    (folder / "notes.json").unlink()
    with pytest.raises(InputError, match=r"notes\.json"):
        rule_engine(str(folder))
    (folder / "notes.json").write_bytes(kept)
    assert set(rule_engine(str(folder)).suites) == {"claim_lines", "visits", "notes", "patient_days",
                                                    "discipline_days", "fields", "code_pairs", "therapy_lines",
                                                    "treatment_days"}


def _worker_state() -> tuple[float, int, bool]:
    """In a Dask worker: minor page faults per 4 MiB block allocated and freed, the objects
    kept out of full collections, whether the nanny set the trim threshold."""
    import gc
    import os
    import resource

    import numpy as np

    np.ones(2**19)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        block = np.ones(2**19)
        del block
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
    return faults, gc.get_freeze_count(), "MALLOC_TRIM_THRESHOLD_" in os.environ


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_local_dask_worker_is_ready_for_buckets_before_the_first_one():
    """`--dask-address local`'s cluster (a nanny per worker, Dask's defaults) with the preload:
    the nanny's trim threshold undone (a bucket took 1.5x the CPU with it) and the objects alive
    after the engine was built kept out of each bucket's full collection."""
    from dask.distributed import Client, LocalCluster

    from nmr_audit.cli import local_cluster

    with LocalCluster(**local_cluster(1)) as cluster, Client(cluster) as client:
        faults, frozen, nanny_set = client.submit(_worker_state, pure=False).result(timeout=120)
    assert nanny_set  # Dask's own default, which this test is about
    assert faults < 50
    assert frozen > 10_000
