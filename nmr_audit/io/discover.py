"""Expand the PATH arguments of a run (files, folders, globs) into the files to read."""

from __future__ import annotations

import glob
from pathlib import Path

from nmr_audit.errors import InputError
from nmr_audit.runtime.marker import marked_ancestor

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def file_format(path: Path) -> str | None:
    """The reader for a file, by its extension; None when no reader takes it."""
    return FORMATS.get(path.suffix.lower())


def discover(patterns: list[str], table: str) -> tuple[list[Path], list[Path]]:
    """The supported files the patterns name, sorted, and the unsupported files seen in folders.

    A named file of an unsupported kind, or a pattern matching nothing, is an input error: a
    nightly job that silently audits nothing is worse than one that fails loudly. Folders that
    carry the nmr-audit marker (`runtime.marker`: a run's outputs) are skipped, so an output
    folder inside an input folder is never read back as input.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    for pattern in patterns:
        matches = _expand(pattern)
        if not matches:
            raise InputError(pattern, f"no {table} file matches this path",
                             "check the path, or quote a glob so the shell does not expand it")
        for match in matches:
            if match.is_dir():
                found = sorted(p for p in match.rglob("*") if p.is_file() and not _hidden(p, match)
                               and not marked_ancestor(p, match))  # never a run's own outputs
                files += [p for p in found if file_format(p)]
                skipped += [p for p in found if not file_format(p)]
            elif glob.has_magic(pattern) and marked_ancestor(match, _static_prefix(pattern)):
                continue  # a glob reaching into an nmr-audit output folder
            elif file_format(match):
                files.append(match)
            else:
                raise InputError(match, "unsupported file type",
                                 "use .csv, .tsv, .xlsx, .parquet or .jsonl")
    unique = list(dict.fromkeys(files))
    if not unique:
        raise InputError(", ".join(patterns), f"no supported {table} files found",
                         "folders are searched for .csv, .tsv, .xlsx, .parquet and .jsonl")
    return unique, skipped


def _expand(pattern: str) -> list[Path]:
    if glob.has_magic(pattern):
        return [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
    path = Path(pattern)
    return [path] if path.exists() else []


def _static_prefix(pattern: str) -> Path:
    """The folder a glob starts from: its leading parts without wildcards."""
    parts = Path(pattern).parts
    fixed = [p for p in (parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))])]
    return Path(*fixed) if fixed else Path(".")


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "~$")) for part in path.relative_to(root).parts)


def estimated_rows(paths: list[Path]) -> int:
    """About how many rows the files hold, without reading them: Parquet says; for text the
    first 64 KiB gives the bytes per line. Sizes a run's patient buckets, nothing more."""
    import pyarrow.parquet as pq

    total = 0
    for path in paths:
        if file_format(path) == "parquet":
            try:
                total += pq.ParquetFile(path).metadata.num_rows
                continue
            except (OSError, ValueError):
                pass  # the reader will say what is wrong with it
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
        total += size * max(head.count(b"\n"), 1) // max(len(head), 1)
    return total
