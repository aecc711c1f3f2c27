"""Children end with their parent, even when the parent is killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

PARENT = """
import multiprocessing, subprocess, sys, time
from nmr_audit.runtime.supervise import supervise

def idle():
    time.sleep(300)

if __name__ == "__main__":
    supervise()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    worker = multiprocessing.get_context("spawn").Process(target=idle)
    worker.start()
    print(child.pid, worker.pid, flush=True)
    time.sleep(300)
"""


def gone(pids, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.2)
    return alive


def test_a_child_and_a_spawned_worker_end_when_the_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2 and all(psutil.pid_exists(p) for p in children)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert gone(children, within=30) == []


def test_a_parent_that_ends_in_order_leaves_no_watchdog_behind():
    done = subprocess.run([sys.executable, "-c", "import os; from nmr_audit.runtime import supervise as s; "
                           "s.supervise(); print(s._WATCHDOGS[os.getpid()].pid, flush=True)"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert gone([int(done.stdout.split()[0])], within=15) == []
