"""report.html as a person sees it: opened from disk in headless Chromium, with no network."""

import re

import pandas as pd
import pytest

from nmr_audit.charts import chart_specs
from nmr_audit.denial import claim_risk
from nmr_audit.io.report_html import write_report_html
from nmr_audit.report_data import build_report_data
from nmr_audit.visits import reconcile_visits
from tests.browser import needs_chromium, render
from tests.builders import tables, visit
from tests.test_rules import all_visits, audit

FORMULA_PATIENT = "=HYPERLINK(\"http://evil.example\",\"x\")"


@pytest.fixture(scope="module")
def report(reference, tmp_path_factory):
    cases = all_visits()
    cases.append(visit(patient_id=FORMULA_PATIENT, billed={"97112": 3}, note=False))
    cases.append(visit(patient_id="<script>alert(1)</script>", billed={"97112": 1}, note=False))
    findings = audit(reference, *cases)
    visits = reconcile_visits(*tables(*cases), reference)
    summary = {"totals": {"claim_lines": {"rows_audited": 100, "rows_quarantined": 2}},
               "findings": {"dollars_at_risk": 1234.56}}
    data = build_report_data(summary, visits, findings, claims_audited=60)
    path = tmp_path_factory.mktemp("report") / "report.html"
    context = {"run_id": "r1", "generated_at": "2026-11-23", "version": "t", "masking": "keep", "inputs": "2 file(s)"}
    write_report_html(path, data, findings, claim_risk(findings, reference.denial_weights),
                      reference.denial_weights, context)
    return path, data


def test_report_is_self_contained(report):
    html = report[0].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#39;=HYPERLINK" in html or "'=HYPERLINK" in html


def test_chart_data_match_the_tables(report):
    _, data = report
    specs = chart_specs(data)
    values = specs["chart-dollars-by-clinic"]["datasets"]
    rows = next(iter(values.values()))
    assert sum(r["dollars_at_risk"] for r in rows) == pytest.approx(data.by_clinic["dollars_at_risk"].sum())


@needs_chromium
def test_every_chart_renders_in_chromium_without_console_errors(report):
    dom, console = render(report[0])
    charts = [m.group(0) for m in re.finditer(r'<div[^>]*class="chart( [^"]*)?"[^>]*>', dom)]
    assert len(charts) == 5
    for tag in charts:
        assert 'data-rendered="true"' in tag, tag
    assert dom.count("<svg") >= 5 and 'class="mark-rect' in dom
    assert re.search(r'<ul id="errors">\s*</ul>', dom), "the page reported script errors"
    assert console == [], console


@needs_chromium
def test_findings_table_holds_the_findings_with_the_most_money(report):
    dom, _ = render(report[0])
    body = dom.split('id="findings"', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr>") >= 20 and "NO_NOTE" in body


def test_report_data_headline(report, reference):
    _, data = report
    assert data.headline["claims_audited"] == 60 and data.headline["rows_quarantined"] == 2
    assert 0 < data.headline["share_of_visits_with_high_finding"] < 1
    assert data.headline["units_97112_billed"] > data.headline["units_97112_supported"] - 100
    assert isinstance(data.by_clinic_and_rule, pd.DataFrame)


def test_the_vega_bundle_is_made_once_then_read_from_the_cache(tmp_path, monkeypatch):
    import vl_convert

    from nmr_audit.io.report_html import vega_bundle

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = vega_bundle.__wrapped__()
    assert "vegaEmbed" in first and len(list((tmp_path / "nmr-audit").glob("vega-embed-*.js"))) == 1
    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda **_: pytest.fail("bundled again"))
    assert vega_bundle.__wrapped__() == first
