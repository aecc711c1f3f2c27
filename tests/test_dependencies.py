"""Every runtime dependency is pinned inside its declared range and exercised by a test along the
path the product uses it on.

The trap this guards against: SQLAlchemy 2.1 broke Prefect's scheduler service while every test
passed, because no test waited for the scheduler. A dependency added to pyproject.toml without a
test that goes its way fails here until one is named.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement

from tests.conftest import REPO

# dependency → the test that goes the product's way through it (and what that way is)
EXERCISED_BY = {
    "pandas": ("tests/test_units.py", "every transform"),
    "pyarrow": ("tests/io/test_readers.py", "CSV/Parquet readers, spill, writers"),
    "great-expectations": ("tests/test_rules.py", "rule suites in an ephemeral context"),
    "prefect": ("tests/flows/test_schedule.py", "server, scheduler, serve, deploy, flows"),
    "fastapi": ("tests/flows/test_schedule.py", "the Prefect server's API"),
    "sqlalchemy": ("tests/flows/test_schedule.py", "the scheduler service inserting scheduled runs"),
    "typer": ("tests/flows/test_output_paths.py", "the nmr-audit command"),
    "pyyaml": ("tests/test_mapping.py", "mapping profiles; prefect.yaml"),
    "openpyxl": ("tests/io/test_report_xlsx.py", "Excel inputs, report.xlsx read back"),
    "tqdm": ("tests/test_dependencies.py", "the generator's progress bar"),
    "numpy": ("tests/test_units.py", "unit tables"),
    "prefect-dask": ("tests/flows/test_dask_scale_out.py", "partitions on Dask"),
    "altair": ("tests/io/test_report_html.py", "report charts"),
    "vl-convert-python": ("tests/io/test_report_html.py", "Vega inlined for offline reports"),
    "jinja2": ("tests/io/test_report_html.py", "the report template"),
    "xlsxwriter": ("tests/io/test_report_xlsx.py", "report.xlsx"),
    "filelock": ("tests/runtime/test_lock.py", "one run per output folder"),
    "psutil": ("tests/runtime/test_supervise.py", "children end with a killed run"),
    "scipy": ("tests/consult/test_extrapolate.py", "Student's t for the extrapolated overpayment"),
    "platformdirs": ("tests/io/test_reference_home.py", "the reference home: the platform's user data folder"),
}


def declared() -> list[Requirement]:
    document = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(text) for text in document["project"]["dependencies"]]


def test_every_runtime_dependency_has_a_test_on_the_products_path():
    names = {requirement.name.lower() for requirement in declared()}
    assert names == set(EXERCISED_BY), "name the test that exercises each dependency in EXERCISED_BY"
    missing = [test for test, _ in EXERCISED_BY.values() if not (REPO / test).is_file()]
    assert missing == []


def test_the_installed_set_is_inside_the_declared_ranges():
    outside = {r.name: version(r.name) for r in declared() if not r.specifier.contains(version(r.name), prereleases=True)}
    assert outside == {}, "requirements.lock installs versions pyproject.toml does not allow"


def test_sqlalchemy_stays_below_2_1_for_the_scheduler():
    assert tuple(int(p) for p in version("sqlalchemy").split(".")[:2]) < (2, 1)
    pinned = [line for line in (REPO / "requirements.lock").read_text().splitlines() if line.lower().startswith("sqlalchemy==")]
    assert pinned and pinned[0].split("==")[1].startswith("2.0.")


def test_the_generators_progress_bar_is_drawn(tmp_path, capsys):
    from nmr_audit.synth.write import ExportStyle, write_dataset

    counts = write_dataset(tmp_path, visits=20, seed=1, defect_rate=0.0, style=ExportStyle(format="csv"), progress=True)
    assert counts["claim_lines"] > 0 and "generating" in capsys.readouterr().err
