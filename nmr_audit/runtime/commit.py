"""The crash-safe commit of a run's outputs into its output folder, and the sweep of what a
killed run left behind.

A run writes everything into a staging folder inside the output folder, then commits:

1. `unpublish`: the previous run's `summary.json` is removed — from here on the folder is
   *incomplete* (a folder without `summary.json`), never a summary beside another run's files;
2. `stale`: every output of the previous run that this run does not write is removed (e.g.
   `data_docs/` under `--no-data-docs`). The previous run's outputs are the names its commit
   recorded in `.nmr-audit.outputs` (`MANIFEST`): a file of the user's own in the folder is left
   alone (a folder committed before there was a manifest: every entry not hidden, once);
3. `move:<name>`: each staged output is renamed into place (same filesystem: one `rename(2)`
   each), `summary.json` excepted;
4. `summary`: `summary.json` is renamed in last, and the manifest then lists this run's outputs
   only (before step 1 it lists the outputs of both runs, so that a commit killed midway leaves
   the next one knowing every output it must replace).

A kill at any point therefore leaves the complete previous run (before 1), a folder without
`summary.json` (1–3), or the complete new run (after 4); the next run recognises the incomplete
folder (`state_of`) and replaces it whole. Entries whose names start with a dot (the marker,
the lock, Prefect's home, work folders) are not outputs and are never touched by the commit.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Literal

from nmr_audit.runtime.faults import checkpoint
from nmr_audit.runtime.permissions import Access, restrict

SUMMARY = "summary.json"
MANIFEST = ".nmr-audit.outputs"  # the names the folder's last commit moved in (a JSON list)
WORK_PREFIXES = (".spill-", ".staging-", ".canonical-", ".work-")  # folders a run works in, inside its output
STEPS = ("unpublish", "stale", "move", "summary")


def commit(stage: Path, out: Path, given: Access) -> list[str]:
    """Move every entry of `stage` into `out` as the module says; returns the names committed.

    `stage` and `out` must be on one filesystem (`stage` inside `out`). Every committed entry
    gets `given`'s modes first. Raises `OSError` when a rename fails (the folder is then
    incomplete: no `summary.json`)."""
    names = sorted(entry.name for entry in stage.iterdir())
    for name in names:
        restrict(stage / name, given)
    earlier = committed_before(out)
    _record(out, sorted(set(earlier) | set(names)), given)
    checkpoint("commit:start")
    (out / SUMMARY).unlink(missing_ok=True)
    _sync(out)
    checkpoint("commit:unpublish")
    for stale in earlier:
        if stale not in names:
            _remove(out / stale)
    checkpoint("commit:stale")
    for name in names:
        if name == SUMMARY:
            continue
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(stage / name, target)
        checkpoint(f"commit:move:{name}")
    if SUMMARY in names:
        os.replace(stage / SUMMARY, out / SUMMARY)
    _record(out, names, given)
    _sync(out)
    checkpoint("commit:summary")
    shutil.rmtree(stage, ignore_errors=True)
    return names


def outputs_in(folder: Path) -> list[Path]:
    """The entries of `folder` that are outputs (not hidden: not the marker, lock or work folders)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def committed_before(folder: Path) -> list[str]:
    """The outputs earlier commits moved into `folder`: the names its manifest lists, or, for a
    folder committed before there was a manifest (or whose manifest cannot be read), every entry
    that is not hidden."""
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [p.name for p in outputs_in(folder)] if folder.is_dir() else []
    if not isinstance(listed, list):
        return [p.name for p in outputs_in(folder)]
    return [name for name in listed if isinstance(name, str) and name and not name.startswith(".")
            and Path(name).name == name]


def state_of(folder: Path) -> Literal["empty", "complete", "incomplete"]:
    """What a marked output folder holds: no outputs, a complete run (`summary.json`), or the
    remains of a run killed before its commit ended (outputs without `summary.json`). Files of
    the user's own (not in the manifest) do not count."""
    if not folder.is_dir() or not any((folder / name).exists() for name in committed_before(folder)):
        return "empty"
    return "complete" if (folder / SUMMARY).is_file() else "incomplete"


def sweep(folder: Path) -> list[str]:
    """Remove the work folders (`.spill-*`, `.staging-*`, `.canonical-*`, `.work-*`) and partial
    files (`.*.tmp`) that runs left in `folder`. Call it only while holding the folder's lock:
    no other run is writing there then, so whatever is found belongs to a run that is gone.
    Returns the names removed."""
    removed = []
    for entry in folder.iterdir():
        if entry.name.startswith(WORK_PREFIXES) or (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            _remove(entry)
            removed.append(entry.name)
    return sorted(removed)


def _record(out: Path, names: list[str], given: Access) -> None:
    """Write the manifest: written aside, then renamed over the old one (a kill leaves one or the other)."""
    partial = out / f"{MANIFEST}.tmp"
    partial.write_text(json.dumps(names), encoding="utf-8")
    restrict(partial, given)
    os.replace(partial, out / MANIFEST)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sync(folder: Path) -> None:
    """Flush the folder's entries (the renames) to disk, where the system allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
