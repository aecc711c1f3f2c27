"""The marker that names a folder as nmr-audit's output, and the refusal of any other folder.

Every output folder (a run's `--out`, a nightly output root, each of its run folders) holds a
small file `.nmr-audit` written when nmr-audit first uses it. A run replaces and removes files
only in a folder that carries it, so nothing of a user's own is ever removed; input discovery
skips every folder that carries it, so a run never reads its own outputs back as input.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from nmr_audit.errors import InputError

MARKER = ".nmr-audit"
Kind = Literal["run", "nightly"]


def is_marked(folder: Path) -> bool:
    """`folder` carries the nmr-audit marker."""
    return (folder / MARKER).is_file()


def check_output(folder: Path) -> None:
    """Raise `InputError` (exit 2) unless `folder` can be nmr-audit's output: absent, an empty
    folder, or a folder carrying the marker. Nothing is created."""
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "--out names an existing file, not a folder",
                         "give a folder path (it is created if missing)")
    if folder.is_dir() and not is_marked(folder) and any(folder.iterdir()):
        raise InputError(folder, "this folder is not empty and is not an nmr-audit output folder (no .nmr-audit marker)",
                         "give a new or empty folder: nmr-audit replaces what it finds in its output folders")


def claim_output(folder: Path, kind: Kind, mode: int = 0o700) -> Path:
    """`folder` checked (`check_output`), created with `mode` where missing, and marked as an
    nmr-audit output of `kind`. Returns the folder. Raises `InputError` as `check_output`."""
    check_output(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=mode)
    except OSError as problem:  # a read-only or virtual filesystem (/proc), no permission, …
        raise InputError(folder, f"the output folder cannot be created ({problem.strerror or problem})",
                         "give a folder you can write to") from problem
    if not is_marked(folder):
        document = {"written_by": "nmr-audit", "kind": kind, "created_at": datetime.now(UTC).isoformat(
            timespec="seconds"), "meaning": "nmr-audit output folder: its runs replace and remove files here"}
        partial = folder / f"{MARKER}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(document) + "\n", encoding="utf-8")
        os.chmod(partial, mode & 0o666)
        os.replace(partial, folder / MARKER)
    return folder


def marked_ancestor(path: Path, root: Path) -> bool:
    """Some folder from `root` down to `path`'s own folder carries the marker (`path` lies in an
    nmr-audit output)."""
    folder = path.parent
    while True:
        if is_marked(folder):
            return True
        if folder == root or folder.parent == folder:
            return False
        folder = folder.parent
