"""Benchmark the whole audit at scale against a bare pyarrow read of the same files.

    python bench/audit.py                                  # 100k, 1M and 10M claim lines, Parquet and CSV
    python bench/audit.py --sizes 100k,1M --formats parquet

For each size and format: generate the inputs with the project's generator (seeded; kept in
bench/out/data for the next run), time a bare pyarrow read of the claim and note files, then run
the full audit (the Prefect flow, Data Docs off unless --data-docs) in a fresh process and read
its stage times from summary.json and its peak RSS (with its bucket workers). Prints a table and writes
bench/out/results.json. The audit's time is the flow's own wall time (summary.json
`run.seconds.total`: reading to outputs written, not the Prefect server's start). Figures
belong in notes and the README, never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_VISIT = 2.37  # what the generator bills on average
STAGES = ("read_and_validate", "reconcile_units", "apply_rules", "write_outputs", "reports")
# reconcile_units and apply_rules are thread-seconds summed over buckets audited side by side;
# audit_buckets is their wall time, and total the whole flow's after its Prefect server is up.
WALL = ("read_and_validate", "audit_buckets", "write_outputs", "reports")


def size(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1].lower()]) if text[-1].lower() in scale else int(text)


def dataset(lines: int, fmt: str, seed: int, root: Path) -> Path:
    from nmr_audit.synth.write import ExportStyle, write_dataset

    folder = root / "data" / f"{lines}-{fmt}-seed{seed}"
    if not (folder / "done").exists():
        started = time.perf_counter()
        write_dataset(folder, math.ceil(lines / LINES_PER_VISIT), seed, 0.02, ExportStyle(format=fmt), progress=True)
        (folder / "done").write_text(f"{time.perf_counter() - started:.1f}\n")
    return folder


def bare_read(folder: Path, fmt: str) -> float:
    started = time.perf_counter()
    for path in sorted((folder / "claims").iterdir()) + sorted((folder / "notes").iterdir()):
        if fmt == "parquet":
            pq.read_table(path)
        else:
            pacsv.read_csv(path)
    return time.perf_counter() - started


def audit(folder: Path, out: Path, data_docs: bool) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "run_one.py"), "--claims", str(folder / "claims"),
               "--notes", str(folder / "notes"), "--out", str(out)] + (["--data-docs"] if data_docs else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"audit failed for {folder}:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def machine_speed() -> dict:
    """Two fixed workloads timed beside the audit: this box's speed varies from day to day (a pure
    Python loop has taken 1.5–6 s here), so compare runs by these before comparing audits."""
    import numpy as np

    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    looped = time.perf_counter() - started
    values = np.random.default_rng(0).random(10_000_000)
    started = time.perf_counter()
    np.sort(values)
    return {"python_loop_10m_seconds": round(looped, 2), "numpy_sort_10m_seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1M,10M", help="claim lines per input, e.g. 100k,1M,10M")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--data-docs", action="store_true", help="also render GX Data Docs")
    args = parser.parse_args()
    speed = machine_speed()
    print(f"machine: {speed}", flush=True)
    results = []
    for lines in map(size, args.sizes.split(",")):
        for fmt in args.formats.split(","):
            folder = dataset(lines, fmt, args.seed, args.out)
            read = bare_read(folder, fmt)
            run = audit(folder, args.out / "runs" / f"{lines}-{fmt}", args.data_docs)
            if not run["ok"]:
                print(f"{lines:>11,} {fmt:<8} audit FAILED after {run['process_seconds']}s "
                      f"(peak {run['peak_rss_mib']:,.0f} MiB): {run['message']}", flush=True)
                results.append({"claim_lines": lines, "format": fmt, "failed": run["message"],
                                "peak_rss_mib": run["peak_rss_mib"], "seconds": run["process_seconds"]})
                continue
            audited = run["stages"].get("total") or sum(run["stages"].get(s, 0) for s in WALL)
            results.append({"claim_lines": run["claim_lines"], "format": fmt, "bare_read_seconds": round(read, 2),
                            "audit_seconds": round(audited, 2), "flow_seconds": run["flow_seconds"],
                            "stages": run["stages"], "claim_lines_per_second": int(run["claim_lines"] / audited),
                            "peak_rss_mib": run["peak_rss_mib"], "ratio_to_bare_read": round(audited / read, 1),
                            "findings": run["findings"]})
            print_row(results[-1])
    document = {"machine": {"python": platform.python_version(), "processor": platform.machine(),
                            "cpus": __import__("os").cpu_count(), **speed, "after": machine_speed()},
                "results": results}
    (args.out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten to {args.out / 'results.json'}")


def print_row(row: dict) -> None:
    stages = " ".join(f"{k}={row['stages'].get(k, 0):.1f}" for k in (*WALL, "reconcile_units", "apply_rules"))
    print(f"{row['claim_lines']:>11,} {row['format']:<8} audit {row['audit_seconds']:>7.1f}s "
          f"(flow {row['flow_seconds']:.1f}s; {stages}) {row['claim_lines_per_second']:>9,} lines/s "
          f"peak {row['peak_rss_mib']:>8,.0f} MiB  bare read {row['bare_read_seconds']:.2f}s  "
          f"ratio {row['ratio_to_bare_read']}×", flush=True)


if __name__ == "__main__":
    main()
