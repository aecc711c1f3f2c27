"""Everything a run holds around its work, in one `with`: the output folder checked and marked,
its lock, the sweep of what killed runs left there, the umask, and a private temporary folder.

    with guarded_run(Path(out), "run", share_with_group=False, flow_run_id=id) as guard:
        ...  # audit; guard.access for the commit, guard.previous for the run before

Raises `InputError` (the folder is a file, or a user's non-empty folder: exit 2) or `LockHeldError`
(another run holds it: exit 75) before anything is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nmr_audit.runtime.commit import state_of, sweep
from nmr_audit.runtime.lock import RunLock
from nmr_audit.runtime.marker import Kind, claim_output
from nmr_audit.runtime.permissions import Access, access, run_umask, set_mode
from nmr_audit.runtime.supervise import supervise


@dataclass
class Guard:
    """What a guarded run knows about its folder."""

    folder: Path
    access: Access
    previous: dict[str, Any]  # the lock's holder record before this run (`lock.read_holder`)
    previous_died: bool  # that run was killed while holding the lock
    swept: list[str]  # work folders and partial files of killed runs, removed
    found: str  # the folder's state on entry: empty, complete or incomplete (`commit.state_of`)
    temp: Path  # this run's temporary folder (also `tempfile.gettempdir()` and TMPDIR meanwhile)
    seconds: dict[str, float] = field(default_factory=dict)  # what the guard cost: lock, sweep


@contextmanager
def guarded_run(folder: Path, kind: Kind, share_with_group: bool = False,
                flow_run_id: str | None = None) -> Iterator[Guard]:
    """Hold `folder` for one run (see the module). Children the run starts end with it
    (`supervise`); every temporary file of the run goes inside `folder`, never to the system's
    temporary folder, and is removed when the run ends."""
    given = access(share_with_group)
    started = time.perf_counter()
    supervise()
    claim_output(folder, kind, mode=given.folder)
    with RunLock(folder, flow_run_id, given.file) as lock:
        locked = time.perf_counter()
        set_mode(folder, given.folder)
        found = state_of(folder) if kind == "run" else "empty"
        swept = sweep(folder)
        temp = folder / f".staging-{uuid.uuid4().hex[:12]}"
        temp.mkdir(mode=given.folder)
        guard = Guard(folder, given, lock.previous, lock.previous_died, swept, found, temp,
                      {"lock": round(locked - started, 4), "sweep": round(time.perf_counter() - locked, 4)})
        try:
            with run_umask(given), _temporary_folder(temp):
                yield guard
        finally:
            shutil.rmtree(temp, ignore_errors=True)


@contextmanager
def _temporary_folder(temp: Path) -> Iterator[None]:
    """`tempfile`'s folder (this process) and TMPDIR (processes started meanwhile) → `temp`."""
    before, before_environment = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(temp)
    os.environ["TMPDIR"] = str(temp)
    try:
        yield
    finally:
        tempfile.tempdir = before
        if before_environment is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before_environment
