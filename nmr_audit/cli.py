"""The `nmr-audit` command: a thin face over the audit flow and the data generator."""

from __future__ import annotations

import atexit
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from nmr_audit import __version__
from nmr_audit.commands.reference import app as reference_app
from nmr_audit.errors import InputError
from nmr_audit.resources import shipped_mappings
from nmr_audit.runtime.config import NightlyConfig, RunConfig
from nmr_audit.sizes import DASK_LINES_PER_BUCKET, LINES_PER_BUCKET, LOOK_BACK_DAYS, WORKBOOK_ROWS, lines_per_bucket

MAPPING_HELP = ("Mapping profile (YAML file) for an EMR's export columns, or a shipped one by name: "
                + ", ".join(shipped_mappings()) + ".")
REMITS_HELP = ("X12 835 remittance file, folder or glob (repeatable): matched to the claim lines (remits.parquet), "
               "each finding's actual outcome, denial weights learnt from the payers' answers.")
SHARE_HELP = ("Make outputs readable and writable by the owning group (folders 2770, files 660) instead of "
              "the owner only (700/600).")

app = typer.Typer(
    name="nmr-audit",
    help="Audit CPT 97112 (neuromuscular re-education) claim lines against treatment notes.\n\n"
    "Example: nmr-audit audit --claims data/sample/canonical/claims --notes data/sample/canonical/notes --out out/",
    no_args_is_help=True,
    context_settings={"max_content_width": 100},
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(reference_app)  # nmr-audit reference import | list


class MaskMode(StrEnum):
    keep = "keep"
    hash = "hash"
    drop = "drop"


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"


class Format(StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"
    xlsx = "xlsx"
    x12 = "x12"  # claims as 837P, remittances as 835, notes as CSV


# Placeholders in --help, by option: plain words a person types, never Python types (Typer
# alone shows `<list[str]>`, `<int range>`). An option not named here shows its name in capitals.
METAVARS = {"claims": "PATH", "notes": "PATH", "remits": "PATH", "out": "DIR", "output_root": "DIR", "profile": "FILE",
            "mapping": "FILE", "reference": "DIR", "expectations": "DIR", "dask_address": "ADDRESS",
            "mask_key_file": "FILE", "as_of": "YYYY-MM-DD", "delimiter": "CHAR", "defect_rate": "RATE",
            "visits": "N", "seed": "N", "bucket_lines": "N", "workbook_rows": "N", "look_back_days": "DAYS",
            "fail_on": f"[{'|'.join(Severity)}]", "mask_patients": f"[{'|'.join(MaskMode)}]",
            "format": f"[{'|'.join(Format)}]", "visit": "PATIENT,DATE,NPI"}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nmr-audit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print nmr-audit's version and exit.")] = False) -> None:
    """Audit CPT 97112 (neuromuscular re-education) claim lines against treatment notes."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"nmr-audit: error: {message}", err=True)
    return typer.Exit(code)


@app.command(
    epilog="Example: nmr-audit audit --claims data/sample/canonical/claims "
    "--notes data/sample/canonical/notes --out out/sample\n\n"
    "With remittances: nmr-audit audit --claims data/sample/x12/claims --notes data/sample/x12/notes "
    "--remits data/sample/x12/remits --mapping x12_837p --out out/x12\n\n"
    "Exit status: 0 audit ran; 2 bad invocation or unreadable input; 3 --fail-on threshold met; "
    "75 another run holds --out (nothing audited: try again later)."
)
def audit(
    claims: Annotated[list[str], typer.Option(help="Claim-line file, folder or glob (repeatable).")],
    notes: Annotated[list[str], typer.Option(help="Visit-note file, folder or glob (repeatable).")],
    out: Annotated[Path, typer.Option(help="Folder the run's outputs are written to.")],
    profile: Annotated[Path | None, typer.Option(help="Audit profile (YAML): rule basis per payer type.")] = None,
    mapping: Annotated[Path | None, typer.Option(help=MAPPING_HELP)] = None,
    fail_on: Annotated[Severity | None, typer.Option(help="Exit 3 when a finding at or above this severity exists.")] = None,
    reference: Annotated[Path | None, typer.Option(
        help="Folder of reference tables; each one it holds is used instead of the imported (reference home) "
        "and shipped ones.")] = None,
    expectations: Annotated[Path | None, typer.Option(
        help="Folder of rule suites (default: the suites shipped with nmr-audit).")] = None,
    data_docs: Annotated[bool, typer.Option(help="Write GX Data Docs (HTML) to DIR/data_docs.")] = True,
    partitioned: Annotated[bool, typer.Option(
        help="Audit each bucket of patients as a task of its own (on Dask with --dask-address).")] = False,
    dask_address: Annotated[str | None, typer.Option(
        help="Audit the buckets on a Dask cluster: tcp://host:8786, or 'local' for one worker process per "
        "core on this machine.")] = None,
    mask_patients: Annotated[MaskMode, typer.Option(
        help="Patient ids in findings.csv and the reports: keep, hash (keyed, stable per client) or drop.")
    ] = MaskMode.keep,
    mask_key_file: Annotated[Path | None, typer.Option(
        help="Key for --mask-patients hash (else the NMR_AUDIT_MASK_KEY environment variable).")] = None,
    bucket_lines: Annotated[int | None, typer.Option(
        "--lines-per-bucket",
        min=1, help="Claim lines per bucket of patients: a larger run is audited bucket by bucket, with "
        "--no-data-docs two at a time in two worker processes (about 1.3 GiB a worker at 300,000; fewer lines, less "
        "memory), with Data Docs one at a time in this process (one GX site lists every bucket). Default: "
        f"{LINES_PER_BUCKET:,}; {DASK_LINES_PER_BUCKET:,} with --dask-address (each bucket pays the rule engine's "
        "fixed cost on its worker; about 3 GiB a worker).", show_default=False)] = None,
    workbook_rows: Annotated[int, typer.Option(
        min=1, help="Rows per detail sheet of report.xlsx (every row is in findings.csv and the Parquet).")] = WORKBOOK_ROWS,
    share_with_group: Annotated[bool, typer.Option(help=SHARE_HELP)] = False,
    remits: Annotated[list[str] | None, typer.Option(help=REMITS_HELP)] = None,
) -> None:
    """Audit claim lines against visit notes and write findings, quarantine and summary to --out."""
    _check_first(claims, notes, out, mapping=mapping, profile=profile, reference=reference, expectations=expectations,
                 mask_patients=mask_patients.value, mask_key_file=mask_key_file, remits=remits, dask_address=dask_address)
    folder = _claimed(out, "run", share_with_group)
    config = RunConfig(claims=claims, notes=notes, out=str(out), mapping=_opt(mapping), profile=_opt(profile),
                       reference=_opt(reference), expectations=_opt(expectations),
                       fail_on=fail_on.value if fail_on else None, data_docs=data_docs,
                       partitioned=partitioned or bool(dask_address), mask_patients=mask_patients.value,
                       mask_key_file=_opt(mask_key_file), share_with_group=share_with_group,
                       lines_per_bucket=lines_per_bucket(bucket_lines, on_dask=bool(dask_address)),
                       workbook_rows=workbook_rows, remits=remits)
    from nmr_audit.runtime.guard import command_temporary_folder
    from nmr_audit.runtime.imports import defer_unused_imports
    from nmr_audit.runtime.supervise import supervise

    supervise()  # every process started from here on ends with this one, even on SIGKILL
    with command_temporary_folder(folder, share_with_group):
        # the server first, before even the reading's imports: its start (≈ 4.4 s of the other
        # core) is what the flow waits for longest
        server_started = _start_prefect(folder / ".prefect")
        from nmr_audit.runtime import head_start

        head = head_start.begin(config)  # read now, while Prefect (and a local Dask cluster) starts
        try:
            defer_unused_imports()  # GX's SciPy statistics: 0.8-1 s of start-up (runtime.imports)
            from flows.audit import audit_flow

            with _flow_settings(server_started()):
                state = _with_runner(audit_flow, dask_address)(config, return_state=True)
        finally:
            head.close()
    from nmr_audit.summary import at_or_above

    if not state.is_completed():
        raise _fail(state.message or "the audit failed; see the log above", _exit_code(state))
    result = state.result()
    typer.echo(_report_line(result.summary, out))
    if fail_on and at_or_above(_findings_frame(out), fail_on.value):
        raise _fail(f"findings at or above '{fail_on.value}' severity (see {out})", code=3)


@app.command(
    epilog="Example: nmr-audit nightly --claims /srv/exports/claims --notes /srv/exports/notes "
    "--output-root /srv/nmr-audit\n\n"
    "Audits only files no earlier run audited (by content); writes runs/<date>_<id>/, ledger.csv, latest.json. "
    "Exit status: 0 ran (or nothing new); 2 bad input or the run failed; 3 --fail-on threshold met; "
    "75 another run holds the output root (nothing audited: try again later)."
)
def nightly(
    claims: Annotated[list[str], typer.Option(help="Claims export file, folder or glob (repeatable).")],
    notes: Annotated[list[str], typer.Option(help="Notes export file, folder or glob (repeatable).")],
    output_root: Annotated[Path, typer.Option(help="Folder holding runs/, ledger.csv and latest.")],
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="The night audited (default: today).")] = None,
    full: Annotated[bool, typer.Option(help="Re-audit every file, not only new ones.")] = False,
    profile: Annotated[Path | None, typer.Option(help="Audit profile (YAML): rule basis per payer type.")] = None,
    mapping: Annotated[Path | None, typer.Option(help=MAPPING_HELP)] = None,
    fail_on: Annotated[Severity | None, typer.Option(help="Exit 3 when a finding at or above this severity exists.")] = None,
    dask_address: Annotated[str | None, typer.Option(help="Dask scheduler (tcp://host:8786) or 'local'.")] = None,
    look_back_days: Annotated[int, typer.Option(
        min=0, help="Days of dates of service whose audited rows are kept and audited again when new "
        "files touch their visits (0: only new files).")] = LOOK_BACK_DAYS,
    share_with_group: Annotated[bool, typer.Option(help=SHARE_HELP)] = False,
    remits: Annotated[list[str] | None, typer.Option(help=REMITS_HELP + " Only files no earlier night read.")] = None,
) -> None:
    """Run the nightly audit once, now (the scheduled deployment runs the same flow)."""
    _check_first(claims, notes, output_root, mapping=mapping, profile=profile, out_label="--output-root", remits=remits,
                 remits_may_be_empty=True, dask_address=dask_address)
    folder = _claimed(output_root, "nightly", share_with_group)
    config = NightlyConfig(claims=claims, notes=notes, output_root=str(output_root),
                           as_of=as_of.date() if as_of else None, full=full, profile=_opt(profile),
                           mapping=_opt(mapping), partitioned=bool(dask_address), look_back_days=look_back_days,
                           share_with_group=share_with_group, remits=remits)
    from nmr_audit.runtime.guard import command_temporary_folder
    from nmr_audit.runtime.imports import defer_unused_imports

    with command_temporary_folder(folder, share_with_group):
        server_started = _start_prefect(folder / ".prefect")
        defer_unused_imports()
        from flows.nightly import nightly_audit

        with _flow_settings(server_started()):
            state = _with_runner(nightly_audit, dask_address)(config, return_state=True)
    from nmr_audit.summary import at_or_above

    if not state.is_completed():
        raise _fail(state.message or "the nightly run failed; see the log above", _exit_code(state))
    result = state.result()
    if result.run_dir is None:
        typer.echo(f"nothing audited: {result.reason}")
        return
    run_dir = Path(result.run_dir).resolve()
    typer.echo(f"run written to {run_dir} ({len(result.new_files)} new file(s))")
    summary = run_dir / "summary.json"
    if summary.exists():
        typer.echo(_night_lines(json.loads(summary.read_text(encoding="utf-8"))))
    if (run_dir / "report.html").exists():
        typer.echo(f"open the report: {run_dir / 'report.html'}")
    if fail_on and at_or_above(_findings_frame(Path(result.run_dir)), fail_on.value):
        raise _fail(f"findings at or above '{fail_on.value}' severity (see {result.run_dir})", code=3)


def _check_first(*args: Any, **kwargs: Any) -> None:
    """The run's inputs checked before Prefect is imported (`nmr_audit.preflight.check_run`):
    a mistake is one line and exit 2 in well under 2 s, not after the server has started."""
    from nmr_audit.preflight import check_run

    try:
        check_run(*args, **kwargs)
    except InputError as problem:
        raise _fail(problem.line()) from None


def _claimed(out: Path, kind: str, share_with_group: bool) -> Path:
    """`out` checked and marked as nmr-audit's before anything (Prefect's home, the head start's
    spill) is created in it: a file, or a user's non-empty folder, is refused here (exit 2) with
    one line. The folder's lock is taken here, before any server starts, and held until the
    command ends (`runtime.guard.held_by_command`): a folder another run holds is refused at once
    (exit 75), and two commands never share Prefect's home."""
    from contextlib import ExitStack

    from nmr_audit.runtime.guard import held_by_command
    from nmr_audit.runtime.lock import EX_TEMPFAIL, LockHeldError

    held = ExitStack()
    try:
        folder = held.enter_context(held_by_command(out, kind, share_with_group))  # type: ignore[arg-type]
    except LockHeldError as busy:
        raise _fail(busy.line(), EX_TEMPFAIL) from None
    except PermissionError as denied:
        raise _fail(f"{denied.filename}: permission denied ({kind} folder {out}); run as the account that made "
                    "it, or have that account run once with --share-with-group so that its group may") from None
    atexit.register(held.close)  # not run when killed: the next run then knows
    return folder


def _exit_code(state: Any) -> int:
    """75 (EX_TEMPFAIL) when the run was cancelled because another run holds its folder, else 2."""
    from nmr_audit.runtime.lock import EX_TEMPFAIL

    return EX_TEMPFAIL if state.is_cancelled() else 2


def _start_prefect(prefect_home: Path) -> Callable[[], bool]:
    """Prefect configured (it reads its settings on import) and its temporary server starting
    (`runtime.server`); returns the wait for that server, to call once the flow is imported (it
    says whether the server is a temporary one: `_flow_settings`).
    Every process started from here on (the server, bucket workers, the workbook writer) ends
    when this one ends, even by SIGKILL (`runtime.supervise`)."""
    from nmr_audit.runtime.server import configure_prefect, start_server_early
    from nmr_audit.runtime.supervise import supervise

    supervise()
    configure_prefect(prefect_home)
    return start_server_early()


def _flow_settings(temporary: bool) -> Any:
    """Prefect's settings for the command's flow run (`runtime.server.flow_settings`)."""
    from nmr_audit.runtime.server import flow_settings

    return flow_settings(temporary)


def _with_runner(flow_function: object, dask_address: str | None) -> object:
    """The flow as is, or with prefect-dask's task runner on the given (or a local) Dask cluster."""
    if not dask_address:
        return flow_function
    from prefect_dask import DaskTaskRunner

    if dask_address == "local":
        from nmr_audit.runtime.workers import quiet_scratch_cleanup

        quiet_scratch_cleanup()  # here; its workers do the same as they start (local_cluster)
        runner = DaskTaskRunner(cluster_kwargs=local_cluster())
    else:
        runner = DaskTaskRunner(address=dask_address)
    return flow_function.with_options(task_runner=runner)  # type: ignore[attr-defined]


def local_cluster(workers: int | None = None) -> dict[str, Any]:
    """A local Dask cluster's settings: one single-threaded worker process per core (threads of
    one process share the GIL: two of them audited slower than one process), each building its
    rule engine as it starts (`runtime.workers.dask_setup`), with Dask's scratch-cleanup errors
    silenced in them (`runtime.workers.quiet_scratch_cleanup`)."""
    import os

    from nmr_audit.runtime.workers import QUIET_SCRATCH

    return {"n_workers": workers or os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
            "preload": ["nmr_audit.runtime.workers"], "dashboard_address": None, "env": {QUIET_SCRATCH: "1"}}


def _opt(path: Path | None) -> str | None:
    return str(path) if path else None


def _report_line(summary: dict, out: Path) -> str:
    parts = [f"{t}: {c['rows_audited']} audited, {c['rows_quarantined']} quarantined"
             for t, c in summary["totals"].items()]
    return (f"audit written to {out.resolve()} ({'; '.join(parts)})\n{_figures(summary)}\n"
            f"open the report: {(out / 'report.html').resolve()}")


def _night_lines(summary: dict) -> str:
    """A night's figures: what was audited (new files and the visits they reopened), what was
    found, and what changed since the previous night."""
    parts = [f"{t}: {c['rows_audited']} audited (new files and the earlier rows of the visits they touch), "
             f"{c['rows_quarantined']} quarantined" if t == "claim_lines" else
             f"{t}: {c['rows_audited']} audited, {c['rows_quarantined']} quarantined"
             for t, c in summary["totals"].items()]
    said = "; ".join(parts) + "\n" + _figures(summary)
    since = summary.get("since_last_night") or {}
    if since.get("new_findings") is not None:
        said += (f"\nsince the night of {since.get('previous_as_of')}: {since['new_findings']} new finding(s) "
                 f"(${since.get('new_dollars_at_risk') or 0:,.2f}), {since.get('resolved_findings') or 0} resolved "
                 f"(${since.get('resolved_dollars_at_risk') or 0:,.2f})")
    return said


def _figures(summary: dict) -> str:
    visits, found = summary["visits"], summary["findings"]
    severities = ", ".join(f"{n} {s}" for s, n in found["by_severity"].items() if n) or "none"
    return (f"97112 visits: {visits['total']}; {visits['with_excess_units_97112']} bill more 97112 units "
            f"than the notes support ({visits['excess_units_97112']} excess unit(s)); "
            f"{visits['without_note']} have no note"
            + (f"; {visits['units_unchecked']} could not be checked (note quarantined or minutes unreadable: "
               "see Quarantine in the report)" if visits.get("units_unchecked") else "") + "\n"
            f"findings: {found['total']} ({severities}); ${found['dollars_at_risk']:,.2f} at risk on "
            f"{found['claim_lines_at_risk']} claim line(s)")


def _findings_frame(out: Path) -> object:
    import pandas as pd

    from nmr_audit.findings import empty_findings

    path = out / "findings.parquet"
    return pd.read_parquet(path) if path.exists() else empty_findings()


@app.command(
    epilog="Example: nmr-audit generate --visits 500 --seed 7 --out data/generated --format csv"
)
def generate(
    visits: Annotated[int, typer.Option(min=1, help="Number of visits to generate.")],
    out: Annotated[Path, typer.Option(help="Folder for claims/, notes/ and truth.parquet.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    format: Annotated[Format, typer.Option("--format", help="File format of the exports.")] = Format.parquet,
    mapping: Annotated[Path | None, typer.Option(help="Write the exports in the shape of this mapping profile.")] = None,
    defect_rate: Annotated[float, typer.Option(min=0.0, max=0.2, help="Rate of each injected defect kind.")] = 0.03,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    us_dates: Annotated[bool, typer.Option(help="Write dates as MM/DD/YYYY.")] = False,
    windows: Annotated[bool, typer.Option(help="CSV with a UTF-8 BOM and CRLF line ends.")] = False,
    twelve_hour: Annotated[bool, typer.Option(help="Write session times as 9:05 AM.")] = False,
    decimal_comma: Annotated[bool, typer.Option(help="Write amounts as 62,00 (with --delimiter ';').")] = False,
) -> None:
    """Generate synthetic clinic exports (claims and notes) with known, injected defects."""
    from nmr_audit.io.mapping_file import load_mapping
    from nmr_audit.synth.write import ExportStyle, write_dataset

    if decimal_comma and format.value == "csv" and delimiter == ",":
        raise typer.BadParameter("decimal commas need another delimiter: add --delimiter ';'")
    style = ExportStyle(format=format.value, delimiter=delimiter, us_dates=us_dates,
                        windows=windows, twelve_hour=twelve_hour, decimal_comma=decimal_comma,
                        mapping=load_mapping(mapping) if mapping else None)
    counts = write_dataset(out, visits=visits, seed=seed, defect_rate=defect_rate, style=style,
                           progress=sys.stderr.isatty())
    typer.echo(f"generated {counts['claim_lines']} claim lines, {counts['visit_notes']} notes, "
               f"{counts['defects']} injected defects in {out.resolve()}")


from nmr_audit.commands import consult  # noqa: E402  (sample, extrapolate: the consultant's audit)

app.command(epilog=consult.SAMPLE_EPILOG)(consult.run_command(consult.sample))
app.command(epilog=consult.EXTRAPOLATE_EPILOG)(consult.run_command(consult.extrapolate))
from nmr_audit.commands import explain  # noqa: E402  (one visit's unit decision)

app.command(epilog=explain.EPILOG)(consult.run_command(explain.explain))


def command() -> Any:
    """The click command behind `app`, its --help placeholders made plain words (`METAVARS`),
    in every command and group below it."""
    root = typer.main.get_command(app)
    waiting = [root]
    while waiting:
        current = waiting.pop()
        waiting += list(getattr(current, "commands", {}).values())
        for param in current.params:
            if getattr(param, "param_type_name", "") == "option" and not getattr(param, "is_flag", False):
                param.metavar = METAVARS.get(param.name or "", (param.name or "value").upper())
    return root


def main() -> None:
    try:
        command()(prog_name="nmr-audit")
    except InputError as problem:
        typer.echo(f"nmr-audit: error: {problem.line()}", err=True)
        _exit(2)
    except SystemExit as done:
        _exit(done.code)
    _exit(0)


def _exit(code: int | str | None) -> None:
    """Exit without tearing the interpreter down: its exit handlers run (Prefect sends its last
    logs, the temporary server stops), output is flushed, and then the process ends. Tearing
    down what Prefect and GX had imported took 3–7 s of garbage collection on the 2-core box,
    after every output was written."""
    import atexit
    import threading

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():  # as the interpreter does first: wait for non-daemon threads
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
