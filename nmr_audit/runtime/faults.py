"""Named points of a run where the fault-injection tests kill the process.

`checkpoint(name)` does nothing unless a test called `kill_at(name)` in that process; then it
sends the process SIGKILL, as an out-of-memory killer or an operator's `kill -9` would. The
names: `reading` (after the first batch of an input is read), `bucket` (as a bucket's audit
starts), `commit:<step>` (`commit.STEPS`), `nightly:<step>` (`flows.nightly`).
"""

from __future__ import annotations

import os
import signal

_KILL_AT: set[str] = set()


def kill_at(*names: str) -> None:
    """Make this process kill itself at each of these checkpoints (tests only)."""
    _KILL_AT.update(names)


def checkpoint(name: str) -> None:
    """Die here if a test asked for it (`kill_at`); otherwise nothing."""
    if name in _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
