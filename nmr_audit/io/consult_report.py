"""`extrapolation.json`, `extrapolation.html` and `extrapolation.xlsx`: the extrapolated
overpayment with its method, seed, frame, sizes and formulas, beside the automated review's
dollars at risk estimated from the same sample and known exactly over the frame.

The JSON holds `overall` and `strata` (contract v1.1: each with `n, N, mean, point_estimate,
standard_error, lower_limit_90_two_sided, upper_limit_90_two_sided, lower_limit_90_one_sided,
precision`), plus what nmr-audit adds: degrees of freedom, the design, the method and formulas,
the automated review's check, the review file's SHA-256. Dollars are rounded to cents.
The HTML is one self-contained page (no script); the workbook is written by XlsxWriter, strings
never turned into formulas. Both escape or defuse text (`safe_text`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import markupsafe
import pandas as pd
import xlsxwriter
from scipy import stats

from nmr_audit.consult.extrapolate import CONFIDENCE, FORMULAS, RESULT_KEYS, Estimates
from nmr_audit.io.writers import StagedOutputs, write_json
from nmr_audit.money import dollars
from nmr_audit.safe_text import defuse_frame

if TYPE_CHECKING:
    from nmr_audit.io.consult import SampleFolder

JSON_NAME = "extrapolation.json"
MONEY_KEYS = ("mean", "point_estimate", "standard_error", "lower_limit_90_two_sided", "upper_limit_90_two_sided",
              "lower_limit_90_one_sided", "standard_deviation", "exact_total", "difference")
LABELS = {
    "n": "Units reviewed (n)", "N": "Units in the frame (N)", "mean": "Mean overpayment per unit",
    "point_estimate": "Point estimate of the total", "standard_error": "Standard error",
    "lower_limit_90_two_sided": "Lower limit, two-sided 90% (OIG)",
    "upper_limit_90_two_sided": "Upper limit, two-sided 90%",
    "lower_limit_90_one_sided": "Lower limit, one-sided 90% (PIM ch. 8 §8.4.5.1)",
    "precision": "Precision (half-width / estimate)", "degrees_of_freedom": "Degrees of freedom",
}

SHORT = {"mean": "Mean", "point_estimate": "Estimate", "standard_error": "SE",
         "lower_limit_90_two_sided": "Lower 90% two-sided", "upper_limit_90_two_sided": "Upper 90% two-sided",
         "lower_limit_90_one_sided": "Lower 90% one-sided", "precision": "Precision", "degrees_of_freedom": "df"}


def extrapolation_document(result: Estimates, automated: dict[str, Any], design: dict[str, Any], review: Path,
                           review_sha256: str, software: dict[str, str]) -> dict[str, Any]:
    """Everything the three outputs show, as plain JSON values."""
    df = result.overall["degrees_of_freedom"]
    return {
        "overall": _rounded(result.overall),
        "strata": {row["stratum"]: _rounded({k: row[k] for k in (*RESULT_KEYS, "degrees_of_freedom", "standard_deviation")})
                   for row in result.strata.to_dict("records")},
        "automated_review": {
            "what": "the automated review's dollars at risk per unit, estimated from the sampled units with the same "
                    "estimator, beside their exact total over the frame",
            "estimate": _rounded(automated["estimate"]),
            "exact_total": round(automated["exact_total"], 2),
            "difference": round(automated["difference"], 2),
            "exact_total_within_two_sided_interval": automated["covered"],
            "strata": {row["stratum"]: _rounded({k: row[k] for k in ("n", "N", "point_estimate", "standard_error",
                                                                     "exact_total")})
                       for row in automated["strata"].to_dict("records")},
        },
        "method": {
            "estimator": "mean per unit (difference estimator with the audited amount 0), stratified where the design is",
            "confidence": CONFIDENCE,
            "degrees_of_freedom": ("Satterthwaite (1946)" if result.degrees_of_freedom == "satterthwaite"
                                   else "Σ(n_h − 1) over the strata"),
            "t_two_sided": round(float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)), 6),
            "t_one_sided": round(float(stats.t.ppf(CONFIDENCE, df)), 6),
            "formulas": [{"what": w, "formula": f, "source": s} for w, f, s in FORMULAS],
        },
        "design": {k: design.get(k) for k in ("unit", "design", "stratify", "allocation", "size_from", "precision_target",
                                              "seed", "n", "N", "command", "sample_sha256")}
                  | {"frame_sha256": design["frame"]["sha256"], "frame_rows": design["frame"]["rows"],
                     "amounts": design["frame"]["amounts"], "generator": design["method"]["generator"],
                     "selection": design["method"]["selection"], "strata_method": design["method"]["strata"],
                     "run": design["run"]["folder"], "sizes": {s["stratum"]: {"N": s["N"], "n": s["n"]}
                                                              for s in design["strata"]}},
        "review": {"file": str(review.resolve()), "sha256": review_sha256},
        "software": software,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or (isinstance(value, float) and value != value):
            shown[key] = None
        elif key in ("n", "N"):
            shown[key] = int(value)
        elif key in MONEY_KEYS:
            shown[key] = round(float(value), 2) + 0.0
        elif key == "precision":
            shown[key] = round(float(value), 6)
        else:
            shown[key] = round(float(value), 4)
    return shown


def write_extrapolation(out: Path, document: dict[str, Any], values: pd.DataFrame, drawn: SampleFolder) -> Path:
    """Write the three outputs into `out` whole (staged, extrapolation.json last).

    values: the reviewed amounts (`sample_unit_id, stratum, value`)."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)  # the sample holds claims: private, as a run's outputs
    units = drawn.units.set_index("sample_unit_id")
    reviewed = drawn.sample.merge(values[["sample_unit_id", "value"]], on="sample_unit_id", how="left")
    reviewed = reviewed.assign(
        overpayment_amount=reviewed.pop("value").to_numpy(),
        amount=reviewed["sample_unit_id"].map(units["amount"]).to_numpy(),
        dollars_at_risk=reviewed["sample_unit_id"].map(units["dollars_at_risk"]).to_numpy())
    staged = StagedOutputs(out)
    staged.FINAL = JSON_NAME
    with staged:
        staged.path("extrapolation.html").write_text(_html(document), encoding="utf-8")
        _workbook(staged.path("extrapolation.xlsx"), document, reviewed)
        write_json(document, staged.path(JSON_NAME))
    return out


def _rows(document: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """The report's tables as rows of cells, shared by the page and the workbook."""
    overall = document["overall"]
    design = document["design"]
    automated = document["automated_review"]
    keys = [*RESULT_KEYS, "degrees_of_freedom"]
    headline = [[LABELS[k], overall[k]] for k in keys]
    strata = [["stratum", *keys]] + [[name, *(row[k] for k in keys)] for name, row in document["strata"].items()]
    check = [["", "estimate from the sample", "exact over the frame"],
             ["Dollars at risk (total)", automated["estimate"]["point_estimate"], automated["exact_total"]],
             ["Standard error", automated["estimate"]["standard_error"], None],
             ["Two-sided 90% interval", f"{_money(automated['estimate']['lower_limit_90_two_sided'])} to "
                                        f"{_money(automated['estimate']['upper_limit_90_two_sided'])}", None],
             ["Estimate − exact", automated["difference"], None],
             ["Exact total within the interval", "yes" if automated["exact_total_within_two_sided_interval"] else "no",
              None]]
    facts = [["Sample unit", design["unit"]], ["Design", design["design"]],
             ["Stratified by", design["stratify"] or "—"], ["Strata", design["strata_method"]],
             ["Allocation", design["allocation"]], ["Size from", design["size_from"]],
             ["Seed", design["seed"]], ["Generator", design["generator"]], ["Selection", design["selection"]],
             ["Frame rows (N)", design["frame_rows"]], ["Frame SHA-256", design["frame_sha256"]],
             ["Sample SHA-256", design["sample_sha256"]], ["Amounts", design["amounts"]], ["Run", design["run"]],
             ["Draw command", design["command"]], ["Review file", document["review"]["file"]],
             ["Review SHA-256", document["review"]["sha256"]],
             ["Degrees of freedom", document["method"]["degrees_of_freedom"]],
             ["t (0.95; df)", document["method"]["t_two_sided"]], ["t (0.90; df)", document["method"]["t_one_sided"]],
             ["Software", ", ".join(f"{k} {v}" for k, v in document["software"].items())],
             ["Written", document["created_at"]]]
    sizes = [["stratum", "N", "n"]] + [[s, v["N"], v["n"]] for s, v in design["sizes"].items()]
    formulas = [["what", "formula", "source"]] + [[f["what"], f["formula"], f["source"]]
                                                  for f in document["method"]["formulas"]]
    return {"headline": headline, "strata": strata, "check": check, "facts": facts, "sizes": sizes,
            "formulas": formulas}


def _money(value: Any) -> str:
    return dollars(value)


def _show(key: str, value: Any) -> str:
    """A figure as the page shows it: dollars with cents, precision as a percent."""
    if value is None:
        return "—"
    if key == "precision":
        return f"±{100 * value:.2f}%"
    if key in MONEY_KEYS:
        return _money(value)
    if key == "degrees_of_freedom":
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    return _money(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _html(document: dict[str, Any]) -> str:
    tables = _rows(document)
    keys = [*RESULT_KEYS, "degrees_of_freedom"]
    headline = [[label, _show(key, value)] for key, (label, value) in zip(keys, tables["headline"], strict=True)]
    strata = [["Stratum", *(SHORT.get(k, k) for k in keys)]] + [
        [row[0], *(_show(k, v) for k, v in zip(keys, row[1:], strict=True))] for row in tables["strata"][1:]]
    check = [tables["check"][0]] + [[row[0], *(_cell_text(v) for v in row[1:])] for row in tables["check"][1:]]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(TEMPLATE).render(
        headline=headline, strata=strata, check=check, facts=[[k, str(v)] for k, v in tables["facts"]],
        sizes=tables["sizes"], formulas=tables["formulas"], overall=document["overall"],
        lower=_money(document["overall"]["lower_limit_90_two_sided"]),
        one_sided=_money(document["overall"]["lower_limit_90_one_sided"]),
        estimate=_money(document["overall"]["point_estimate"]),
        numeric=lambda loop: markupsafe.Markup("" if loop.first else ' class="n"'))


def _workbook(path: Path, document: dict[str, Any], reviewed: pd.DataFrame) -> None:
    tables = _rows(document)
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    percent = book.add_format({"num_format": "0.00%"})
    sheet = book.add_worksheet("Extrapolation")
    sheet.set_column(0, 0, 44)
    sheet.set_column(1, 2, 30)
    sheet.write(0, 0, "nmr-audit extrapolation of the reviewed overpayment", bold)
    row = 2
    for (label, value), key in zip(tables["headline"], [*RESULT_KEYS, "degrees_of_freedom"], strict=True):
        fmt = percent if key == "precision" else money if key in MONEY_KEYS else None
        sheet.write(row, 0, label)
        _write(sheet, row, 1, value, fmt)
        row += 1
    row += 1
    sheet.write(row, 0, "Automated review: dollars at risk", bold)
    for cells in tables["check"]:
        row += 1
        for col, value in enumerate(cells):
            _write(sheet, row, col, value, money if isinstance(value, float) else None)
    row += 2
    sheet.write(row, 0, "Design", bold)
    for label, value in tables["facts"]:
        row += 1
        sheet.write(row, 0, label)
        _write(sheet, row, 1, value, None)
    _table(book.add_worksheet("Strata"), tables["strata"], bold, money, percent)
    _table(book.add_worksheet("Sizes"), tables["sizes"], bold, money, percent)
    shown = defuse_frame(reviewed)
    cells = shown.astype(object).where(shown.notna(), None).to_numpy().tolist()
    _table(book.add_worksheet("Reviewed units"), [list(shown.columns), *cells], bold, money, percent)
    _table(book.add_worksheet("Formulas"), tables["formulas"], bold, money, percent)
    book.close()


def _table(sheet: Any, rows: list[list[Any]], bold: Any, money: Any, percent: Any) -> None:
    header = [str(h) for h in rows[0]]
    for col, name in enumerate(header):
        sheet.set_column(col, col, max(12, min(48, len(name) + 4)))
    sheet.write_row(0, 0, header, bold)
    sheet.freeze_panes(1, 1)
    for number, cells in enumerate(rows[1:], start=1):
        for col, value in enumerate(cells):
            name = header[col] if col < len(header) else ""
            fmt = percent if name == "precision" else money if (name in MONEY_KEYS or "amount" in name
                                                               or name == "dollars_at_risk") else None
            _write(sheet, number, col, value, fmt)


def _write(sheet: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None:
        return
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        value = "'" + value
    if isinstance(value, int | float):
        sheet.write_number(row, col, value, fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>nmr-audit extrapolation</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:0.3rem 0.6rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.headline{font-size:1.2rem}
code{font-size:0.9rem;word-break:break-all}
</style></head><body>
<h1>Extrapolated overpayment</h1>
<p class="headline">Point estimate <strong>{{ estimate }}</strong>; lower limit of the two-sided 90% interval
<strong>{{ lower }}</strong> (OIG); lower limit of the one-sided 90% interval <strong>{{ one_sided }}</strong>
(Medicare Program Integrity Manual ch. 8 §8.4.5.1).</p>
<h2>Overall</h2>
<table>{% for label, value in headline %}<tr><th>{{ label }}</th><td class="n">{{ value }}</td></tr>{% endfor %}</table>
<h2>By stratum</h2>
<table><tr>{% for h in strata[0] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in strata[1:] %}<tr>{% for v in row %}<td{{ numeric(loop) }}>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>
<h2>The automated review, estimated from the sample beside its exact total</h2>
<p>The dollars at risk the automated review put on each sampled unit, extrapolated with the same estimator,
against their exact total over the whole frame: the sampling error, seen against a figure known exactly.</p>
<table><tr>{% for h in check[0] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in check[1:] %}<tr>{% for v in row %}<td{{ numeric(loop) }}>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>
<h2>Design: method, seed, frame and sizes</h2>
<table>{% for label, value in facts %}<tr><th>{{ label }}</th><td><code>{{ value }}</code></td></tr>{% endfor %}</table>
<table><tr>{% for h in sizes[0] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in sizes[1:] %}<tr>{% for v in row %}<td{{ numeric(loop) }}>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>
<h2>Formulas</h2>
<table><tr>{% for h in formulas[0] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in formulas[1:] %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>
<p>y_hi: the reviewer's overpaid amount for unit i of stratum h (dollars); N_h, n_h: units in the frame and in
the sample. A lower limit below $0 is shown as computed. See docs/consulting.md.</p>
</body></html>
"""
