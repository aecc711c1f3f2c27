"""The files nmr-audit ships (tables, suites, profiles, prefect.yaml): found in the package when
installed, in the checkout when editable, and shipped profiles named by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.io.reference import default_reference_dir
from nmr_audit.io.reference_home import packaged_reference_dir
from nmr_audit.io.suites import default_expectations_dir
from nmr_audit.resources import SHIPPED, mapping_profile, shipped, shipped_mappings
from tests.conftest import REPO
from tests.test_cli import audit_args, nmr_audit, too_early  # noqa: F401 (a fixture)


def test_an_editable_checkout_reads_the_files_kept_at_the_repository_root():
    assert not (REPO / "nmr_audit" / "_bundled").exists()  # built into wheels only, never into the tree
    for name, kept in SHIPPED.items():
        assert shipped(name) == REPO / kept and shipped(name).exists()
    assert packaged_reference_dir() == default_reference_dir() == REPO / "data" / "reference"
    assert default_expectations_dir() == REPO / "expectations"


def test_only_the_shipped_names_are_known():
    with pytest.raises(KeyError, match="not shipped"):
        shipped("data/sample")


def test_a_shipped_mapping_profile_is_found_by_its_name(tmp_path, monkeypatch):
    assert shipped_mappings() == ["rehabpro_xlsx", "therachart_csv", "x12_837p"]
    assert mapping_profile(Path("therachart_csv")) == REPO / "data" / "mappings" / "therachart_csv.yaml"
    assert mapping_profile(Path("rehabpro_xlsx.yaml")) == REPO / "data" / "mappings" / "rehabpro_xlsx.yaml"
    assert load_mapping(Path("x12_837p")).name == "x12-837p"
    # a path is a path: a folder in it, or a file of that name here, is never swapped for a shipped one
    assert mapping_profile(Path("elsewhere/therachart_csv")) == Path("elsewhere/therachart_csv")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "therachart_csv").write_text("name: mine\n")
    assert mapping_profile(Path("therachart_csv")) == Path("therachart_csv")
    assert mapping_profile(Path("no_such_profile")) == Path("no_such_profile")


def test_the_command_takes_a_shipped_profile_by_name_and_lists_them_when_one_is_unknown(too_early):  # noqa: F811
    done = nmr_audit("audit", *audit_args(**{"--mapping": "therachart_csv", "--out": "README.md"}), path=too_early)
    assert done.stderr.startswith("nmr-audit: error: README.md: --out is a file"), done.stderr  # the profile passed
    done = nmr_audit("audit", *audit_args(**{"--mapping": "therachart"}), path=too_early)
    assert done.returncode == 2 and done.stderr.startswith("nmr-audit: error: therachart: mapping profile not found")
    assert "rehabpro_xlsx, therachart_csv, x12_837p" in done.stderr and "imported too early" not in done.stderr
