"""The crash-safe commit: killed at each step, the folder holds the complete previous run, the
complete new run, or an incomplete folder without summary.json — never a summary beside another
run's files; and the next run replaces an incomplete folder whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nmr_audit.runtime.commit import MANIFEST, commit, committed_before, outputs_in, state_of, sweep
from nmr_audit.runtime.permissions import PRIVATE

RUN_A = {"summary.json": "A", "visits.parquet": "A", "findings.csv": "A", "data_docs/index.html": "A"}
RUN_B = {"summary.json": "B", "visits.parquet": "B", "findings.csv": "B", "report.html": "B"}  # --no-data-docs

KILL = """
import sys
from pathlib import Path
from nmr_audit.runtime import faults
from nmr_audit.runtime.commit import commit
from nmr_audit.runtime.permissions import PRIVATE
faults.kill_at(sys.argv[3])
commit(Path(sys.argv[1]), Path(sys.argv[2]), PRIVATE)
"""


def lay(folder, files):
    for name, run in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"run": run}) if name == "summary.json" else run)


def contents(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).as_posix().startswith(".")}


def run_of(files):
    """The one run every file belongs to, or None for a mix."""
    runs = {json.loads(text)["run"] if name == "summary.json" else text for name, text in files.items()}
    return runs.pop() if len(runs) == 1 else None


def expected(files):
    return {n: (json.dumps({"run": r}) if n == "summary.json" else r) for n, r in files.items()}


STEPS = ["commit:start", "commit:unpublish", "commit:stale", "commit:move:findings.csv",
         "commit:move:report.html", "commit:move:visits.parquet", "commit:summary"]


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_each_step_leaves_a_complete_run_or_an_incomplete_folder(tmp_path, step):
    out = tmp_path / "out"
    lay(out, RUN_A)
    stage = out / ".staging-b"
    lay(stage, RUN_B)
    killed = subprocess.run([sys.executable, "-c", KILL, str(stage), str(out), step], capture_output=True)
    assert killed.returncode == -9  # SIGKILL at that step
    found = contents(out)
    if "summary.json" in found:
        assert found in (expected(RUN_A), expected(RUN_B)), f"a summary beside another run's files: {found}"
        assert state_of(out) == "complete"
    else:
        assert state_of(out) == "incomplete" or not found
    assert (step == "commit:summary") == (found == expected(RUN_B))
    assert (step == "commit:start") == (found == expected(RUN_A))

    sweep(out)  # the next run, holding the lock, clears the staging folder and commits over the remains
    assert not (out / ".staging-b").exists()
    stage_c = out / ".staging-c"
    run_c = {"summary.json": "C", "visits.parquet": "C", "findings.csv": "C"}
    lay(stage_c, run_c)
    commit(stage_c, out, PRIVATE)
    assert contents(out) == expected(run_c)


def test_files_the_new_run_does_not_write_do_not_survive_and_hidden_entries_stay(tmp_path):
    lay(tmp_path, RUN_A)
    (tmp_path / ".prefect").mkdir()
    (tmp_path / ".nmr-audit").write_text("{}")
    stage = tmp_path / ".staging-b"
    lay(stage, RUN_B)
    names = ["findings.csv", "report.html", "summary.json", "visits.parquet"]
    assert commit(stage, tmp_path, PRIVATE) == names
    assert [p.name for p in outputs_in(tmp_path)] == names
    assert (tmp_path / ".prefect").is_dir() and (tmp_path / ".nmr-audit").exists() and not stage.exists()


def test_sweep_removes_only_work_folders_and_partial_files(tmp_path):
    for name in (".spill-1", ".staging-2", ".canonical-3", ".work-4", ".prefect", "runs"):
        (tmp_path / name).mkdir()
    for name in (".ledger.csv.tmp", ".nmr-audit", "ledger.csv"):
        (tmp_path / name).write_text("x")
    assert sweep(tmp_path) == [".canonical-3", ".ledger.csv.tmp", ".spill-1", ".staging-2", ".work-4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".nmr-audit", ".prefect", "ledger.csv", "runs"]


def test_a_rerun_replaces_the_previous_runs_outputs_and_leaves_the_users_own_files_alone(tmp_path):
    """A reviewer's notes saved in the output folder are not an output of any run: a rerun (here
    without Data Docs) removes the previous run's data_docs/ but keeps them."""
    out = tmp_path / "out"
    first = out / ".staging-a"
    lay(first, RUN_A)
    commit(first, out, PRIVATE)
    assert json.loads((out / MANIFEST).read_text()) == sorted({n.split("/")[0] for n in RUN_A})
    (out / "my review notes.txt").write_text("call the clinic about visit 12")
    (out / "checked").mkdir()
    (out / "checked" / "claims.csv").write_text("claim_id\nC1\n")
    assert state_of(out) == "complete"
    second = out / ".staging-b"
    lay(second, RUN_B)
    assert "my review notes.txt" not in committed_before(out)
    commit(second, out, PRIVATE)
    assert contents(out) == expected(RUN_B) | {"my review notes.txt": "call the clinic about visit 12",
                                               "checked/claims.csv": "claim_id\nC1\n"}
    assert json.loads((out / MANIFEST).read_text()) == sorted(RUN_B)


def test_a_folder_committed_before_there_was_a_manifest_counts_every_visible_entry_as_an_output(tmp_path):
    out = tmp_path / "out"
    lay(out, RUN_A | {"old-report.html": "A"})  # written by a version that kept no manifest
    assert sorted(committed_before(out)) == ["data_docs", "findings.csv", "old-report.html", "summary.json",
                                             "visits.parquet"]
    stage = out / ".staging-b"
    lay(stage, RUN_B)
    commit(stage, out, PRIVATE)
    assert contents(out) == expected(RUN_B)


def test_a_users_file_alone_is_no_run_killed_midway(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text("[]")
    (out / "notes.txt").write_text("mine")
    assert state_of(out) == "empty"
    (out / "visits.parquet").write_text("A")
    (out / MANIFEST).write_text('["visits.parquet", "summary.json", "../escape", ".nmr-audit"]')
    assert committed_before(out) == ["visits.parquet", "summary.json"] and state_of(out) == "incomplete"
