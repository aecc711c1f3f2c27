import pytest

from nmr_audit.errors import InputError
from nmr_audit.io.discover import discover


def test_folder_glob_and_file_forms(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "b.parquet").write_bytes(b"")
    (tmp_path / "README.md").write_text("not data")
    (tmp_path / ".hidden.csv").write_text("x\n")
    files, skipped = discover([str(tmp_path)], "claim_lines")
    assert [p.name for p in files] == ["a.csv", "b.parquet"]
    assert [p.name for p in skipped] == ["README.md"]
    files, _ = discover([str(tmp_path / "*.csv"), str(tmp_path / "a.csv")], "claim_lines")
    assert [p.name for p in files] == ["a.csv"]


def test_missing_path_and_unsupported_file_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no claim_lines file matches"):
        discover([str(tmp_path / "nope.csv")], "claim_lines")
    (tmp_path / "claims.pdf").write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        discover([str(tmp_path / "claims.pdf")], "claim_lines")
