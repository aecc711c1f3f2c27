"""Serve the nightly audit on its schedule from this process (no work pool needed).

    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve \
        --claims /srv/exports/claims --notes /srv/exports/notes --output-root /srv/nmr-audit \
        [--remits /srv/exports/remits]

The schedule (cron and time zone) is read from `prefect.yaml`, the same one `prefect deploy`
uses; `--interval-seconds 60` runs it every minute instead, to try it out. Schedules need a real
Prefect server (`prefect server start`), whose scheduler service creates the runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml


def nightly_schedule(config: Path | None = None) -> dict[str, Any]:
    """The nightly deployment's entry of `prefect.yaml` (name, entrypoint, schedule, parameters):
    `config`, else the one shipped with nmr-audit (the repository's, carried into the wheel)."""
    from nmr_audit.resources import shipped

    document = yaml.safe_load((config or shipped("prefect.yaml")).read_text(encoding="utf-8"))
    return next(d for d in document["deployments"] if d["name"] == "nightly")


def deployment(claims: list[str], notes: list[str], output_root: str, interval_seconds: int | None = None,
               parameters: dict[str, Any] | None = None) -> Any:
    """The nightly RunnerDeployment with the schedule of `prefect.yaml` (or, to try a deployment
    out, every `interval_seconds`); `parameters` are added to the flow's (e.g. look_back_days)."""
    from prefect.schedules import Cron, Interval

    from flows.nightly import nightly_audit

    entry = nightly_schedule()
    schedule = entry["schedules"][0]
    every = (Interval(interval_seconds) if interval_seconds else
             Cron(schedule["cron"], timezone=schedule["timezone"]))
    return nightly_audit.to_deployment(
        name=entry["name"], description=entry.get("description"), schedules=[every],
        parameters={"claims": claims, "notes": notes, "output_root": output_root, **(parameters or {})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", action="append", required=True, help="claims export folder or glob")
    parser.add_argument("--notes", action="append", required=True, help="notes export folder or glob")
    parser.add_argument("--output-root", required=True, help="folder for runs/, ledger.csv, latest")
    parser.add_argument("--interval-seconds", type=int, default=None,
                        help="run every N seconds instead of prefect.yaml's cron (to try the deployment out)")
    parser.add_argument("--no-data-docs", action="store_true", help="skip GX Data Docs (faster)")
    parser.add_argument("--share-with-group", action="store_true", help="outputs readable by the owning group")
    parser.add_argument("--remits", action="append", default=None,
                        help="835 remittance folder or glob (repeatable): outcomes on findings, learnt denial weights")
    args = parser.parse_args()
    from prefect import serve

    extra = {k: v for k, v in (("data_docs", False if args.no_data_docs else None),
                               ("share_with_group", True if args.share_with_group else None),
                               ("remits", args.remits)) if v is not None}
    serve(deployment(args.claims, args.notes, args.output_root, args.interval_seconds, extra))


if __name__ == "__main__":
    main()
