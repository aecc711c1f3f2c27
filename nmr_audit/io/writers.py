"""Write a run's outputs whole or not at all: staged aside, then renamed into place."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd


class StagedOutputs:
    """A staging folder beside `--out`; files move into `--out` only when the run succeeds.

    `summary.json` is moved last, so a folder with a summary is a folder whose run finished.
    """

    FINAL = "summary.json"

    def __init__(self, out: Path) -> None:
        self.out = out
        self.stage = out / f".staging-{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> StagedOutputs:
        self.stage.mkdir(parents=True, exist_ok=False)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        shutil.rmtree(self.stage, ignore_errors=True)

    def path(self, name: str) -> Path:
        return self.stage / name

    def commit(self) -> None:
        staged = sorted(self.stage.iterdir(), key=lambda p: p.name == self.FINAL)
        for item in staged:
            target = self.out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def write_json(document: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n",
                    encoding="utf-8")
    return path
