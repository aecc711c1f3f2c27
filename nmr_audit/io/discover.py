"""Expand the PATH arguments of a run (files, folders, globs) into the files to read.

Which files are read is the readers registry's decision (`nmr_audit.io.readers.recognise`: by
content first, then extension); a file in a folder that no reader takes (a README, a PDF) is
skipped and listed with the reason, a named one is an error.
"""

from __future__ import annotations

import glob
from pathlib import Path

from nmr_audit.errors import InputError
from nmr_audit.io.readers import Skipped, recognise, supported, unsupported
from nmr_audit.io.readers import estimate_rows as _estimate_rows
from nmr_audit.runtime.marker import marked_ancestor


def file_format(path: Path) -> str | None:
    """The format of the reader that takes a file, or None when none does."""
    reader = recognise(path).reader
    return reader.name if reader is not None else None


def discover(patterns: list[str], table: str) -> tuple[list[Path], list[Skipped]]:
    """The files the patterns name that a reader takes, sorted, and the files seen in folders
    that none takes, with the reason.

    A named file of an unsupported kind, or a pattern matching nothing, is an input error: a
    nightly job that silently audits nothing is worse than one that fails loudly. Folders that
    carry the nmr-audit marker (`runtime.marker`: a run's outputs) are skipped, so an output
    folder inside an input folder is never read back as input.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    for pattern in patterns:
        matches = _expand(pattern)
        if not matches:
            raise InputError(pattern, f"no {table} file matches this path",
                             "check the path, or quote a glob so the shell does not expand it")
        for match in matches:
            if match.is_dir():
                for path in sorted(p for p in match.rglob("*") if p.is_file() and not _hidden(p, match)
                                   and not marked_ancestor(p, match)):  # never a run's own outputs
                    found = recognise(path, table=table)
                    if found.reader is not None:
                        files.append(path)
                    else:
                        skipped.append(Skipped(str(path), found.reason))
                continue
            if glob.has_magic(pattern) and marked_ancestor(match, _static_prefix(pattern)):
                continue  # a glob reaching into an nmr-audit output folder
            found = recognise(match, table=table)
            if found.reader is None:
                raise unsupported(match, found.reason, table)
            files.append(match)
    unique = list(dict.fromkeys(files))
    if not unique:
        raise InputError(", ".join(patterns), f"no {table} files found that nmr-audit reads",
                         f"folders are searched for {supported(table)}")
    return unique, list({s.source: s for s in skipped}.values())


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
    """About how many rows the files hold, without reading them (each format's reader says how:
    Parquet its metadata, a workbook its sheets' dimensions, text its bytes per line). Sizes a
    run's patient buckets, nothing more."""
    return _estimate_rows(paths)
