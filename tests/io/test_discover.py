import pytest

from nmr_audit.errors import InputError
from nmr_audit.io.discover import discover


def test_folder_glob_and_file_forms(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "b.parquet").write_bytes(b"PAR1")
    (tmp_path / "README.md").write_text("not data")
    (tmp_path / ".hidden.csv").write_text("x\n")
    files, skipped = discover([str(tmp_path)], "claim_lines")
    assert [p.name for p in files] == ["a.csv", "b.parquet"]
    assert [(s.source, s.reason) for s in skipped] == [(str(tmp_path / "README.md"),
                                                        "documentation, not a table (README, LICENSE …)")]
    files, _ = discover([str(tmp_path / "*.csv"), str(tmp_path / "a.csv")], "claim_lines")
    assert [p.name for p in files] == ["a.csv"]


def test_an_exports_folder_s_readme_txt_is_skipped_and_listed_and_a_delimited_txt_is_read(tmp_path):
    """Issue 17 item 7: a README.txt is not parsed as CSV; a `.txt` export that is a table is read."""
    (tmp_path / "README.txt").write_text("Claims, nightly, one file a day\nContact: billing\n")
    (tmp_path / "notes about the export.txt").write_text("These are the March claims.\n")
    (tmp_path / "claims_0301.txt").write_text("claim_id|units\nC1|2\n")
    files, skipped = discover([str(tmp_path)], "claim_lines")
    assert [p.name for p in files] == ["claims_0301.txt"]
    assert {s.source.rsplit("/", 1)[-1]: s.reason for s in skipped} == {
        "README.txt": "documentation, not a table (README, LICENSE …)",
        "notes about the export.txt": "text that is not a delimited table (.txt)"}


def test_missing_path_and_unsupported_file_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no claim_lines file matches"):
        discover([str(tmp_path / "nope.csv")], "claim_lines")
    (tmp_path / "claims.pdf").write_bytes(b"%PDF-1.7\n\x00\x01")
    with pytest.raises(InputError, match="unsupported file type: a binary file") as caught:
        discover([str(tmp_path / "claims.pdf")], "claim_lines")
    assert "nmr-audit reads Parquet (.parquet, .pq), Excel workbook" in caught.value.line()
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "README.txt").write_text("nothing yet")
    with pytest.raises(InputError, match="no claim_lines files found that nmr-audit reads"):
        discover([str(tmp_path / "only")], "claim_lines")
