"""Children that end with their parent, even when the parent is killed by SIGKILL.

A run starts processes of its own: Prefect's temporary server, bucket workers, the workbook
writer. Killed with `kill -9`, a process runs no clean-up, and its children are re-parented
and live on. `supervise()` starts a small watchdog process (standard library only until it
acts) that holds the read end of a pipe whose write end only the run's process holds. The
kernel closes that end when the process ends, however it ends; the watchdog then reads end of
file, ends (SIGTERM, then SIGKILL after `GRACE_SECONDS`) every process that carries the run's
token in its environment, and exits.

The token is in `NMR_AUDIT_SUPERVISED` (tokens of nested supervisors are joined by commas), set
before any child starts, so every child, grandchild and spawned worker inherits it. A process
that changes its whole environment escapes; none of the run's children do. `psutil` reads other
processes' environments (Linux, macOS, Windows; the same user's processes only).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

ENVIRONMENT = "NMR_AUDIT_SUPERVISED"
GRACE_SECONDS = 3.0
_WATCHDOGS: dict[int, subprocess.Popen[bytes]] = {}  # by the pid of the process watched


def supervise() -> str:
    """Start this process's watchdog (once per process) and return its token; every process
    started from here on ends when this process ends."""
    pid = os.getpid()
    if pid in _WATCHDOGS:
        return _WATCHDOGS[pid].args[-1]  # type: ignore[index]
    token = uuid.uuid4().hex
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "nmr_audit.runtime.supervise", token],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)  # a Ctrl-C to the terminal's process group leaves it to do its work
    _WATCHDOGS[pid] = watchdog
    tokens = [t for t in os.environ.get(ENVIRONMENT, "").split(",") if t]
    os.environ[ENVIRONMENT] = ",".join([*tokens, token])
    return token


def carriers(token: str, exclude: set[int]) -> list[int]:
    """Pids of the processes whose environment carries `token` (`exclude` left out)."""
    import psutil

    found = []
    for process in psutil.process_iter():
        if process.pid in exclude:
            continue
        try:
            tokens = process.environ().get(ENVIRONMENT, "")
        except (psutil.Error, OSError):
            continue
        if token in tokens.split(","):
            found.append(process.pid)
    return found


def end_processes(pids: list[int], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to each, then SIGKILL to those still alive after `grace` seconds."""
    import psutil

    processes = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            process.terminate()
            processes.append(process)
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue


def _watch(token: str) -> None:
    """The watchdog: wait for the watched process to end, then end what it started."""
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except OSError:
        pass
    time.sleep(0.2)  # children started in the last instant are in the process table by now
    end_processes(carriers(token, {os.getpid()}))


if __name__ == "__main__":
    _watch(sys.argv[1])
