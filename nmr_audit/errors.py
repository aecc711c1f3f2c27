"""Errors that stop a run because of its input, each said in one line a person can act on."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Input that cannot be audited at all: the CLI prints it in one line and exits 2."""

    def __init__(self, path: Path | str | None, reason: str, hint: str = "") -> None:
        self.path = str(path) if path is not None else None
        self.reason = reason
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.reason}{hint}"
