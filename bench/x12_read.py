"""Read speed of 837P claims against the same claims as CSV (claim lines per second, peak memory).

    python bench/x12_read.py                       # 100,000 visits (about 250,000 claim lines)
    python bench/x12_read.py --visits 400000 --repeat 3

The generator writes one dataset twice (`--format x12` and `--format csv`, same seed: the same
claim lines) into bench/out/x12/; each reading then runs in a fresh process (`read_837` or
`read_export`, every batch read to the end), timed, with its peak resident memory. Where pyx12
is installed (it is not a dependency), its segment reader over the same file is timed too: the
measured reason nmr-audit tokenizes X12 itself.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "x12"

READERS = {"837p": ("nmr_audit.x12.claims_837", "read_837"), "csv": ("nmr_audit.io.readers", "read_export")}


def _child(kind: str, path: str) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    if kind == "pyx12":
        from pyx12.x12file import X12Reader  # optional: for the comparison only

        with open(path, encoding="ascii") as handle:
            for segment in X12Reader(handle):
                rows += segment.get_seg_id() == "SV1"
    else:
        module, name = READERS[kind]
        table = getattr(importlib.import_module(module), name)(Path(path))
        for frame in table.batches():
            rows += len(frame)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_bytes()
    print(json.dumps({"kind": kind, "rows": rows, "seconds": seconds, "cpu_seconds": cpu_seconds, "peak_bytes": peak}))


def _peak_bytes() -> int:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a
    child started from the generating parent would inherit)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(kind: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="read the files a previous run wrote")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    from nmr_audit.synth.write import ExportStyle, write_dataset

    files = {}
    for kind, suffix in (("x12", "claims/claims.837"), ("csv", "claims/claims.csv")):
        files[kind] = OUT / kind / suffix
        if not (args.reuse and files[kind].is_file()):
            write_dataset(OUT / kind, visits=args.visits, seed=args.seed, defect_rate=0.02, style=ExportStyle(format=kind))
    runs = [("837p", files["x12"]), ("csv", files["csv"])]
    try:
        import pyx12  # noqa: F401

        runs.append(("pyx12", files["x12"]))
    except ImportError:
        pass
    results = {}
    for kind, path in runs:
        best = min((_measure(kind, path) for _ in range(args.repeat)), key=lambda r: r["cpu_seconds"])
        best["lines_per_second"] = round(best["rows"] / best["seconds"])
        best["lines_per_cpu_second"] = round(best["rows"] / best["cpu_seconds"])  # less sensitive to a shared box
        best["file_bytes"] = path.stat().st_size
        results[kind] = best
        print(f"{kind:6} {best['rows']:>10,} lines  {best['seconds']:7.2f} s  {best['lines_per_second']:>10,} lines/s  "
              f"({best['lines_per_cpu_second']:,} per CPU second)  "
              f"peak {best['peak_bytes'] / 2**20:7.0f} MiB  file {best['file_bytes'] / 2**20:6.1f} MiB")
    print(json.dumps({"visits": args.visits, "python": platform.python_version(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
