"""Benchmark the unit engine (visit assembly + CMS/AMA reconciliation) on generated visits.

    python bench/units.py                    # 1,000,000 visits
    python bench/units.py --visits 100000 --repeat 5

Generation is not timed; the figure is `reconcile_visits` alone, one process, one core
(pandas and numpy run these steps single-threaded). Each repeat times it twice, without and with
the explanations (`explanation`, `allotment`: `nmr_audit.explain`), one right after the other,
so that their cost is read against the same load of a shared machine; CPU seconds beside wall.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import pandas as pd

from nmr_audit.io.reference import load_reference
from nmr_audit.synth.canonical import canonical_tables
from nmr_audit.synth.write import chunks
from nmr_audit.visits import reconcile_visits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--defect-rate", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    parts = [canonical_tables(c) for c in chunks(args.visits, args.seed, args.defect_rate, progress=True)]
    lines, notes, services = (pd.concat([p[i] for p in parts], ignore_index=True) for i in range(3))
    reference = load_reference()
    timings: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.repeat):
        for explain in (False, True):
            started, cpu = time.perf_counter(), time.process_time()
            visits = reconcile_visits(lines, notes, services, reference, explain=explain)
            timings[explain].append((time.perf_counter() - started, time.process_time() - cpu))
    best = min(t for t, _ in timings[True])
    plain = min(t for t, _ in timings[False])
    cpu_plain, cpu_explained = min(c for _, c in timings[False]), min(c for _, c in timings[True])
    print(json.dumps({
        "benchmark": "reconcile_visits",
        "generated_visits": args.visits,
        "claim_lines": len(lines), "visit_notes": len(notes), "note_services": len(services),
        "visits_97112": len(visits),
        "seconds_best": round(best, 2), "seconds_all": [round(t, 2) for t, _ in timings[True]],
        "visits_per_second": int(len(visits) / best),
        "without_explanations": {"seconds_best": round(plain, 2), "cpu_seconds_best": round(cpu_plain, 2),
                                 "seconds_all": [round(t, 2) for t, _ in timings[False]]},
        "explanations": {"seconds": round(best - plain, 2), "cpu_seconds": round(cpu_explained - cpu_plain, 2),
                         "cpu_share": round((cpu_explained - cpu_plain) / cpu_explained, 3),
                         "text_bytes": int(visits["explanation"].str.len().sum())},
        "excess_units_97112": int(visits["excess_units_97112"].sum()),
        "python": platform.python_version(), "pandas": pd.__version__, "machine": platform.machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
