"""The report's charts as Vega-Lite specs, made with Altair (rendered in the page by vega-embed)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from nmr_audit.report_data import ReportData

WIDTH = 520
SEVERITY_COLORS = alt.Scale(domain=["high", "medium", "low", "info"],
                            range=["#b2182b", "#ef8a62", "#fddbc7", "#92c5de"])


def chart_specs(data: ReportData) -> dict[str, dict[str, Any]]:
    """Chart id → Vega-Lite spec (data inlined: the report opens with no network)."""
    return {
        "chart-findings-by-rule": _bars(data.by_rule, "rule_id", "findings", "Findings by rule", color="severity"),
        "chart-dollars-by-clinic": _bars(data.by_clinic, "clinic_id", "dollars_at_risk", "Dollars at risk by clinic"),
        "chart-dollars-by-provider": _bars(data.by_provider, "rendering_npi", "dollars_at_risk",
                                           "Dollars at risk by provider (top 15, rendering NPI)"),
        "chart-dollars-by-payer": _bars(data.by_payer, "payer_type", "dollars_at_risk", "Dollars at risk by payer"),
        "chart-trend": _trend(data.trend),
    }


def _bars(table: pd.DataFrame, category: str, value: str, title: str, color: str | None = None) -> dict[str, Any]:
    money = value == "dollars_at_risk"
    encoding: dict[str, Any] = {
        "y": alt.Y(f"{category}:N", sort="-x", title=None),
        "x": alt.X(f"{value}:Q", title="dollars at risk" if money else value,
                   axis=alt.Axis(format="$,.0f" if money else ",d")),
        "tooltip": [alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format="$,.2f" if money else ",d")],
    }
    if color:
        encoding["color"] = alt.Color(f"{color}:N", scale=SEVERITY_COLORS)
    chart = alt.Chart(_plain(table[[category, value, *([color] if color else [])]])).mark_bar().encode(**encoding)
    return chart.properties(title=title, width=WIDTH).to_dict()


def _trend(trend: pd.DataFrame) -> dict[str, Any]:
    base = alt.Chart(_plain(trend)).encode(x=alt.X("month:O", title="month of service"))
    bars = base.mark_bar(opacity=0.5).encode(y=alt.Y("dollars_at_risk:Q", title="dollars at risk",
                                                     axis=alt.Axis(format="$,.0f")),
                                             tooltip=["month:O", alt.Tooltip("dollars_at_risk:Q", format="$,.2f"),
                                                      alt.Tooltip("findings:Q", format=",d")])
    line = base.mark_line(point=True, color="#b2182b").encode(y=alt.Y("findings:Q", title="findings"))
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        title="Findings and dollars at risk by month", width=WIDTH).to_dict()


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """Plain Python-friendly dtypes for the inlined JSON data."""
    return table.astype({c: "object" for c in table.columns if table[c].dtype == "str"})
