"""Outputs are the owner's only (or the group's too), whatever the umask."""

from __future__ import annotations

import os
import stat

from nmr_audit.io.writers import StagedOutputs, write_json
from nmr_audit.runtime.permissions import GROUP, PRIVATE, access, run_umask


def modes(folder):
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")
            if not p.name.startswith(".")}


def stage_outputs(out, given):
    with StagedOutputs(out, given) as staged:
        (staged.path("data_docs")).mkdir()
        (staged.path("data_docs") / "index.html").write_text("<html/>")
        staged.path("findings.csv").write_text("finding_id\n")
        write_json({"ok": True}, staged.path("summary.json"))


def test_outputs_are_private_under_a_permissive_umask(tmp_path):
    before = os.umask(0o000)
    try:
        stage_outputs(tmp_path, PRIVATE)
    finally:
        os.umask(before)
    assert modes(tmp_path) == {"data_docs": 0o700, "data_docs/index.html": 0o600, "findings.csv": 0o600,
                               "summary.json": 0o600}


def test_shared_with_the_group_opens_them_to_the_group_only(tmp_path):
    stage_outputs(tmp_path, access(share_with_group=True))
    found = modes(tmp_path)
    assert found["findings.csv"] == found["summary.json"] == 0o660
    assert found["data_docs"] & 0o777 == 0o770 and found["data_docs"] & 0o007 == 0


def test_the_run_umask_covers_files_libraries_create_and_is_restored(tmp_path):
    before = os.umask(0o022)
    try:
        with run_umask(GROUP):
            (tmp_path / "made_by_a_library").write_text("x")
        assert os.umask(0o022) == 0o022  # restored
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "made_by_a_library").stat().st_mode) == 0o660
