"""The report's charts as Vega-Lite specs, made with Altair (rendered in the page by vega-embed).

Every chart is drawn to the width of its box in the page (the page sets `width` to the box's
width before drawing, and again when the window is resized; `fit` autosizing keeps axes,
labels and legend inside the width and height given), so it never runs under its neighbour
or past the page's edge; long axis labels are cut with an ellipsis (the tooltip has the whole
label). Every colour has a legend: severity on the rules chart, and the two measures of the trend, whose
axes carry the same colours as their marks. A nightly run adds the dollars at risk by night
(`NIGHTS_CHART`, shown in its own section of the report).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from nmr_audit.names import label
from nmr_audit.report_data import ReportData
from nmr_audit.since_last_night import night_labels

SEVERITY_COLORS = alt.Scale(domain=["high", "medium", "low", "info"],
                            range=["#b2182b", "#ef8a62", "#fddbc7", "#92c5de"])
BAR = "#4c78a8"
DOLLARS, FINDINGS = "dollars at risk", "findings"
TREND_COLORS = alt.Scale(domain=[DOLLARS, FINDINGS], range=["#7f9fc6", "#b2182b"])
LABEL_LIMIT = 190  # px: a longer axis label is cut with an ellipsis
AUTOSIZE = {"type": "fit", "contains": "padding"}  # width and height are the whole chart's, axes and legend in
DEFAULT_WIDTH = 520  # px; the page replaces it with its box's width
BAR_STEP = 22  # px of height per bar
TREND_HEIGHT = 340
NIGHTS_CHART = "chart-nights"
RESOLVED = "resolved (dollars)"
NIGHT_COLORS = alt.Scale(domain=[DOLLARS, RESOLVED], range=["#7f9fc6", "#1a9850"])


def chart_specs(data: ReportData) -> dict[str, dict[str, Any]]:
    """Chart id → Vega-Lite spec (data inlined: the report opens with no network)."""
    clinics = data.by_clinic.assign(label=label(data.by_clinic["clinic_id"], _column(data.by_clinic, "clinic_name")))
    providers = data.by_provider.assign(
        label=label(data.by_provider["rendering_npi"], _column(data.by_provider, "provider_name")))
    charts = {
        "chart-findings-by-rule": _bars(data.by_rule.assign(label=data.by_rule["rule_id"]), "findings",
                                        "Findings by rule", color="severity"),
        "chart-dollars-by-clinic": _bars(clinics, "dollars_at_risk", "Dollars at risk by clinic"),
        "chart-dollars-by-provider": _bars(providers, "dollars_at_risk",
                                           "Dollars at risk by provider (top 15, rendering NPI)"),
        "chart-dollars-by-payer": _bars(data.by_payer.assign(label=data.by_payer["payer_type"]), "dollars_at_risk",
                                        "Dollars at risk by payer type"),
        "chart-trend": _trend(data.trend),
    }
    if data.since_last_night is not None:
        charts[NIGHTS_CHART] = nights_chart(data.since_last_night.series)
    return charts


def nights_chart(series: pd.DataFrame) -> dict[str, Any]:
    """Dollars at risk of each of the last runs (bars; each claim line once, as each run's
    headline) and the dollars of the findings each resolved (line), by night, one axis in
    dollars, a legend naming both. `series`: `since_last_night.SERIES_COLUMNS`, oldest first."""
    table = pd.DataFrame({
        "night": night_labels(series),
        "dollars_at_risk": series["dollars_at_risk"].astype("float64"),
        "resolved": series["resolved_dollars_at_risk"].astype("float64"),
        "findings": series["findings"].astype("float64"),
        "new_findings": series["new_findings"].astype("float64"),
        "resolved_findings": series["resolved_findings"].astype("float64"),
        "run_id": series["run_id"].astype("object"),
    })
    order = table["night"].tolist()
    base = alt.Chart(_plain(table)).encode(x=alt.X("night:O", sort=order, title="night (as of)",
                                                   axis=alt.Axis(labelAngle=-45, labelOverlap="parity")))
    tooltip = [alt.Tooltip("night:O", title="night"), alt.Tooltip("run_id:N", title="run"),
               alt.Tooltip("dollars_at_risk:Q", title=DOLLARS, format="$,.2f"),
               alt.Tooltip("findings:Q", title=FINDINGS, format=",d"),
               alt.Tooltip("new_findings:Q", title="new findings", format=",d"),
               alt.Tooltip("resolved_findings:Q", title="findings resolved", format=",d"),
               alt.Tooltip("resolved:Q", title=RESOLVED, format="$,.2f")]
    legend = alt.Legend(title=None, orient="bottom", direction="horizontal")
    y = alt.Y("value:Q", title="dollars", axis=alt.Axis(format="$,.0f"))
    bars = base.mark_bar(opacity=0.9).transform_calculate(value="datum.dollars_at_risk", series=f"'{DOLLARS}'").encode(
        y=y, color=alt.Color("series:N", scale=NIGHT_COLORS, legend=legend), tooltip=tooltip)
    line = base.mark_line(point=True).transform_filter("isValid(datum.resolved)").transform_calculate(
        value="datum.resolved", series=f"'{RESOLVED}'").encode(
        y=y, color=alt.Color("series:N", scale=NIGHT_COLORS, legend=legend), tooltip=tooltip)
    return alt.layer(bars, line).properties(
        title=f"Dollars at risk by night (last {len(series)} run(s))", width=DEFAULT_WIDTH, height=TREND_HEIGHT,
        autosize=AUTOSIZE).to_dict()


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    return table[name] if name in table.columns else pd.Series(pd.NA, index=table.index, dtype="str")


def _bars(table: pd.DataFrame, value: str, title: str, color: str | None = None) -> dict[str, Any]:
    money = value == "dollars_at_risk"
    encoding: dict[str, Any] = {
        "y": alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
        "x": alt.X(f"{value}:Q", title=DOLLARS if money else FINDINGS,
                   axis=alt.Axis(format="$,.0f" if money else ",d", tickMinStep=1)),
        "tooltip": [alt.Tooltip("label:N", title="name"),
                    alt.Tooltip(f"{value}:Q", title=DOLLARS if money else FINDINGS,
                                format="$,.2f" if money else ",d")],
    }
    if color:
        encoding["color"] = alt.Color(f"{color}:N", scale=SEVERITY_COLORS,
                                      legend=alt.Legend(title=color, orient="bottom", direction="horizontal"))
    else:
        encoding["color"] = alt.value(BAR)
    chart = alt.Chart(_plain(table[["label", value, *([color] if color else [])]])).mark_bar().encode(**encoding)
    # a height, not a step per bar: Vega-Lite fits only charts of a set size (and warns otherwise)
    height = BAR_STEP * max(len(table), 1) + 64 + (56 if color else 0)
    return chart.properties(title=title, width=DEFAULT_WIDTH, height=height, autosize=AUTOSIZE).to_dict()


def _trend(trend: pd.DataFrame) -> dict[str, Any]:
    """Dollars at risk (bars, left axis) and findings (line, right axis) by month of service,
    with a legend naming both and each axis in its measure's colour."""
    base = alt.Chart(_plain(trend)).encode(x=alt.X("month:O", title="month of service"))
    tooltip = ["month:O", alt.Tooltip("dollars_at_risk:Q", title=DOLLARS, format="$,.2f"),
               alt.Tooltip("findings:Q", title=FINDINGS, format=",d")]
    legend = alt.Legend(title=None, orient="bottom", direction="horizontal")
    bars = base.mark_bar(opacity=0.9).encode(
        y=alt.Y("dollars_at_risk:Q", title=f"{DOLLARS} (bars)",
                axis=alt.Axis(format="$,.0f", titleColor="#4c6d96", labelColor="#4c6d96")),
        color=alt.Color("series:N", scale=TREND_COLORS, legend=legend),
        tooltip=tooltip).transform_calculate(series=f"'{DOLLARS}'")
    line = base.mark_line(point=True).encode(
        y=alt.Y("findings:Q", title=f"{FINDINGS} (line)",
                axis=alt.Axis(format=",d", tickMinStep=1, titleColor="#b2182b", labelColor="#b2182b")),
        color=alt.Color("series:N", scale=TREND_COLORS, legend=legend),
        tooltip=tooltip).transform_calculate(series=f"'{FINDINGS}'")
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        title="Findings and dollars at risk by month", width=DEFAULT_WIDTH, height=TREND_HEIGHT, autosize=AUTOSIZE).to_dict()


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """Plain Python-friendly dtypes for the inlined JSON data."""
    return table.astype({c: "object" for c in table.columns if table[c].dtype == "str"})
