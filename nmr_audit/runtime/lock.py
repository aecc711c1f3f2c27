"""One run at a time per output folder: an exclusive lock held for the whole run.

The lock is `filelock`'s: on Unix an `flock(2)` on `.nmr-audit.lock` in the output folder, on
Windows `msvcrt.locking`. The operating system drops it when the holding process ends, however
it ends (`kill -9` included), so a lock whose process died is simply taken by the next run: there
is no stale lock to break and no timeout to guess. Beside it, `.nmr-audit.holder.json` says who
holds it (host, pid, start time, Prefect flow run), written once the lock is taken, so that a
second run can say whom it waited for.

Why `filelock` rather than `fcntl` directly: it is the maintained, cross-platform way to take
an `flock` (Windows included), it refuses lock files planted through symlinks or hard links, and
on a filesystem without `flock` it falls back to a marker file that records host and pid
instead of failing. On network filesystems: NFSv4 (and v3 with lockd) maps `flock` to server-side
locks, which a crashed client's lease releases after its lease time (90 s by default); SMB/CIFS
mounts lock per client as well; a filesystem without any lock support gets the marker fallback,
which cannot tell a dead holder on another host from a live one (remove the marker by hand).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock, Timeout

LOCK_FILE = ".nmr-audit.lock"
HOLDER_FILE = ".nmr-audit.holder.json"
EX_TEMPFAIL = 75  # sysexits.h: try again later


_HELD: dict[tuple[int, Path], RunLock] = {}  # folders this process holds: a nested RunLock shares the lock


class LockHeldError(RuntimeError):
    """Another run holds the output folder's lock. `holder` says which (may be empty when the
    holder had not yet written its name)."""

    def __init__(self, folder: Path, holder: dict[str, Any]) -> None:
        self.folder = folder
        self.holder = holder
        super().__init__(self.line())

    def line(self) -> str:
        who = describe_holder(self.holder)
        return (f"{self.folder}: another nmr-audit run holds this output folder ({who}); nothing audited "
                "— this run can be started again once that one ends")


def describe_holder(holder: dict[str, Any]) -> str:
    """`host pid 123, started 2026-11-23T02:30:00+00:00, flow run <id>` from a holder record."""
    if not holder:
        return "holder not yet recorded"
    parts = [f"{holder.get('host', '?')} pid {holder.get('pid', '?')}", f"started {holder.get('started_at', '?')}"]
    if holder.get("flow_run_id"):
        parts.append(f"flow run {holder['flow_run_id']}")
    return ", ".join(parts)


@dataclass
class RunLock:
    """The exclusive lock of an output folder, taken on entry, released on exit.

    `previous` is the holder record found when the lock was taken: the run before this one
    (which ended, or died holding it). `flow_run_id` is recorded for the next run, which marks
    that flow run Crashed if the process died while it was Running.

    Raises `LockHeldError` on entry when another live process holds the lock (it does not wait).
    Within one process the lock is shared: the command takes it before it starts Prefect, and
    the flow's own `RunLock` on the same folder joins it (and records its flow run id).
    """

    folder: Path
    flow_run_id: str | None = None
    file_mode: int = 0o600  # 0o660 when the run shares its folder with its group

    def __post_init__(self) -> None:
        self._lock = FileLock(self.folder / LOCK_FILE, timeout=0, thread_local=False, mode=self.file_mode)
        self.previous: dict[str, Any] = {}
        self.holder: dict[str, Any] = {}
        self._outer: RunLock | None = None

    def __enter__(self) -> RunLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = (os.getpid(), self.folder.resolve())
        if key in _HELD:  # this process holds it already (the command, around its flow): share it
            self._outer = _HELD[key]
            self.previous, self.holder = self._outer.previous, self._outer.holder
            if self.flow_run_id and not self.holder.get("flow_run_id"):
                self.holder["flow_run_id"] = self.flow_run_id  # the next run marks this flow run Crashed if it dies
                _write_json(self.folder / HOLDER_FILE, self.holder, self.file_mode)
            return self
        try:
            self._lock.acquire()
        except Timeout:
            raise LockHeldError(self.folder, read_holder(self.folder)) from None
        self.previous = read_holder(self.folder)
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(),
                       "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                       "flow_run_id": self.flow_run_id}
        _write_json(self.folder / HOLDER_FILE, self.holder, self.file_mode)
        _share(self.folder / LOCK_FILE, self.file_mode)
        _HELD[key] = self
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._outer is not None:
            self._outer = None
            return
        _HELD.pop((os.getpid(), self.folder.resolve()), None)
        try:  # a run that ends in order says so; one killed leaves its record without `released_at`
            _write_json(self.folder / HOLDER_FILE, {**self.holder, "released_at": datetime.now(UTC).isoformat(
                timespec="seconds")}, self.file_mode)
        finally:
            self._lock.release()

    @property
    def previous_died(self) -> bool:
        """The run before this one died holding the lock (its record has no `released_at`)."""
        return bool(self.previous) and "released_at" not in self.previous


def check_free(folder: Path) -> None:
    """Raise `LockHeldError` now if another process holds `folder`'s lock (taken and released at
    once, nothing written): a command says so before it starts anything. The run itself takes
    the lock again for its whole length."""
    if not (folder / LOCK_FILE).exists():
        return
    probe = FileLock(folder / LOCK_FILE, timeout=0, thread_local=False, mode=0o600)
    try:
        probe.acquire()
    except Timeout:
        raise LockHeldError(folder, read_holder(folder)) from None
    probe.release()


def read_holder(folder: Path) -> dict[str, Any]:
    """The holder record of `folder`'s lock, {} when there is none or it cannot be read."""
    try:
        return json.loads((folder / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, document: dict[str, Any], mode: int = 0o600) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    os.chmod(partial, mode)  # whatever the umask: the group reads who holds the folder when it shares it
    os.replace(partial, path)


def _share(path: Path, mode: int) -> None:
    """The lock file set to `mode` where this user owns it (a folder first run privately, then
    shared with the group, opens its lock to the group too)."""
    try:
        if path.stat().st_uid == os.getuid():
            os.chmod(path, mode)
    except OSError:
        pass
