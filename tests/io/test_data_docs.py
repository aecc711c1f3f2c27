"""GX Data Docs that open where there is no internet: the assets ship with nmr-audit and the
pages load nothing else (checked in Chromium with the network blocked, from its net log)."""

import csv
import hashlib
import re
import shutil

import pytest

from nmr_audit.facts import build_facts
from nmr_audit.gx_engine import validate
from nmr_audit.io.data_docs import ASSETS, REWRITES, external_loads, make_offline, manifest, rewrite
from nmr_audit.io.suites import load_suites
from nmr_audit.visits import reconcile_visits
from tests.browser import needs_chromium, render_offline
from tests.builders import tables, visit

PATIENTS = ["PATIENT-SECRET-0001", "PATIENT-SECRET-0002", "PATIENT-SECRET-0003"]


@pytest.fixture(scope="module")
def sites(reference, tmp_path_factory):
    """A real GX site from three audited visits (one overbilled, one without a note), as GX
    writes it and as nmr-audit ships it."""
    cases = [visit(patient_id=PATIENTS[0], billed={"97112": 3}, minutes={"97112": 20}),
             visit(patient_id=PATIENTS[1], billed={"97112": 2}, note=False),
             visit(patient_id=PATIENTS[2], billed={"97112": 2}, minutes={"97112": 30})]
    claim_lines, notes, services = tables(*cases)
    visits = reconcile_visits(claim_lines, notes, services, reference)
    facts = build_facts(claim_lines, notes, services, visits, reference).by_grain()
    as_written = tmp_path_factory.mktemp("gx") / "data_docs"
    validate(load_suites(), facts, docs_dir=as_written)
    offline = as_written.parent / "offline"
    shutil.copytree(as_written, offline)
    left = make_offline(offline)
    return as_written, offline, left


def test_the_shipped_assets_are_the_pinned_registry_files():
    rows = manifest()
    assert {r["package"] for r in rows} == {"bootstrap", "bootstrap-table", "jquery", "popper.js",
                                           "@fortawesome/fontawesome-free", "bootstrap-datepicker",
                                           "@forevolve/bootstrap-dark"}
    for row in rows:
        data = (ASSETS / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["file"]
        assert row["integrity"].startswith("sha512-") and row["licence"]
    shipped = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file()} - {"MANIFEST.csv"}
    assert shipped == {r["file"] for r in rows}
    with (ASSETS / "MANIFEST.csv").open() as handle:
        assert next(csv.reader(handle)) == ["package", "version", "integrity", "licence", "file", "sha256"]


def test_every_cdn_address_gx_writes_is_rewritten_to_a_shipped_file(sites):
    as_written, offline, left = sites
    assert left == []
    before = {a for page in as_written.rglob("*.html") for a in external_loads(page.read_text())}
    assert any("bootstrapcdn" in a for a in before) and any("jquery" in a for a in before)  # GX did write CDNs
    for page in [*offline.rglob("*.html"), *offline.rglob("*.css")]:
        text = page.read_text()
        assert external_loads(text) == [], page
        for path in re.findall(r'(?:src|href)="([^"#]*static/vendor/[^"]+)"', text):
            assert (page.parent / path).resolve().is_file(), (page, path)
    assert "Stay current on everything GX" not in (offline / "index.html").read_text()


def test_rewrite_uses_paths_relative_to_the_page():
    page = ('<link href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css" rel="stylesheet">'
            '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n<script src="https://cdn.jsdelivr.net/npm/'
            'vega-lite@5"></script>\n<script src="https://cdn.jsdelivr.net/npm/vega-embed@6"></script>')
    done = rewrite(page, "../..")
    assert '"../../static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"' in done
    assert done.count("<script") == 1 and "../../static/vendor/vega-embed-bundle.js" in done
    assert len(REWRITES) >= 12


def test_no_patient_identifier_appears_in_the_data_docs(sites):
    _, offline, _ = sites
    for path in offline.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".css", ".js"):
            text = path.read_text(errors="replace")
            assert not any(patient in text for patient in PATIENTS), path


@needs_chromium
def test_data_docs_open_filled_with_the_network_blocked_and_ask_for_nothing_outside(sites):
    as_written, offline, _ = sites
    dom, asked = render_offline(offline / "index.html")
    assert asked == []
    assert dom.count('class="bootstrap-table bootstrap4"') >= 2  # bootstrap-table ran: the tables are built
    rows = re.findall(r"<tr[^>]*data-index=", dom)
    assert len(rows) >= 4  # the four suites' validation results listed
    page = next(offline.glob("validations/**/*.html"))
    dom, asked = render_offline(page)
    assert asked == [] and 'class="bootstrap-table bootstrap4"' in dom and "fa-" in dom
    _, asked_before = render_offline(as_written / "index.html")  # the same check catches GX's own pages
    assert any("bootstrapcdn.com" in url for url in asked_before) and any("code.jquery.com" in url for url in asked_before)
