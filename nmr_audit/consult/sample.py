"""Sample sizes and the draw: how many units each stratum gets, and which.

Sizes: a total `n` allocated over the strata proportionally to their sizes (the default) or by
Neyman's allocation (to N_h·S_h), at least `MINIMUM_PER_STRATUM` units in every stratum (the
fewest that give a variance) and never more than the stratum holds — or the smallest `n` whose
allocation is projected to reach a target precision, with the frame's automated dollars at
risk as the pilot variable (Cochran, *Sampling Techniques*, 3rd ed., 1977, §5.5 and §5.9).

The draw (a *random sort*, one stratified simple random sample without replacement): the
frame's units in `sample_unit_id` order each take one 64-bit number from numpy's PCG64 bit
generator seeded with `SeedSequence(seed)` (`PCG64(seed).random_raw(N)`); in each stratum the
`n_h` units with the smallest numbers are the sample, and the order of the numbers is the draw
order (the next ones are the spares). Every unit of a stratum is equally likely to be chosen,
and every set of `n_h` units is equally likely. The same seed on the same frame gives the same
sample; `design.json` records the seed, the generator and the frame's SHA-256.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from scipy import stats

from nmr_audit.parse import arrow_text

MINIMUM_PER_STRATUM = 2
ALLOCATIONS = ("proportional", "neyman")
GENERATOR = "numpy PCG64 (XSL-RR 128/64) seeded by SeedSequence(seed); random_raw, one 64-bit number per unit"
SELECTION = ("units in sample_unit_id order take the generator's numbers in turn; in each stratum the n_h "
             "units with the smallest numbers are sampled, in that order (draw_order)")


def stratum_sizes(units: pd.DataFrame, strata: pd.DataFrame, pilot: str = "dollars_at_risk") -> pd.DataFrame:
    """Per stratum, in the order of `strata` (`stratum` column): N (units), and the pilot
    variable's total and standard deviation S_h (divisor N_h − 1; 0 for a stratum of one).

    units: the frame with `stratum` and the `pilot` column (dollars).
    """
    grouped = units.groupby("stratum")[pilot]
    table = pd.DataFrame({"stratum": strata["stratum"].to_numpy()})
    table["N"] = table["stratum"].map(grouped.size()).fillna(0).astype("int64")
    table["pilot_total"] = table["stratum"].map(grouped.sum()).fillna(0.0).astype("float64")
    table["pilot_sd"] = table["stratum"].map(grouped.std(ddof=1)).fillna(0.0).astype("float64")
    return table[table["N"] > 0].reset_index(drop=True)


def allocate(sizes: pd.DataFrame, n: int, allocation: str = "proportional") -> np.ndarray:
    """Units per stratum (int64, in the order of `sizes`) adding up to `n`.

    sizes: `stratum_sizes` (N, pilot_sd). Proportional: n_h ∝ N_h; Neyman: n_h ∝ N_h·S_h
    (Cochran 1977 §5.5; where every S_h is 0 it falls back to proportional). Each stratum gets at
    least min(N_h, 2) and at most N_h; what a floor or a ceiling takes is shared among the
    others in the same proportions, and whole units go by the largest remainder.
    Raises ValueError when `n` is below the strata's floors or above the frame.
    """
    population = sizes["N"].to_numpy(dtype="float64")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {allocation!r}; use one of {', '.join(ALLOCATIONS)}")
    weight = population * sizes["pilot_sd"].to_numpy(dtype="float64") if allocation == "neyman" else population
    if not weight.sum() > 0:
        weight = population
    floor = np.minimum(population, MINIMUM_PER_STRATUM)
    if n > population.sum():
        raise ValueError(f"a sample of {n} is larger than the frame ({int(population.sum())} units)")
    if n < floor.sum():
        raise ValueError(f"a sample of {n} cannot give each of the {len(population)} strata its "
                         f"{MINIMUM_PER_STRATUM} units: the sample needs at least {int(floor.sum())}")
    share = np.zeros(len(population))
    fixed = np.zeros(len(population), dtype=bool)
    while (~fixed).any():
        free = ~fixed
        left = n - share[fixed].sum()
        free_weight = weight[free].sum()
        ideal = left * (weight[free] / free_weight if free_weight > 0 else population[free] / population[free].sum())
        low, high = ideal < floor[free], ideal > population[free]
        if not (low.any() or high.any()):
            share[free] = ideal
            break
        positions = np.flatnonzero(free)
        # Fix the worst side first: ceilings when the free strata overflow, else floors.
        pinned = positions[high] if high.any() else positions[low]
        share[pinned] = population[pinned] if high.any() else floor[pinned]
        fixed[pinned] = True
    whole = np.floor(share + 1e-9)
    remainder = share - whole
    room = whole < population
    for position in np.argsort(-np.where(room, remainder, -1.0), kind="stable")[: int(n - whole.sum())]:
        whole[position] += 1
    return whole.astype("int64")


def projected_precision(sizes: pd.DataFrame, n_h: np.ndarray, confidence: float = 0.90) -> float:
    """Half-width of the two-sided `confidence` interval over the total, both projected from the
    pilot (S_h, pilot total) for a sample of `n_h` per stratum; inf when the pilot total is 0.

    Variance of the estimated total: Σ N_h²·S_h²/n_h·(1 − n_h/N_h) (Cochran 1977 eq. 5.6);
    t with Satterthwaite's degrees of freedom (`satterthwaite_df`).
    """
    population = sizes["N"].to_numpy(dtype="float64")
    sd = sizes["pilot_sd"].to_numpy(dtype="float64")
    total = float(sizes["pilot_total"].sum())
    n_h = np.asarray(n_h, dtype="float64")
    terms = population * (population - n_h) / n_h * sd**2
    variance = float(terms.sum())
    if total <= 0:
        return float("inf")
    if variance <= 0:
        return 0.0
    df = satterthwaite_df(terms, n_h)
    return float(stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(variance) / total)


def size_for_precision(sizes: pd.DataFrame, precision: float, allocation: str = "proportional",
                       confidence: float = 0.90) -> tuple[np.ndarray, float]:
    """The smallest sample (its allocation, and the precision projected for it) whose projected
    precision (`projected_precision`) is at most `precision` (a fraction: 0.10 for ±10%).

    For one stratum this is Cochran's n = n₀/(1 + n₀/N), n₀ = (t·S·N/(P·T))² (1977 §4.4, with t
    for z, iterated on n − 1 degrees of freedom); for strata, the smallest n found by bisection
    over n, each n allocated as `allocate` does (projected precision falls as n grows).
    Raises ValueError when the pilot total is 0 (nothing to project from) or `precision` ≤ 0.
    """
    if not precision > 0:
        raise ValueError("--precision must be above 0 (e.g. 0.10 for ±10% of the estimate)")
    if not sizes["pilot_total"].sum() > 0:
        raise ValueError("the run found no dollars at risk in the frame, so there is no pilot variance to size "
                         "the sample from: give --size N instead of --precision")
    population = int(sizes["N"].sum())
    low = int(np.minimum(sizes["N"].to_numpy(), MINIMUM_PER_STRATUM).sum())
    high = population

    def reached(n: int) -> bool:
        return projected_precision(sizes, allocate(sizes, n, allocation), confidence) <= precision

    if reached(low):
        high = low
    while low < high:
        middle = (low + high) // 2
        if reached(middle):
            high = middle
        else:
            low = middle + 1
    n_h = allocate(sizes, high, allocation)
    return n_h, projected_precision(sizes, n_h, confidence)


def satterthwaite_df(terms: np.ndarray, n_h: np.ndarray) -> float:
    """Satterthwaite's effective degrees of freedom of a stratified variance Σ terms_h, each
    term estimated on n_h − 1 degrees of freedom (Satterthwaite 1946; Cochran 1977 eq. 5.16):
    (Σ a_h)² / Σ a_h²/(n_h − 1), over the strata with a term above 0 and n_h ≥ 2. When no
    term is above 0 (no variance) it is Σ(n_h − 1) over the strata sampled twice or more
    (at least 1); the interval then has no width whatever t is.
    """
    terms = np.asarray(terms, dtype="float64")
    n_h = np.asarray(n_h, dtype="float64")
    used = (terms > 0) & (n_h >= 2)
    if not used.any():
        return float(max(1.0, (n_h[n_h >= 2] - 1).sum()))
    return float(terms[used].sum() ** 2 / (terms[used] ** 2 / (n_h[used] - 1)).sum())


def random_keys(count: int, seed: int) -> np.ndarray:
    """`count` 64-bit numbers (uint64) from PCG64 seeded with SeedSequence(seed).

    Raw bit-generator output, not a `Generator` method: PCG64 and SeedSequence are published
    algorithms, so the numbers do not depend on how a Generator turns bits into a distribution
    (which NumPy may change between versions); `design.json` records NumPy's version too.
    """
    if seed < 0:
        raise ValueError("--seed must be a whole number ≥ 0")
    return np.random.PCG64(seed).random_raw(count).astype("uint64")


def draw(units: pd.DataFrame, n_h: pd.Series, seed: int) -> pd.DataFrame:
    """The sample: `sample_unit_id, stratum, draw_order` (1, 2, … within the stratum), ordered
    by stratum as `n_h` lists them, then draw order.

    units: the frame with `sample_unit_id` (unique) and `stratum`. n_h: units to draw per
    stratum (index: stratum). The random sort described in the module docstring, in NumPy
    (a simulation draws thousands of samples).
    Raises ValueError when a stratum is asked for more units than it has.
    """
    count = len(units)
    canonical = pc.sort_indices(arrow_text(units["sample_unit_id"])).to_numpy()
    id_rank = np.empty(count, dtype="int64")
    id_rank[canonical] = np.arange(count)
    keys = np.empty(count, dtype="uint64")
    keys[canonical] = random_keys(count, seed)
    names = pd.Index(n_h.index.astype("str"))
    codes = names.get_indexer(units["stratum"].astype("str"))
    have = np.bincount(codes[codes >= 0], minlength=len(names))
    wanted = n_h.to_numpy(dtype="int64")
    short = np.flatnonzero(wanted > have)
    if len(short):
        raise ValueError(f"stratum {names[short[0]]!r} has {have[short[0]]} units, fewer than the {wanted[short[0]]} asked")
    order = np.lexsort((id_rank, keys, codes))  # by stratum, then the random number
    ordered_codes = codes[order]
    starts = np.ones(count, dtype=bool)
    starts[1:] = ordered_codes[1:] != ordered_codes[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    draw_order = np.arange(count) - first + 1
    chosen = (ordered_codes >= 0) & (draw_order <= np.where(ordered_codes >= 0, wanted[ordered_codes], 0))
    picked = order[chosen]
    return pd.DataFrame({"sample_unit_id": units["sample_unit_id"].to_numpy()[picked],
                         "stratum": names.to_numpy()[codes[picked]],
                         "draw_order": draw_order[chosen].astype("int64")}).astype({"sample_unit_id": "str",
                                                                                   "stratum": "str"})


def sample_sha256(sample: pd.DataFrame) -> str:
    """SHA-256 (hex) of the sample as text: a header line `sample_unit_id<TAB>stratum<TAB>draw_order`,
    then one line per sampled unit in sample order, each ending with a line feed (UTF-8): two
    parties who drew the same sample get the same digest."""
    rows = sample["sample_unit_id"].astype("str").str.cat(
        [sample["stratum"].astype("str"), sample["draw_order"].astype("int64").astype("str")], sep="\t")
    text = "sample_unit_id\tstratum\tdraw_order\n" + "".join(rows + "\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
