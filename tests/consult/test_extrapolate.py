"""The extrapolation: checked against independent computations (scipy; exact enumeration of
every possible sample), the review's validation, and a seeded simulation of its coverage."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nmr_audit.consult.extrapolate import RESULT_KEYS, automated_check, check_review, estimate
from nmr_audit.consult.frame import assign_strata
from nmr_audit.consult.sample import allocate, draw, stratum_sizes

# Reviewed overpayments of one unrestricted sample: mostly zeros, like real audits.
UNRESTRICTED = np.array([0, 0, 0, 62.0, 0, 124.0, 0, 0, 31.0, 0, 0, 0, 186.0, 0, 0, 62.0, 0, 0, 0, 0, 93.5, 0, 0, 0, 0,
                         0, 0, 248.0, 0, 0])


def one_stratum(values, population):
    frame = pd.DataFrame({"stratum": "all", "value": values})
    return estimate(frame, pd.DataFrame({"stratum": ["all"], "N": [population]}))


def test_unrestricted_estimate_matches_scipys_t_interval():
    result = one_stratum(UNRESTRICTED, 4500)
    n, population = len(UNRESTRICTED), 4500
    fpc = np.sqrt(1 - n / population)
    error = population * stats.sem(UNRESTRICTED) * fpc  # scipy's standard error of the mean (ddof 1)
    point = population * UNRESTRICTED.mean()
    low, high = stats.t.interval(0.90, n - 1, loc=point, scale=error)
    overall = result.overall
    assert overall["n"] == 30 and overall["N"] == 4500
    assert overall["mean"] == pytest.approx(UNRESTRICTED.mean())
    assert overall["point_estimate"] == pytest.approx(point)
    assert overall["standard_error"] == pytest.approx(error)
    assert overall["lower_limit_90_two_sided"] == pytest.approx(low)
    assert overall["upper_limit_90_two_sided"] == pytest.approx(high)
    assert overall["lower_limit_90_one_sided"] == pytest.approx(point - stats.t.ppf(0.90, n - 1) * error)
    assert overall["precision"] == pytest.approx((high - point) / point)
    assert overall["degrees_of_freedom"] == pytest.approx(29)
    assert set(RESULT_KEYS) <= set(overall)
    row = result.strata.iloc[0]  # one stratum: the stratum is the whole
    assert all(row[k] == pytest.approx(overall[k]) for k in RESULT_KEYS)


def test_stratified_estimate_matches_an_independent_computation():
    rng = np.random.default_rng(11)
    samples = {"low": np.where(rng.random(40) < 0.2, rng.uniform(10, 60, 40), 0.0).round(2),
               "mid": np.where(rng.random(30) < 0.3, rng.uniform(50, 250, 30), 0.0).round(2),
               "high": np.where(rng.random(12) < 0.5, rng.uniform(200, 900, 12), 0.0).round(2)}
    population = {"low": 2400, "mid": 900, "high": 60}
    values = pd.DataFrame([(h, v) for h, ys in samples.items() for v in ys], columns=["stratum", "value"])
    sizes = pd.DataFrame({"stratum": list(population), "N": list(population.values())})
    result = estimate(values, sizes)
    totals, variances, dfs = [], [], []
    for h, ys in samples.items():
        described = stats.describe(ys)  # scipy: mean and variance (ddof 1)
        big = population[h]
        totals.append(big * described.mean)
        variances.append(big**2 * described.variance / len(ys) * (1 - len(ys) / big))
        dfs.append(len(ys) - 1)
    total, error = sum(totals), np.sqrt(sum(variances))
    df = sum(variances) ** 2 / sum(v**2 / d for v, d in zip(variances, dfs, strict=True))
    overall = result.overall
    assert overall["point_estimate"] == pytest.approx(total)
    assert overall["standard_error"] == pytest.approx(error)
    assert overall["degrees_of_freedom"] == pytest.approx(df)
    assert overall["lower_limit_90_two_sided"] == pytest.approx(total - stats.t.ppf(0.95, df) * error)
    assert overall["lower_limit_90_one_sided"] == pytest.approx(total - stats.t.ppf(0.90, df) * error)
    assert overall["mean"] == pytest.approx(total / sum(population.values()))
    assert result.strata["point_estimate"].tolist() == pytest.approx(totals)
    assert result.strata["standard_error"].tolist() == pytest.approx(np.sqrt(variances))
    assert result.strata["stratum"].tolist() == ["low", "mid", "high"]
    pooled = estimate(values, sizes, "strata").overall
    assert pooled["degrees_of_freedom"] == sum(dfs) and pooled["point_estimate"] == pytest.approx(total)
    assert pooled["lower_limit_90_two_sided"] == pytest.approx(total - stats.t.ppf(0.95, sum(dfs)) * error)


def test_estimator_and_its_variance_are_unbiased_over_every_possible_sample():
    # Two strata of 5 and 4 units, 2 drawn from each: all 10 × 6 samples enumerated. The mean of
    # the estimates is the true total, and the mean of SE² is the estimates' true variance —
    # which holds only with the finite population correction.
    strata = {"A": [0.0, 0.0, 40.0, 10.0, 0.0], "B": [120.0, 0.0, 60.0, 300.0]}
    true_total = sum(map(sum, strata.values()))
    sizes = pd.DataFrame({"stratum": ["A", "B"], "N": [5, 4]})
    points, squares = [], []
    for pick_a in itertools.combinations(strata["A"], 2):
        for pick_b in itertools.combinations(strata["B"], 2):
            values = pd.DataFrame({"stratum": ["A", "A", "B", "B"], "value": [*pick_a, *pick_b]})
            overall = estimate(values, sizes).overall
            points.append(overall["point_estimate"])
            squares.append(overall["standard_error"] ** 2)
    assert np.mean(points) == pytest.approx(true_total)
    assert np.mean(squares) == pytest.approx(np.var(points))


def test_a_census_stratum_adds_no_error_and_zeros_give_no_precision():
    values = pd.DataFrame({"stratum": ["all"] * 3 + ["big"] * 2, "value": [0.0, 0.0, 0.0, 500.0, 700.0]})
    result = estimate(values, pd.DataFrame({"stratum": ["all", "big"], "N": [50, 2]}))
    assert result.strata.set_index("stratum").loc["big", "standard_error"] == 0.0
    assert result.overall["point_estimate"] == 1200.0 and result.overall["standard_error"] == 0.0
    assert result.overall["lower_limit_90_two_sided"] == 1200.0 == result.overall["lower_limit_90_one_sided"]
    zeros = one_stratum(np.zeros(10), 100).overall
    assert zeros["point_estimate"] == 0.0 and zeros["precision"] is None


def test_estimate_refuses_a_stratum_it_cannot_estimate():
    sizes = pd.DataFrame({"stratum": ["A", "B"], "N": [10, 10]})
    with pytest.raises(ValueError, match="'B': one reviewed unit out of 10"):
        estimate(pd.DataFrame({"stratum": ["A", "A", "B"], "value": [1.0, 2.0, 3.0]}), sizes)
    with pytest.raises(ValueError, match="'B': no reviewed unit"):
        estimate(pd.DataFrame({"stratum": ["A", "A"], "value": [1.0, 2.0]}), sizes)
    with pytest.raises(ValueError, match="design does not have"):
        estimate(pd.DataFrame({"stratum": ["C", "C"], "value": [1.0, 2.0]}), sizes)
    with pytest.raises(ValueError, match="unknown degrees of freedom"):
        estimate(pd.DataFrame({"stratum": ["A", "A"], "value": [1.0, 2.0]}), sizes, "kish")


SAMPLE = pd.DataFrame({"sample_unit_id": ["C1", "C2", "C3", "C4"], "stratum": ["s1", "s1", "s2", "s2"]})
UNITS = pd.DataFrame({"sample_unit_id": ["C1", "C2", "C3", "C4", "C5"],
                      "amount": [124.0, 62.0, 300.0, np.nan, 10.0],
                      "amount_basis": ["charge", "paid", "charge", "unknown", "charge"]})


def review(ids, amounts):
    return pd.DataFrame({"sample_unit_id": ids, "overpayment_amount": amounts, "row": range(2, 2 + len(ids))})


def test_a_complete_review_passes_with_amounts_read_as_people_write_them():
    checked = check_review(SAMPLE, review(["C1", "C2", "C3", "C4"], [0, "$62.00", "1,2.50", "999"]), UNITS)
    assert checked.problems == []
    assert checked.amounts["value"].tolist() == [0.0, 62.0, 12.5, 999.0]  # C4's ceiling is unknown
    assert checked.amounts["stratum"].tolist() == ["s1", "s1", "s2", "s2"]


def test_a_decimal_comma_is_read_as_one_and_a_thousands_comma_as_thousands():
    """A review saved by a spreadsheet in a comma-decimal locale: "431,39" is 431.39, never 43,139."""
    checked = check_review(SAMPLE, review(["C1", "C2", "C3", "C4"], ["12,5", "61,99", "1.250,50", "1,250"]), UNITS)
    assert checked.problems == ["row 4: unit C3: overpayment_amount 1,250.50 is above its charges (300.00)"]
    assert checked.amounts["value"].tolist() == [12.5, 61.99, 1250.0]


def test_every_problem_in_a_review_is_named_with_its_row():
    answers = review(["C1", "C1", "C9", "C2", "C3"], ["10", "11", "5", "62.01", "abc"])
    problems = check_review(SAMPLE, answers, UNITS).problems
    assert problems == [
        "row 3: unit C1 is answered more than once: keep one row per unit",
        "row 4: unit C9 is not in the sample (check the id, or the SAMPLE_DIR)",
        "row 5: unit C2: overpayment_amount 62.01 is above what was paid for it (62.00)",
        "row 6: unit C3: overpayment_amount 'abc' is not a number",
        "1 sampled unit(s) have no overpayment_amount: C4 (every sampled unit needs an answer; "
        "enter 0 where nothing was overpaid)",
    ]
    negative = check_review(SAMPLE, review(["C1", "C2", "C3", "C4"], [-1, 0, 300.004, None]), UNITS).problems
    assert negative[0] == "row 2: unit C1: overpayment_amount is negative (enter 0 when nothing was overpaid)"
    assert negative[1].startswith("1 sampled unit(s) have no overpayment_amount: C4")  # 300.004 rounds to the cap


def test_patient_day_problems_name_rows_and_draws_never_the_patient():
    sample = pd.DataFrame({"sample_unit_id": ["P1|2026-03-02", "P2|2026-03-02"], "stratum": "all", "draw_order": [1, 2]})
    units = pd.DataFrame({"sample_unit_id": sample["sample_unit_id"], "amount": 100.0, "amount_basis": "charge"})
    problems = check_review(sample, review(["P1|2026-03-02", "P9|2026-03-02"], [500, 1]), units, show_ids=False).problems
    assert problems == ["row 2: the unit of stratum all draw 1: overpayment_amount 500.00 is above its charges (100.00)",
                        "row 3: the unit is not in the sample (check the id, or the SAMPLE_DIR)",
                        "1 sampled unit(s) have no overpayment_amount: stratum all draw 2 (every "
                        "sampled unit needs an answer; enter 0 where nothing was overpaid)"]
    assert not any("P1" in p or "P9" in p for p in problems)


def test_automated_check_sets_the_estimate_beside_the_exact_total():
    units = pd.DataFrame({"sample_unit_id": [f"U{i}" for i in range(6)], "stratum": "all",
                          "dollars_at_risk": [0.0, 10.0, 0.0, 20.0, 0.0, 30.0]})
    sample = pd.DataFrame({"sample_unit_id": ["U1", "U2", "U3"], "stratum": "all"})
    check = automated_check(units, sample, pd.DataFrame({"stratum": ["all"], "N": [6]}))
    assert check["exact_total"] == 60.0
    assert check["estimate"]["point_estimate"] == pytest.approx(6 * 10.0)
    assert check["difference"] == pytest.approx(0.0) and check["covered"]
    assert check["strata"]["exact_total"].tolist() == [60.0]


def zero_heavy_universe():
    """The simulation's universe: 3,000 claims, charges lognormal (median $180, σ 0.6 on the log
    scale, rounded to cents); a claim is overpaid with probability 0.20 (charge ≤ $300) or 0.35
    (above); an overpaid claim's overpayment is its whole charge with probability 0.4, else a
    uniform 15–60% of it. About 77% of the claims are overpaid nothing. NumPy seed 19."""
    rng = np.random.default_rng(19)
    charge = np.round(rng.lognormal(np.log(180), 0.6, 3000), 2)
    overpaid = rng.random(3000) < np.where(charge > 300, 0.35, 0.20)
    whole = rng.random(3000) < 0.4
    share = np.where(whole, 1.0, rng.uniform(0.15, 0.60, 3000))
    overpayment = np.where(overpaid, np.round(charge * share, 2), 0.0)
    units = pd.DataFrame({"sample_unit_id": [f"CLM{i:05d}" for i in range(3000)], "amount": charge,
                          "dollars_at_risk": overpayment, "clinic_id": "CL-1", "costliest_rule": "x"})
    return units, overpayment


@pytest.mark.slow
@pytest.mark.parametrize(("stratify", "size"), [(None, 200), ("amount", 150)])
def test_the_two_sided_90_percent_interval_covers_the_true_total_about_90_percent_of_the_time(stratify, size):
    """2,000 samples (seeds 0–1999) drawn and extrapolated as the commands do; deterministic."""
    units, overpayment = zero_heavy_universe()
    assert 0.74 < (overpayment == 0).mean() < 0.80
    truth = overpayment.sum()
    cut = assign_strata(units, stratify, 3)
    units = units.assign(stratum=cut.stratum.to_numpy())
    table = stratum_sizes(units, cut.table)
    n_h = pd.Series(allocate(table, size), index=table["stratum"].to_numpy())
    position = pd.Index(units["sample_unit_id"])
    covered = lower_ok = 0
    for seed in range(2000):
        drawn = draw(units, n_h, seed)
        values = pd.DataFrame({"stratum": drawn["stratum"],
                               "value": overpayment[position.get_indexer(drawn["sample_unit_id"])]})
        overall = estimate(values, table[["stratum", "N"]]).overall
        covered += overall["lower_limit_90_two_sided"] <= truth <= overall["upper_limit_90_two_sided"]
        lower_ok += overall["lower_limit_90_one_sided"] <= truth
    assert 0.87 <= covered / 2000 <= 0.93
    assert lower_ok / 2000 >= 0.87  # the one-sided lower limit stays below the truth ≥ 90% nominally
