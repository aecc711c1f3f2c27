"""Killed runs: nothing outlives them, the next run clears what they left, and the output folder
is never a summary beside another run's files (kill -9 from outside, and at named checkpoints)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import psutil
import pytest

from flows.nightly import nightly_audit
from nmr_audit.runtime.config import NightlyConfig
from tests.conftest import REPO

pytestmark = pytest.mark.slow
SAMPLE = REPO / "data" / "sample"
COMMAND = Path(sys.executable).parent / "nmr-audit"
WORK = (".spill-", ".staging-", ".canonical-", ".work-")
KILLED_AT = """
import sys
from nmr_audit.runtime import faults
faults.kill_at(sys.argv[1])
sys.argv = ["nmr-audit", *sys.argv[2:]]
from nmr_audit.cli import main
main()
"""


def environment(tmp_path: Path) -> dict[str, str]:
    """The command's own Prefect home (in its output folder), a system temp folder of our own."""
    (tmp_path / "system-temp").mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return clean | {"TMPDIR": str(tmp_path / "system-temp"), "DO_NOT_TRACK": "1"}


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith(WORK)
                  or (p.name.startswith(".") and p.name.endswith(".tmp")))


def holder_names_a_flow_run(folder: Path) -> bool:
    """The lock's holder record names the flow run (the flow's guard joined the command's lock):
    from then on the next run knows which flow run to mark Crashed."""
    try:
        return bool(json.loads((folder / ".nmr-audit.holder.json").read_text()).get("flow_run_id"))
    except (OSError, ValueError):
        return False


def flow_run_states(prefect_home: Path) -> list[str]:
    with sqlite3.connect(prefect_home / "prefect.db") as database:
        return [row[0] for row in database.execute("SELECT state_type FROM flow_run")]


def test_kill_9_leaves_no_process_and_the_next_run_clears_what_it_left(tmp_path):
    env = environment(tmp_path)
    made = subprocess.run([COMMAND, "generate", "--visits", "1500", "--seed", "3", "--format", "csv", "--out",
                           str(tmp_path / "exports")], env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    out = tmp_path / "out"
    audit = [COMMAND, "audit", "--claims", str(tmp_path / "exports" / "claims"), "--notes",
             str(tmp_path / "exports" / "notes"), "--out", str(out), "--lines-per-bucket", "800", "--no-data-docs"]
    command = subprocess.Popen(audit, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(command.pid)
    deadline, children = time.monotonic() + 240, []
    while time.monotonic() < deadline and command.poll() is None:  # the server, a bucket worker and the flow run are up
        children = parent.children(recursive=True)
        if any(out.glob(".spill-*")) and len(children) >= 3 and holder_names_a_flow_run(out):
            break
        time.sleep(0.2)
    assert command.poll() is None and len(children) >= 3, "the run ended before it could be killed"
    os.kill(command.pid, signal.SIGKILL)
    command.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        time.sleep(0.5)
    assert [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
    assert leftovers(out) and not (out / "summary.json").exists()

    again = subprocess.run(audit, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "removed what killed runs left" in again.stderr
    assert leftovers(out) == [] and (out / "summary.json").exists()
    assert sorted(flow_run_states(out / ".prefect")) == ["COMPLETED", "CRASHED"]  # the killed run is not Running
    assert list((tmp_path / "system-temp").iterdir()) == []  # no temporary file outside the run's folder


@pytest.fixture
def second_night(tmp_path):
    """A root after one committed night, and a second night's new files."""
    exports = tmp_path / "exports"
    for table in ("claims", "notes"):
        (exports / table).mkdir(parents=True)
        (exports / table / "night1.csv").write_bytes(next((SAMPLE / "canonical" / table).iterdir()).read_bytes())
    root = tmp_path / "root"
    return exports, root


@pytest.mark.usefixtures("prefect_server")
# each rename of the commit is killed in tests/runtime/test_commit.py (fast, no Prefect)
@pytest.mark.parametrize("step", ["reading", "bucket", "nightly:audited",
                                  "nightly:ledger"])
def test_a_nightly_killed_at_each_step_is_recovered_by_the_next_night(second_night, tmp_path, step):
    exports, root = second_night
    first = nightly_audit(NightlyConfig(claims=[str(exports / "claims")], notes=[str(exports / "notes")],
                                        output_root=str(root), as_of=date(2026, 4, 1), data_docs=False))
    for table in ("claims", "notes"):
        (exports / table / "night2.jsonl").write_bytes(next((SAMPLE / "canonical_jsonl" / table).iterdir()).read_bytes())
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, step, "nightly", "--claims", str(exports / "claims"),
                             "--notes", str(exports / "notes"), "--output-root", str(root), "--as-of", "2026-04-02"],
                            env=environment(tmp_path), capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    runs = {p.name for p in (root / "runs").iterdir()}
    killed_run = (runs - {first.run_id}).pop()
    run_dir = root / "runs" / killed_run
    ledger_runs = set(pd.read_csv(root / "ledger.csv")["run_id"])
    assert (killed_run in ledger_runs) == (step == "nightly:ledger")  # counted only once the ledger names it
    summary = run_dir / "summary.json"
    if summary.exists():  # complete: every output is this run's
        assert json.loads(summary.read_text())["run"]["run_id"] == killed_run

    third = nightly_audit(NightlyConfig(claims=[str(exports / "claims")], notes=[str(exports / "notes")],
                                        output_root=str(root), as_of=date(2026, 4, 3), data_docs=False))
    ledger = pd.read_csv(root / "ledger.csv")
    latest = json.loads((root / "latest.json").read_text())
    if step == "nightly:ledger":  # committed before the kill: latest moved forward, nothing audited again
        assert third.run_dir is None and latest["run_id"] == killed_run == ledger["run_id"].iloc[-1]
    else:  # abandoned: its files audited again tonight, its outputs gone
        assert sorted(Path(f).name for f in third.new_files) == ["night2.jsonl", "night2.jsonl"]
        assert latest["run_id"] == third.run_id == ledger["run_id"].iloc[-1]
        assert (run_dir / "abandoned.json").exists() and not summary.exists()
    assert (root / "latest").resolve().name == latest["run_id"]
    assert [p.name for p in (root / "state").iterdir()] == [latest["run_id"]]
    assert leftovers(root) == []


def test_two_nightly_commands_started_at_the_same_moment_run_one_night(tmp_path):
    exports = tmp_path / "exports"
    for table in ("claims", "notes"):
        (exports / table).mkdir(parents=True)
        (exports / table / "night1.csv").write_bytes(next((SAMPLE / "canonical" / table).iterdir()).read_bytes())
    root = tmp_path / "root"
    nightly = [COMMAND, "nightly", "--claims", str(exports / "claims"), "--notes", str(exports / "notes"),
               "--output-root", str(root), "--as-of", "2026-04-01"]
    both = [subprocess.Popen(nightly, env=environment(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    done = [(p.wait(timeout=600), *p.communicate()) for p in both]
    assert sorted(code for code, _, _ in done) == [0, 75], [err[-2000:] for _, _, err in done]
    refused = next(err for code, _, err in done if code == 75)
    winner = next(p for p, (code, _, _) in zip(both, done, strict=True) if code == 0)
    assert f"pid {winner.pid}" in refused and "nothing audited" in refused
    said = next(out for code, out, _ in done if code == 0)  # the night's figures, then where to read them
    assert "97112 visits:" in said and "findings:" in said and said.rstrip().splitlines()[-1].startswith(
        "open the report: ") and said.rstrip().endswith("report.html")
    ledger = pd.read_csv(root / "ledger.csv")
    assert len(set(ledger["run_id"])) == 1 and len(ledger) == 2  # every file audited once
    assert json.loads((root / "latest.json").read_text())["run_id"] == ledger["run_id"].iloc[0]
    assert [p.name for p in (root / "runs").iterdir()] == [ledger["run_id"].iloc[0]]
