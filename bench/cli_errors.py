"""How long the command takes to say what is wrong with its invocation, start to exit.

    .venv/bin/python bench/cli_errors.py            # each case 5 times, median and worst
    .venv/bin/python bench/cli_errors.py --repeat 9

Each case runs the installed `nmr-audit` command as a person would (a new process: Python
start-up, imports, the check, the one-line message) from the repository root. The goal is
2 s at most on the 2-core box, busy or not: the mistake must be said before Prefect or any
server starts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = ["--claims", "data/sample/canonical/claims", "--notes", "data/sample/canonical/notes"]
CASES = {
    "mistyped claims path": ["audit", "--claims", "data/sample/canonical/claimz", "--notes",
                             "data/sample/canonical/notes", "--out", "out/bench"],
    "mapping not found": ["audit", *SAMPLE, "--out", "out/bench", "--mapping", "data/mappings/nope.yaml"],
    "profile not YAML": ["audit", *SAMPLE, "--out", "out/bench", "--profile", "README.md"],
    "profile: unknown payer": ["audit", *SAMPLE, "--out", "out/bench", "--profile", "{martian_profile}"],
    "unknown option": ["audit", *SAMPLE, "--out", "out/bench", "--claimz", "x"],
    "nightly: notes path": ["nightly", "--claims", "data/sample/canonical/claims", "--notes", "nope",
                            "--output-root", "out/bench"],
    "--version": ["--version"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    command = shutil.which("nmr-audit", path=str(Path(sys.executable).parent)) or "nmr-audit"
    martian = Path(tempfile.mkdtemp()) / "profile.yaml"  # valid YAML, a payer type the reference lacks
    martian.write_text("name: x\nrule_basis:\n  martian: cms\n", encoding="utf-8")
    print(f"{'case':24} {'exit':>4} {'median s':>9} {'worst s':>8}  message")
    for name, argv in CASES.items():
        times, done = [], None
        for _ in range(args.repeat):
            started = time.perf_counter()
            done = subprocess.run([command, *(a.format(martian_profile=martian) for a in argv)],
                                  capture_output=True, text=True, cwd=REPO)
            times.append(time.perf_counter() - started)
        said = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[-1][:70]
        print(f"{name:24} {done.returncode:>4} {statistics.median(times):>9.2f} {max(times):>8.2f}  {said}")


if __name__ == "__main__":
    main()
