"""Scale-out that speeds up: the same audit in one process and on two local Dask workers.

    python bench/scale_out.py                        # 1M claim lines (Parquet), each way twice, interleaved
    python bench/scale_out.py --size 10M --repeat 1  # the issue's 10M figure (long)

Issue 21's target 3: two local Dask workers audit 10M lines at least 1.6× faster than one
process, and are no slower at 1M; outputs identical to the single-process run. For one seeded
dataset (the project's generator, kept in bench/out/data, as bench/audit.py makes it), the
command a user runs (`nmr-audit audit … --no-data-docs`, no PREFECT_* settings), in turn:

- `one`: one process — the whole run audited by the command's own process, one bucket at a
  time with one rule engine (`--lines-per-bucket` above the run's size: the run is held in
  memory and audited as one bucket; no worker process, no Dask);
- `dask`: partitioned (`--dask-address tcp://…`) on a local Dask cluster this script starts
  before the runs (the settings `nmr-audit audit --dask-address local` uses: one single-threaded
  worker process per core, here `--workers`, each building its rule engine as it starts), the
  buckets sized by work (the command's `--lines-per-bucket`, or this script's, a multiple of the
  workers);
- `default` (with `--modes one,default,dask`): the command's own choice (a run above a million
  lines: two spawned worker processes, buckets two at a time).

Each run's wall time from start to exit, the flow's own time (summary.json) and the peak RSS of
this script's process tree (the command, its children and the cluster's workers). The outputs
of every run are checked equal to the first `one` run's (visits.parquet and findings.parquet,
every column; exit status 1 when not). Printed: the speed-up of `dask` over `one` (the faster
run of each), the parallel fraction it implies on W workers by Amdahl's law,
p = (1 − 1/S) / (1 − 1/W), and the time projected for N workers, T(N) = T(1) · ((1 − p) + p/N)
(cores being free; on this 2-core box nothing else may run). Writes bench/out/scale-out-<size>.json.
Figures belong in docs/performance.md, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
from audit import ROOT, TreeMemory, dataset, machine_speed, size

COMMAND = Path(sys.executable).parent / "nmr-audit"


def run(folder: Path, out: Path, mode: str, lines: int, scheduler: str | None, per_bucket: int | None = None) -> dict:
    """One `nmr-audit audit` in `mode`, timed from its start to its exit (log in `out`.log)."""
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(COMMAND), "audit", "--claims", str(folder / "claims"), "--notes", str(folder / "notes"),
               "--out", str(out), "--no-data-docs"]
    if mode == "one":
        command += ["--lines-per-bucket", str(2 * lines + 1)]
    elif mode == "dask":
        command += ["--dask-address", str(scheduler)]
    if mode != "one" and per_bucket:
        command += ["--lines-per-bucket", str(per_bucket)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    log = out.with_suffix(".log")
    with log.open("w") as output:
        memory = TreeMemory(psutil.Process())  # this script's tree: the command, its children, the cluster
        started = time.perf_counter()
        code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT, env=environment).returncode
        seconds = time.perf_counter() - started
    peak = memory.stop() / 2**20
    memory.write(out.with_suffix(".memory.csv"))  # every process's RSS over time (a worker's peak: the largest "worker" row)
    workers = [mib for _, role, mib in memory.timeline if role.startswith("worker") and "file-backed" not in role]
    if code:
        raise SystemExit(f"{mode}: the command failed ({code}); see {log}")
    summary = json.loads((out / "summary.json").read_text())
    parameters = summary["run"]["parameters"]
    return {"mode": mode, "command_seconds": round(seconds, 2), "flow_seconds": summary["run"]["seconds"]["total"],
            "stages": summary["run"]["seconds"], "buckets": parameters["buckets"],
            "claim_lines": summary["totals"]["claim_lines"]["rows_read"], "findings": summary["findings"]["total"],
            "peak_rss_mib": round(peak, 1), "largest_worker_mib": round(max(workers, default=0), 1)}


def same_outputs(first: Path, other: Path) -> list[str]:
    """The output files of `other` that differ from `first`'s (visits, findings: every column)."""
    differ = []
    for name in ("visits.parquet", "findings.parquet"):
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(first / name), pd.read_parquet(other / name))
        except AssertionError as problem:
            differ.append(f"{name}: {str(problem).splitlines()[0]}")
    return differ


def start_cluster(workers: int):
    """A local Dask cluster as `nmr-audit audit --dask-address local` starts one (cli.local_cluster)."""
    from dask.distributed import LocalCluster

    from nmr_audit.cli import local_cluster

    return LocalCluster(**local_cluster(workers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1M", help="claim lines, e.g. 1M or 10M")
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (one process each, single-threaded)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each mode, interleaved")
    parser.add_argument("--modes", default="one,dask", help="one, default, dask (in this order each round)")
    parser.add_argument("--lines-per-bucket", type=int, default=None,
                        help="claim lines per bucket of the dask and default runs (default: the command's own)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    lines = size(args.size)
    speed = machine_speed()
    print(f"machine: {os.cpu_count()} cores, Python loop 10M {speed['python_loop_10m_seconds']} s, "
          f"NumPy sort 10M {speed['numpy_sort_10m_seconds']} s, load {os.getloadavg()[0]:.1f}", flush=True)
    folder = dataset(lines, args.format, args.seed, args.out)
    modes = args.modes.split(",")
    cluster = start_cluster(args.workers) if "dask" in modes else None
    results, reference = [], None
    try:
        for round_ in range(args.repeat):
            for mode in modes:
                out = args.out / "runs" / f"scale-out-{args.size}-{mode}-{round_}"
                done = run(folder, out, mode, lines, cluster.scheduler_address if cluster else None,
                           args.lines_per_bucket)
                done["load"] = round(os.getloadavg()[0], 1)
                reference = reference or (out if mode == "one" else None)
                done["outputs_differ"] = same_outputs(reference, out) if reference and reference != out else []
                results.append(done)
                print(f"{mode:>8} #{round_ + 1}: command {done['command_seconds']:7.1f} s, flow {done['flow_seconds']:7.1f} s "
                      f"({done['buckets']} bucket(s)), peak {done['peak_rss_mib']:7,.0f} MiB "
                      f"(a worker {done['largest_worker_mib']:,.0f}), "
                      f"load {done['load']}"
                      + (f"  OUTPUTS DIFFER: {done['outputs_differ']}" if done["outputs_differ"] else ""), flush=True)
    finally:
        if cluster is not None:
            cluster.close()
    best = {m: min(r["command_seconds"] for r in results if r["mode"] == m) for m in modes}
    best_flow = {m: min(r["flow_seconds"] for r in results if r["mode"] == m) for m in modes}
    document = {"machine": {**speed, "cores": os.cpu_count(), "after": machine_speed()}, "size": args.size,
                "format": args.format, "workers": args.workers, "results": results, "best_command_seconds": best,
                "best_flow_seconds": best_flow}
    if "one" in best and "dask" in best:
        workers = args.workers
        for label, times in (("command", best), ("flow", best_flow)):
            speedup = times["one"] / times["dask"]
            fraction = (1 - 1 / speedup) / (1 - 1 / workers) if workers > 1 else 0.0
            projected = {n: round(times["one"] * ((1 - fraction) + fraction / n), 1) for n in (1, 2, 4, 8, 16)}
            document[f"{label}_speedup"] = round(speedup, 2)
            document[f"{label}_parallel_fraction"] = round(fraction, 2)
            document[f"{label}_projected_seconds"] = projected
            print(f"{label}: one process {times['one']:.1f} s, {workers} Dask workers {times['dask']:.1f} s: "
                  f"speed-up {speedup:.2f}×, parallel fraction {fraction:.2f}; projected "
                  + ", ".join(f"{n} workers {s} s" for n, s in projected.items()))
    failed = any(r["outputs_differ"] for r in results)
    target = args.out / f"scale-out-{args.size}-{args.format}.json"
    target.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {target}; outputs {'DIFFER' if failed else 'identical to the single-process run'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
