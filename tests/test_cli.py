"""The command as a person meets it: mistakes answered at once (before Prefect or GX is even
imported), --version, and help that reads in 80 columns."""

import os
import subprocess
import sys

import pytest

from nmr_audit import __version__
from nmr_audit.cli import _report_line
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "canonical"
RUN = "import sys; from nmr_audit.cli import main; main()"


@pytest.fixture(scope="module")
def too_early(tmp_path_factory):
    """A folder of stand-ins for Prefect and GX that fail on import: on PYTHONPATH they prove the
    command answered without importing either."""
    folder = tmp_path_factory.mktemp("stand-ins")
    for name in ("prefect", "great_expectations", "prefect_dask"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(f"raise ImportError('{name} imported too early')\n")
    return folder


def nmr_audit(*args, path=None, columns=None, env=None):
    environment = {**os.environ, **(env or {})}
    environment.pop("NMR_AUDIT_MASK_KEY", None)
    if path:
        environment["PYTHONPATH"] = os.pathsep.join([str(path), str(REPO)])
    if columns:
        environment["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, cwd=REPO,
                          env=environment, timeout=120)


def audit_args(**given):
    args = {"--claims": str(SAMPLE / "claims"), "--notes": str(SAMPLE / "notes"), "--out": "out/never", **given}
    return [part for key, value in args.items() for part in (key, value)]


@pytest.mark.parametrize(("given", "said"), [
    ({"--claims": "no/such/claims"}, "no/such/claims: no claim_lines file matches this path"),
    ({"--notes": "no/such/notes"}, "no/such/notes: no visit_notes file matches this path"),
    ({"--mapping": "no/such.yaml"}, "no/such.yaml: mapping profile not found"),
    ({"--profile": "README.md"}, "README.md: audit profile is not valid YAML: line"),
    ({"--reference": "no/such/folder"}, "no/such/folder: reference folder not found"),
    ({"--expectations": "data"}, "data/claim_lines.json: rule suite not found"),
    ({"--out": "README.md"}, "README.md: --out is a file, not a folder"),
    ({"--mask-patients": "hash"}, "NMR_AUDIT_MASK_KEY: hashing patient ids needs a key"),
    ({"--dask-address": "http://scheduler:8786"}, "--dask-address http://scheduler:8786: not a Dask scheduler's address"),
    ({"--dask-address": "local2"}, "--dask-address local2: not a Dask scheduler's address (give the scheduler's"),
    ({"--dask-address": "tcp://127.0.0.1:1"}, "--dask-address tcp://127.0.0.1:1: nothing answers there"),
])
def test_a_mistake_is_said_in_one_line_before_prefect_or_gx_is_imported(too_early, given, said):
    done = nmr_audit("audit", *audit_args(**given), path=too_early)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"nmr-audit: error: {said}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "imported too early" not in done.stderr


def test_a_mapping_that_breaks_the_contract_is_caught_before_prefect(too_early, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("claim_lines:\n  columns:\n    Claim: not_a_contract_column\n")
    done = nmr_audit("audit", *audit_args(**{"--mapping": str(mapping)}), path=too_early)
    assert done.returncode == 2 and done.stderr.startswith(f"nmr-audit: error: {mapping}"), done.stderr
    assert "imported too early" not in done.stderr


@pytest.mark.parametrize(("name", "said"), [
    ("claims.csv", "is not a text file (it holds binary data, not CSV) (export the table as CSV, or give the file "
                   "the extension of its real type)"),
    ("claims.parquet", "is not a Parquet file (it does not start with PAR1)"),
    ("claims.xlsx", "is not an Excel workbook"),
])
def test_a_binary_file_named_as_a_table_is_refused_before_prefect_starts(too_early, tmp_path, name, said):
    """A newcomer's binary file named .csv was refused only after ~31 s of Prefect's logs: its
    first bytes say at once that no reader can read it, named directly or found in a folder."""
    folder = tmp_path / "exports"
    folder.mkdir()
    binary = folder / name
    binary.write_bytes(bytes(range(256)) * 64)  # NUL and control bytes, no format's magic
    for given in (str(binary), str(folder)):
        out = tmp_path / "out"
        done = nmr_audit("audit", *audit_args(**{"--claims": given, "--out": str(out)}), path=too_early)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"nmr-audit: error: {binary}: {said}"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "imported too early" not in done.stderr
        assert not out.exists()  # refused before the output folder, Prefect's home or a head start


def test_nightly_checks_its_paths_first_too(too_early):
    done = nmr_audit("nightly", "--claims", "no/such", "--notes", str(SAMPLE / "notes"), "--output-root", "out/n",
                     path=too_early)
    assert done.returncode == 2 and done.stderr.startswith("nmr-audit: error: no/such: no claim_lines file"), done.stderr


def test_an_unknown_option_is_refused_at_once(too_early):
    done = nmr_audit("audit", "--claimz", "x", path=too_early)
    assert done.returncode == 2 and "No such option: --claimz" in done.stderr
    assert "imported too early" not in done.stderr


def test_version(too_early):
    done = nmr_audit("--version", path=too_early)
    assert done.returncode == 0 and done.stdout.strip() == f"nmr-audit {__version__}"


@pytest.mark.parametrize("command", [[], ["audit"], ["nightly"], ["generate"]])
def test_help_reads_in_80_columns_with_no_python_types(command):
    done = nmr_audit(*command, "--help", columns=80)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    for python_type in ("<list[", "<path>", "<str>", "<int", "<float", "<bool>", "<datetime"):
        assert python_type not in done.stdout, python_type
    assert "Example: nmr-audit" in done.stdout
    if command == ["audit"]:
        assert "--claims PATH" in done.stdout and "--out DIR" in done.stdout and "--mapping FILE" in done.stdout
        assert "--mask-patients [keep|hash|drop]" in done.stdout and "--workbook-rows N" in done.stdout
    if command in (["audit"], ["nightly"]):
        assert "--remits PATH" in done.stdout and "X12 835 remittance" in done.stdout
    if command == ["audit"]:
        assert "With remittances: nmr-audit audit" in done.stdout


def test_the_closing_line_points_to_the_report(tmp_path):
    summary = {"totals": {"claim_lines": {"rows_audited": 3, "rows_quarantined": 1}},
               "visits": {"total": 2, "with_excess_units_97112": 1, "excess_units_97112": 1, "without_note": 0},
               "findings": {"total": 1, "by_severity": {"high": 1}, "dollars_at_risk": 32.73, "claim_lines_at_risk": 1}}
    lines = _report_line(summary, tmp_path).splitlines()
    assert lines[-1] == f"open the report: {tmp_path.resolve() / 'report.html'}"
