"""Benchmark the whole audit at scale against a bare pyarrow read of the same files.

    python bench/audit.py                                  # 100k, 1M and 10M claim lines, Parquet and CSV
    python bench/audit.py --sizes 100k,1M --formats parquet

For each size and format: generate the inputs with the project's generator (seeded; kept in
bench/out/data for the next run), time a bare pyarrow read of the claim and note files, then run
the command a user runs (`nmr-audit audit … --no-data-docs`, Data Docs on with --data-docs) as
a process of its own, with no PREFECT_* settings (so with its temporary Prefect server), and
read its stage times from summary.json. Reported: the command's wall
time end to end (imports, the temporary Prefect server, the flow, exit), the flow's own time
(summary.json `run.seconds.total`: reading to the last output written), and the peak RSS of the
command's process tree (its bucket worker and Prefect server included). Prints a table and
writes bench/out/results.json. Figures belong in notes and docs/performance.md, never in timed tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_VISIT = 2.37  # what the generator bills on average
# reconcile_units and apply_rules are seconds summed over buckets audited side by side;
# audit_buckets is their wall time with the merge, and total the whole flow's (summary.json).
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
    """The faster of two reads of every claim and note file: the second finds the files in the
    page cache, as the audit that follows does (a first read from disk had made the ratio up to
    4× smaller for CSV)."""
    return min(_read_all(folder, fmt) for _ in range(2))


def _read_all(folder: Path, fmt: str) -> float:
    started = time.perf_counter()
    for path in sorted((folder / "claims").iterdir()) + sorted((folder / "notes").iterdir()):
        if fmt == "parquet":
            pq.read_table(path)
        else:
            pacsv.read_csv(path)
    return time.perf_counter() - started


class TreeMemory:
    """Peak RSS of a process and its children together (the bucket worker and the temporary
    Prefect server are processes of their own), sampled every 0.2 s. `timeline` keeps each
    sample's RSS per process (seconds since start, role, MiB) and `at_peak` the tree at its peak,
    so that a peak can be laid beside the command's log lines. `peak_anonymous` is the same
    without file-backed pages (memory-mapped spill files the kernel can drop and read again)."""

    def __init__(self, process: psutil.Process) -> None:
        self.peak = 0
        self.peak_anonymous = 0
        self.at_peak: dict[str, float] = {}
        self.timeline: list[tuple[float, str, float]] = []
        self._process = process
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @staticmethod
    def role(process: psutil.Process, root: psutil.Process) -> str:
        if process.pid == root.pid:
            return "command"
        try:
            line = " ".join(process.cmdline())
        except psutil.Error:
            return f"pid {process.pid}"
        if ("prefect" in line and "server" in line) or "uvicorn" in line:
            return "prefect server"
        if "multiprocessing" in line or "spawn_main" in line:
            return f"worker {process.pid}"
        return f"{process.name()} {process.pid}"

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                tree = [self._process, *self._process.children(recursive=True)]
            except psutil.Error:
                continue
            sample: dict[str, float] = {}
            anonymous = 0
            for process in tree:
                try:
                    info = process.memory_info()
                except psutil.Error:
                    continue
                role = self.role(process, self._process)
                sample[role] = info.rss / 2**20
                if info.shared > 2**26:  # file-backed pages of this process over 64 MiB, apart
                    self.timeline.append((round(time.perf_counter() - self._started, 1), f"{role} file-backed",
                                          round(info.shared / 2**20, 1)))
                anonymous += info.rss - info.shared
            self.peak_anonymous = max(self.peak_anonymous, anonymous)
            now = round(time.perf_counter() - self._started, 1)
            self.timeline.extend((now, role, round(mib, 1)) for role, mib in sample.items())
            total = sum(sample.values()) * 2**20
            if total > self.peak:
                self.peak, self.at_peak = int(total), {"seconds": now, **{k: round(v) for k, v in sample.items()}}

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def write(self, path: Path) -> None:
        """The timeline as CSV: seconds, process, rss_mib."""
        path.write_text("seconds,process,rss_mib\n" + "".join(f"{t},{r},{m}\n" for t, r, m in self.timeline))


def audit(folder: Path, out: Path, data_docs: bool, extra: list[str] | None = None) -> dict:
    """One `nmr-audit audit` command, timed from its start to its exit; its output goes to
    `out`.log."""
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).parent / "nmr-audit"), "audit", "--claims", str(folder / "claims"),
               "--notes", str(folder / "notes"), "--out", str(out), "--data-docs" if data_docs else "--no-data-docs",
               *(extra or [])]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # a run as a user runs it
    log = out.with_suffix(".log")
    with log.open("w") as output:
        started = time.perf_counter()
        process = psutil.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT, env=environment)
        memory = TreeMemory(process)
        code = process.wait()
        seconds = time.perf_counter() - started
    peak = memory.stop() / 2**20
    memory.write(out.with_suffix(".memory.csv"))
    print(f"peak of the process tree at {memory.at_peak}; without file-backed pages "
          f"{memory.peak_anonymous / 2**20:,.0f} MiB", flush=True)
    if code:
        return {"ok": False, "message": log.read_text()[-2000:], "command_seconds": round(seconds, 2),
                "peak_rss_mib": round(peak, 1)}
    summary = json.loads((out / "summary.json").read_text())
    return {"ok": True, "command_seconds": round(seconds, 2), "stages": summary["run"]["seconds"],
            "claim_lines": summary["totals"]["claim_lines"]["rows_read"], "findings": summary["findings"]["total"],
            "peak_rss_mib": round(peak, 1)}


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
    parser.add_argument("--lines-per-bucket", type=int, help="the command's --lines-per-bucket (default: its own)")
    args = parser.parse_args()
    speed = machine_speed()
    print(f"machine: {speed}", flush=True)
    results = []
    for lines in map(size, args.sizes.split(",")):
        for fmt in args.formats.split(","):
            folder = dataset(lines, fmt, args.seed, args.out)
            read = bare_read(folder, fmt)
            extra = ["--lines-per-bucket", str(args.lines_per_bucket)] if args.lines_per_bucket else []
            run = audit(folder, args.out / "runs" / f"{lines}-{fmt}", args.data_docs, extra)
            if not run["ok"]:
                print(f"{lines:>11,} {fmt:<8} audit FAILED after {run['command_seconds']}s "
                      f"(peak {run['peak_rss_mib']:,.0f} MiB): {run['message']}", flush=True)
                results.append({"claim_lines": lines, "format": fmt, "failed": run["message"],
                                "peak_rss_mib": run["peak_rss_mib"], "seconds": run["command_seconds"]})
                continue
            audited = run["stages"]["total"]
            results.append({"claim_lines": run["claim_lines"], "format": fmt, "bare_read_seconds": round(read, 2),
                            "command_seconds": run["command_seconds"], "audit_seconds": round(audited, 2),
                            "stages": run["stages"], "claim_lines_per_second": int(run["claim_lines"] / audited),
                            "peak_rss_mib": run["peak_rss_mib"], "ratio_to_bare_read": round(audited / read, 1),
                            "command_ratio_to_bare_read": round(run["command_seconds"] / read, 1),
                            "findings": run["findings"]})
            print_row(results[-1])
    document = {"machine": {"python": platform.python_version(), "processor": platform.machine(),
                            "cpus": os.cpu_count(), **speed, "after": machine_speed()},
                "results": results}
    (args.out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten to {args.out / 'results.json'}")


def print_row(row: dict) -> None:
    stages = " ".join(f"{k}={row['stages'].get(k, 0):.1f}" for k in (*WALL, "reconcile_units", "apply_rules"))
    print(f"{row['claim_lines']:>11,} {row['format']:<8} command {row['command_seconds']:>7.1f}s "
          f"audit {row['audit_seconds']:>7.1f}s ({stages}) {row['claim_lines_per_second']:>9,} lines/s "
          f"peak {row['peak_rss_mib']:>8,.0f} MiB  bare read {row['bare_read_seconds']:.2f}s  "
          f"ratio {row['ratio_to_bare_read']}×", flush=True)


if __name__ == "__main__":
    main()
