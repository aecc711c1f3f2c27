"""`report.html`: the denial-risk report, one self-contained file that opens from disk offline.

Vega, Vega-Lite and vega-embed are inlined (vl-convert's bundle, the versions Altair targets),
the chart specs carry their data, and the tables are plain HTML with a few lines of script to
sort them (numbers as numbers, dates as dates, the direction shown), filter them (a row stays
when every typed word is in one of its cells) and group the findings by visit. Every value is
HTML-escaped and defused (`safe_text`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from nmr_audit.charts import NIGHTS_CHART, chart_specs
from nmr_audit.denial import PRIOR_STRENGTH
from nmr_audit.io.cache import cache_dir, keep
from nmr_audit.names import with_names
from nmr_audit.report_data import ReportData, severity_rank, visit_number
from nmr_audit.safe_text import defuse_frame
from nmr_audit.since_last_night import night_labels

TABLE_ROWS = 2000
VISIT_GROUPS = 300
QUARANTINE_ROWS = 500
# The findings table: what to act on first, so that it is visible without scrolling sideways.
FINDING_COLUMNS = ["severity", "rule_id", "message", "excess_units", "dollars_at_risk", "why", "outcome", "carcs",
                   "date_of_service", "clinic_id", "clinic_name", "rendering_npi", "provider_name", "claim_id",
                   "line_number", "note_id", "patient_id", "payer_type", "field"]
WHEN_GIVEN = ("outcome", "carcs")  # shown only in a run given remittances
LEARNT_SHOWN = ["rule_id", "weight", "learnt_weight", "lines", "denied", "reversed", "share_denied", "ci_low", "ci_high",
                "rejected", "reduced", "why", "source"]
UNMATCHED_ROWS = 500
GROUPED_COLUMNS = ["severity", "rule_id", "message", "excess_units", "dollars_at_risk", "claim_id", "fix"]
NUMBERS = {"findings", "dollars_at_risk", "excess_units", "excess_units_97112", "visits", "denial_risk",
           "line_number", "weight", "source_row", "rows", "fields", "dollars", "reasons_count", "new_findings",
           "new_dollars_at_risk", "resolved_findings", "resolved_dollars_at_risk", "learnt_weight", "lines", "denied",
           "reversed", "share_denied", "ci_low", "ci_high", "rejected", "reduced"}
DATES = {"date_of_service", "month", "generated_at", "as_of", "first_as_of", "night"}
NIGHT_ROWS = 500  # new and resolved findings shown (all of them are in report.xlsx up to its row cap)
NIGHT_COLUMNS = ["severity", "rule_id", "message", "excess_units", "dollars_at_risk", "date_of_service", "clinic_id",
                 "clinic_name", "rendering_npi", "provider_name", "claim_id", "line_number", "note_id", "patient_id",
                 "payer_type", "first_as_of"]
OUTPUT_LINKS = ("findings.csv", "report.xlsx", "visits.parquet", "quarantine.parquet", "summary.json",
                "data_docs/index.html", "remits.parquet", "remits_unmatched.csv")


@cache
def vega_bundle() -> str:
    """vega-embed with Vega and Vega-Lite, as one classic script defining `vegaEmbed`.

    Bundling takes vl-convert about 3 s, so the bundle is kept in the user's cache folder
    (`$XDG_CACHE_HOME` or `~/.cache`, under `nmr-audit/`) per vl-convert and Vega-Lite
    version; where that folder cannot be written, it is bundled anew each run.
    """
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    version = vl_version_for_vl_convert()
    path = cache_dir() / f"vega-embed-{vl_convert.__version__}-{version}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle(vl_version=version)
    keep(path, lambda partial: partial.write_text(bundle, encoding="utf-8"))
    return bundle


def write_report_html(path: Path, data: ReportData, findings: pd.DataFrame, claims: pd.DataFrame,
                      weights: pd.DataFrame, context: dict[str, Any]) -> Path:
    """`findings` and `claims` as they should appear (masked already); the rest is escaped here.

    `findings` may carry `visit` (`report_data.visit_number` of the raw findings, so that
    groups survive masking); without it, visits are numbered from the columns given.
    `context`: run_id, generated_at, version, inputs, masking (keep|hash|drop).
    """
    if "visit" not in findings.columns:
        findings = findings.assign(visit=visit_number(findings))
    if data.names.any:
        findings = with_names(findings, data.names)
    explained = _with_why(findings, data)
    table = explained.sort_values("dollars_at_risk", ascending=False, na_position="last", kind="stable")
    columns = [c for c in FINDING_COLUMNS if c in table.columns and (c not in WHEN_GIVEN or data.remits is not None)]
    shown = _cells(table[columns].head(TABLE_ROWS))
    why = dict(zip(table["why"].head(TABLE_ROWS), table["explanation"].head(TABLE_ROWS), strict=True)) \
        if "why" in table.columns else {}
    why.pop("", None)
    fixes = data.rules.set_index("rule_id")["fix"] if len(data.rules) else pd.Series(dtype="str")
    masked = context.get("masking", "keep") != "keep"
    specs = chart_specs(data)
    html = _template().render(
        title=context.get("title", "nmr-audit denial-risk report"),
        context=context,
        headline=data.headline,
        overlap=data.overlap,
        specs=_script_json(specs),
        charts=[c for c in specs if c != NIGHTS_CHART],
        since=_since(data),
        clinics=_cells(data.by_clinic), providers=_cells(data.by_provider),
        claims=_cells(claims.head(50)), weights=_cells(_weights(weights, data.learnt)), learnt=not data.learnt.empty,
        remits=data.remits, unmatched=_cells(data.unmatched_remits, limit=UNMATCHED_ROWS),
        unmatched_rows=UNMATCHED_ROWS, prior=PRIOR_STRENGTH,
        rules=_rules(data),
        findings=shown, total_findings=len(findings), table_rows=TABLE_ROWS,
        groups=(groups := _groups(data, findings.assign(fix=findings["rule_id"].map(fixes)) if len(findings)
                                  else findings)),
        why=why, rendered={str(g["visit"]) for g in groups},
        visit_groups=VISIT_GROUPS, total_groups=len(data.visit_groups),
        quarantine=_cells(data.quarantine.drop(columns=["cells"]) if masked else data.quarantine,
                          limit=QUARANTINE_ROWS),
        quarantine_total=data.quarantine_total, quarantine_rows=QUARANTINE_ROWS, cells_withheld=masked,
        quarantine_by_file=_cells(data.quarantine_by_file), unreadable=_cells(data.unreadable),
        links=[link for link in OUTPUT_LINKS if (not link.startswith("remits") or data.remits is not None)
               and (not link.startswith("data_docs") or context.get("data_docs", True))],  # none written: no link
        bundle=vega_bundle().replace("</script", "<\\/script"),
    )
    path.write_text(html, encoding="utf-8")
    return path


def _with_why(findings: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    """`findings` with `explanation` (its visit's unit decision, for a finding about units:
    `report_data.finding_explanations`, in the findings' order) and `why`: the visit number, by
    which the row links to the visit's group and its explanation, where there is one."""
    if len(data.explanations) != len(findings) or findings.empty:
        return findings
    said = pd.Series(data.explanations.to_numpy(), index=findings.index, dtype="str")
    why = findings["visit"].astype("int64").astype("str").where(said.notna(), "")
    return findings.assign(explanation=said, why=why)


def _weights(defaults: pd.DataFrame, learnt: pd.DataFrame) -> pd.DataFrame:
    """The default weights, and, where remittances were given, the learnt ones beside them
    (`denial.learnt_weights`: lines answered, denied or recouped, the share and its interval)."""
    if learnt.empty:
        return defaults[["rule_id", "weight", "why", "source"]]
    table = defaults[["rule_id", "weight", "why", "source"]].merge(learnt.drop(columns=["default_weight"]),
                                                                    on="rule_id", how="left")
    return table[LEARNT_SHOWN]


def _since(data: ReportData) -> dict[str, Any] | None:
    """The section "Since the last night" of a nightly run (None for a plain audit: no section)."""
    since = data.since_last_night
    if since is None:
        return None

    def findings(frame: pd.DataFrame) -> dict[str, Any]:
        shown = with_names(frame, data.names) if data.names.any else frame
        shown = shown.sort_values("dollars_at_risk", ascending=False, na_position="last", kind="stable")
        return _cells(shown[[c for c in NIGHT_COLUMNS if c in shown.columns]], limit=NIGHT_ROWS)

    series = since.series.assign(night=night_labels(since.series))
    totals = since.totals()
    return {"first_night": since.first_night, "previous_run_id": since.previous_run_id,
            "previous_as_of": since.previous_as_of, "notes": since.notes, "totals": totals,
            "new": findings(since.new), "resolved": findings(since.resolved), "rows": NIGHT_ROWS,
            "nights": _cells(series[["night", "run_id", "findings", "dollars_at_risk", "new_findings",
                                     "new_dollars_at_risk", "resolved_findings", "resolved_dollars_at_risk"]]),
            "runs": len(series)}


def _rules(data: ReportData) -> dict[str, Any]:
    """The rules of this run's findings with what each means and what to fix."""
    if data.by_rule.empty:
        return _cells(pd.DataFrame(columns=["rule_id", "severity", "findings", "dollars_at_risk", "meaning", "fix"]))
    return _cells(data.by_rule[["rule_id", "severity", "findings", "dollars_at_risk", "meaning", "fix", "source"]])


def _groups(data: ReportData, findings: pd.DataFrame) -> list[dict[str, Any]]:
    """The visits with the most money at risk, each with its facts and its findings' rows."""
    if findings.empty or data.visit_groups.empty:
        return []
    top = data.visit_groups.head(VISIT_GROUPS)
    mine = findings[findings["visit"].isin(top["visit"])]
    firsts = defuse_frame(mine.groupby("visit", sort=False).head(1))  # each visit's first finding, in the findings' order
    first_of = {number: row for number, (_, row) in zip(firsts["visit"], firsts.iterrows(), strict=True)}
    mine = defuse_frame(mine.iloc[np.argsort(severity_rank(mine["severity"]), kind="stable")])  # once, not per visit
    by_visit = {number: rows for number, rows in mine.groupby("visit", sort=False)}
    groups = []
    for fact in defuse_frame(top).astype(object).itertuples(index=False):
        rows = by_visit.get(fact.visit)
        if rows is None:
            continue
        first, ordered = first_of[fact.visit], rows  # rows: most severe first, then in the findings' order
        groups.append({
            "visit": int(fact.visit),
            "patient": _show(first.get("patient_id"), "patient_id"),
            "date": _show(first.get("date_of_service"), "date_of_service"),
            "npi": _show(first.get("rendering_npi"), "rendering_npi"),
            "provider": _show(first.get("provider_name"), "provider_name"),
            "clinic": _show(fact.clinic_id, "clinic_id"),
            "clinic_name": _show(first.get("clinic_name"), "clinic_name"),
            "payer": _show(fact.payer_type, "payer_type"), "basis": _show(fact.rule_basis, "rule_basis"),
            "billed": _show(fact.billed_units_97112, "n"), "supported": _show(fact.supported_units_97112, "n"),
            "excess": _show(fact.excess_units_97112, "n"), "minutes": _show(fact.minutes_97112, "n"),
            "note": _show(fact.note_id, "note_id"), "explanation": _show(fact.explanation, "explanation"),
            # its note quarantined: no unit judged, none "beyond the minutes"
            "held": isinstance(fact.note_quarantined, bool | np.bool_) and bool(fact.note_quarantined),
            "dollars": _show(float(fact.dollars_at_risk), "dollars_at_risk"), "count": int(fact.findings),
            "rows": _cells(ordered[[c for c in GROUPED_COLUMNS if c in ordered.columns]], defused=True),
        })
    return groups


def _cells(frame: pd.DataFrame, limit: int | None = None, defused: bool = False) -> dict[str, Any]:
    """Columns, their kinds (num, date, text) and rows as display text: dates as YYYY-MM-DD,
    money with cents, text defused (`defused`: by the caller already, for many frames at once)."""
    shown = frame if limit is None else frame.head(limit)
    shown = shown if defused else defuse_frame(shown)
    columns = list(shown.columns)
    rows = []
    for record in shown.astype(object).itertuples(index=False):
        rows.append([_show(value, column) for value, column in zip(record, columns, strict=True)])
    kinds = ["num" if c in NUMBERS else "date" if c in DATES else "text" for c in columns]
    return {"columns": columns, "kinds": kinds, "rows": rows}


def _show(value: Any, column: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if column in ("dollars_at_risk", "dollars", "new_dollars_at_risk", "resolved_dollars_at_risk") and \
            isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(files("nmr_audit.io").joinpath("report_template.html").read_text(encoding="utf-8"))
