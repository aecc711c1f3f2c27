"""report.html as a person sees it: opened from disk in headless Chromium, with no network.

The charts are measured at the widths people use (no chart runs under another or past the
page), the tables are clicked and typed into, and the quarantine is read back escaped.
"""

import itertools
import json
import re
from dataclasses import replace

import pandas as pd
import pytest

from nmr_audit.charts import chart_specs
from nmr_audit.denial import claim_risk
from nmr_audit.io.report_html import write_report_html
from nmr_audit.names import Names
from nmr_audit.report_data import build_report_data, visit_number
from nmr_audit.since_last_night import since_last_night
from nmr_audit.visits import reconcile_visits
from tests.browser import needs_chromium, probe, render
from tests.builders import tables, visit
from tests.test_rules import SCENARIOS, audit, scenario_visits

FORMULA_PATIENT = "=HYPERLINK(\"http://evil.example\",\"x\")"
WIDTHS = (900, 1280, 1400, 1920)
EXPLANATION = "cms: the day's timed minutes pooled; 97112 keeps its full units"
QUARANTINED_PATIENT = "PAT-QUARANTINED-77"
CONTEXT = {"run_id": "r1", "generated_at": "2026-11-23", "version": "t", "masking": "keep", "inputs": "2 file(s)"}


def _quarantine():
    script = json.dumps({"claim_id": "<script>alert(2)</script>", "patient_id": QUARANTINED_PATIENT, "units": "-1",
                         "note": "=cmd|' /C calc'!A0", "long": "y" * 500})
    return pd.DataFrame({"table": ["claim_lines", "visit_notes"], "source_file": ["exports/claims.csv", "exports/notes.csv"],
                         "source_row": [12, 40], "reason": ["units '-1' is not a whole number ≥ 0", "note_id is missing"],
                         "record": [script, json.dumps({"note_id": None, "patient_id": QUARANTINED_PATIENT})]})


def _with_unreadable(findings):
    """A FIELD_UNREADABLE finding as the v1.1 reader will raise it (column in `field`)."""
    row = findings.iloc[[0]].assign(rule_id="FIELD_UNREADABLE", severity="low", field="charge_amount",
                                    message="charge_amount 'abc' is not a number", dollars_at_risk=0.0,
                                    finding_id="FUNREADABLE")
    return pd.concat([findings, row], ignore_index=True)


@pytest.fixture(scope="module")
def report(reference, tmp_path_factory):
    cases = [replace(v, date_of_service=f"2026-03-{1 + n % 28:02d}")  # one date per scenario: dates to sort
             for n, name in enumerate(SCENARIOS) for v in scenario_visits(name)]
    cases.append(visit(patient_id=FORMULA_PATIENT, billed={"97112": 3}, note=False))
    cases.append(visit(patient_id="<script>alert(1)</script>", billed={"97112": 1}, note=False))
    findings = _with_unreadable(audit(reference, *cases))
    visits = reconcile_visits(*tables(*cases), reference).assign(explanation=EXPLANATION)
    summary = {"totals": {"claim_lines": {"rows_audited": 100, "rows_quarantined": 2}},
               "findings": {"dollars_at_risk": 1234.56}}
    names = Names(pd.DataFrame({"rendering_npi": ["1234567893"], "provider_name": ["Dana Reyes, PT"]}),
                  pd.DataFrame({"clinic_id": ["CL1"], "clinic_name": ["Lakeside Rehab"]}))
    data = build_report_data(summary, visits, findings, claims_audited=60, quarantine=_quarantine(), names=names)
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.html"
    write_report_html(path, data, findings.assign(visit=visit_number(findings)),
                      claim_risk(findings, reference.denial_weights), reference.denial_weights, CONTEXT)
    masked = folder / "masked.html"
    write_report_html(masked, data, findings.drop(columns="patient_id"), claim_risk(findings, reference.denial_weights),
                      reference.denial_weights, {**CONTEXT, "masking": "drop"})
    return path, data, findings, masked


def test_report_is_self_contained(report):
    html = report[0].read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#39;=HYPERLINK" in html or "'=HYPERLINK" in html


def test_every_id_is_unique_and_every_section_link_lands(report):
    """Two elements with one id (the clinics heading and its table) made the nav link ambiguous."""
    html = report[0].read_text()
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    nav = re.search(r'<nav aria-label="Sections and outputs">(.*?)</nav>', html, re.S).group(1)
    assert set(re.findall(r'href="#([^"]+)"', nav)) <= set(ids)


def test_chart_data_match_the_tables(report):
    _, data, _, _ = report
    specs = chart_specs(data)
    values = specs["chart-dollars-by-clinic"]["datasets"]
    rows = next(iter(values.values()))
    assert sum(r["dollars_at_risk"] for r in rows) == pytest.approx(data.by_clinic["dollars_at_risk"].sum())
    labels = {r["label"] for r in next(iter(specs["chart-dollars-by-provider"]["datasets"].values()))}
    assert "Dana Reyes, PT (1234567893)" in labels  # a named provider: name (NPI); the others by NPI alone
    assert all(label.isdigit() for label in labels - {"Dana Reyes, PT (1234567893)"})


def test_quarantined_cells_are_escaped_defused_and_withheld_when_patients_are_masked(report):
    html = report[0].read_text()
    assert "<script>alert(2)</script>" not in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "exports/claims.csv" in html and "units &#39;-1&#39; is not a whole number" in html
    assert "[300 more characters]" in html
    masked = report[3].read_text()
    assert QUARANTINED_PATIENT not in masked and "exports/claims.csv" in masked
    assert "cells are not shown: patient ids are masked" in masked


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


MEASURE = """
var charts = [];
function texts(chart, selector) {
  return Array.prototype.map.call(chart.querySelectorAll(selector), function (t) { return t.textContent; });
}
function box(r) { return { left: r.left, right: r.right, top: r.top + window.scrollY, bottom: r.bottom + window.scrollY }; }
document.querySelectorAll(".chart").forEach(function (chart) {
  var svg = chart.querySelector("svg");
  charts.push({ id: chart.id, rendered: chart.getAttribute("data-rendered") === "true",
                box: box(chart.getBoundingClientRect()),
                drawn: svg ? box(svg.querySelector("g").getBoundingClientRect()) : null,
                legend: texts(chart, "g.role-legend-label text"), axes: texts(chart, "g.role-axis-title text") });
});
return { view: document.documentElement.clientWidth, page: document.documentElement.scrollWidth, charts: charts };
"""


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_no_chart_overlaps_another_or_leaves_the_page(report, width):
    measured = probe(report[0], MEASURE, width=width)
    charts = measured["charts"]
    assert len(charts) == 5 and all(c["rendered"] for c in charts), charts
    assert measured["page"] <= measured["view"], "the page scrolls sideways"
    for chart in charts:
        drawn, box = chart["drawn"], chart["box"]
        assert box["left"] - 1 <= drawn["left"] and drawn["right"] <= box["right"] + 1, chart  # inside its box
        assert drawn["left"] >= 0 and drawn["right"] <= measured["view"], chart  # inside the page
    for one, two in itertools.combinations(charts, 2):
        a, b = one["drawn"], two["drawn"]
        apart = a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
        assert apart, (one["id"], two["id"], a, b)
    by_id = {c["id"]: c for c in charts}
    assert by_id["chart-findings-by-rule"]["legend"] == ["high", "medium", "low", "info"]
    assert by_id["chart-trend"]["legend"] == ["dollars at risk", "findings"]
    assert {"dollars at risk (bars)", "findings (line)", "month of service"} <= set(by_id["chart-trend"]["axes"])


TABLES = """
function column(table, name) {
  var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent.trim(); });
  return heads.indexOf(name);
}
function values(table, index) {
  return Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; })
    .map(function (r) { return r.cells[index].textContent.trim(); });
}
var findings = document.getElementById("findings"), out = {};
var date = column(findings, "date_of_service"), money = column(findings, "dollars_at_risk");
findings.tHead.rows[0].cells[date].click();
out.dates_up = values(findings, date); out.date_sort = findings.tHead.rows[0].cells[date].getAttribute("aria-sort");
findings.tHead.rows[0].cells[date].click();
out.dates_down = values(findings, date); out.date_sort_again = findings.tHead.rows[0].cells[date].getAttribute("aria-sort");
findings.tHead.rows[0].cells[money].click();
out.money_up = values(findings, money);
out.all_rows = Array.prototype.map.call(findings.tBodies[0].rows, function (r) { return r.textContent; });
var filter = document.getElementById("filter");
filter.value = "  HIGH   units  "; filter.dispatchEvent(new Event("input"));
out.kept = Array.prototype.filter.call(findings.tBodies[0].rows, function (r) { return !r.hidden; })
  .map(function (r) { return r.textContent; });
out.count = document.getElementById("filter-count").textContent;
filter.value = ""; filter.dispatchEvent(new Event("input"));
var scroll = document.getElementById("findings-list").getBoundingClientRect();
out.scroll_right = scroll.right;
out.key_columns = ["message", "excess_units", "dollars_at_risk"].map(function (name) {
  return findings.tHead.rows[0].cells[column(findings, name)].getBoundingClientRect().right; });
document.querySelector("input[value=visits]").click();
out.list_hidden = document.getElementById("findings-list").hidden;
var groups = document.querySelectorAll("#by-visit tbody.visit");
out.groups = groups.length;
out.first_group = groups[0].rows[0].textContent;
var grouped = document.getElementById("by-visit");
out.fix_cells = Array.prototype.map.call(grouped.querySelectorAll("td.c-fix"), function (td) { return td.textContent; });
return out;
"""


@needs_chromium
def test_tables_sort_dates_show_direction_filter_every_word_and_group_by_visit(report):
    _, data, _, _ = report
    got = probe(report[0], TABLES, width=900, height=1200)
    assert got["dates_up"] == sorted(got["dates_up"]) and got["date_sort"] == "ascending"
    assert len(set(got["dates_up"])) > 1  # the dates differ: the order is real, not the input's
    assert got["dates_down"] == sorted(got["dates_down"], reverse=True) and got["date_sort_again"] == "descending"
    numbers = [float(v.replace(",", "")) for v in got["money_up"] if v]
    assert numbers == sorted(numbers) and got["money_up"][-1] == ""  # blanks last, not as zero
    expected = [row for row in got["all_rows"] if "high" in row.lower() and "units" in row.lower()]
    assert sorted(got["kept"]) == sorted(expected) and 0 < len(expected) < len(got["all_rows"])
    assert got["count"].startswith(f"{len(expected)} finding(s)")
    assert all(right <= got["scroll_right"] + 1 for right in got["key_columns"]), got  # no sideways scroll at 900 px
    assert got["list_hidden"] is True and got["groups"] == len(data.visit_groups)
    assert EXPLANATION in got["first_group"] and "Dana Reyes, PT" in got["first_group"]
    fixes = set(data.rules["fix"])
    assert got["fix_cells"] and all(cell in fixes for cell in got["fix_cells"])


def test_each_rules_meaning_and_fix_sits_beside_its_findings(report):
    html = report[0].read_text()
    findings = report[2]
    for rule in findings["rule_id"].unique():
        assert f'id="rule-{rule}"' in html and f'href="#rule-{rule}"' in html
    assert "What each rule means and what to fix" in html
    assert "Unreadable fields by file and column" in html and "charge_amount" in html
    assert "(file not recorded)" in html  # no lineage given: the file is said to be unknown, not guessed


@pytest.fixture(scope="module")
def nightly(report, reference, tmp_path_factory):
    """The same run as a night of a nightly root: three earlier findings were open, one of them
    (a finding this run did not make) on a day tonight audited again, so it is resolved."""
    _, data, findings, _ = report
    earlier = findings.head(3).assign(first_run_id="r0", first_as_of="2026-11-20")
    gone = earlier.iloc[[0]].assign(finding_id="F-GONE", rule_id="NO_NOTE", claim_id="CLM-RESOLVED-1")
    standing = pd.concat([earlier.iloc[1:], gone], ignore_index=True)
    touched = standing[["patient_id", "date_of_service"]].drop_duplicates()
    nights = pd.DataFrame({"run_id": [f"r{n}" for n in range(29)],
                           "as_of": [f"2026-10-{n + 1:02d}" for n in range(28)] + ["2026-10-28"],
                           "findings": range(29), "dollars_at_risk": [100.0 + 7 * n for n in range(29)],
                           "new_findings": range(29), "new_dollars_at_risk": 1.0, "resolved_findings": 1,
                           "resolved_dollars_at_risk": 5.0})
    since = since_last_night(findings, data.headline["dollars_at_risk"], "tonight", "2026-11-21",
                             {"run_id": "r28", "as_of": "2026-10-28"}, None, standing, touched,
                             pd.Timestamp("2026-01-01"), nights, 30)
    nightly_data = replace(data, since_last_night=since)
    path = tmp_path_factory.mktemp("nightly") / "report.html"
    write_report_html(path, nightly_data, findings.assign(visit=visit_number(findings)),
                      claim_risk(findings, reference.denial_weights), reference.denial_weights, CONTEXT)
    return path, since


def test_a_plain_audit_has_no_section_since_the_last_night(report):
    html = report[0].read_text()
    assert 'id="since-last-night"' not in html and 'id="chart-nights"' not in html


def test_a_nightly_report_lists_new_and_resolved_findings_and_the_nights(report, nightly):
    path, since = nightly
    html = path.read_text()
    assert 'href="#since-last-night"' in html and "Compared with run <b>r28</b>" in html
    new = html.split('id="new-findings"')[1].split("</table>")[0]
    assert new.count("<tr>") == len(since.new) + 1 and len(since.new) == len(report[2]) - 2
    resolved = html.split('id="resolved-findings"')[1].split("</table>")[0]
    assert "CLM-RESOLVED-1" in resolved and "2026-11-20" in resolved and resolved.count("<tr>") == 2
    table = html.split('id="nights"')[1].split("</table>")[0]
    assert table.count("<tr>") == 31 and "2026-10-28 (1)" in table and "2026-10-28 (2)" in table
    assert table.rindex("tonight") > table.rindex("2026-10-28 (2)")  # oldest first, tonight last
    assert "<script>alert(1)</script>" not in html  # tables escaped as the findings are


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_the_nightly_chart_fits_beside_the_others_at_every_width(nightly, width):
    measured = probe(nightly[0], MEASURE, width=width)
    charts = measured["charts"]
    assert len(charts) == 6 and all(c["rendered"] for c in charts), charts
    assert measured["page"] <= measured["view"], "the page scrolls sideways"
    for chart in charts:
        drawn, box = chart["drawn"], chart["box"]
        assert box["left"] - 1 <= drawn["left"] and drawn["right"] <= box["right"] + 1, chart
        assert drawn["left"] >= 0 and drawn["right"] <= measured["view"], chart
    for one, two in itertools.combinations(charts, 2):
        a, b = one["drawn"], two["drawn"]
        apart = a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
        assert apart, (one["id"], two["id"], a, b)
    nights = {c["id"]: c for c in charts}["chart-nights"]
    assert nights["legend"] == ["dollars at risk", "resolved (dollars)"]
    assert {"dollars", "night (as of)"} <= set(nights["axes"])


WHY = """
var link = document.querySelector("#findings a.why");
var out = { links: document.querySelectorAll("#findings a.why").length, title: link.getAttribute("title") };
var row = link.closest("tr");
out.rule = row.cells[1].textContent;
document.getElementById("filter").value = "nothing-matches-this";
document.getElementById("filter").dispatchEvent(new Event("input"));
link.click();
out.list_hidden = document.getElementById("findings-list").hidden;
var target = document.getElementById("visit-" + link.getAttribute("data-visit"));
out.shown = target.classList.contains("shown") && !target.hidden;
out.head = target.rows[0].textContent;
out.filter = document.getElementById("filter").value;
return out;
"""


def test_a_unit_finding_links_to_how_its_visits_units_were_decided(report):
    html = report[0].read_text()
    _, data, findings, _ = report
    about_units = findings["rule_id"].isin(["UNITS_EXCEED_TIME", "TIMED_UNITS_EXCEED_TOTAL", "NO_NOTE"])
    assert about_units.any() and data.explanations[about_units.to_numpy()].notna().all()
    assert not data.explanations[findings["rule_id"].eq("NOTE_UNSIGNED").to_numpy()].notna().any()  # not about units
    assert 'class="why"' in html and 'id="visit-' in html and "how the units were decided" in html


@needs_chromium
def test_clicking_why_shows_the_visits_group_with_its_explanation(report):
    got = probe(report[0], WHY, width=1280, height=1000)
    assert got["links"] > 0 and got["title"] == EXPLANATION
    assert got["list_hidden"] is True and got["shown"] is True and got["filter"] == ""
    assert EXPLANATION in got["head"]


def test_a_visit_whose_note_was_quarantined_is_grouped_without_units_beyond_the_minutes(reference, tmp_path):
    cases = [visit(patient_id="PQ", billed={"97112": 2}, note=False)]
    findings = audit(reference, *cases)
    visits = reconcile_visits(*tables(*cases), reference).assign(explanation=EXPLANATION, note_quarantined=True)
    summary = {"totals": {"claim_lines": {"rows_audited": 1, "rows_quarantined": 0}}, "findings": {"dollars_at_risk": 0.0}}
    data = build_report_data(summary, visits, findings, claims_audited=1)
    path = tmp_path / "report.html"
    write_report_html(path, data, findings.assign(visit=visit_number(findings)),
                      claim_risk(findings, reference.denial_weights), reference.denial_weights, CONTEXT)
    head = re.search(r'<th class="visit-head"[^>]*>(.*?)</th>', path.read_text(), re.S).group(1)
    assert "note quarantined" in head and "not checked until the note is fixed" in head
    assert "beyond the minutes" not in head and "no note" not in head
