"""The user's cache folder: things that take seconds to make and never change for one version
of the software that makes them (the Vega bundle, a migrated Prefect database)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/nmr-audit`, or `~/.cache/nmr-audit`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nmr-audit"


def keep(path: Path, write: Callable[[Path], None]) -> bool:
    """Make `path` by `write(partial)` and move it in whole, so that two runs at once never read
    half a file; False (and nothing kept) where it cannot be written."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(partial)
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)
        return False
    return True
