"""Time reading and validating clinic exports (intake alone: no Prefect, no rules).

    python bench/intake.py                          # 1M claim lines, Parquet and CSV
    python bench/intake.py --sizes 100k,1M --formats csv --repeat 3

For each size and format: generate the inputs with the project's generator (seeded; kept in
bench/out/data, shared with bench/audit.py), then read every claim and note file batch by batch
through `read_export` and `conform_file`, as the flow's `read_table` does, in this process, and
report the best of `--repeat` runs per table: wall seconds, CPU seconds of this process (less
sensitive to other work on a shared box), rows per second, rows quarantined. The
`csv-eu` format writes `;` files with decimal commas and 12-hour times (the TheraChart-like
style of `nmr_audit.synth.write`), read through the therachart mapping profile.
Figures belong in docs/performance.md, never in timed tests.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_VISIT = 2.37


def size(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1].lower()]) if text[-1].lower() in scale else int(text)


def dataset(lines: int, fmt: str, seed: int, root: Path) -> Path:
    from nmr_audit.synth.write import ExportStyle, write_dataset

    folder = root / "data" / f"{lines}-{fmt}-seed{seed}"
    if not (folder / "done").exists():
        style = ExportStyle(format=fmt)
        if fmt == "csv-eu":
            from nmr_audit.io.mapping_file import load_mapping

            style = eu_style(load_mapping(ROOT / "data" / "mappings" / "therachart_csv.yaml"))
        write_dataset(folder, math.ceil(lines / LINES_PER_VISIT), seed, 0.02, style, progress=True)
        (folder / "done").write_text("ok\n")
    return folder


def eu_style(mapping):
    from nmr_audit.synth.write import ExportStyle

    fields = ExportStyle.__dataclass_fields__
    extra = {k: True for k in ("decimal_comma", "twelve_hour") if k in fields}
    return ExportStyle(format="csv", delimiter=";", us_dates=True, windows=True, mapping=mapping, **extra)


def tables(path: Path, tm):
    """(table, conventions) as the flow reads them (the readers registry where this version has it)."""
    try:
        from nmr_audit.intake import conventions_for
        from nmr_audit.io.readers import ReadOptions, open_export
    except ImportError:  # the code before the readers registry
        from nmr_audit.io.readers import read_export

        return [(read_export(path, delimiter=tm.delimiter, sheet=tm.sheet), None)]
    export = open_export(path, ReadOptions(delimiter=tm.delimiter, sheet=tm.sheet, decimal_mark=tm.decimal_mark))
    return [(raw, conventions_for(raw.format, raw.delimiter, tm)) for raw in export.tables]


def read_once(folder: Path, fmt: str) -> dict[str, tuple[float, int, int, float]]:
    from nmr_audit.intake import conform_file
    from nmr_audit.io.mapping_file import load_mapping
    from nmr_audit.io.reference import load_reference
    from nmr_audit.mapping import IDENTITY

    reference = load_reference()
    mapping = load_mapping(ROOT / "data" / "mappings" / "therachart_csv.yaml") if fmt == "csv-eu" else IDENTITY
    out = {}
    for table, sub in (("claim_lines", "claims"), ("visit_notes", "notes")):
        tm = mapping.for_table(table)
        started, cpu = time.perf_counter(), time.process_time()
        rows = held = 0
        for path in sorted((folder / sub).iterdir()):
            for raw, conventions in tables(path, tm):
                for frame in raw.batches(500_000):
                    extra = (conventions,) if conventions is not None else ()
                    part = conform_file(frame, table, tm, reference, str(path), *extra)
                    rows += len(frame)
                    held += len(part.quarantine)
                held += len(raw.invalid)
        out[table] = (time.perf_counter() - started, rows, held, time.process_time() - cpu)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    root = ROOT / "bench" / "out"
    print(f"{'lines':>10} {'format':8} {'table':12} {'seconds':>8} {'cpu s':>8} {'rows/s':>10} {'quarantined':>11}")
    for text in args.sizes.split(","):
        for fmt in args.formats.split(","):
            folder = dataset(size(text), fmt, args.seed, root)
            runs = [read_once(folder, fmt) for _ in range(args.repeat)]
            for table in ("claim_lines", "visit_notes"):
                seconds = min(r[table][0] for r in runs)
                cpu = min(r[table][3] for r in runs)
                _, rows, held, _ = runs[0][table]
                print(f"{size(text):>10,} {fmt:8} {table:12} {seconds:8.2f} {cpu:8.2f} {rows / seconds:10,.0f} {held:11,}")


if __name__ == "__main__":
    main()
