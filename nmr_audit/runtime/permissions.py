"""Who may read a run's outputs: the owner only (folders 0700, files 0600), or the owning group
too (folders 02770, so new files keep the group; files 0660) with `--share-with-group`.

Findings, visits, the quarantine (raw rows) and the reports hold patient data: they are never
world-readable, whatever the user's umask. A run sets its umask for the files it and its
libraries create, then sets every committed file's mode explicitly.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Access:
    """File and folder modes of a run's outputs, and the umask that gives them."""

    folder: int
    file: int
    umask: int


PRIVATE = Access(folder=0o700, file=0o600, umask=0o077)
GROUP = Access(folder=0o2770, file=0o660, umask=0o007)


def access(share_with_group: bool) -> Access:
    return GROUP if share_with_group else PRIVATE


@contextmanager
def run_umask(given: Access) -> Iterator[None]:
    """The process umask of `given` while the run goes on (restored after)."""
    before = os.umask(given.umask)
    try:
        yield
    finally:
        os.umask(before)


def restrict(path: Path, given: Access) -> None:
    """`path` (a file, or a folder and everything in it) set to `given`'s modes. Symlinks are
    left alone (their mode means nothing on Linux), and so is what another member of the group
    owns in a shared folder (only its owner may change its mode; it was given the group's modes
    by the run that wrote it)."""
    if path.is_symlink():
        return
    if not path.is_dir():
        set_mode(path, given.file)
        return
    set_mode(path, given.folder)
    for parent, folders, files in os.walk(path):
        for name in folders:
            set_mode(os.path.join(parent, name), given.folder)
        for name in files:
            full = os.path.join(parent, name)
            if not stat.S_ISLNK(os.lstat(full).st_mode):
                set_mode(full, given.file)


def set_mode(path: str | Path, mode: int) -> None:
    """`os.chmod(path, mode)` where this user owns `path`; another's file is left as it is."""
    try:
        os.chmod(path, mode)
    except PermissionError:
        if os.stat(path).st_uid == os.getuid():
            raise
