"""The 500-visit sample audit end to end, and where its seconds go (issue 21, target 1).

    python bench/sample.py                          # 3 warm runs of the worktree's code
    python bench/sample.py --runs 4 --against HEAD~5   # interleaved: that commit, then the worktree, ×4
    python bench/sample.py --cold                   # the first run with an empty cache folder

Each run is `nmr-audit audit --claims … --notes … --out …` with the command's defaults (Data
Docs on), a process of its own with no PREFECT_* settings (so with its temporary Prefect
server), on the sample `bench/compare.py` generates (`nmr-audit generate --visits 500 --seed 7
--format csv --defect-rate 0.02`, kept in bench/out/data). The cache folder (XDG_CACHE_HOME:
the migrated Prefect database, the Vega bundle) is bench/out/sample-cache, filled by the first
run ever (or emptied first with --cold).

For each run: the wall time from start to exit, the load average when it ended, and the seconds
after the start at which its log says the first input file was opened, the flow began, the
read, the bucket's audit and the outputs were done, the publish task and the flow finished.

`--against REV` exports that commit (`git archive`) into bench/out/rev-<sha> and runs its code
with this worktree's virtual environment, alternating with the worktree's own code, so that both
see the same load; each pair's outputs (visits, findings, quarantine Parquet; summary.json
without times, ids and paths) are checked equal. Only runs held in one process compare this
way (the sample is): a spawned bucket worker would import the installed code.

Writes bench/out/sample.json. Figures belong in docs/performance.md, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
from audit import ROOT, machine_speed

SEED = 7
MARKS = (("file", r"first input file opened"), ("flow", r"Beginning flow run"),
         ("read", r"Task run 'read and validate-.*Finished"), ("bucket", r"Task run 'audit bucket-.*Finished"),
         ("outputs", r"outputs written to"), ("publish", r"Task run 'publish-.*Finished"),
         ("flow_end", r"Flow run .* - Finished in state"))
STAMP = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \|")
VOLATILE = {"seconds", "started_at", "finished_at", "run_id", "flow_run_id", "expectations", "reference", "out",
            "path", "version", "commit"}


def sample_folder(out: Path) -> Path:
    """The 500-visit sample, generated once (as bench/compare.py does)."""
    folder = out / "data" / f"sample-500-csv-seed{SEED}"
    if not (folder / "done").exists():
        subprocess.run([str(Path(sys.executable).parent / "nmr-audit"), "generate", "--visits", "500", "--seed",
                        str(SEED), "--format", "csv", "--defect-rate", "0.02", "--out", str(folder)],
                       check=True, cwd=ROOT)
        (folder / "done").write_text("500 visits\n")
    return folder


def export(rev: str, out: Path) -> Path:
    """The commit's files (tracked ones) in a folder of their own, kept for the next run."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], check=True, capture_output=True, text=True,
                         cwd=ROOT).stdout.strip()
    folder = out / f"rev-{sha}"
    if not (folder / "pyproject.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], check=True, capture_output=True, cwd=ROOT).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_once(code: Path, sample: Path, target: Path, cache: Path) -> dict:
    """One command with `code`'s nmr_audit and flows, timed; its log kept beside `target`."""
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    launcher = f"import sys; sys.path[0] = {str(code)!r}; from nmr_audit.cli import main; sys.argv[0] = 'nmr-audit'; main()"
    command = [sys.executable, "-c", launcher, "audit", "--claims", str(sample / "claims"), "--notes",
               str(sample / "notes"), "--out", str(target)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"XDG_CACHE_HOME": str(cache)}
    began = time.time()
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    log = done.stderr + done.stdout
    target.with_suffix(".log").write_text(log)
    if done.returncode:
        raise SystemExit(f"the command failed ({done.returncode}); see {target.with_suffix('.log')}")
    return {"seconds": round(seconds, 2), "load": round(os.getloadavg()[0], 2), **marks(log, began)}


def marks(log: str, began: float) -> dict[str, float]:
    """Seconds after `began` of each MARKS line's first appearance (the log's clock: ms)."""
    day = datetime.fromtimestamp(began).strftime("%Y-%m-%d")
    found: dict[str, float] = {}
    for line in log.splitlines():
        stamp = STAMP.match(line)
        if not stamp:
            continue
        for name, pattern in MARKS:
            if name not in found and re.search(pattern, line):
                when = datetime.strptime(f"{day} {stamp.group(1)}", "%Y-%m-%d %H:%M:%S.%f").timestamp()
                if when < began - 3600:  # the run went past midnight
                    when += 86400
                found[name] = round(when - began, 2)
    return found


def same_outputs(left: Path, right: Path) -> list[str]:
    """What differs between two runs' outputs (nothing: an empty list)."""
    differences = []
    for name in ("visits.parquet", "findings.parquet", "quarantine.parquet"):
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(left / name), pd.read_parquet(right / name))
        except AssertionError as problem:
            differences.append(f"{name}: {str(problem).splitlines()[0]}")
    summaries = [_stable(json.loads((folder / "summary.json").read_text())) for folder in (left, right)]
    if summaries[0] != summaries[1]:
        differences.append("summary.json")
    return differences


def _stable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs (pairs with --against)")
    parser.add_argument("--against", help="a commit to run interleaved with the worktree's code")
    parser.add_argument("--cold", action="store_true", help="empty the cache folder before the first run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    sample, cache = sample_folder(args.out), args.out / "sample-cache"
    if args.cold:
        shutil.rmtree(cache, ignore_errors=True)
    versions = {"worktree": ROOT}
    if args.against:
        versions = {args.against: export(args.against, args.out), **versions}
    speed = machine_speed()
    print(f"machine: Python loop 10M {speed['python_loop_10m_seconds']} s; load {os.getloadavg()}", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in versions}
    for number in range(args.runs):
        for name, code in versions.items():
            label = re.sub(r"[^A-Za-z0-9]+", "-", name)
            runs[name].append(run_once(code, sample, args.out / "runs" / f"sample-{label}-{number}", cache))
            print(f"{name:>12} run {number + 1}: {json.dumps(runs[name][-1])}", flush=True)
        if args.against:
            labels = [re.sub(r"[^A-Za-z0-9]+", "-", name) for name in versions]
            left, right = (args.out / "runs" / f"sample-{label}-{number}" for label in labels)
            differences = same_outputs(left, right)
            print("  outputs: " + ("identical" if not differences else "DIFFER: " + "; ".join(differences)), flush=True)
            if differences:
                return 1
    for name, done in runs.items():
        walls = [r["seconds"] for r in done]
        print(f"{name:>12}: end to end median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max "
              f"{max(walls):.2f}); flow begins median {statistics.median(r.get('flow', 0) for r in done):.2f} s")
    result = {"runs": runs, "machine": {"cpus": os.cpu_count(), **speed, "after": machine_speed()}}
    (args.out / "sample.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
