"""The partitioned audit on a real Dask cluster, reporting to a real Prefect server.

A Prefect server, a Dask scheduler and two Dask workers run as separate processes on
loopback; the CLI runs the audit with `--dask-address` and again in one process; the outputs
must be identical. Workers talk to the real server through PREFECT_API_URL (otherwise each
would start its own temporary one).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.flow


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


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(Prefect API URL, Dask scheduler address, environment) for processes that use them."""
    home = tmp_path_factory.mktemp("prefect-home")
    api_port, dask_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    logs = tmp_path_factory.mktemp("logs")
    processes = [subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                                   str(api_port)], env=env, cwd=REPO, stdout=(logs / "server.log").open("w"),
                                  stderr=subprocess.STDOUT)]
    worker_env = {**env, "PREFECT_API_URL": api}
    try:
        processes.append(subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                           str(dask_port), "--no-dashboard"], env=worker_env, cwd=REPO,
                                          stdout=(logs / "scheduler.log").open("w"), stderr=subprocess.STDOUT))
        wait_for(lambda: listening(dask_port), "dask scheduler", 60)
        for number in range(2):
            processes.append(subprocess.Popen(
                [BIN / "dask", "worker", f"tcp://127.0.0.1:{dask_port}", "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"worker-{number}"], env=worker_env, cwd=REPO,
                stdout=(logs / f"worker-{number}.log").open("w"), stderr=subprocess.STDOUT))
        wait_for(lambda: healthy(f"{api}/health"), "prefect server")
        yield api, f"tcp://127.0.0.1:{dask_port}", worker_env
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def audit(data: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "nmr-audit", "audit", "--claims", str(data / "claims"), "--notes",
                           str(data / "notes"), "--out", str(out), "--no-data-docs", *extra],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_partitioned_audit_on_dask_matches_the_single_process_run(cluster, tmp_path):
    from nmr_audit.synth.write import ExportStyle, write_dataset

    api, address, env = cluster
    data = tmp_path / "exports"  # 4 episodes over a few months: a handful of partitions
    write_dataset(data, visits=48, seed=21, defect_rate=0.2, style=ExportStyle(format="csv"))
    scaled = audit(data, tmp_path / "dask", env, "--dask-address", address)
    assert scaled.returncode == 0, scaled.stdout[-3000:] + scaled.stderr[-3000:]
    single = audit(data, tmp_path / "single", env)
    assert single.returncode == 0, single.stderr[-3000:]
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / name),
                                      pd.read_parquet(tmp_path / "single" / name))
    assert (tmp_path / "dask" / "findings.csv").read_bytes() == (tmp_path / "single" / "findings.csv").read_bytes()
    summaries = [json.loads((tmp_path / run / "summary.json").read_text()) for run in ("dask", "single")]
    assert summaries[0]["findings"] == summaries[1]["findings"] and summaries[0]["visits"] == summaries[1]["visits"]
    assert summaries[0]["run"]["parameters"]["partitioned"] is True and summaries[0]["findings"]["total"] > 5
    assert not list((tmp_path / "dask").glob(".work-*"))

    from distributed import Client

    with Client(address, timeout=30) as client:
        ran = client.run(lambda dask_worker: dask_worker.state.transition_counter)
    assert len(ran) == 2 and all(count > 0 for count in ran.values())  # both workers did work
    assert partition_runs_completed(api) >= 2


def partition_runs_completed(api: str) -> int:
    """Task runs named 'audit partition' that the real server recorded as completed."""
    request = urllib.request.Request(f"{api}/task_runs/filter", method="POST",
                                     data=json.dumps({"task_runs": {"name": {"like_": "audit partition"}}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        runs = json.loads(response.read())
    return sum(1 for run in runs if run["state_type"] == "COMPLETED")
