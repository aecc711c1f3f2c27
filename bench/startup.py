"""Where the command's start-up goes: each piece timed alone, in fresh interpreters.

    python bench/startup.py              # each figure the faster of two
    python bench/startup.py --repeat 3

Times, with this box's speed beside them (a 10M-step Python loop, as bench/audit.py):

- imports, each in a fresh interpreter after `pandas` (which everything imports): the command line
  (`nmr_audit.cli`), the reading a head start needs (`nmr_audit.runtime.head_start`), Prefect, GX, the
  audit flow with all it imports (`flows.audit`), and Prefect's server module, which Prefect's
  own way of starting a temporary server (`SubprocessASGIServer`) imports in the command's process;
- the temporary Prefect server, from its process start to its first answer to /api/health: on a
  fresh database (migrated at start), on a copy of a migrated database, and on that copy with
  migration and block registration skipped (what `nmr_audit.runtime.server` now does);
- the interpreter's own teardown at exit once Prefect and GX are imported, against `os._exit`.

Writes bench/out/startup.json. Figures belong in docs/performance.md, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from audit import ROOT, machine_speed

PYTHON = sys.executable
IMPORTS = ("nmr_audit.cli", "nmr_audit.runtime.head_start", "prefect", "great_expectations", "flows.audit",
           "prefect.server.api.server")
QUIET = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false"}


def import_seconds(module: str) -> float:
    code = f"import time, pandas; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env=_environment(tempfile.gettempdir()))
    return float(done.stdout.strip().splitlines()[-1])


def exit_seconds(fast: bool) -> float:
    """From the last line of a script that imported Prefect and GX to its process's end."""
    end = "import os; os._exit(0)" if fast else "pass"
    code = ("import sys, time, prefect, great_expectations; "
            f"sys.stdout.write(repr(time.time())); sys.stdout.flush(); {end}")
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env=_environment(tempfile.gettempdir()))
    return time.time() - float(done.stdout)


def server_seconds(template: Path | None, skip: bool) -> float:
    """The temporary server as `nmr_audit.runtime.server` starts it, to its first healthy answer."""
    home = Path(tempfile.mkdtemp(prefix="nmr-audit-bench-prefect-"))
    try:
        if template is not None:
            shutil.copyfile(template, home / "prefect.db")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        environment = _environment(str(home)) | {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                                                 "PREFECT__SERVER_FINAL": "1"}
        if skip:
            environment |= {"PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
                            "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                            "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}
        started = time.perf_counter()
        server = subprocess.Popen([PYTHON, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "error",
                                   "--lifespan", "on"], env=environment, cwd=home)
        try:
            while server.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                        return time.perf_counter() - started
                except (urllib.error.URLError, OSError):
                    time.sleep(0.05)
            raise RuntimeError(f"the server exited with status {server.returncode}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _environment(home: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | QUIET | {"PREFECT_HOME": home}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    speed = machine_speed()
    print(f"machine: {speed}", flush=True)
    figures: dict[str, float] = {}
    for module in IMPORTS:
        figures[f"import {module}"] = min(import_seconds(module) for _ in range(args.repeat))
        print(f"  {'import ' + module:<44} {figures['import ' + module]:6.2f} s", flush=True)
    import prefect

    template = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nmr-audit" / \
        f"prefect-{prefect.__version__}.db"
    cases = [("server, fresh database (migrated at start)", None, False)]
    if template.exists():
        cases += [("server, copy of a migrated database", template, False),
                  ("server, that copy, migration and blocks skipped", template, True)]
    else:
        print(f"  (no migrated database cached at {template}: run `nmr-audit audit` once for the other cases)")
    for name, database, skip in cases:
        figures[name] = min(server_seconds(database, skip) for _ in range(args.repeat))
        print(f"  {name:<44} {figures[name]:6.2f} s", flush=True)
    for name, fast in (("exit after Prefect and GX imported", False), ("the same exit by os._exit", True)):
        figures[name] = min(exit_seconds(fast) for _ in range(args.repeat))
        print(f"  {name:<44} {figures[name]:6.2f} s", flush=True)
    document = {"machine": {**speed, "after": machine_speed(), "load_average": os.getloadavg()},
                "seconds": {k: round(v, 3) for k, v in figures.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"machine after: {document['machine']['after']}\nwritten to {args.out / 'startup.json'}")


if __name__ == "__main__":
    main()
