"""One audit in its own process, for `bench/audit.py`: prints wall time, stage times and peak RSS as JSON."""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", required=True)
    parser.add_argument("--notes", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-docs", action="store_true")
    args = parser.parse_args()
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
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
