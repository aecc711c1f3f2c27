"""Serve the nightly audit on its schedule from this process (no work pool needed).

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve \
        --claims /srv/exports/claims --notes /srv/exports/notes --output-root /srv/nmr-audit

The schedule (cron and time zone) is read from `prefect.yaml`, the same one `prefect deploy`
uses. Schedules need a real Prefect server (`prefect server start`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def nightly_schedule(config: Path = ROOT / "prefect.yaml") -> dict[str, Any]:
    """The nightly deployment's entry of `prefect.yaml` (name, entrypoint, schedule, parameters)."""
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    return next(d for d in document["deployments"] if d["name"] == "nightly")


def deployment(claims: list[str], notes: list[str], output_root: str) -> Any:
    """The nightly RunnerDeployment with the schedule of `prefect.yaml`."""
    from prefect.schedules import Cron

    from flows.nightly import nightly_audit

    entry = nightly_schedule()
    schedule = entry["schedules"][0]
    return nightly_audit.to_deployment(
        name=entry["name"], description=entry.get("description"),
        schedules=[Cron(schedule["cron"], timezone=schedule["timezone"])],
        parameters={"claims": claims, "notes": notes, "output_root": output_root})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", action="append", required=True, help="claims export folder or glob")
    parser.add_argument("--notes", action="append", required=True, help="notes export folder or glob")
    parser.add_argument("--output-root", required=True, help="folder for runs/, ledger.csv, latest")
    args = parser.parse_args()
    from prefect import serve

    serve(deployment(args.claims, args.notes, args.output_root))


if __name__ == "__main__":
    main()
