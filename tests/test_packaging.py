"""nmr-audit as a user installs it: a wheel (built from the sdist, as `python -m build` does),
installed into a fresh virtual environment, auditing the sample data from a folder outside
the checkout, so nothing of the source tree is found by accident.

Offline and quick: the wheel is built with this environment's pinned setuptools
(`--no-build-isolation`, nothing downloaded) and installed with `--no-deps --no-index`; the new
environment sees this one's dependencies through a `.pth` line (their folder only: the editable
install of the checkout that lives there is not loaded).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from nmr_audit.resources import SHIPPED
from tests.conftest import REPO
from tests.flows.test_audit_flow import assert_findings_match_the_truth, assert_visits_match_the_truth

pytestmark = pytest.mark.slow
SAMPLE = REPO / "data" / "sample" / "canonical"
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "nmr_audit", "flows",
                *SHIPPED.values())
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "_bundled", "*.egg-info")


def _run(*args, cwd, env=None, timeout=600):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtual environment with nmr-audit installed from its wheel; returns (venv, wheel)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    for name in BUILD_INPUTS:  # the files a release is built from, nothing built or generated
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, source / name, **({"ignore": IGNORED} if (REPO / name).is_dir() else {}))
    _run(sys.executable, "-c", "from setuptools import build_meta; print(build_meta.build_sdist('../sdist'))", cwd=source)
    sdist = next((work / "sdist").glob("nmr_audit-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked", filter="data")
    unpacked = next((work / "unpacked").iterdir())
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", work / "wheels", unpacked, cwd=work)
    wheel = next((work / "wheels").glob("nmr_audit-*.whl"))
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work).strip())
    (site / "nmr_audit_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel,
         cwd=work)
    return venv, wheel, site


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PREFECT_API", "VIRTUAL_ENV"))}
    return env | {"NMR_AUDIT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def test_the_wheel_carries_the_tables_suites_profiles_template_and_assets(installed):
    _, wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for table in (REPO / "data" / "reference").glob("*.csv"):
        assert f"nmr_audit/_bundled/reference/{table.name}" in names
    for suite in ("claim_lines", "visits", "notes", "patient_days"):
        assert f"nmr_audit/_bundled/expectations/{suite}.json" in names
    for profile in ("therachart_csv", "rehabpro_xlsx", "x12_837p"):
        assert f"nmr_audit/_bundled/mappings/{profile}.yaml" in names
    assert {"nmr_audit/_bundled/prefect.yaml", "nmr_audit/io/report_template.html", "flows/serve.py",
            "nmr_audit/io/data_docs_assets/MANIFEST.csv",
            "nmr_audit/io/data_docs_assets/jquery@3.7.1/dist/jquery.min.js"} <= names
    assert not [n for n in names if n.split("/")[0] in ("data", "expectations", "tests", "bench")]
    assert not [n for n in names if "data/sample" in n or "__pycache__" in n]


def test_the_installed_package_reads_its_own_files_and_layers_the_reference(installed, tmp_path):
    venv, _, site = installed
    home, given = tmp_path / "home", tmp_path / "given"
    (home / "reference").mkdir(parents=True)
    given.mkdir()
    shutil.copy(REPO / "data" / "reference" / "mue.csv", home / "reference" / "mue.csv")  # as if imported
    shutil.copy(REPO / "data" / "reference" / "fee_schedule.csv", given / "fee_schedule.csv")
    probe = (
        "import json, sys, nmr_audit, flows\n"
        "from pathlib import Path\n"
        "from nmr_audit.io.reference_home import table_source\n"
        "from nmr_audit.io.reference import default_reference_dir, load_reference\n"
        "from nmr_audit.io.suites import default_expectations_dir, load_suites\n"
        "from nmr_audit.io.mapping_file import load_mapping\n"
        "from nmr_audit.io.data_docs import ASSETS\n"
        "from nmr_audit.x12.claims_837 import load_filing_indicators\n"
        "from flows.serve import nightly_schedule\n"
        "given = Path(sys.argv[1])\n"
        "load_reference(given); load_suites()\n"
        "print(json.dumps({'package': nmr_audit.__file__, 'flows': flows.__file__,\n"
        "  'reference': str(default_reference_dir()), 'expectations': str(default_expectations_dir()),\n"
        "  'assets': str(ASSETS), 'x12': len(load_filing_indicators()),\n"
        "  'layers': {t: table_source(t, given).layer for t in ('fee_schedule', 'mue', 'cpt_codes')},\n"
        "  'mapping': load_mapping(Path('therachart_csv')).name,\n"
        "  'cron': nightly_schedule()['schedules'][0]['cron'], 'version': nmr_audit.__version__}))\n")
    found = json.loads(_run(venv / "bin" / "python", "-c", probe, given, cwd=tmp_path, env=_environment(home)))
    for key in ("package", "flows", "reference", "expectations", "assets"):
        assert found[key].startswith(str(site)), (key, found[key])  # the installed copy, never the checkout
    assert found["reference"].endswith("nmr_audit/_bundled/reference") and found["x12"] > 0
    assert found["layers"] == {"fee_schedule": "reference", "mue": "home", "cpt_codes": "packaged"}
    assert found["mapping"] == "therachart-csv" and found["cron"] == "30 2 * * *" and found["version"] == "0.1.0"


def test_the_installed_command_audits_the_sample_from_outside_the_checkout(installed, tmp_path):
    venv, _, site = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "out"
    _run(venv / "bin" / "nmr-audit", "audit", "--claims", SAMPLE / "claims", "--notes", SAMPLE / "notes",
         "--out", out, cwd=elsewhere, env=_environment(tmp_path / "home"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["parameters"]["reference"].startswith(str(site))
    assert summary["run"]["parameters"]["expectations"].startswith(str(site))
    for name in ("findings.csv", "findings.parquet", "report.html", "report.xlsx", "visits.parquet",
                 "data_docs/index.html"):
        assert (out / name).is_file(), name
    assert (out / "data_docs" / "static" / "vendor" / "jquery@3.7.1" / "dist" / "jquery.min.js").is_file()
    truth = pd.read_parquet(SAMPLE / "truth.parquet")
    assert_visits_match_the_truth(out, truth, summary)
    assert_findings_match_the_truth(out, truth, summary)
