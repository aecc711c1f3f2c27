#!/usr/bin/env python3
"""Set up a local environment from the pinned lock, then run the demo audit or the tests.

    python3.11 tasks.py demo    # audit the bundled sample data into out/sample
    python3.11 tasks.py test    # ruff + the whole test suite (installs Debian's chromium if missing)

Needs only Python 3.11 and pip. The venv (.venv) is rebuilt when requirements.lock changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".lock-sha256"


def run(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT)


def setup() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"nmr-audit needs Python 3.11 (this is {sys.version.split()[0]}): "
                 "run `python3.11 tasks.py …`")
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        run(sys.executable, "-m", "venv", VENV)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-r", LOCK)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "-e", ".")
    STAMP.write_text(wanted)


def demo() -> None:
    sample = ROOT / "data" / "sample" / "canonical"
    run(BIN / "nmr-audit", "audit", "--claims", sample / "claims", "--notes", sample / "notes",
        "--out", ROOT / "out" / "sample")
    print(f"\nOutputs: {ROOT / 'out' / 'sample'} — open report.html; also report.xlsx, findings.csv, "
          "visits.parquet, summary.json, data_docs/index.html")


def browser() -> None:
    """Headless Chromium for the report tests: Debian's package, installed where apt-get can."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print("note: chromium not found and apt-get unavailable (not root?): the browser tests will be "
              "skipped; install Debian's `chromium` package to run them", flush=True)
        return
    try:
        run("apt-get", "update", "-q")
        run("apt-get", "install", "-y", "-q", "chromium")
    except subprocess.CalledProcessError:
        print("note: could not install chromium; the browser tests will be skipped", flush=True)


def test() -> None:
    browser()
    run(BIN / "ruff", "check", ".")
    # One worker per core, at most 4 (each starts its own Prefect server); `-n 0` runs in this process.
    run(BIN / "python", "-m", "pytest", "-q", "-n", "auto", "--maxprocesses", "4", *sys.argv[2:])


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    setup()
    commands[sys.argv[1]]()
