"""The sampling frame: every unit of the universe a consultant may sample, from a run's outputs.

A *sample unit* is a claim, a claim line or a patient-day (a beneficiary-day in OIG's words).
The frame has one row per unit that has at least one claim line in the run, with what the unit
was charged (and paid, where a remittance exists), the automated review's dollars at risk on it
(each claim line counted once, at the largest amount any finding puts on it, as `summary.json`
counts them), and its costliest finding's rule. Strata are assigned here too; the draw is in
`nmr_audit.consult.sample`.

The frame's SHA-256 is taken over a canonical text form of its rows (`canonical_text`), so
that it does not depend on how a Parquet writer lays out the file: anyone can recompute it from
`frame.parquet` with the recipe in `docs/consulting.md`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import SEVERITIES
from nmr_audit.findings import dollars_per_line
from nmr_audit.keys import group_numbers, in_order, positions
from nmr_audit.parse import arrow_text

UNITS = ("claim", "line", "patient-day")
STRATIFY = ("amount", "clinic", "rule")
NO_FINDING = "no finding"
ALL_UNITS = "all"
AMOUNT_UNKNOWN = "amount unknown"
NO_CLINIC = "no clinic"

# frame.parquet's columns, in the order the canonical text lists them.
FRAME_COLUMNS = {
    "sample_unit_id": "str",
    "stratum": "str",
    "claim_lines": "int64",
    "clinic_id": "str",
    "charge_amount": "float64",
    "paid_amount": "float64",
    "amount": "float64",
    "amount_basis": "str",
    "dollars_at_risk": "float64",
    "findings": "int64",
    "costliest_rule": "str",
}
MONEY_COLUMNS = ("charge_amount", "paid_amount", "amount", "dollars_at_risk")


@dataclass(frozen=True)
class SamplingFrame:
    """The frame (`FRAME_COLUMNS`, one row per unit, ordered by `sample_unit_id`) and what the
    run holds outside it: findings that no unit of the frame carries (a note's finding with no
    claim line, or a claim-level finding when the unit is a line), and their dollars."""

    units: pd.DataFrame
    unit: str
    findings_outside: int
    dollars_outside: float
    paid_from_remits: bool


def unit_ids(rows: pd.DataFrame, unit: str) -> pd.Series:
    """The sample unit id of each row of claim lines or findings (text; missing where the row
    names no such unit).

    claim: `claim_id`; line: `claim_id:line_number`; patient-day: `patient_id|YYYY-MM-DD`. The
    last part has a fixed form, so an id splits back unambiguously from the right.
    Raises ValueError for an unknown unit.
    """
    if unit == "claim":
        return rows["claim_id"].astype("str")
    if unit == "line":
        line = rows["line_number"].astype("Int64").astype("str")
        return rows["claim_id"].astype("str") + ":" + line
    if unit == "patient-day":
        day = pd.to_datetime(rows["date_of_service"]).dt.strftime("%Y-%m-%d").astype("str")
        return rows["patient_id"].astype("str").str.strip() + "|" + day
    raise ValueError(f"unknown sample unit {unit!r}; use one of {', '.join(UNITS)}")


def build_frame(claim_lines: pd.DataFrame, findings: pd.DataFrame, unit: str,
                paid: pd.DataFrame | None = None) -> SamplingFrame:
    """The sampling frame of `unit` over a run's canonical claim lines and findings.

    claim_lines: `claim_id, line_number, patient_id, date_of_service, clinic_id` and, where the
    export had it, `charge_amount` (dollars). findings: the contract's findings table.
    paid: one row per remitted claim line, `claim_id, line_number, paid_amount` (dollars), or
    None when the run has no remittances.

    Per unit: `charge_amount` and `paid_amount` are sums over its lines (missing where no line
    has one); `amount` — the ceiling of a reviewer's overpaid amount and the amount strata are
    cut on — is, line by line, what was paid where the line was remitted, else its charge
    (missing when a line has neither); `amount_basis` says which (`paid`, `charge`,
    `paid+charge`, `unknown`). `dollars_at_risk` sums, over the unit's lines, the largest amount
    any finding puts on the line; `costliest_rule` is the rule of the unit's finding with the
    most dollars (ties: the more severe, then the rule id), `no finding` where it has none.
    Amounts are rounded to cents. The input frames are not changed.
    """
    lines = _line_amounts(claim_lines, paid)
    lines = lines.assign(sample_unit_id=unit_ids(lines, unit).to_numpy())
    lines = in_order(lines, ["sample_unit_id", "claim_id", "line_number"])
    ids = lines["sample_unit_id"].to_numpy(dtype=object)
    starts = np.ones(len(lines), dtype=bool)
    starts[1:] = ids[1:] != ids[:-1]
    number = np.cumsum(starts) - 1  # the unit of each line, 0, 1, … in id order
    count = int(number[-1]) + 1 if len(lines) else 0
    size = np.bincount(number, minlength=count)
    charge, paid_line, line_amount = (lines[c].to_numpy(dtype="float64") for c in ("charge", "paid", "line_amount"))
    known = np.bincount(number, weights=~np.isnan(line_amount), minlength=count)
    paid_lines = np.bincount(number, weights=~np.isnan(paid_line), minlength=count)
    units = pd.DataFrame({
        "sample_unit_id": lines["sample_unit_id"].to_numpy()[starts],
        "claim_lines": size,
        "clinic_id": lines["clinic_id"].to_numpy()[starts],
        "charge_amount": _sum(charge, number, count),
        "paid_amount": _sum(paid_line, number, count),
        "amount": np.where(known == size, _sum(line_amount, number, count), np.nan),
        "amount_basis": np.select([known < size, paid_lines == size, paid_lines == 0],
                                  ["unknown", "paid", "charge"], "paid+charge"),
    })

    found = findings.assign(sample_unit_id=unit_ids(findings, unit).to_numpy())
    position = positions(found["sample_unit_id"], units["sample_unit_id"])  # −1: outside the frame
    inside = position >= 0
    on_lines = inside & found["claim_id"].notna().to_numpy()
    line_key = group_numbers(found[on_lines].assign(line=found["line_number"][on_lines].fillna(0).to_numpy()),
                             ["claim_id", "line"]) if on_lines.any() else np.array([], dtype="int64")
    per_line = (pd.DataFrame({"key": line_key, "unit": position[on_lines],
                              "dollars": found["dollars_at_risk"][on_lines].astype("float64").fillna(0.0).to_numpy()})
                .groupby("key", sort=False).agg(dollars=("dollars", "max"), unit=("unit", "first")))
    costliest = np.full(count, NO_FINDING, dtype=object)
    ranked = _costliest_rule(found[inside].assign(unit=position[inside]))
    costliest[ranked["unit"].to_numpy()] = ranked["rule_id"].to_numpy()
    units = units.assign(
        dollars_at_risk=np.bincount(per_line["unit"].to_numpy(), weights=per_line["dollars"].to_numpy(), minlength=count),
        findings=np.bincount(position[inside], minlength=count).astype("int64"),
        costliest_rule=costliest,
        stratum=ALL_UNITS,
    )
    outside = found[~inside]
    for column in MONEY_COLUMNS:
        units[column] = units[column].astype("float64").round(2) + 0.0  # no -0.00
    return SamplingFrame(
        units=units[list(FRAME_COLUMNS)].astype(FRAME_COLUMNS),
        unit=unit,
        findings_outside=len(outside),
        dollars_outside=round(float(dollars_per_line(outside).sum()), 2) if len(outside) else 0.0,
        paid_from_remits=paid is not None,
    )


def _line_amounts(claim_lines: pd.DataFrame, paid: pd.DataFrame | None) -> pd.DataFrame:
    keep = ["claim_id", "line_number", "patient_id", "date_of_service", "clinic_id"]
    lines = claim_lines[keep].copy()
    lines["charge"] = (pd.to_numeric(claim_lines["charge_amount"], errors="coerce").astype("float64")
                       if "charge_amount" in claim_lines.columns else np.nan)
    if paid is not None and len(paid):
        per_line = (paid[["claim_id", "line_number", "paid_amount"]]
                    .astype({"claim_id": "str", "line_number": "int64", "paid_amount": "float64"})
                    .groupby(["claim_id", "line_number"], as_index=False)["paid_amount"].first())
        lines = lines.astype({"claim_id": "str", "line_number": "int64"}).merge(
            per_line, on=["claim_id", "line_number"], how="left")
        lines["paid"] = lines.pop("paid_amount")
    else:
        lines["paid"] = np.nan
    lines["line_amount"] = lines["paid"].fillna(lines["charge"])
    return lines


def _costliest_rule(found: pd.DataFrame) -> pd.DataFrame:
    """Per unit (`unit`: its number), the rule of its finding with the most dollars (the more
    severe, then the lower rule id on ties): `unit, rule_id`."""
    rank = found["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).fillna(-1).astype("int64")
    ranked = found[["unit", "rule_id"]].assign(
        minus_dollars=-found["dollars_at_risk"].astype("float64").fillna(0.0).to_numpy(), minus_rank=-rank.to_numpy())
    ranked = in_order(ranked, ["unit", "minus_dollars", "minus_rank", "rule_id"])
    return ranked.drop_duplicates("unit")[["unit", "rule_id"]]


def _sum(values: np.ndarray, number: np.ndarray, count: int) -> np.ndarray:
    """Sum per unit of the lines' values (dollars), missing where no line of the unit has one."""
    present = ~np.isnan(values)
    total = np.bincount(number, weights=np.where(present, values, 0.0), minlength=count)
    return np.where(np.bincount(number, weights=present, minlength=count) > 0, total, np.nan)


@dataclass(frozen=True)
class Strata:
    """Which stratum each unit is in, and the strata in report order with their bounds
    (`lower`, `upper`: dollars, for amount strata; a unit is in a stratum when
    lower < amount ≤ upper, the first stratum's lower bound open)."""

    stratum: pd.Series
    table: pd.DataFrame  # stratum, lower, upper
    method: str


def assign_strata(units: pd.DataFrame, by: str | None, strata: int = 3,
                  boundaries: list[float] | None = None) -> Strata:
    """Strata of the frame `units` (`FRAME_COLUMNS`).

    by: None (unrestricted: one stratum `all`), `clinic` (the unit's clinic), `rule` (the
    unit's costliest finding's rule, or `no finding`) or `amount` (`amount` cut at
    `boundaries`, or, when none are given, at the cumulative √f boundaries of `strata` strata;
    units with no known amount form the stratum `amount unknown`).
    Raises ValueError for an unknown `by`, fewer than 1 stratum, or boundaries not increasing.
    """
    if by is None:
        return Strata(pd.Series(ALL_UNITS, index=units.index, dtype="str"),
                      pd.DataFrame({"stratum": [ALL_UNITS], "lower": [np.nan], "upper": [np.nan]}),
                      "unrestricted: one stratum")
    if by in ("clinic", "rule"):
        column, empty = ("clinic_id", NO_CLINIC) if by == "clinic" else ("costliest_rule", NO_FINDING)
        stratum = units[column].fillna(empty).astype("str")
        names = sorted(set(stratum), key=lambda s: (s == empty, s))
        method = ("by clinic: the clinic of the unit's first claim line" if by == "clinic" else
                  "by rule: the rule of the unit's costliest finding (dollars), or 'no finding'")
        return Strata(stratum, pd.DataFrame({"stratum": names, "lower": np.nan, "upper": np.nan}), method)
    if by != "amount":
        raise ValueError(f"unknown stratification {by!r}; use one of {', '.join(STRATIFY)}")
    known = units["amount"].dropna().to_numpy()
    if boundaries:
        cuts = np.round(np.asarray(boundaries, dtype="float64"), 2)
        if np.any(np.diff(cuts) <= 0):
            raise ValueError("amount boundaries must increase: give them in ascending order, e.g. 100,500")
        method = f"by amount: boundaries given ({', '.join(f'{b:.2f}' for b in cuts)})"
    else:
        if strata < 1:
            raise ValueError("--strata must be at least 1")
        cuts = cumulative_sqrt_f_boundaries(known, strata)
        method = (f"by amount: cumulative √f rule (Dalenius–Hodges) for {strata} strata"
                  + (f", {len(cuts) + 1} possible" if len(cuts) + 1 < strata else ""))
    labels = amount_labels(cuts)
    index = np.searchsorted(cuts, units["amount"].fillna(0).to_numpy(), side="left")
    stratum = pd.Series(np.asarray(labels, dtype=object)[index], index=units.index).astype("str")
    stratum = stratum.where(units["amount"].notna(), AMOUNT_UNKNOWN)
    lower = np.concatenate([[np.nan], cuts])
    upper = np.concatenate([cuts, [np.nan]])
    table = pd.DataFrame({"stratum": labels, "lower": lower, "upper": upper})
    table = table[table["stratum"].isin(set(stratum))]
    if (stratum == AMOUNT_UNKNOWN).any():
        table = pd.concat([table, pd.DataFrame({"stratum": [AMOUNT_UNKNOWN], "lower": [np.nan],
                                                "upper": [np.nan]})], ignore_index=True)
    return Strata(stratum, table.reset_index(drop=True), method)


def amount_labels(cuts: np.ndarray) -> list[str]:
    """`1: up to $84.00`, `2: $84.01 to $250.00`, `3: over $250.00` for cuts (84, 250)."""
    if len(cuts) == 0:
        return ["1: all amounts"]
    labels = [f"1: up to ${cuts[0]:,.2f}"]
    labels += [f"{i + 2}: ${lo + 0.01:,.2f} to ${hi:,.2f}" for i, (lo, hi) in enumerate(pairwise(cuts))]
    return [*labels, f"{len(cuts) + 1}: over ${cuts[-1]:,.2f}"]


def cumulative_sqrt_f_boundaries(amounts: np.ndarray, strata: int, classes: int = 100) -> np.ndarray:
    """Stratum boundaries (dollars, ascending, at most `strata` − 1) by the cumulative √f rule.

    Dalenius and Hodges (1959), as Cochran, *Sampling Techniques* (3rd ed., 1977) §5A.7 gives
    it: group the amounts into classes, cumulate √f over the classes and cut where the
    cumulative total comes nearest to equal steps of it. The class edges are the distinct
    amounts where there are at most `classes` of them, else the 0%, 1/classes, …, 100%
    quantiles, so a long right tail does not crowd every unit into the first class; classes run
    from one edge up to the next (the last includes its upper edge). With classes of unequal
    width Cochran cumulates √(f·d), d the class width, which is done here. A boundary is the
    upper edge of a class, rounded to cents. Fewer boundaries come back when
    the amounts do not support `strata` distinct strata (e.g. too few distinct amounts).
    """
    values = np.sort(np.asarray(amounts, dtype="float64"))
    if strata <= 1 or len(values) == 0:
        return np.array([], dtype="float64")
    distinct = np.unique(values)
    edges = distinct if len(distinct) <= classes else np.unique(np.quantile(values, np.linspace(0.0, 1.0, classes + 1)))
    if len(edges) < 2:
        return np.array([], dtype="float64")
    counts, _ = np.histogram(values, bins=edges)
    cumulative = np.cumsum(np.sqrt(counts * np.diff(edges)))
    steps = cumulative[-1] * np.arange(1, strata) / strata
    chosen = np.unique([int(np.argmin(np.abs(cumulative - step))) for step in steps])
    cuts = np.unique(np.round(edges[chosen + 1], 2))
    return cuts[cuts < values[-1]]


def canonical_text(units: pd.DataFrame) -> str:
    """The frame as text, the form its SHA-256 is taken over.

    UTF-8; a header line of the column names in `FRAME_COLUMNS` order, then one line per unit
    in `sample_unit_id` order (Unicode code points); fields separated by a tab; text with `\\`,
    tab, line feed and carriage return escaped as `\\\\`, `\\t`, `\\n`, `\\r`; whole numbers
    in decimal; dollars with exactly two decimals (`-` before a negative amount); a missing
    value empty; every line ends with a line feed.
    """
    return _canonical_bytes(units).decode("utf-8")


def frame_sha256(units: pd.DataFrame) -> str:
    """SHA-256 (hex) of `canonical_text(units)` encoded as UTF-8."""
    return hashlib.sha256(_canonical_bytes(units)).hexdigest()


def _canonical_bytes(units: pd.DataFrame) -> bytes:
    """`canonical_text` built in Arrow (1M units in about a second): each row's fields joined,
    then the rows' bytes taken straight from the string array's data buffer."""
    header = ("\t".join(FRAME_COLUMNS) + "\n").encode("utf-8")
    if units.empty:
        return header
    ordered = in_order(units[list(FRAME_COLUMNS)], ["sample_unit_id"])
    fields = [_field_text(ordered[column], column) for column in FRAME_COLUMNS]
    rows = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, "\t"), "", "\n")
    rows = rows.cast(pa.large_string())
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset: rows.offset + len(rows) + 1]
    return header + rows.buffers()[2].to_pybytes()[offsets[0]: offsets[-1]]


def _field_text(values: pd.Series, column: str) -> pa.Array:
    if column in MONEY_COLUMNS:
        number = values.to_numpy(dtype="float64")
        missing = np.isnan(number)
        cents = np.round(np.where(missing, 0.0, number) * 100).astype("int64")
        whole, part = np.abs(cents) // 100, np.abs(cents) % 100
        digits = pc.binary_join_element_wise(pc.cast(pa.array(whole), pa.string()),
                                             pc.utf8_lpad(pc.cast(pa.array(part), pa.string()), 2, "0"), ".")
        text = pc.binary_join_element_wise(pa.array(np.where(cents < 0, "-", "")), digits, "")
        return pc.if_else(pa.array(missing), "", text)
    if FRAME_COLUMNS[column] == "int64":
        return pc.cast(pa.array(values.to_numpy(dtype="int64")), pa.string())
    text = arrow_text(values)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = pc.replace_substring(text, raw, escaped)
    return pc.fill_null(text, "")
