"""One audit in its own process, for `bench/audit.py`: prints wall time, stage times and peak RSS
(the process and its bucket workers together) as JSON."""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from pathlib import Path

import psutil


class TreeMemory:
    """Peak RSS of this process and its children together (bucket workers are processes of
    their own: `ru_maxrss` sees only one process at a time), sampled every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", required=True)
    parser.add_argument("--notes", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-docs", action="store_true")
    args = parser.parse_args()
    memory = TreeMemory()
    started = time.perf_counter()
    from nmr_audit.prefect_env import configure_prefect

    configure_prefect(Path(args.out).resolve() / ".prefect")
    from flows.audit import audit_flow

    imported = time.perf_counter()
    state = audit_flow(claims=[args.claims], notes=[args.notes], out=args.out, data_docs=args.data_docs,
                       return_state=True)
    finished = time.perf_counter()
    summary = json.loads((Path(args.out) / "summary.json").read_text()) if state.is_completed() else {}
    print(json.dumps({
        "ok": state.is_completed(), "message": state.message,
        "process_seconds": round(finished - started, 2), "import_seconds": round(imported - started, 2),
        "flow_seconds": round(finished - imported, 2),
        "stages": summary.get("run", {}).get("seconds", {}),
        "claim_lines": summary.get("totals", {}).get("claim_lines", {}).get("rows_read", 0),
        "findings": summary.get("findings", {}).get("total", 0),
        "peak_rss_mib": round(max(memory.stop(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20, 1),
        "peak_rss_main_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
