"""Issue 21's targets side by side, in one run, on the same files.

    python bench/compare.py                          # 1M claim lines (Parquet), then the 500-visit sample
    python bench/compare.py --size 100k --sample-runs 0
    python bench/compare.py --skip-command           # only the read, DuckDB and reconcile_visits (needs a run)

In order, each figure with this box's speed beside it (a 10M-step Python loop and a 10M-value
NumPy sort, timed before and after: compare runs by those first, the box is shared):

1. inputs made by the project's generator (`nmr-audit generate`, seeded, kept in bench/out/data);
2. a bare pyarrow read of the claim and note files (the faster of two reads);
3. the command a user runs, `nmr-audit audit … --no-data-docs`, as a process of its own with no
   PREFECT_* settings (so with its temporary Prefect server): wall time from start to exit, the
   flow's own time (summary.json), the peak RSS of its whole process tree, and its start-up, read
   from the line the command logs when it opens its first input file;
4. on the canonical tables that run wrote (claim_lines, visit_notes, note_services .parquet):
   DuckDB running bench/reconcile.sql from the files (all cores, and one thread), and the project's
   `reconcile_visits` over the same tables already in memory (reading them into pandas timed
   apart), each the faster of two; DuckDB's answer and `reconcile_visits`' are both checked equal
   to the run's visits.parquet on every column the SQL computes;
5. the 500-visit sample audit end to end (the command with its defaults, Data Docs included),
   `--sample-runs` times: the first with an empty cache folder (cold: the Prefect database is
   migrated and the Vega bundle made, as on a new machine), the others with it filled (warm).

Prints the figures and the issue's targets met or not; writes bench/out/compare-<size>-<format>.json.
Exit status 1 when DuckDB and the project disagree. Figures belong in docs/performance.md, never in tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
import pyarrow as pa
from audit import LINES_PER_VISIT, ROOT, audit, bare_read, machine_speed, size

T = TypeVar("T")
SQL = Path(__file__).with_name("reconcile.sql")
VISIT_KEY = ["patient_id", "date_of_service", "rendering_npi"]
STARTUP = re.compile(r"first input file opened ([0-9.]+) s after the command started")


def generate(folder: Path, visits: int, fmt: str, seed: int) -> Path:
    """The project's generator, as a user runs it (kept for the next run)."""
    if not (folder / "done").exists():
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "nmr-audit"), "generate", "--visits", str(visits),
                        "--seed", str(seed), "--format", fmt, "--defect-rate", "0.02", "--out", str(folder)],
                       check=True, cwd=ROOT)
        (folder / "done").write_text(f"{time.perf_counter() - started:.1f}\n")
    return folder


def best_of(runs: int, step: Callable[[], T]) -> tuple[float, T]:
    """The fastest of `runs` calls of `step`, and its result."""
    best, result = math.inf, None
    for _ in range(runs):
        started = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - started)
    return best, result  # type: ignore[return-value]


def duckdb_visits(run: Path, threads: int | None) -> pa.Table:
    """bench/reconcile.sql over the run's canonical Parquet files and the reference CSVs, as Arrow
    (as cheap a hand-over as DuckDB has: its pandas conversion took another 1–2 s at 1M)."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    for table in ("claim_lines", "visit_notes", "note_services"):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{run / table}.parquet', file_row_number = true)")
    reference = ROOT / "data" / "reference"
    con.execute(f"CREATE VIEW cpt_codes AS SELECT cpt_code, timed FROM read_csv('{reference / 'cpt_codes.csv'}', "
                "types = {'cpt_code': 'VARCHAR', 'timed': 'BOOLEAN'})")
    con.execute(f"CREATE VIEW payer_rule_basis AS SELECT payer_type, rule_basis FROM "
                f"read_csv('{reference / 'payer_rule_basis.csv'}', all_varchar = true)")
    con.execute(f"CREATE VIEW payers AS SELECT payer_id, rule_basis FROM "  # payer ids are unique there
                f"read_csv('{reference / 'payers.csv'}', all_varchar = true)")
    *setup, query = statements(SQL.read_text())
    for statement in setup:
        con.execute(statement)
    return con.sql(query).to_arrow_table()


def statements(sql: str) -> list[str]:
    """The SQL file's statements (split at a semicolon ending a line), comments-only pieces left out."""
    pieces = [p.strip() for p in re.split(r";\s*\n", sql)]
    return [p for p in pieces if any(line.strip() and not line.strip().startswith("--") for line in p.splitlines())]


def differences(expected: pd.DataFrame, got: pd.DataFrame) -> dict[str, int]:
    """Rows that differ, per column of `got`, both frames matched by the visit key (missing = missing)."""
    if len(expected) != len(got):
        return {"rows": abs(len(expected) - len(got))}
    left = expected.sort_values(VISIT_KEY, kind="stable").reset_index(drop=True)
    right = got.sort_values(VISIT_KEY, kind="stable").reset_index(drop=True)
    found = {}
    for column in got.columns:
        a, b = _comparable(left[column]), _comparable(right[column])
        same = (a == b) | (a.isna() & b.isna())
        if not bool(same.fillna(False).all()):
            found[column] = int((~same.fillna(False)).sum())
    return found


def _comparable(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.astype("datetime64[s]")
    if pd.api.types.is_bool_dtype(column):
        return column.astype("boolean")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype("Int64")
    return column.astype("str").where(column.notna())


def reconciliation(run: Path, repeat: int) -> dict:
    """DuckDB and reconcile_visits over the run's canonical tables, each checked against visits.parquet."""
    from nmr_audit.io.readers import read_canonical
    from nmr_audit.io.reference import load_reference
    from nmr_audit.visits import reconcile_visits

    written = pd.read_parquet(run / "visits.parquet")
    sql_seconds, sql_table = best_of(repeat, lambda: duckdb_visits(run, None))
    sql_visits = sql_table.to_pandas()
    sql_one_thread, _ = best_of(1, lambda: duckdb_visits(run, 1))
    read_seconds, tables = best_of(1, lambda: [read_canonical(run / f"{t}.parquet")
                                               for t in ("claim_lines", "visit_notes", "note_services")])
    reference = load_reference(None)
    project_seconds, project_visits = best_of(repeat, lambda: reconcile_visits(*tables, reference))
    return {"visits": len(written), "claim_lines": len(tables[0]),
            "duckdb_seconds": round(sql_seconds, 3), "duckdb_one_thread_seconds": round(sql_one_thread, 3),
            "duckdb_threads": os.cpu_count(), "read_canonical_seconds": round(read_seconds, 3),
            "reconcile_visits_seconds": round(project_seconds, 3),
            "duckdb_vs_visits_parquet": differences(written, sql_visits),
            "reconcile_visits_vs_visits_parquet": differences(written, project_visits[sql_visits.columns]),
            "columns_compared": list(sql_visits.columns)}


def command(folder: Path, out: Path, data_docs: bool) -> dict:
    """`nmr-audit audit` end to end (bench/audit.py) and the start-up it logged."""
    run = audit(folder, out, data_docs)
    log = out.with_suffix(".log").read_text(errors="replace")
    found = STARTUP.search(log)
    run["startup_seconds"] = float(found.group(1)) if found else None
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1M", help="claim lines, e.g. 100k, 1M (10M is out of bounds on a shared box)")
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2, help="runs of DuckDB and reconcile_visits (the fastest counts)")
    parser.add_argument("--sample-runs", type=int, default=2, help="runs of the 500-visit sample audit (0: none)")
    parser.add_argument("--skip-command", action="store_true", help="reuse the last run's canonical tables")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    lines = size(args.size)
    speed = machine_speed()
    print(f"machine: Python loop 10M {speed['python_loop_10m_seconds']} s, NumPy sort 10M "
          f"{speed['numpy_sort_10m_seconds']} s", flush=True)
    folder = generate(args.out / "data" / f"{lines}-{args.format}-seed{args.seed}",
                      math.ceil(lines / LINES_PER_VISIT), args.format, args.seed)
    run_dir = args.out / "runs" / f"compare-{lines}-{args.format}"
    read = bare_read(folder, args.format)
    print(f"bare pyarrow read: {read:.2f} s", flush=True)
    result: dict = {"size": args.size, "format": args.format, "bare_read_seconds": round(read, 3)}
    if not args.skip_command:
        result["command"] = command(folder, run_dir, data_docs=False)
        print(f"command: {json.dumps(result['command'])}", flush=True)
        if not result["command"]["ok"]:
            print(f"the command failed; see {run_dir.with_suffix('.log')}")
            return 1
    result["reconciliation"] = reconciliation(run_dir, args.repeat)
    print(f"reconciliation: {json.dumps(result['reconciliation'])}", flush=True)
    samples = []
    if args.sample_runs:
        sample = generate(args.out / "data" / f"sample-500-csv-seed{args.seed}", 500, "csv", args.seed)
        cache = args.out / "sample-cache"  # the first run finds it empty (cold), the others filled (warm)
        shutil.rmtree(cache, ignore_errors=True)
        os.environ["XDG_CACHE_HOME"] = str(cache)
        for number in range(args.sample_runs):
            samples.append(command(sample, args.out / "runs" / f"compare-sample-{number}", data_docs=True))
            samples[-1]["cache"] = "cold" if number == 0 else "warm"
            print(f"500-visit sample, run {number + 1} ({samples[-1]['cache']}): {json.dumps(samples[-1])}", flush=True)
    result["sample_runs"] = samples
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "duckdb": duckdb.__version__,
                         "load_average": os.getloadavg(), **speed, "after": machine_speed()}
    report(result)
    target = args.out / f"compare-{args.size}-{args.format}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {target}")
    rec = result["reconciliation"]
    return 1 if rec["duckdb_vs_visits_parquet"] or rec["reconcile_visits_vs_visits_parquet"] else 0


def report(result: dict) -> None:
    """The figures side by side, with ratios to DuckDB's reconciliation and to the bare read."""
    rec, machine = result["reconciliation"], result["machine"]
    duck, read = rec["duckdb_seconds"], result["bare_read_seconds"]
    rows = [("bare pyarrow read", read, ""),
            (f"DuckDB reconciliation ({rec['duckdb_threads']} threads)", duck, ""),
            ("DuckDB reconciliation (1 thread)", rec["duckdb_one_thread_seconds"], ""),
            ("reconcile_visits (tables in memory)", rec["reconcile_visits_seconds"],
             f"+ {rec['read_canonical_seconds']:.2f} s reading them into pandas")]
    run = result.get("command")
    if run:
        rows += [("the flow (summary.json)", run["stages"]["total"], ""),
                 ("nmr-audit audit --no-data-docs", run["command_seconds"],
                  f"peak RSS {run['peak_rss_mib']:,.0f} MiB; first input file opened after {run['startup_seconds']} s")]
    print(f"\n{rec['claim_lines']:,} claim lines ({result['format']}), {rec['visits']:,} visits with 97112; "
          f"loop {machine['python_loop_10m_seconds']} s / {machine['after']['python_loop_10m_seconds']} s, "
          f"sort {machine['numpy_sort_10m_seconds']} s / {machine['after']['numpy_sort_10m_seconds']} s (before / after)")
    for name, seconds, note in rows:
        print(f"  {name:<42} {seconds:8.2f} s {seconds / duck:6.1f}× DuckDB {seconds / read:7.1f}× read  {note}")
    for name in ("duckdb_vs_visits_parquet", "reconcile_visits_vs_visits_parquet"):
        print(f"  {name}: {'equal on ' + str(len(rec['columns_compared'])) + ' columns' if not rec[name] else rec[name]}")
    for number, sample in enumerate(result["sample_runs"], 1):
        print(f"  500-visit sample audit, run {number} ({sample['cache']}): {sample['command_seconds']:.1f} s end to end, "
              f"first input "
              f"file opened after {sample['startup_seconds']} s, peak RSS {sample['peak_rss_mib']:,.0f} MiB")
    targets = [("reconcile_visits ≤ 2× DuckDB", rec["reconcile_visits_seconds"] <= 2 * duck)]
    if run:
        targets += [("the command ≤ 9× DuckDB", run["command_seconds"] <= 9 * duck),
                    ("start-up ≤ 3 s", (run["startup_seconds"] or math.inf) <= 3)]
    if result["sample_runs"]:
        targets += [("500-visit sample ≤ 10 s", min(s["command_seconds"] for s in result["sample_runs"]) <= 10)]
    print("  targets: " + "; ".join(f"{name} {'met' if met else 'NOT met'}" for name, met in targets))


if __name__ == "__main__":
    sys.exit(main())
