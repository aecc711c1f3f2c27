"""What the nightly machinery costs: the schedule's first run, and the lock and commit checks.

    python bench/nightly.py            # both; writes bench/out/nightly.json
    python bench/nightly.py --no-schedule

1. Schedule: `prefect server start` (scheduler on) on a free loopback port, then `python -m
   flows.serve` of the nightly flow every 30 s over the bundled sample exports. Reports the
   seconds from the server's start to its API answering, to the scheduler's first run of the
   deployment (its `created` time), and to that run completing.
2. Per-run checks, in this process, over the outputs of a sample run: taking and releasing the
   output folder's lock (with the holder record), the marker check, the sweep, the folder's
   state, the nightly root's recovery, and the crash-safe commit against plain renames of the
   same staged files (median of 20 rounds each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "canonical"
OUT = ROOT / "bench" / "out"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def schedule(work: Path) -> dict[str, float]:
    import httpx

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(work / "prefect"), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false"}
    url = f"http://127.0.0.1:{port}/api"
    exports = work / "exports"
    for table in ("claims", "notes"):
        (exports / table).mkdir(parents=True)
        shutil.copy(next((SAMPLE / table).iterdir()), exports / table)
    binaries = Path(sys.executable).parent
    started = time.time()
    server = subprocess.Popen([binaries / "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
                               "--scheduler", "--no-ui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    serving = None
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        healthy = time.time()
        serving = subprocess.Popen([sys.executable, "-m", "flows.serve", "--claims", str(exports / "claims"),
                                    "--notes", str(exports / "notes"), "--output-root", str(work / "root"),
                                    "--interval-seconds", "30", "--no-data-docs"], cwd=ROOT,
                                   env=env | {"PREFECT_API_URL": url, "PREFECT_RUNNER_POLL_FREQUENCY": "2"},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        created = completed = None
        while completed is None:
            time.sleep(0.5)
            runs = httpx.post(f"{url}/flow_runs/filter", timeout=10, json={
                "sort": "EXPECTED_START_TIME_ASC", "limit": 20}).json()
            scheduled = [r for r in runs if r["auto_scheduled"]]
            if scheduled and created is None:
                created = min(datetime.fromisoformat(r["created"]).timestamp() for r in scheduled)
            done = [r for r in scheduled if r["state"]["type"] == "COMPLETED"]
            if done:
                completed = min(datetime.fromisoformat(r["end_time"]).timestamp() for r in done)
        return {"server_answering_s": round(healthy - started, 1),
                "first_scheduled_run_created_s": round(created - started, 1),
                "first_scheduled_run_completed_s": round(completed - started, 1)}
    finally:
        for process in (serving, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def median_ms(step: Callable[[], object], rounds: int = 20) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1000, 2)


def checks(work: Path) -> dict[str, float]:
    from nmr_audit.runtime.commit import commit, state_of, sweep
    from nmr_audit.runtime.lock import RunLock, check_free
    from nmr_audit.runtime.marker import claim_output
    from nmr_audit.runtime.permissions import PRIVATE
    from nmr_audit.runtime.root import recover

    done = subprocess.run([Path(sys.executable).parent / "nmr-audit", "audit", "--claims", str(SAMPLE / "claims"),
                           "--notes", str(SAMPLE / "notes"), "--out", str(work / "sample")],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    outputs = [p for p in (work / "sample").iterdir() if not p.name.startswith(".")]
    out = claim_output(work / "out", "run")

    def staged() -> Path:
        stage = out / f".staging-{time.perf_counter_ns()}"
        stage.mkdir()
        for path in outputs:
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, stage / path.name)
        return stage

    def lock_cycle() -> None:
        with RunLock(out):
            pass

    def renames(stage: Path) -> None:
        for item in stage.iterdir():
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
        stage.rmdir()

    commit_ms, rename_ms = [], []
    for _ in range(20):
        stage = staged()
        began = time.perf_counter()
        commit(stage, out, PRIVATE)
        commit_ms.append(time.perf_counter() - began)
        stage = staged()
        began = time.perf_counter()
        renames(stage)
        rename_ms.append(time.perf_counter() - began)
    root = claim_output(work / "root", "nightly")
    return {"files_committed": len(list(out.rglob("*"))),
            "lock_take_and_release_ms": median_ms(lock_cycle),
            "lock_free_check_ms": median_ms(lambda: check_free(out)),
            "marker_check_ms": median_ms(lambda: claim_output(out, "run")),
            "sweep_ms": median_ms(lambda: sweep(out)),
            "state_of_ms": median_ms(lambda: state_of(out)),
            "nightly_recover_empty_root_ms": median_ms(lambda: recover(root, PRIVATE)),
            "commit_ms": round(statistics.median(commit_ms) * 1000, 2),
            "plain_renames_ms": round(statistics.median(rename_ms) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-schedule", action="store_true", help="only the per-run checks")
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    with tempfile.TemporaryDirectory(prefix="nmr-audit-bench-", dir=OUT if OUT.exists() else None) as folder:
        work = Path(folder)
        figures = {"checks": checks(work)}
        if not args.no_schedule:
            figures["schedule"] = schedule(work / "schedule")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "nightly.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
