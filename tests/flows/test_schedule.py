"""The schedule fires: a real `prefect server start` (scheduler on) on loopback creates the runs of
the served nightly flow and of the deployment `prefect.yaml` describes, with the pinned set.

Under SQLAlchemy 2.1 the scheduler service failed on every loop ("Can't evaluate bulk DML
statement") and no scheduled run was ever created, while every other test passed. One server for
the module; each test reads back what the server itself did.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
SAMPLE = REPO / "data" / "sample" / "canonical"
BIN = Path(sys.executable).parent
NEW_YORK = ZoneInfo("America/New_York")


class Server:
    def __init__(self, url: str, environment: dict[str, str], log: Path) -> None:
        self.url, self.environment, self.log = url, environment, log

    def get(self, path: str) -> dict:
        answer = httpx.get(f"{self.url}{path}", timeout=30)
        answer.raise_for_status()
        return answer.json()

    def flow_runs(self, deployment_id: str) -> list[dict]:
        answer = httpx.post(f"{self.url}/flow_runs/filter", timeout=30,
                            json={"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "limit": 200})
        answer.raise_for_status()
        return answer.json()

    def errors_in_log(self) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if any(w in line for w in ("ERROR", "Traceback", "bulk_dml"))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, seconds: float, what: str, pause: float = 1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(pause)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    environment |= {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "PREFECT_SERVER_UI_ENABLED": "false"}
    log = home / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen([BIN / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
                                    "--scheduler", "--no-ui"], env=environment, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None and pytest.fail(log.read_text()[-3000:])

    try:
        _wait(healthy, 180, "the Prefect server to answer")
        yield Server(url, environment | {"PREFECT_API_URL": url}, log)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_server_schedules_the_served_nightly_and_the_scheduled_run_completes(server, tmp_path):
    for table in ("claims", "notes"):
        (tmp_path / "exports" / table).mkdir(parents=True)
        shutil.copy(next((SAMPLE / table).iterdir()), tmp_path / "exports" / table / "night1.csv")
    root = tmp_path / "root"
    with (tmp_path / "serve.log").open("w") as sink:
        serving = subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--claims", str(tmp_path / "exports" / "claims"), "--notes",
             str(tmp_path / "exports" / "notes"), "--output-root", str(root), "--interval-seconds", "30",
             "--no-data-docs"], cwd=REPO, env=server.environment | {"PREFECT_RUNNER_POLL_FREQUENCY": "2"},
            stdout=sink, stderr=subprocess.STDOUT)
    try:
        deployment = _wait(lambda: _deployment(server), 120, "the served deployment")
        assert deployment["schedules"][0]["schedule"]["interval"] == 30

        def completed() -> list[dict]:
            assert serving.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            runs = server.flow_runs(deployment["id"])
            failed = [r for r in runs if r["state"]["type"] in ("FAILED", "CRASHED")]
            assert not failed, failed[0]["state"]["message"]
            return [r for r in runs if r["auto_scheduled"] and r["state"]["type"] == "COMPLETED"]

        done = _wait(completed, 300, "a scheduled nightly run to complete", pause=2)
        assert done[0]["auto_scheduled"]  # created by the server's scheduler, not by a person or the client
    finally:
        serving.terminate()
        serving.wait(60)
    latest = (root / "latest").resolve()
    assert (latest / "summary.json").exists() and (root / "ledger.csv").exists()
    assert server.errors_in_log() == []


def test_prefect_yaml_deploys_the_nightly_at_0230_new_york_time(server):
    environment = server.environment | {"NMR_AUDIT_HOME": str(REPO)}
    pool = subprocess.run([BIN / "prefect", "work-pool", "create", "nmr-audit", "--type", "process", "--overwrite"],
                          env=environment, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert pool.returncode == 0, pool.stdout[-2000:] + pool.stderr[-2000:]
    deployed = subprocess.run([BIN / "prefect", "--no-prompt", "deploy", "--all"], env=environment, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    deployment = server.get("/deployments/name/nmr-audit-nightly/nightly")
    schedule = deployment["schedules"][0]["schedule"]
    assert (schedule["cron"], schedule["timezone"]) == ("30 2 * * *", "America/New_York")
    assert deployment["work_pool_name"] == "nmr-audit"
    later = datetime.now(UTC) + timedelta(hours=2)  # past any run of an earlier interval schedule

    def nightly_runs() -> list[datetime]:
        # The scheduler creates the next 3 nights (its minimum); when the next 02:30 in New York
        # is under two hours away (05:30–07:30 UTC) only two of them lie past `later`.
        starts = [datetime.fromisoformat(r["expected_start_time"]) for r in server.flow_runs(deployment["id"])
                  if r["auto_scheduled"] and r["state"]["type"] == "SCHEDULED"]
        return sorted(s for s in starts if s > later) if len([s for s in starts if s > later]) >= 2 else []

    starts = _wait(nightly_runs, 120, "the scheduler to create the nightly runs", pause=2)
    local = [s.astimezone(NEW_YORK) for s in starts]
    assert all((t.hour, t.minute) == (2, 30) for t in local), local
    assert len({t.date() for t in local}) == len(local)  # one a night
    assert server.errors_in_log() == []


def _deployment(server: Server) -> dict | None:
    try:
        return server.get("/deployments/name/nmr-audit-nightly/nightly")
    except httpx.HTTPStatusError:
        return None
