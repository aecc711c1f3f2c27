"""Reading many small files: the command over k one-row CSV files, for several k.

    python bench/many_files.py                       # k = 500, 1000, 2000 (half claim files, half note files)
    python bench/many_files.py --files 2000 --profile  # also read them in this process, timing each file

The files: a generated CSV dataset (the project's generator, seeded) cut into one file per row,
each with the header (claims/ and notes/ of a folder per k, kept in bench/out/many-files). For
each k, the command a user runs (`nmr-audit audit … --no-data-docs`, bench/audit.py) end to end,
the flow's reading stage from summary.json (`read_and_validate`: with the command's head start
the files are read while Prefect starts, so this is the wait for what was left), and the
command's time per further file between successive k: a cost of O(k) keeps it flat as k grows.
`--profile` reads the files once more in this process
through `runtime.reading.read_table` (no Prefect), and prints the time per file in each tenth
of the files (flat: O(k); growing: some step's cost grows with the files read so far).

Issue 21's target: 2,000 small files in ≤ 30 s. Figures belong in docs/performance.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from audit import ROOT, audit, machine_speed

HEADER_ROWS = 1


def one_row_files(source: Path, target: Path, count: int) -> None:
    """`count` files of one row each (with the header) cut from the CSV file `source`."""
    target.mkdir(parents=True, exist_ok=True)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = lines[:HEADER_ROWS], lines[HEADER_ROWS:]
    if len(rows) < count:
        raise SystemExit(f"{source} has {len(rows)} rows, fewer than the {count} files asked for")
    for number, row in enumerate(rows[:count]):
        (target / f"{source.stem}-{number:05d}.csv").write_text("".join(header) + row, encoding="utf-8")


def dataset(root: Path, files: int, seed: int) -> Path:
    """`files` one-row CSV files: half claim lines, half notes (kept for the next run)."""
    folder = root / f"{files}-seed{seed}"
    if (folder / "done").exists():
        return folder
    from nmr_audit.synth.write import ExportStyle, write_dataset

    whole = root / f"whole-seed{seed}"
    if not (whole / "done").exists():
        write_dataset(whole, visits=max(1_000, files), seed=seed, defect_rate=0.0, style=ExportStyle(format="csv"))
        (whole / "done").write_text("")
    one_row_files(whole / "claims" / "claims.csv", folder / "claims", files // 2)
    one_row_files(whole / "notes" / "notes.csv", folder / "notes", files - files // 2)
    (folder / "done").write_text("")
    return folder


def profile(folder: Path, steps: int = 10) -> list[float]:
    """The first k of every table's files read in this process (`runtime.reading.read_table`, no
    Prefect), for k in `steps` steps up to all of them: the milliseconds each further file added
    (flat: reading k files costs O(k))."""
    from nmr_audit.contract import CLAIM_LINES, VISIT_NOTES
    from nmr_audit.io.reference import load_reference
    from nmr_audit.mapping import IDENTITY
    from nmr_audit.runtime.reading import read_table
    from nmr_audit.runtime.spill import Spill

    reference = load_reference()

    class Quiet:
        def info(self, msg: str, *args: object) -> None:
            pass

    paths = {table: sorted((folder / sub).iterdir()) for table, sub in ((CLAIM_LINES, "claims"), (VISIT_NOTES, "notes"))}
    added, before = [], (0, 0.0)
    for step in range(1, steps + 1):
        began = time.perf_counter()
        count = 0
        for table, files in paths.items():
            part = files[: len(files) * step // steps]
            count += len(part)
            read_table(table, part, IDENTITY, reference, Spill(1), 500_000, Quiet())
        seconds = time.perf_counter() - began
        added.append((seconds - before[1]) / max(1, count - before[0]))
        before = (count, seconds)
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="500,1000,2000", help="numbers of files, e.g. 500,1000,2000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="also read the largest set in this process")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    speed = machine_speed()
    print(f"machine: Python loop 10M {speed['python_loop_10m_seconds']} s, NumPy sort 10M "
          f"{speed['numpy_sort_10m_seconds']} s", flush=True)
    results = []
    for files in (int(k) for k in args.files.split(",")):
        folder = dataset(args.out / "many-files", files, args.seed)
        run = audit(folder, args.out / "runs" / f"many-files-{files}", data_docs=False)
        if not run["ok"]:
            print(f"{files} files: the command failed: {run['message']}")
            sys.exit(1)
        read = run["stages"]["read_and_validate"]
        results.append({"files": files, "command_seconds": run["command_seconds"], "read_and_validate_seconds": read,
                        "flow_seconds": run["stages"]["total"], "milliseconds_per_file": round(1000 * read / files, 2)})
        print(f"{files:>6} files: command {run['command_seconds']:6.1f} s, flow {run['stages']['total']:6.1f} s, "
              f"read and validate {read:6.2f} s = {1000 * read / files:5.2f} ms per file", flush=True)
    for before, after in itertools.pairwise(results):  # the command's cost of each further file
        after["command_ms_per_further_file"] = round(
            1000 * (after["command_seconds"] - before["command_seconds"]) / (after["files"] - before["files"]), 1)
        print(f"{before['files']} → {after['files']} files: {after['command_ms_per_further_file']} ms of the command "
              "per further file (flat as k grows: O(k))")
    document = {"machine": {**speed, "after": machine_speed()}, "results": results}
    if args.profile:
        tenths = profile(dataset(args.out / "many-files", max(int(k) for k in args.files.split(",")), args.seed))
        document["profile_ms_per_file_by_tenth"] = [round(1000 * t, 2) for t in tenths]
        print("in this process, ms each further file added, by tenth of the files: "
              + " ".join(f"{1000 * t:.1f}" for t in tenths))
    target = args.out / "many-files.json"
    target.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {target}; target: 2,000 files in ≤ 30 s: "
          f"{'met' if any(r['files'] >= 2000 and r['command_seconds'] <= 30 for r in results) else 'not met'}")


if __name__ == "__main__":
    main()
