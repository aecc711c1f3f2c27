"""The steps no audit can skip, timed against a bare read of the same files.

    python bench/floor.py                          # 1M claim lines, Parquet
    python bench/floor.py --size 1M --format csv

The benchmark issue asks for the whole 1M audit within 5× a bare pyarrow read of its files. This
times, in one process and with the files in the page cache, the bare read (the faster of two)
and then only the steps no audit can skip, each over the run's canonical tables (already
validated, already in memory): units reconciled (`reconcile_visits`), the facts the suites read
(`build_facts`), and the GX suites themselves (`RuleEngine.validate`, its context built first
and not timed). Reading, validating, writing and the reports are all left out, so the audit can
only be slower than the sum. Needs the inputs and the canonical tables `bench/audit.py` leaves
in bench/out (run it first with the same size and format); writes bench/out/floor-<size>-<format>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from audit import ROOT, bare_read, machine_speed, size

T = TypeVar("T")


def timed(step: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1M", help="claim lines of a set bench/audit.py made, e.g. 1M")
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    lines = size(args.size)
    data = args.out / "data" / f"{lines}-{args.format}-seed{args.seed}"
    run = args.out / "runs" / f"{lines}-{args.format}"
    if not (data / "done").exists() or not (run / "claim_lines.parquet").exists():
        raise SystemExit(f"no inputs or canonical tables for {args.size} {args.format} in {args.out}: run "
                         f"`python bench/audit.py --sizes {args.size} --formats {args.format}` first")

    from nmr_audit.facts import build_facts
    from nmr_audit.gx_engine import RuleEngine
    from nmr_audit.io.readers import read_canonical
    from nmr_audit.io.reference import load_reference
    from nmr_audit.io.suites import load_suites
    from nmr_audit.visits import reconcile_visits

    speed = machine_speed()
    read = bare_read(data, args.format)
    reference = load_reference(None)
    claim_lines, visit_notes, note_services = (read_canonical(run / f"{name}.parquet")
                                               for name in ("claim_lines", "visit_notes", "note_services"))
    engine = RuleEngine(load_suites())
    reconcile, visits = timed(lambda: reconcile_visits(claim_lines, visit_notes, note_services, reference))
    facts_seconds, facts = timed(lambda: build_facts(claim_lines, visit_notes, note_services, visits, reference).by_grain())
    suites, _ = timed(lambda: engine.validate(facts))
    steps = {"reconcile_units": reconcile, "build_facts": facts_seconds, "gx_suites": suites}
    result = {"claim_lines": len(claim_lines), "format": args.format, "machine": speed,
              "bare_read_seconds": round(read, 3), "target_seconds": round(5 * read, 3),
              "steps_seconds": {k: round(v, 3) for k, v in steps.items()},
              "ratio_to_bare_read": {k: round(v / read, 1) for k, v in steps.items()}
              | {"all_three": round(sum(steps.values()) / read, 1)}}
    print(f"{len(claim_lines):,} claim lines ({args.format}), machine {speed}")
    print(f"bare read {read:.2f}s → 5× allows {5 * read:.2f}s for the whole audit")
    for name, seconds in steps.items():
        print(f"  {name:<16} {seconds:6.2f}s  {seconds / read:5.1f}× the bare read")
    print(f"  {'these three':<16} {sum(steps.values()):6.2f}s  {sum(steps.values()) / read:5.1f}× "
          "(no reading, validation, writing or reports)")
    target = args.out / f"floor-{args.size}-{args.format}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {target}")


if __name__ == "__main__":
    main()
