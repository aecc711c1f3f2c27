"""The reviewed sample extrapolated to the frame: mean-per-unit estimates with their intervals.

Per stratum h (N_h units in the frame, n_h reviewed, overpaid amounts y_hi in dollars):

- mean ȳ_h = Σ y_hi / n_h; standard deviation s_h (divisor n_h − 1);
- point estimate of the stratum's total T_h = N_h·ȳ_h;
- standard error SE_h = N_h·s_h/√n_h·√(1 − n_h/N_h) (the finite population correction);
- interval on Student's t with n_h − 1 degrees of freedom.

Overall: T = Σ T_h; SE = √Σ SE_h²; mean per unit T/N; degrees of freedom by Satterthwaite
(default) or Σ(n_h − 1) (`--df strata`). An unrestricted sample is one stratum, and both give
n − 1. Sources: Cochran, *Sampling Techniques* (3rd ed., 1977), §2.4–2.5 and §5.2–5.4 (eqs.
5.1, 5.6, 5.16); Satterthwaite (1946), *Biometrics Bulletin* 2:110–114; the domain's
"Sampling and extrapolation" section (OIG's RAT-STATS variable appraisal; Medicare Program
Integrity Manual ch. 8 §8.4.5.1).

Limits: two-sided 90% = T ± t(0.95; df)·SE (OIG reports its lower limit); one-sided 90% lower
limit = T − t(0.90; df)·SE (what Medicare's contractors demand); precision = t(0.95; df)·SE / T
(the half-width of the two-sided interval over the estimate; missing when T is 0). A lower
limit can come out below 0 for a small estimate: it is reported as computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nmr_audit.consult.sample import satterthwaite_df

# extrapolation.json's keys for `overall` and each stratum (contract v1.1), in this order.
RESULT_KEYS = ("n", "N", "mean", "point_estimate", "standard_error", "lower_limit_90_two_sided",
               "upper_limit_90_two_sided", "lower_limit_90_one_sided", "precision")
DF_METHODS = ("satterthwaite", "strata")
CONFIDENCE = 0.90
MONEY_TOLERANCE = 0.005  # half a cent

FORMULAS = (
    ("Stratum mean", "ȳ_h = Σ y_hi / n_h", "Cochran (1977) §2.4"),
    ("Stratum standard deviation", "s_h = √(Σ (y_hi − ȳ_h)² / (n_h − 1))", "Cochran (1977) §2.4"),
    ("Stratum total", "T_h = N_h · ȳ_h", "Cochran (1977) eq. 5.1"),
    ("Stratum standard error", "SE_h = N_h · s_h / √n_h · √(1 − n_h / N_h)",
     "Cochran (1977) §2.5, §5.2 (finite population correction)"),
    ("Total", "T = Σ T_h", "Cochran (1977) eq. 5.1 (the stratified mean-per-unit estimator)"),
    ("Standard error of the total", "SE = √Σ SE_h²", "Cochran (1977) eq. 5.6"),
    ("Degrees of freedom (Satterthwaite)", "df = (Σ a_h)² / Σ (a_h² / (n_h − 1)), a_h = SE_h²",
     "Satterthwaite (1946); Cochran (1977) eq. 5.16"),
    ("Degrees of freedom (strata)", "df = Σ (n_h − 1)", "Cochran (1977) §5.4"),
    ("Two-sided 90% interval", "T ± t(0.95; df) · SE", "OIG / RAT-STATS variable appraisal"),
    ("One-sided 90% lower limit", "T − t(0.90; df) · SE", "Medicare Program Integrity Manual ch. 8 §8.4.5.1"),
    ("Precision", "t(0.95; df) · SE / T", "half-width of the two-sided 90% interval over the estimate"),
)


@dataclass(frozen=True)
class Estimates:
    """Per-stratum rows (`stratum`, `RESULT_KEYS`, `standard_deviation`, `degrees_of_freedom`)
    in the order of the strata given, and the overall figures (`RESULT_KEYS`,
    `degrees_of_freedom`)."""

    strata: pd.DataFrame
    overall: dict[str, Any]
    degrees_of_freedom: str


def estimate(values: pd.DataFrame, sizes: pd.DataFrame, df_method: str = "satterthwaite") -> Estimates:
    """Extrapolate reviewed amounts to the frame.

    values: one row per reviewed unit, `stratum` and `value` (dollars, float). sizes: one row
    per stratum, `stratum` and `N` (units in the frame), in report order; a stratum absent from
    `values` must have N = 0.
    Raises ValueError for an unknown `df_method`, a stratum sampled more than it holds, or a
    stratum with one unit reviewed out of several (no variance can be estimated).
    """
    if df_method not in DF_METHODS:
        raise ValueError(f"unknown degrees of freedom {df_method!r}; use one of {', '.join(DF_METHODS)}")
    names = pd.Index(sizes["stratum"].astype("str"))
    codes = names.get_indexer(values["stratum"].astype("str"))
    if (codes < 0).any():
        raise ValueError(f"reviewed units in stratum {values['stratum'].to_numpy()[codes < 0][0]!r}, "
                         "which the design does not have")
    y = values["value"].to_numpy(dtype="float64")
    population = sizes["N"].to_numpy(dtype="float64")
    n_h = np.bincount(codes, minlength=len(names)).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(codes, weights=y, minlength=len(names)) / n_h
        squares = np.bincount(codes, weights=(y - mean[codes]) ** 2, minlength=len(names))
        sd = np.where(n_h > 1, np.sqrt(squares / (n_h - 1)), 0.0)
    for problem, message in (
            (n_h > population, "{n} units reviewed, but only {N} in the frame"),
            ((n_h == 1) & (population > 1), "one reviewed unit out of {N}: a variance needs at least 2"),
            ((n_h == 0) & (population > 0), "no reviewed unit")):
        if problem.any():
            at = int(np.flatnonzero(problem)[0])
            raise ValueError(f"stratum {names[at]!r}: " + message.format(n=int(n_h[at]), N=int(population[at])))
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(n_h > 0, population**2 * sd**2 / n_h * (1 - n_h / population), 0.0)
    variance = np.clip(variance, 0.0, None)
    point = population * np.nan_to_num(mean)
    error = np.sqrt(variance)
    df_h = np.maximum(n_h - 1, 0).astype("float64")
    table = pd.DataFrame({"stratum": names.to_numpy(), "n": n_h.astype("int64"), "N": population.astype("int64"),
                          "mean": mean, "point_estimate": point, "standard_error": error,
                          **_limits(point, error, df_h), "standard_deviation": sd, "degrees_of_freedom": df_h})
    total = float(point.sum())
    overall_error = float(np.sqrt(variance.sum()))
    df = satterthwaite_df(variance, n_h) if df_method == "satterthwaite" else float(max(1.0, df_h.sum()))
    limits = {k: float(v[0]) if np.isfinite(v[0]) else None
              for k, v in _limits(np.array([total]), np.array([overall_error]), np.array([df])).items()}
    overall = {"n": int(n_h.sum()), "N": int(population.sum()),
               "mean": total / population.sum() if population.sum() else None,
               "point_estimate": total, "standard_error": overall_error, **limits, "degrees_of_freedom": df}
    return Estimates(table, {k: overall[k] for k in (*RESULT_KEYS, "degrees_of_freedom")}, df_method)


def _limits(point: np.ndarray, error: np.ndarray, df: np.ndarray) -> dict[str, np.ndarray]:
    """Two-sided 90% limits, one-sided 90% lower limit and precision; with no standard error
    (a census, or every amount equal) the limits are the estimate itself."""
    usable = df >= 1
    safe_df = np.where(usable, df, 1.0)
    two = np.where(usable, stats.t.ppf(0.5 + CONFIDENCE / 2, safe_df), 0.0)
    one = np.where(usable, stats.t.ppf(CONFIDENCE, safe_df), 0.0)
    half = np.where(error > 0, two * error, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(point != 0, half / np.abs(point), np.nan)
    return {"lower_limit_90_two_sided": point - half, "upper_limit_90_two_sided": point + half,
            "lower_limit_90_one_sided": point - np.where(error > 0, one * error, 0.0), "precision": precision}


@dataclass(frozen=True)
class ReviewCheck:
    """The reviewed amounts that passed (`amounts`: `sample_unit_id, stratum, value`) and, one line each,
    the problems that stop an extrapolation (`row N: …`)."""

    amounts: pd.DataFrame
    problems: list[str]


def check_review(sample: pd.DataFrame, review: pd.DataFrame, units: pd.DataFrame, show_ids: bool = True) -> ReviewCheck:
    """Validate a reviewer's answers against the sample and the frame.

    sample: `sample_unit_id, stratum`. review: `sample_unit_id`, `overpayment_amount` (raw
    cells: numbers or text such as `$1,250.00`, or with a decimal comma `1.250,00`; blank means
    unanswered) and `row` (the row or
    line number in the reviewer's file). units: the frame (`sample_unit_id, amount,
    amount_basis`), `amount` being the most a unit can have been overpaid (its charges, or
    what was paid where a remittance exists).
    Problems: an id not in the sample, an id given twice, an amount that is not a number or is
    negative, an amount above the unit's ceiling, a sampled unit with no answer. With
    `show_ids` False (patient-day ids hold a patient id) a problem names the row, and an
    unanswered unit its stratum and draw order, never the id.
    """
    ids = review["sample_unit_id"].astype("str").str.strip()
    rows = review["row"].astype("int64").to_numpy()
    raw = review["overpayment_amount"]
    text = raw.astype("str").str.strip().str.replace(r"[$\s]", "", regex=True)
    # a decimal comma (a spreadsheet in a comma-decimal locale: "431,39", "1.250,50") is read as
    # one; a comma before exactly three digits stays a thousands separator ("1,250.00", "1,250")
    comma_decimal = text.str.fullmatch(r"-?(\d{1,3}(\.\d{3})+|\d+),\d{1,2}").fillna(False).astype("bool")
    text = text.where(~comma_decimal, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    text = text.str.replace(",", "", regex=False)
    blank = raw.isna().to_numpy() | (text == "").to_numpy()
    amount = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
    problems: list[tuple[int, str]] = []

    def flag(mask: np.ndarray, message: pd.Series | str) -> None:
        said = message if isinstance(message, pd.Series) else pd.Series(message, index=review.index)
        problems.extend(zip(rows[mask].tolist(), said[mask].tolist(), strict=True))

    if show_ids:
        unit = "unit " + ids
    else:  # the unit by its stratum and draw, as the review workbook lists it (never the patient)
        drawn = sample.set_index("sample_unit_id")
        draws = drawn["draw_order"] if "draw_order" in drawn.columns else pd.Series(
            np.arange(1, len(drawn) + 1), index=drawn.index)
        draw = ids.map(draws).astype("Int64").astype("str")
        named = "the unit of stratum " + ids.map(drawn["stratum"]).astype("str") + " draw " + draw
        unit = named.where(ids.isin(drawn.index), "the unit").astype("str")
    in_sample = ids.isin(sample["sample_unit_id"]).to_numpy()
    flag(~in_sample & ids.notna().to_numpy(), unit + " is not in the sample (check the id, or the SAMPLE_DIR)")
    repeated = ids.duplicated(keep="first").to_numpy() & in_sample
    flag(repeated, unit + " is answered more than once: keep one row per unit")
    bad_number = ~blank & amount.isna().to_numpy()
    flag(bad_number & in_sample, unit + ": overpayment_amount '" + raw.astype("str") + "' is not a number")
    negative = (amount < 0).to_numpy()
    flag(negative & in_sample, unit + ": overpayment_amount is negative (enter 0 when nothing was overpaid)")
    ceiling = ids.map(units.set_index("sample_unit_id")["amount"]).astype("float64")
    basis = ids.map(units.set_index("sample_unit_id")["amount_basis"]).astype("str")
    above = (amount > ceiling + MONEY_TOLERANCE).fillna(False).to_numpy() & in_sample
    what = basis.map({"paid": "what was paid for it", "charge": "its charges"}).fillna("what was paid or charged")
    flag(above, unit + ": overpayment_amount " + amount.map("{:,.2f}".format) + " is above "
         + what + " (" + ceiling.map(lambda v: f"{v:,.2f}") + ")")
    good = in_sample & ~repeated & ~blank & ~bad_number & ~negative & ~above
    answered = set(ids[good | (in_sample & ~repeated & ~blank)])
    missing = sample[~sample["sample_unit_id"].isin(answered)]
    lines = [f"row {row}: {message}" for row, message in sorted(problems, key=lambda p: p[0])]
    if len(missing):
        if show_ids:
            named = missing["sample_unit_id"].astype("str")
        else:
            draws = missing["draw_order"] if "draw_order" in missing.columns else pd.Series(missing.index + 1,
                                                                                           index=missing.index)
            named = "stratum " + missing["stratum"].astype("str") + " draw " + draws.astype("str")
        shown = ", ".join(named.head(5))
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        lines.append(f"{len(missing)} sampled unit(s) have no overpayment_amount: {shown}{more} "
                     "(every sampled unit needs an answer; enter 0 where nothing was overpaid)")
    kept = pd.DataFrame({"sample_unit_id": ids[good].to_numpy(), "value": amount[good].to_numpy()})
    values = sample[["sample_unit_id", "stratum"]].merge(kept, on="sample_unit_id", how="inner")
    return ReviewCheck(values, lines)


def automated_check(units: pd.DataFrame, sample: pd.DataFrame, sizes: pd.DataFrame,
                    df_method: str = "satterthwaite") -> dict[str, Any]:
    """The automated review's dollars at risk estimated from the sampled units alone, with the
    same estimator, beside their exact total over the frame: how far sampling error takes the
    estimate from a figure known exactly.

    units: the frame (`sample_unit_id, dollars_at_risk`); sample: `sample_unit_id, stratum`;
    sizes: `stratum, N`. Returns `estimate` (overall, `RESULT_KEYS`), `strata` (rows),
    `exact_total`, `difference` (estimate − exact) and `covered` (the two-sided interval holds
    the exact total).
    """
    at_risk = units.set_index("sample_unit_id")["dollars_at_risk"]
    values = sample.assign(value=sample["sample_unit_id"].map(at_risk).astype("float64").to_numpy())
    result = estimate(values[["stratum", "value"]], sizes, df_method)
    exact = round(float(units["dollars_at_risk"].sum()), 2)
    exact_by_stratum = units.groupby("stratum")["dollars_at_risk"].sum()
    strata = result.strata.assign(exact_total=result.strata["stratum"].map(exact_by_stratum).fillna(0.0).to_numpy())
    low, high = result.overall["lower_limit_90_two_sided"], result.overall["upper_limit_90_two_sided"]
    return {"estimate": result.overall, "strata": strata, "exact_total": exact,
            "difference": result.overall["point_estimate"] - exact,
            "covered": bool(low - MONEY_TOLERANCE <= exact <= high + MONEY_TOLERANCE)}
