"""Paths that bite: --out a file, a user's folder, --out inside an input folder, a binary file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.audit import audit_flow
from nmr_audit.runtime.config import RunConfig
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "canonical"
COMMAND = Path(sys.executable).parent / "nmr-audit"


def command(*args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"TMPDIR": str(tmp_path)}
    return subprocess.run([COMMAND, *map(str, args)], env=env, capture_output=True, text=True, timeout=120)


def test_out_naming_a_file_or_a_users_folder_is_refused_in_one_line_and_nothing_is_touched(tmp_path):
    (tmp_path / "notes.txt").write_text("my notes")
    refused = command("audit", "--claims", SAMPLE / "claims", "--notes", SAMPLE / "notes", "--out",
                      tmp_path / "notes.txt", tmp_path=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "is a file, not a folder" in refused.stderr
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "budget.xlsx").write_text("mine")
    refused = command("nightly", "--claims", SAMPLE / "claims", "--notes", SAMPLE / "notes", "--output-root",
                      tmp_path / "mine", tmp_path=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "not an nmr-audit output" in refused.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["budget.xlsx"]  # no Prefect home, no marker


def test_a_folder_another_run_holds_is_refused_with_75_before_anything_starts(tmp_path):
    from nmr_audit.runtime.marker import claim_output
    from tests.runtime.test_lock import holder_process

    claim_output(tmp_path / "out", "run")
    holder = holder_process(tmp_path / "out")
    try:
        held = command("audit", "--claims", SAMPLE / "claims", "--notes", SAMPLE / "notes", "--out",
                       tmp_path / "out", tmp_path=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert held.returncode == 75 and "another nmr-audit run holds" in held.stderr and f"pid {holder.pid}" in held.stderr
    assert held.stderr.count("\n") == 1 and not (tmp_path / "out" / ".prefect").exists()


@pytest.mark.usefixtures("prefect_server")
def test_an_output_folder_inside_an_input_folder_is_never_read_back(tmp_path):
    exports = tmp_path / "exports"
    shutil.copytree(SAMPLE / "claims", exports / "claims")
    shutil.copytree(SAMPLE / "notes", exports / "notes")
    out = exports / "claims" / "audit-out"
    for _ in range(2):
        result = audit_flow(RunConfig(claims=[str(exports / "claims"), str(exports / "claims" / "**" / "*.csv")],
                                      notes=[str(exports / "notes")], out=str(out), data_docs=False))
    read = sorted(Path(entry["source_file"]).name for entry in result.summary["inputs"])
    assert read == ["claims.csv", "notes.csv"] and (out / "findings.csv").exists()


@pytest.mark.usefixtures("prefect_server")
def test_a_binary_file_fails_in_one_line_without_raw_bytes_or_traceback(tmp_path, capfd):
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "export.csv").write_bytes(bytes(range(256)) * 80)
    state = audit_flow(RunConfig(claims=[str(tmp_path / "claims")], notes=[str(SAMPLE / "notes")], out=str(tmp_path / "out"),
                                 data_docs=False), return_state=True)
    assert state.is_failed()
    assert state.message == (f"{tmp_path / 'claims' / 'export.csv'}: is not a text file (it holds binary data, not "
                             "CSV) (export the table as CSV, or give the file the extension of its real type)")
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err and "UnicodeDecodeError" not in printed.err
    assert not (tmp_path / "out" / "summary.json").exists()
    json.dumps(state.message)  # plain text
