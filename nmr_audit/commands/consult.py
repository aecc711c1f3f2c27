"""`nmr-audit sample` and `nmr-audit extrapolate`: the consultant's probability sample of a run,
and the reviewed overpayment extrapolated to the frame. Registered in `nmr_audit.cli`.

Heavy imports (pandas, scipy) wait until a command runs, so `nmr-audit --help` stays quick.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from nmr_audit.errors import InputError

SAMPLE_EPILOG = (
    "Example: nmr-audit sample --run out/sample --unit claim --size 60 --stratify amount --strata 3 "
    "--seed 20260401 --out out/sample-draw\n\n"
    "Writes frame.parquet, sample.parquet, review.xlsx and design.json (seed, method, sizes, the frame's "
    "SHA-256). The same command on the same run gives the same sample. See docs/consulting.md. "
    "Exit status: 0 drawn; 2 bad invocation or run folder."
)
EXTRAPOLATE_EPILOG = (
    "Example: nmr-audit extrapolate --sample out/sample-draw --review out/sample-draw/review.xlsx "
    "--out out/extrapolation\n\n"
    "The review is the workbook `nmr-audit sample` wrote, filled in, or a CSV with the columns "
    "sample_unit_id,overpayment_amount. Writes extrapolation.json, extrapolation.html and extrapolation.xlsx. "
    "Exit status: 0 written; 2 bad invocation, sample folder or review (each problem on a line)."
)


class Unit(StrEnum):
    claim = "claim"
    line = "line"
    patient_day = "patient-day"


class Stratify(StrEnum):
    amount = "amount"
    clinic = "clinic"
    rule = "rule"


class Allocation(StrEnum):
    proportional = "proportional"
    neyman = "neyman"


class DegreesOfFreedom(StrEnum):
    satterthwaite = "satterthwaite"
    strata = "strata"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"nmr-audit: error: {message}", err=True)
    return typer.Exit(2)


def sample(
    run: Annotated[Path, typer.Option(help="Output folder of an `nmr-audit audit` run (its --out).")],
    unit: Annotated[Unit, typer.Option(help="Sample unit: claim, line (a claim line) or patient-day.")],
    seed: Annotated[int, typer.Option(min=0, help="Random seed (a whole number ≥ 0), recorded in design.json.")],
    out: Annotated[Path, typer.Option(help="SAMPLE_DIR: frame, sample, review workbook and design are written here.")],
    size: Annotated[int | None, typer.Option(min=1, help="Units to sample in all (allocated over the strata).")] = None,
    precision: Annotated[str | None, typer.Option(
        help="Size the sample for this precision instead: half-width of the two-sided 90% interval over the "
        "estimate, e.g. 0.10 or 10%; the run's dollars at risk are the pilot.")] = None,
    stratify: Annotated[Stratify | None, typer.Option(
        help="Strata: amount (paid, else charged), clinic, or rule (the costliest finding's); "
        "leave it out for an unrestricted sample.")] = None,
    strata: Annotated[int, typer.Option(min=1, help="With --stratify amount: number of amount strata "
                                        "(cumulative √f boundaries).")] = 3,
    boundaries: Annotated[str | None, typer.Option(
        help="With --stratify amount: your own boundaries in dollars instead, e.g. 100,500.")] = None,
    allocation: Annotated[Allocation, typer.Option(
        help="How --size is spread over strata: proportional or neyman.")] = Allocation.proportional,
    force: Annotated[bool, typer.Option(help="Replace a sample already in --out (and its review workbook).")] = False,
) -> None:
    """Draw a reproducible probability sample of a run's claims, lines or patient-days for review."""
    if (size is None) == (precision is None):
        raise _fail("give either --size N or --precision P (e.g. --precision 0.10)")
    if (boundaries or strata != 3) and stratify is not Stratify.amount:
        raise _fail("--strata and --boundaries apply to --stratify amount only")
    target = _fraction(precision) if precision is not None else None
    cuts = _boundaries(boundaries) if boundaries else None
    import numpy as np
    import pandas as pd

    from nmr_audit.consult import frame as frames
    from nmr_audit.consult import review as reviews
    from nmr_audit.consult import sample as sampling
    from nmr_audit.io import consult as files
    from nmr_audit.io.readers.base import file_sha256

    outputs = files.read_run(run)
    built = frames.build_frame(outputs.claim_lines, outputs.findings, unit.value, outputs.paid)
    units = built.units
    if units.empty:
        raise _fail(f"{run}: the run has no claim lines to sample")
    try:
        cut = frames.assign_strata(units, stratify.value if stratify else None, strata, cuts)
        units = units.assign(stratum=cut.stratum.to_numpy())
        sizes = sampling.stratum_sizes(units, cut.table)
        if target is None:
            n_h = sampling.allocate(sizes, int(size), allocation.value)  # type: ignore[arg-type]
            projected = sampling.projected_precision(sizes, n_h)
        else:
            n_h, projected = sampling.size_for_precision(sizes, target, allocation.value)
        drawn = sampling.draw(units, pd.Series(n_h, index=sizes["stratum"].to_numpy()), seed)
    except ValueError as problem:
        raise _fail(str(problem)) from None
    lines = reviews.sampled_lines(outputs.claim_lines, drawn, unit.value)
    found = reviews.sampled_findings(outputs.findings, drawn, unit.value)
    rows = reviews.review_rows(drawn, units, lines, found, outputs.visits)
    strata_rows = [{"stratum": s, "N": int(n_big), "n": int(n), "lower": _number(lo), "upper": _number(hi),
                    "pilot_total": round(float(t), 2), "pilot_sd": round(float(sd), 4)}
                   for s, n_big, n, lo, hi, t, sd in zip(
                       sizes["stratum"], sizes["N"], n_h, sizes["stratum"].map(cut.table.set_index("stratum")["lower"]),
                       sizes["stratum"].map(cut.table.set_index("stratum")["upper"]), sizes["pilot_total"],
                       sizes["pilot_sd"], strict=True)]
    design = {
        "software": _software(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": _command_line(run, unit, seed, out, size, target, stratify, strata, cuts, allocation),
        "run": {"folder": str(run.resolve()), "run_id": outputs.summary.get("run", {}).get("run_id"),
                "summary_sha256": file_sha256(run / "summary.json"),
                "inputs": [{k: i.get(k) for k in ("source_file", "sha256")} for i in outputs.summary.get("inputs", [])]},
        "unit": unit.value,
        "design": "stratified" if stratify else "unrestricted",
        "stratify": stratify.value if stratify else None,
        "allocation": allocation.value,
        "size_from": "precision" if target is not None else "size",
        "precision_target": target,
        "projected_precision": None if not np.isfinite(projected) else round(float(projected), 6),
        "seed": seed,
        "n": int(np.sum(n_h)),
        "N": len(units),
        "method": {"generator": sampling.GENERATOR, "selection": sampling.SELECTION, "strata": cut.method,
                   "allocation": _allocation_text(allocation.value),
                   "minimum_per_stratum": sampling.MINIMUM_PER_STRATUM,
                   "pilot": "the automated review's dollars at risk per unit (each claim line counted once)"},
        "frame": {"sha256": frames.frame_sha256(units), "rows": len(units),
                  "canonical_form": "docs/consulting.md, 'The frame's SHA-256'",
                  "amounts": outputs.paid_note,
                  "dollars_at_risk": round(float(units["dollars_at_risk"].sum()), 2),
                  "findings_outside": built.findings_outside, "dollars_outside": built.dollars_outside},
        "strata": strata_rows,
        "sample_sha256": sampling.sample_sha256(drawn),
    }
    sheets = {"Review": rows, "Lines": lines, "Findings": found}
    files.write_sample_folder(out, units, drawn, design, sheets, force=force)
    shown = ", ".join(f"stratum {r['stratum']!r}: {r['n']} of {r['N']}" if len(strata_rows) > 1
                      else f"{r['n']} of {r['N']}, unrestricted" for r in strata_rows)
    typer.echo(f"sample of {design['n']} {unit.value}(s) drawn from a frame of {len(units):,} with seed {seed} "
               f"({shown})\nframe SHA-256 {design['frame']['sha256']}; {outputs.paid_note}\n"
               f"projected precision (pilot: dollars at risk) {_percent(design['projected_precision'])}\n"
               f"review workbook: {(out / files.REVIEW).resolve()} — fill in overpayment_amount for every row, then "
               f"nmr-audit extrapolate --sample {out} --review {out / files.REVIEW} --out DIR")


def extrapolate(
    sample: Annotated[Path, typer.Option("--sample", help="SAMPLE_DIR written by `nmr-audit sample`.")],
    review: Annotated[Path, typer.Option(help="The filled-in review workbook, or a CSV: sample_unit_id,overpayment_amount.")],
    out: Annotated[Path, typer.Option(help="Folder for extrapolation.json, .html and .xlsx.")],
    df: Annotated[DegreesOfFreedom, typer.Option(
        "--df", help="Degrees of freedom of a stratified interval: satterthwaite (Satterthwaite's) or strata (Σ(n_h − 1)).")
    ] = DegreesOfFreedom.satterthwaite,
) -> None:
    """Extrapolate the reviewed overpayments to the frame: totals, 90% limits and precision."""
    from nmr_audit.consult import extrapolate as extrapolation
    from nmr_audit.io import consult as files
    from nmr_audit.io import consult_report as report
    from nmr_audit.io.readers.base import file_sha256
    from nmr_audit.money import dollars

    drawn = files.read_sample_folder(sample)
    answers = files.read_review(review)
    checked = extrapolation.check_review(drawn.sample, answers, drawn.units,
                                         show_ids=drawn.design["unit"] != "patient-day")  # no patient ids on stderr
    if checked.problems:
        for problem in checked.problems[:50]:
            typer.echo(f"nmr-audit: error: {review}: {problem}", err=True)
        if len(checked.problems) > 50:
            typer.echo(f"nmr-audit: error: {review}: … {len(checked.problems) - 50} more problem(s)", err=True)
        raise _fail(f"{review}: {len(checked.problems)} problem(s) in the review; fix them and run extrapolate again")
    sizes = drawn.sizes
    try:
        result = extrapolation.estimate(checked.amounts[["stratum", "value"]], sizes, df.value)
        automated = extrapolation.automated_check(drawn.units, drawn.sample, sizes, df.value)
    except ValueError as problem:
        raise _fail(f"{sample}: {problem}") from None
    document = report.extrapolation_document(result, automated, drawn.design, review, file_sha256(review),
                                             _software())
    written = report.write_extrapolation(out, document, checked.amounts, drawn)
    overall = document["overall"]
    typer.echo(f"overpayment in the frame: estimate {dollars(overall['point_estimate'])} "
               f"(SE {dollars(overall['standard_error'])}, n {overall['n']} of N {overall['N']:,}); "
               f"90% two-sided lower limit {dollars(overall['lower_limit_90_two_sided'])}; "
               f"one-sided 90% lower limit {dollars(overall['lower_limit_90_one_sided'])}; "
               f"precision {_percent(overall['precision'])}\n"
               f"automated dollars at risk: estimated {dollars(automated['estimate']['point_estimate'])} from the sample, "
               f"exactly {dollars(automated['exact_total'])} over the frame\n"
               f"written to {written.resolve()} (extrapolation.json, extrapolation.html, extrapolation.xlsx)")


def _fraction(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise _fail(f"--precision {text!r} is not a number: give a fraction (0.10) or a percent (10%)") from None
    if not 0 < value < 1:
        raise _fail(f"--precision {text!r} must lie between 0 and 1 (0.10 means ±10% of the estimate)")
    return value


def _boundaries(text: str) -> list[float]:
    try:
        return [float(part.strip().lstrip("$").replace(",", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise _fail(f"--boundaries {text!r}: give dollar amounts separated by commas, e.g. 100,500") from None


def _number(value: Any) -> float | None:
    return None if value is None or value != value else round(float(value), 2)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"±{100 * value:.1f}%"


def _allocation_text(allocation: str) -> str:
    rule = "n_h ∝ N_h" if allocation == "proportional" else "n_h ∝ N_h·S_h (S_h: the pilot's standard deviation)"
    return f"{allocation}: {rule}; at least 2 per stratum (all of a smaller one), at most N_h; largest remainders"


def _command_line(run: Path, unit: Unit, seed: int, out: Path, size: int | None, target: float | None,
                  stratify: Stratify | None, strata: int, cuts: list[float] | None, allocation: Allocation) -> str:
    words = ["nmr-audit", "sample", "--run", str(run), "--unit", unit.value]
    words += ["--size", str(size)] if size is not None else ["--precision", str(target)]
    if stratify:
        words += ["--stratify", stratify.value]
        if stratify is Stratify.amount:
            words += ["--boundaries", ",".join(f"{c:.2f}" for c in cuts)] if cuts else ["--strata", str(strata)]
    if allocation is not Allocation.proportional:
        words += ["--allocation", allocation.value]
    words += ["--seed", str(seed), "--out", str(out)]
    return shlex.join(words)


def _software() -> dict[str, str]:
    import numpy
    import pandas
    import scipy

    from nmr_audit import __version__

    return {"nmr-audit": __version__, "numpy": numpy.__version__, "pandas": pandas.__version__,
            "scipy": scipy.__version__}


def run_command(function: Any) -> Any:
    """`function` with InputError said in one line and exit status 2 (the CLI's `main` does the
    same; this keeps the commands right when called through `typer.testing`)."""
    import functools

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except InputError as problem:
            raise _fail(problem.line()) from None

    return wrapped
