"""`report.html`: the denial-risk report, one self-contained file that opens from disk offline.

Vega, Vega-Lite and vega-embed are inlined (vl-convert's bundle, the versions Altair targets),
the chart specs carry their data, and the findings table is plain HTML with a few lines of
script to sort and filter it. Every value is HTML-escaped and defused (`safe_text`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from nmr_audit.charts import chart_specs
from nmr_audit.io.cache import cache_dir, keep
from nmr_audit.report_data import ReportData
from nmr_audit.safe_text import defuse_frame

TABLE_ROWS = 2000
FINDING_COLUMNS = ["severity", "rule_id", "clinic_id", "rendering_npi", "payer_type", "date_of_service",
                   "claim_id", "line_number", "note_id", "patient_id", "field", "message", "excess_units",
                   "dollars_at_risk"]


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
    """`findings` and `claims` as they should appear (masked already); the rest is escaped here."""
    table = findings.sort_values("dollars_at_risk", ascending=False, na_position="last", kind="stable")
    shown = _cells(table[[c for c in FINDING_COLUMNS if c in table.columns]].head(TABLE_ROWS))
    html = _template().render(
        title=context.get("title", "nmr-audit denial-risk report"),
        context=context,
        headline=data.headline,
        specs=_script_json(chart_specs(data)),
        charts=list(chart_specs(data)),
        clinics=_cells(data.by_clinic), providers=_cells(data.by_provider),
        claims=_cells(claims.head(50)), weights=_cells(weights[["rule_id", "weight", "why", "source"]]),
        findings=shown, total_findings=len(findings), table_rows=TABLE_ROWS,
        bundle=vega_bundle().replace("</script", "<\\/script"),
    )
    path.write_text(html, encoding="utf-8")
    return path


def _cells(frame: pd.DataFrame) -> dict[str, Any]:
    """Columns and rows as display text: dates as YYYY-MM-DD, money with cents, text defused."""
    shown = defuse_frame(frame)
    columns = list(shown.columns)
    rows = []
    for record in shown.astype(object).itertuples(index=False):
        rows.append([_show(value, column) for value, column in zip(record, columns, strict=True)])
    return {"columns": columns, "rows": rows}


def _show(value: Any, column: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if column in ("dollars_at_risk", "dollars") and isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string((Path(__file__).parent / "report_template.html").read_text(encoding="utf-8"))
