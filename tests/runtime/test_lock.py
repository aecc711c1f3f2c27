"""One run per output folder: a second run is refused at once and told who holds the folder; the
lock of a process that died is taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from nmr_audit.runtime.lock import EX_TEMPFAIL, HOLDER_FILE, LockHeldError, RunLock, read_holder

HOLD = """
import sys, time
from pathlib import Path
from nmr_audit.runtime.lock import RunLock
with RunLock(Path(sys.argv[1]), flow_run_id="flow-run-1"):
    print("held", flush=True)
    time.sleep(60)
"""


def holder_process(folder):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_at_once_and_names_the_holder(tmp_path):
    process = holder_process(tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(LockHeldError) as refused, RunLock(tmp_path):
            pass
        assert time.monotonic() - started < 5  # it does not wait for the holder
        holder = refused.value.holder
        assert holder["pid"] == process.pid and holder["host"] == socket.gethostname()
        assert holder["flow_run_id"] == "flow-run-1" and holder["started_at"]
        line = refused.value.line()
        assert f"pid {process.pid}" in line and "started" in line and "nothing audited" in line
    finally:
        process.kill()
        process.wait()
    assert EX_TEMPFAIL == 75


def test_the_lock_of_a_killed_process_is_taken_over_and_the_death_is_seen(tmp_path):
    process = holder_process(tmp_path)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with RunLock(tmp_path, flow_run_id="flow-run-2") as lock:
        assert lock.previous["pid"] == process.pid and lock.previous_died
        assert read_holder(tmp_path)["flow_run_id"] == "flow-run-2"
    assert "released_at" in read_holder(tmp_path)  # ended in order: the next run will not think it died
    with RunLock(tmp_path) as lock:
        assert not lock.previous_died


def test_the_holder_record_is_private(tmp_path):
    with RunLock(tmp_path):
        assert oct((tmp_path / HOLDER_FILE).stat().st_mode & 0o777) == "0o600"


def test_a_folder_shared_with_the_group_opens_its_lock_and_holder_to_the_group(tmp_path):
    """With --share-with-group another member of the group must be able to take the lock after
    this run (a 0600 lock file owned by the first user refused the second with PermissionError)."""
    before = os.umask(0o077)  # the strictest umask a user may have: the modes are set, not inherited
    try:
        with RunLock(tmp_path, file_mode=0o660):
            assert oct((tmp_path / ".nmr-audit.lock").stat().st_mode & 0o777) == "0o660"
            assert oct((tmp_path / HOLDER_FILE).stat().st_mode & 0o777) == "0o660"
    finally:
        os.umask(before)
    assert oct((tmp_path / HOLDER_FILE).stat().st_mode & 0o777) == "0o660"


def test_a_private_folder_later_shared_opens_its_existing_lock_to_the_group(tmp_path):
    with RunLock(tmp_path):
        pass
    assert (tmp_path / ".nmr-audit.lock").stat().st_mode & 0o777 == 0o600
    with RunLock(tmp_path, file_mode=0o660):
        pass
    assert (tmp_path / ".nmr-audit.lock").stat().st_mode & 0o777 == 0o660
