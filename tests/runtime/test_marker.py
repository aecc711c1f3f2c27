"""Output folders carry a marker; a user's own folder or a file is never taken as one."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmr_audit.errors import InputError
from nmr_audit.runtime.marker import MARKER, check_output, claim_output, is_marked, marked_ancestor


def test_a_new_or_empty_folder_is_claimed_and_marked(tmp_path):
    assert claim_output(tmp_path / "new" / "out", "run") == tmp_path / "new" / "out"
    assert is_marked(tmp_path / "new" / "out")
    (tmp_path / "empty").mkdir()
    claim_output(tmp_path / "empty", "nightly")
    assert is_marked(tmp_path / "empty")
    (tmp_path / "empty" / "findings.csv").write_text("x")
    claim_output(tmp_path / "empty", "nightly")  # marked: ours, however full


def test_a_users_folder_and_a_file_are_refused_and_left_as_they_were(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("mine")
    with pytest.raises(InputError) as refused:
        claim_output(tmp_path / "mine", "run")
    assert "not empty and is not an nmr-audit output folder" in refused.value.line()
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.docx"]
    (tmp_path / "report.txt").write_text("a file")
    with pytest.raises(InputError) as refused:
        check_output(tmp_path / "report.txt")
    assert "names an existing file" in refused.value.line() and "\n" not in refused.value.line()


def test_an_output_folder_that_cannot_be_created_is_refused_in_one_line(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)  # as /proc, a read-only disk or another user's folder would
    with pytest.raises(InputError) as refused:
        claim_output(tmp_path / "new" / "out", "run")
    line = refused.value.line()
    assert "cannot be created (Permission denied)" in line and "give a folder you can write to" in line
    assert "\n" not in line


def test_marked_ancestor_finds_an_output_folder_between_a_file_and_the_root(tmp_path):
    inside = tmp_path / "exports" / "out" / "runs" / "r1"
    inside.mkdir(parents=True)
    assert not marked_ancestor(inside / "findings.csv", tmp_path / "exports")
    (tmp_path / "exports" / "out" / MARKER).write_text("{}")
    assert marked_ancestor(inside / "findings.csv", tmp_path / "exports")
    assert not marked_ancestor(tmp_path / "exports" / "claims.csv", tmp_path / "exports")
