"""The partitioned audit on a real Dask cluster, reporting to a real Prefect server.

A Dask scheduler and two Dask workers run as separate processes on loopback; the CLI runs the
audit with `--dask-address` in a process of its own, and the flow runs again here in one
process; the outputs must be identical. The CLI and the workers talk to the session's Prefect
server through PREFECT_API_URL (otherwise each would start its own temporary one).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from nmr_audit.runtime.config import RunConfig
from tests.conftest import REPO

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.flow, pytest.mark.slow]  # end to end: a Dask scheduler, two workers, the command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not come up within {seconds} s")


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def cluster(prefect_server, tmp_path_factory):
    """(Prefect API URL, Dask scheduler address, environment) for processes that use them."""
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()  # the session's server: a process of its own, on loopback
    dask_port = free_port()
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": api}
    logs = tmp_path_factory.mktemp("logs")
    processes = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(dask_port),
                                   "--no-dashboard"], env=env, cwd=REPO,
                                  stdout=(logs / "scheduler.log").open("w"), stderr=subprocess.STDOUT)]
    try:
        wait_for(lambda: listening(dask_port), "dask scheduler", 60)
        for number in range(2):
            processes.append(subprocess.Popen(  # the audit's modules imported while the CLI starts
                [BIN / "dask", "worker", f"tcp://127.0.0.1:{dask_port}", "--no-nanny", "--nthreads", "1",
                 "--no-dashboard", "--name", f"worker-{number}", "--preload", "nmr_audit.runtime.workers"], env=env, cwd=REPO,
                stdout=(logs / f"worker-{number}.log").open("w"), stderr=subprocess.STDOUT))
        yield api, f"tcp://127.0.0.1:{dask_port}", env
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:  # a worker's Prefect threads may still flush logs: nothing to keep
                process.kill()
                process.wait()


def audit(data: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "nmr-audit", "audit", "--claims", str(data / "claims"), "--notes",
                           str(data / "notes"), "--out", str(out), "--no-data-docs", *extra],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_partitioned_audit_on_dask_matches_the_single_process_run(cluster, tmp_path):
    from flows.audit import audit_flow
    from nmr_audit.synth.write import ExportStyle, write_dataset

    api, address, env = cluster
    data = tmp_path / "exports"  # buckets of about 12 claim lines: a few, work for each worker
    write_dataset(data, visits=16, seed=3, defect_rate=0.2, style=ExportStyle(format="csv"))
    began = datetime.now(UTC)
    scaled = audit(data, tmp_path / "dask", env, "--dask-address", address, "--lines-per-bucket", "12")
    assert scaled.returncode == 0, scaled.stdout[-3000:] + scaled.stderr[-3000:]
    assert "read by the command while Prefect started" in scaled.stdout + scaled.stderr  # the head start, taken over
    single = audit_flow(RunConfig(claims=[str(data / "claims")], notes=[str(data / "notes")], out=str(tmp_path / "single"),
                                  data_docs=False), return_state=True)
    assert single.is_completed(), single.message
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / name),
                                      pd.read_parquet(tmp_path / "single" / name))
    assert (tmp_path / "dask" / "findings.csv").read_bytes() == (tmp_path / "single" / "findings.csv").read_bytes()
    summaries = [json.loads((tmp_path / run / "summary.json").read_text()) for run in ("dask", "single")]
    assert summaries[0]["findings"] == summaries[1]["findings"] and summaries[0]["visits"] == summaries[1]["visits"]
    assert summaries[0]["run"]["parameters"]["partitioned"] is True and summaries[0]["findings"]["total"] > 5
    assert not list((tmp_path / "dask").glob(".spill-*"))

    from distributed import Client

    with Client(address, timeout=30) as client:
        ran = client.run(lambda dask_worker: dask_worker.state.transition_counter)
    assert len(ran) == 2 and all(count > 0 for count in ran.values())  # both workers did work
    assert partition_runs_completed(api, began) >= 2


def partition_runs_completed(api: str, since: datetime) -> int:
    """Task runs named 'audit bucket' begun since then that the real server recorded as completed."""
    wanted = {"task_runs": {"name": {"like_": "audit bucket"}, "start_time": {"after_": since.isoformat()}}}
    request = urllib.request.Request(f"{api}/task_runs/filter", method="POST", data=json.dumps(wanted).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        runs = json.loads(response.read())
    return sum(1 for run in runs if run["state_type"] == "COMPLETED")


def test_a_local_dask_cluster_audits_as_the_command_does_and_closes_without_alarms(tmp_path):
    """`--dask-address local`: the command starts its own cluster (nannies, Dask's defaults, the
    preload), audits on it and closes it; the outputs are the default run's, and closing logs no
    ERROR (the nanny, worker and scheduler removing the same scratch folders logged three)."""
    from nmr_audit.synth.write import ExportStyle, write_dataset

    data = tmp_path / "exports"
    write_dataset(data, visits=16, seed=5, defect_rate=0.2, style=ExportStyle(format="csv"))
    env = {k: v for k, v in os.environ.items() if k != "NMR_AUDIT_MASK_KEY"}
    local = audit(data, tmp_path / "local", env, "--dask-address", "local", "--lines-per-bucket", "12")
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    assert "ERROR" not in local.stdout + local.stderr
    default = audit(data, tmp_path / "default", env)
    assert default.returncode == 0, default.stdout[-3000:] + default.stderr[-3000:]
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "local" / name),
                                      pd.read_parquet(tmp_path / "default" / name))
    summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert summary["run"]["parameters"]["partitioned"] is True and summary["run"]["parameters"]["buckets"] > 1
