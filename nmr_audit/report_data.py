"""The numbers and tables of the people-facing reports, computed once for HTML and Excel.

Money is counted per claim line first (the largest amount any finding puts on the line), then
summed by clinic, provider, payer or month, so every breakdown adds up to the headline. Each
rule's own dollars count every line the rule touches, so the per-rule figures add up to more
than the headline where a line has findings of several rules: `ReportData.overlap` says by how
much and on how many lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import RULES, VISIT_KEY
from nmr_audit.keys import group_numbers, keys_in
from nmr_audit.names import Names, with_names
from nmr_audit.rule_catalogue import CATALOGUE_COLUMNS, rule_catalogue
from nmr_audit.since_last_night import SinceLastNight
from nmr_audit.sizes import WORKBOOK_ROWS
from nmr_audit.summary import checked_excess

TOP_PROVIDERS = 15
UNREADABLE_RULE = "FIELD_UNREADABLE"
UNRECORDED_FILE = "(file not recorded)"
LINEAGE_KEYS = {"claim_lines": ["claim_id", "line_number"], "visit_notes": ["note_id"]}  # what a finding names
CELL_CHARS = 200  # a quarantined row's cell shown in the reports, cut past this with a marker
# Findings about units: they link to their visit's explanation in both reports (issue 19).
UNIT_RULES = frozenset(r.rule_id for r in RULES if r.unit_check) | {"MISSING_ASSISTANT_MODIFIER"}
VISIT_FACTS = ("clinic_id", "payer_type", "rule_basis", "note_id", "total_timed_minutes", "minutes_97112",
               "billed_units_97112", "supported_units_97112", "excess_units_97112", "explanation",
               "note_quarantined")


@dataclass(frozen=True)
class ReportData:
    """Every figure and table of report.html and report.xlsx (none holds a patient id except
    `quarantine`'s cells, which the caller masks or withholds)."""

    headline: dict[str, Any]
    by_rule: pd.DataFrame  # rule_id, severity, findings, dollars_at_risk, meaning, fix, source
    by_clinic: pd.DataFrame  # clinic_id, clinic_name, findings, dollars_at_risk, visits, excess_units_97112
    by_provider: pd.DataFrame  # rendering_npi, provider_name, clinic_id, clinic_name, findings, dollars_at_risk
    by_payer: pd.DataFrame  # payer_type, findings, dollars_at_risk
    trend: pd.DataFrame  # month (YYYY-MM), findings, dollars_at_risk
    by_clinic_and_rule: pd.DataFrame  # clinic_id, clinic_name, rule_id, findings, dollars_at_risk (the rule's own)
    overlap: dict[str, Any] = field(default_factory=dict)  # per-rule dollar sum against the headline
    rules: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(CATALOGUE_COLUMNS)))
    visit_groups: pd.DataFrame = field(default_factory=pd.DataFrame)  # visit (number), VISIT_FACTS, findings, dollars
    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)  # table, source_file, source_row, reason, cells
    quarantine_total: int = 0  # rows quarantined; `quarantine` holds the first QUARANTINE_SHOWN
    quarantine_by_file: pd.DataFrame = field(default_factory=pd.DataFrame)  # table, source_file, reason, rows
    unreadable: pd.DataFrame = field(default_factory=pd.DataFrame)  # source_file, column, fields
    names: Names = field(default_factory=Names)
    since_last_night: SinceLastNight | None = None  # a nightly run against the root's previous run
    explanations: pd.Series = field(default_factory=lambda: pd.Series(dtype="str"))  # per finding (by position)
    # a run given remittances (`--remits`): what the payers did, and the weights learnt from it
    remits: dict[str, Any] | None = None  # summary.json's `remits` (outcomes, unmatched by reason)
    unmatched_remits: pd.DataFrame = field(default_factory=pd.DataFrame)  # 835 service lines no claim line matched
    learnt: pd.DataFrame = field(default_factory=pd.DataFrame)  # `denial.learnt_weights`, one row per rule


def build_report_data(summary: dict[str, Any], visits: pd.DataFrame, findings: pd.DataFrame,
                      claims_audited: int, rules: pd.DataFrame | None = None,
                      quarantine: pd.DataFrame | None = None, names: Names | None = None,
                      lineage: dict[str, pd.DataFrame] | None = None,
                      quarantine_shown: int = WORKBOOK_ROWS,
                      since_last_night: SinceLastNight | None = None, remits: Any = None,
                      learnt: pd.DataFrame | None = None, listed: pd.DataFrame | None = None) -> ReportData:
    """The reports' numbers from a run's `visits` (visits.parquet) and `findings`
    (findings.parquet, raw: not masked). `listed`: the visits the reports list
    (`io.report_xlsx.visits_listed`: every visit with a finding among them) with their
    `explanation`, where `visits` lacks it (a large run keeps its explanations on disk:
    `runtime.visit_parts`); default `visits`.

    `rules` is the rule catalogue (`rule_id, severity, meaning, fix, source`; default
    `rule_catalogue()`), `quarantine` the run's quarantine (`table, source_file, source_row,
    reason, record`), `names` provider and clinic names, `lineage` each canonical table's keys
    with `source_file` (claim lines: claim_id, line_number; notes: note_id), used to place a
    FIELD_UNREADABLE finding in its file; the first `quarantine_shown` quarantined rows get
    their cells read out for the reports. `since_last_night`: a nightly run's comparison with
    the root's previous run (`nmr_audit.since_last_night`; None for a plain audit, whose
    reports have no such section). `remits` (`nmr_audit.remits.Remittances`) and `learnt`
    (`denial.learnt_weights`): a run given remittances; its reports show the outcomes, the
    unmatched 835 service lines and the learnt weights beside the defaults. Dollars are US
    dollars, rounded to cents.
    """
    names = names or Names()
    rules = rule_catalogue() if rules is None else rules
    quarantine = quarantine if quarantine is not None else pd.DataFrame(
        columns=["table", "source_file", "source_row", "reason", "record"])
    money = line_money(findings)
    by_rule = _by_rule(findings, rules)
    top = headline(summary, visits, findings, claims_audited)
    return ReportData(
        headline=top,
        by_rule=by_rule,
        by_clinic=with_names(_by(findings, money, ["clinic_id"]).merge(_visit_counts(visits), on="clinic_id",
                                                                       how="left"), names),
        by_provider=with_names(_by(findings, money, ["rendering_npi", "clinic_id"]).head(TOP_PROVIDERS), names),
        by_payer=_by(findings, money, ["payer_type"]),
        trend=_trend(findings, money),
        by_clinic_and_rule=with_names(_by_clinic_and_rule(findings), names),
        overlap=_overlap(findings, by_rule, top["dollars_at_risk"]),
        rules=rules[rules["rule_id"].isin(findings["rule_id"].unique())].set_index("rule_id")
        .reindex(by_rule["rule_id"].unique()).reset_index(),
        visit_groups=visit_groups(findings, visits if listed is None else listed),
        explanations=finding_explanations(findings, visits if listed is None else listed),
        quarantine=quarantine_rows(quarantine, quarantine_shown),
        quarantine_total=len(quarantine),
        quarantine_by_file=_quarantine_by_file(quarantine),
        unreadable=unreadable_fields(findings, lineage or {}),
        names=names,
        since_last_night=since_last_night,
        remits=summary.get("remits") if remits is not None else None,
        unmatched_remits=remits.unmatched if remits is not None else pd.DataFrame(),
        learnt=learnt if learnt is not None else pd.DataFrame(),
    )


def line_money(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per claim line with money at risk: the largest amount of its findings."""
    columns = ["claim_id", "line_number", "clinic_id", "rendering_npi", "payer_type", "date_of_service"]
    keyed = findings.loc[findings["claim_id"].notna(), [*columns, "dollars_at_risk"]]  # not the messages (10M: 0.9 GiB)
    keyed = keyed.assign(dollars=keyed["dollars_at_risk"].astype("float64").fillna(0))
    top = keyed.sort_values("dollars", ascending=False, kind="stable").drop_duplicates(["claim_id", "line_number"])
    return top[[*columns, "dollars"]]


def headline(summary: dict[str, Any], visits: pd.DataFrame, findings: pd.DataFrame, claims_audited: int
             ) -> dict[str, Any]:
    flagged = int(keys_in(visits, findings[findings["severity"] == "high"], list(VISIT_KEY)).sum())
    totals = summary["totals"]
    return {
        "claims_audited": claims_audited,
        "claim_lines_audited": totals.get("claim_lines", {}).get("rows_audited", 0),
        "notes_audited": totals.get("visit_notes", {}).get("rows_audited", 0),
        "visits_97112": len(visits),
        "units_97112_billed": int(visits["billed_units_97112"].sum()),
        "units_97112_supported": int(visits["supported_units_97112"].sum()),
        "excess_units_97112": int(checked_excess(visits).sum()),
        "dollars_at_risk": summary["findings"]["dollars_at_risk"],
        "findings": len(findings),
        "share_of_visits_with_high_finding": round(flagged / len(visits), 4) if len(visits) else 0.0,
        "rows_quarantined": sum(t.get("rows_quarantined", 0) for t in totals.values()),
    }


def visit_number(findings: pd.DataFrame) -> np.ndarray:
    """A number per finding naming its visit (patient, date, rendering NPI; missing values
    included), the same for every finding of one visit. Computed on the raw findings, it
    survives patient-id masking as a plain column (on findings without some key column, the
    columns they have)."""
    columns = [c for c in VISIT_KEY if c in findings.columns]
    if findings.empty or not columns:
        return np.zeros(len(findings), dtype="int64")
    return group_numbers(findings, columns)


def visit_groups(findings: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    """One row per visit with findings, most money first: `visit` (as `visit_number`), the
    visit's facts from visits.parquet (`VISIT_FACTS`; `explanation` where visits.parquet has
    it, else empty), `findings`, `rules` (ids, most severe first) and `dollars_at_risk` (each
    claim line once). No patient id: the reports show the finding rows' own (masked) ids."""
    columns = ["visit", *VISIT_FACTS, "findings", "rules", "dollars_at_risk"]
    if findings.empty:
        return pd.DataFrame(columns=columns)
    read = (*VISIT_KEY, "claim_id", "line_number", "rule_id", "severity", "dollars_at_risk", "clinic_id")
    findings = findings[[c for c in read if c in findings.columns]]  # sorted twice below: only what is read
    numbered = findings.assign(visit=visit_number(findings),
                               dollars=findings["dollars_at_risk"].astype("float64").fillna(0))
    per_line = numbered.sort_values("dollars", ascending=False, kind="stable").drop_duplicates(
        ["visit", "claim_id", "line_number"])
    dollars = per_line.groupby("visit")["dollars"].sum().round(2)
    ordered = numbered.assign(rank=severity_rank(numbered["severity"])).sort_values(["visit", "rank"], kind="stable")
    distinct = ordered.drop_duplicates(["visit", "rule_id"])
    per_visit = ordered.groupby("visit", sort=True).agg(findings=("rule_id", "size"),
                                                        **{k: (k, "first") for k in VISIT_KEY})
    per_visit["rules"] = joined(distinct["visit"].to_numpy(), distinct["rule_id"], ", ").reindex(per_visit.index)
    found = visits[keys_in(visits, findings, list(VISIT_KEY))]  # the visits with findings, before any copy
    facts = found[[*VISIT_KEY, *[c for c in VISIT_FACTS if c in visits.columns]]].drop_duplicates(list(VISIT_KEY))
    table = per_visit.reset_index().merge(facts, on=list(VISIT_KEY), how="left", suffixes=("", "_visit"))
    table = table.assign(dollars_at_risk=table["visit"].map(dollars).fillna(0.0))
    for column in VISIT_FACTS:
        if column not in table.columns:
            table[column] = pd.Series(pd.NA, index=table.index, dtype="str")
    if "clinic_id" in findings.columns:
        table["clinic_id"] = table["clinic_id"].fillna(table["visit"].map(
            numbered.groupby("visit")["clinic_id"].first()))
    table = table.sort_values(["dollars_at_risk", "findings", "visit"], ascending=[False, False, True],
                              kind="stable")
    return table[columns].reset_index(drop=True)


def finding_explanations(findings: pd.DataFrame, visits: pd.DataFrame) -> pd.Series:
    """Per finding (aligned with `findings`, raw: not masked), its visit's `explanation` when the
    finding is about units (`UNIT_RULES`) and visits.parquet explains that visit; else missing."""
    blank = pd.Series(pd.NA, index=findings.index, dtype="str")
    if findings.empty or "explanation" not in visits.columns or not set(VISIT_KEY) <= set(findings.columns):
        return blank
    about_units = findings["rule_id"].isin(list(UNIT_RULES)).to_numpy()
    if not about_units.any():
        return blank
    wanted = findings.loc[about_units, list(VISIT_KEY)].reset_index(drop=True)
    explained = visits.loc[keys_in(visits, wanted, list(VISIT_KEY)), [*VISIT_KEY, "explanation"]]
    said = wanted.merge(explained.drop_duplicates(list(VISIT_KEY)), on=list(VISIT_KEY), how="left")["explanation"]
    blank.iloc[np.flatnonzero(about_units)] = said.to_numpy()
    return blank


def severity_rank(severity: pd.Series) -> np.ndarray:
    """0 for high, 1 medium, 2 low, 3 info, 4 anything else: most severe first when sorted."""
    return severity.map({"high": 0, "medium": 1, "low": 2, "info": 3}).fillna(4).to_numpy("int64")


def joined(groups: np.ndarray, texts: pd.Series, separator: str) -> pd.Series:
    """Each group's texts joined in the order given, indexed by group (Arrow's ordered list
    aggregation: a Python join per group costs seconds for hundreds of thousands of groups)."""
    if len(groups) == 0:
        return pd.Series(dtype="str")
    table = pa.table({"group": pa.array(groups), "text": pa.array(texts.astype("str"), type=pa.string())})
    lists = table.group_by("group", use_threads=False).aggregate([("text", "list")])
    return pd.Series(pc.binary_join(lists["text_list"], separator), index=pd.Index(lists["group"]), dtype="str")


def quarantine_rows(quarantine: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """The quarantine as people read it, by table, file and line (the first `limit` rows):
    `table, source_file, source_row, reason, cells`, where `cells` is the row's cells as read,
    `column: value` joined by ' · ', each value cut past `CELL_CHARS` characters with a marker
    (escaping and formula-defusing are the writers' job)."""
    columns = ["table", "source_file", "source_row", "reason", "cells"]
    if quarantine.empty:
        return pd.DataFrame(columns=columns)
    ordered = quarantine.sort_values(["table", "source_file", "source_row"], kind="stable")
    if limit is not None:
        ordered = ordered.head(limit)  # each shown row's JSON is read in Python: only those
    return ordered.assign(cells=ordered["record"].map(_cells_text))[columns].reset_index(drop=True)


def _cells_text(record: Any) -> str:
    if record is None or (isinstance(record, float) and np.isnan(record)):
        return ""
    try:
        cells = json.loads(record)
    except (TypeError, ValueError):
        return _cut(str(record))
    if not isinstance(cells, dict):
        return _cut(str(cells))
    return " · ".join(f"{name}: {_cut('' if value is None else str(value))}" for name, value in cells.items())


def _cut(text: str) -> str:
    if len(text) <= CELL_CHARS:
        return text
    return f"{text[:CELL_CHARS]}… [{len(text) - CELL_CHARS:,} more characters]"


def _quarantine_by_file(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rows quarantined per table, file and reason (the reason without the row's value)."""
    if quarantine.empty:
        return pd.DataFrame(columns=["table", "source_file", "reason", "rows"])
    kind = quarantine["reason"].astype("str").str.replace(r"'[^']*'", "…", regex=True)
    return (quarantine.assign(reason=kind).groupby(["table", "source_file", "reason"]).size().rename("rows")
            .reset_index().sort_values(["rows", "table", "source_file"], ascending=[False, True, True],
                                       kind="stable").reset_index(drop=True))


def unreadable_fields(findings: pd.DataFrame, lineage: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Unreadable optional values by file and column: `source_file, column, fields`, from the
    FIELD_UNREADABLE findings (none when the run has no such rule). The file is the finding's
    own `source_file` where it has one, else the file its claim line (`lineage['claim_lines']`:
    claim_id, line_number, source_file) or its note (`lineage['visit_notes']`: note_id,
    source_file) came from."""
    columns = ["source_file", "column", "fields"]
    found = findings[findings["rule_id"] == UNREADABLE_RULE]
    if found.empty:
        return pd.DataFrame(columns=columns)
    where = pd.Series(pd.NA, index=found.index, dtype="str")
    if "source_file" in found.columns:
        where = found["source_file"].astype("str")
    for table in ("visit_notes", "claim_lines"):
        where = where.fillna(_files_of(found, lineage.get(table), LINEAGE_KEYS[table]))
    column = found["field"].astype("str") if "field" in found.columns else pd.Series("", index=found.index)
    table = pd.DataFrame({"source_file": where.fillna(UNRECORDED_FILE), "column": column.fillna("(not named)")})
    return (table.groupby(["source_file", "column"]).size().rename("fields").reset_index()
            .sort_values(["fields", "source_file", "column"], ascending=[False, True, True], kind="stable")
            .reset_index(drop=True))


def unreadable_keys(findings: pd.DataFrame, table: str) -> tuple[str, np.ndarray]:
    """What `unreadable_fields` looks up in an intake's keys of `table` (claim lines or visit
    notes): the key column and its values that FIELD_UNREADABLE findings name. A run that put
    its keys aside reads back only these rows (`TableIntake.keys_named`)."""
    key = LINEAGE_KEYS[table][0]
    found = findings[findings["rule_id"] == UNREADABLE_RULE]
    if found.empty or key not in found.columns:
        return key, np.zeros(0, dtype="object")
    return key, found[key].dropna().astype("str").drop_duplicates().to_numpy(dtype=object)


def _files_of(found: pd.DataFrame, keys: pd.DataFrame | None, key: list[str]) -> pd.Series:
    """Per finding (aligned with `found`), the `source_file` of the row whose `key` it names in
    `keys` (an intake's keys with source_file, as read), missing where none does. Only the keys
    the findings name are looked up, not every row of the run."""
    if keys is None or not set(key) <= set(found.columns):
        return pd.Series(pd.NA, index=found.index, dtype="str")
    named = keys[keys[key[0]].isin(found[key[0]].dropna().unique())].drop_duplicates(key)
    numbers = {c: "Int64" for c in key if c == "line_number"}
    placed = found[key].astype(numbers).merge(named[[*key, "source_file"]].astype({**numbers, "source_file": "str"}),
                                              on=key, how="left")
    return pd.Series(placed["source_file"].to_numpy(), index=found.index, dtype="str")


def _by(findings: pd.DataFrame, money: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    counts = findings.groupby(keys, dropna=False).size().rename("findings")
    dollars = money.groupby(keys, dropna=False)["dollars"].sum().round(2).rename("dollars_at_risk")
    # every line with money has a finding: keep the findings' groups (an empty money frame's
    # groupby can still yield a stray all-missing key)
    table = pd.concat([counts, dollars.reindex(counts.index)], axis=1).fillna({"dollars_at_risk": 0.0}).reset_index()
    return table.sort_values(["dollars_at_risk", "findings"], ascending=False, kind="stable").reset_index(drop=True)


def _by_rule(findings: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Each rule's findings and its own dollars at risk (rules overlap on lines: these do not
    add up to the headline), with what the rule means and what to fix."""
    table = findings.groupby(["rule_id", "severity"]).agg(
        findings=("finding_id", "size"), dollars_at_risk=("dollars_at_risk", lambda d: round(float(d.sum()), 2)))
    table = table.reset_index().sort_values(["findings", "rule_id"], ascending=[False, True]).reset_index(drop=True)
    text = rules.drop_duplicates("rule_id").set_index("rule_id")
    return table.assign(**{c: table["rule_id"].map(text[c]).astype("str") for c in ("meaning", "fix", "source")})


def _overlap(findings: pd.DataFrame, by_rule: pd.DataFrame, headline_dollars: float) -> dict[str, Any]:
    """How far the rules' own dollars exceed the headline, and why: lines with money from more
    than one rule count once in the headline (at their largest amount) and once per rule here."""
    per_rule = round(float(by_rule["dollars_at_risk"].sum()), 2) if len(by_rule) else 0.0
    priced = findings[findings["claim_id"].notna() & (findings["dollars_at_risk"].astype("float64").fillna(0) > 0)]
    rules_per_line = priced.groupby(["claim_id", "line_number"], dropna=False)["rule_id"].nunique()
    return {"per_rule_dollars": per_rule, "headline_dollars": round(float(headline_dollars), 2),
            "difference": round(per_rule - float(headline_dollars), 2),
            "lines_with_several_rules": int((rules_per_line > 1).sum())}


def _by_clinic_and_rule(findings: pd.DataFrame) -> pd.DataFrame:
    """Per clinic and rule: findings and the rule's own dollars at risk."""
    if findings.empty:
        return pd.DataFrame(columns=["clinic_id", "rule_id", "severity", "findings", "dollars_at_risk"])
    dollars = findings["dollars_at_risk"].astype("float64").fillna(0)
    table = findings.assign(dollars=dollars).groupby(["clinic_id", "rule_id", "severity"], dropna=False).agg(
        findings=("rule_id", "size"), dollars_at_risk=("dollars", "sum")).reset_index()
    return table.assign(dollars_at_risk=table["dollars_at_risk"].round(2)).sort_values(
        ["clinic_id", "dollars_at_risk", "findings"], ascending=[True, False, False], kind="stable"
    ).reset_index(drop=True)


def _visit_counts(visits: pd.DataFrame) -> pd.DataFrame:
    checked = pd.DataFrame({"clinic_id": visits["clinic_id"], "excess_units_97112": checked_excess(visits)})
    return checked.groupby("clinic_id").agg(visits=("excess_units_97112", "size"),
                                            excess_units_97112=("excess_units_97112", "sum")).reset_index()


def _trend(findings: pd.DataFrame, money: pd.DataFrame) -> pd.DataFrame:
    month = findings["date_of_service"].dt.to_period("M").astype("str")
    counts = findings.groupby(month).size().rename("findings")
    dollars = money.groupby(money["date_of_service"].dt.to_period("M").astype("str"))["dollars"].sum().round(2)
    table = pd.concat([counts, dollars.rename("dollars_at_risk")], axis=1).fillna(0.0)
    return table.rename_axis("month").reset_index().sort_values("month").reset_index(drop=True)
