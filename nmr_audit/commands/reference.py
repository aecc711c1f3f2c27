"""`nmr-audit reference …`: import CMS's quarterly tables into the reference home, and say where
each reference table of a run comes from."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from nmr_audit.errors import InputError

app = typer.Typer(
    name="reference",
    help="Reference tables: import CMS's NCCI PTP, MUE and PFS files into the reference home (NMR_AUDIT_HOME, "
    "else the user data folder), which a run reads before the packaged defaults; --reference reads above both.\n\n"
    "Example: nmr-audit reference import --quarter 2026Q1 --ptp ccipra-v321r0-f1.txt --mue MUE_practitioner.csv "
    "--pfs RVU26A.zip",
    no_args_is_help=True,
)
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@app.command(
    "import",
    epilog="Example: nmr-audit reference import --quarter 2026Q1 --ptp ccipra-v321r0-f1.txt --ptp ccipra-v321r0-f2.txt "
    "--mue MCR_MUE_PractitionerServices.csv --pfs RVU26A.zip\n\n"
    "Files as CMS publishes them (the text/CSV, or the zip). Each table becomes an edition under "
    "<home>/reference/editions/<table>/<quarter>/ with its provenance (file, SHA-256, quarter, import date); the "
    "active PTP table is the latest quarter's (its rows carry their own dates), the others hold "
    "every quarter imported. Exit status: 0 imported; 2 a file cannot be read.",
)
def import_tables(
    quarter: Annotated[str, typer.Option(help="The quarter the files are for, e.g. 2026Q1 (their edition).")],
    ptp: Annotated[list[Path] | None, typer.Option(
        help="Practitioner NCCI PTP file(s) (ccipra-…-fN.txt, repeatable) or CMS's zip of them.")] = None,
    mue: Annotated[Path | None, typer.Option(help="Practitioner services MUE table (CSV) or its zip.")] = None,
    pfs: Annotated[Path | None, typer.Option(
        help="PFS relative value file: CMS's RVU zip (PPRRVU and GPCI inside) or the PPRRVU CSV.")] = None,
    gpci: Annotated[Path | None, typer.Option(help="GPCI file (CSV), when --pfs is not the zip holding it.")] = None,
    all_codes: Annotated[bool, typer.Option(
        help="Keep every PTP pair and price every code (default: pairs and fees of the codes in cpt_codes.csv).")] = False,
    home: Annotated[Path | None, typer.Option(help="Reference home to write (default: NMR_AUDIT_HOME, else the "
                                              "user data folder).")] = None,
) -> None:
    """Import CMS's quarterly NCCI PTP, MUE and PFS (RVU + GPCI) files as versioned reference tables."""
    import pandas as pd

    from nmr_audit import __version__, cms_tables
    from nmr_audit.io import cms_files
    from nmr_audit.io.readers import file_sha256
    from nmr_audit.io.reference_home import packaged_reference_dir, reference_home, write_edition

    match = QUARTER.match(quarter.strip().upper())
    if not match:
        raise InputError(None, f"--quarter {quarter!r} is not a quarter", "write it as 2026Q1")
    quarter = match.group(0)
    start = f"{match.group(1)}-{3 * int(match.group(2)) - 2:02d}-01"
    if not (ptp or mue or pfs):
        raise InputError(None, "nothing to import", "give --ptp, --mue and/or --pfs")
    target = home or reference_home()
    codes = None if all_codes else frozenset(pd.read_csv(packaged_reference_dir() / "cpt_codes.csv", dtype=str)["cpt_code"])
    imported_at = datetime.now(UTC).isoformat(timespec="seconds")
    scope = "every row" if all_codes else "rows with a code of cpt_codes.csv"

    def save(name: str, table: pd.DataFrame, rejected: pd.DataFrame, files: list[Path], read: int) -> None:
        provenance = {"table": name, "quarter": quarter, "imported_at": imported_at, "rows": len(table),
                      "rows_in_files": read, "rows_rejected": len(rejected), "kept": scope if name in ("ncci_ptp", "pfs_fees")
                      else "every row", "files": [{"file": f.name, "sha256": file_sha256(f)} for f in files],
                      "nmr_audit_version": __version__}
        folder = write_edition(name, table, provenance, target, accumulate=name != "ncci_ptp")
        typer.echo(f"{name}: {len(table)} row(s) of {read} read, {len(rejected)} rejected → {folder}")
        for _, row in rejected.head(5).iterrows():
            typer.echo(f"  rejected {row.get('source_file', '')} line {row.get('source_row', '?')}: {row['reason']}")

    def source(label: str, files: list[Path]) -> str:
        return f"CMS {label}, {quarter} ({', '.join(f.name for f in files)}); imported {imported_at[:10]}"

    if ptp:
        raw = pd.concat([cms_files.read_ptp(p) for p in ptp], ignore_index=True)
        table, rejected = cms_tables.ptp_table(raw, codes, quarter, source("NCCI practitioner PTP edits", ptp))
        save("ncci_ptp", table, rejected, ptp, len(raw))
    if mue:
        raw = cms_files.read_mue(mue)
        table, rejected = cms_tables.mue_table(raw, start, quarter, source("practitioner services MUE table", [mue]))
        save("mue", table, rejected, [mue], len(raw))
    if pfs:
        gpci_file = gpci or pfs
        raw_rvu, raw_gpci = cms_files.read_rvu(pfs), cms_files.read_gpci(gpci_file)
        files = [pfs] if gpci is None else [pfs, gpci]
        rvu, rejected = cms_tables.rvu_table(raw_rvu, start, quarter, source("PFS relative value file", [pfs]))
        save("pfs_rvu", rvu, rejected, [pfs], len(raw_rvu))
        localities, rejected = cms_tables.gpci_table(raw_gpci, start, quarter, source("PFS GPCIs", [gpci_file]))
        save("gpci", localities, rejected, [gpci_file], len(raw_gpci))
        fees = cms_tables.locality_fees(rvu, localities, codes)
        save("pfs_fees", fees, fees.iloc[0:0].assign(reason=""), files, len(rvu))


@app.command(
    "list",
    epilog="Example: nmr-audit reference list --reference my_tables/\n\n"
    "Shows, for each reference table, the file a run would read (--reference, then the home, then the packaged "
    "defaults) and every edition imported into the home.",
)
def list_tables(
    reference: Annotated[Path | None, typer.Option(help="The --reference folder a run would be given.")] = None,
    home: Annotated[Path | None, typer.Option(help="Reference home (default: NMR_AUDIT_HOME, else the user data "
                                              "folder).")] = None,
) -> None:
    """Where each reference table comes from, and the editions imported."""
    import os

    from nmr_audit.io.reference import REQUIRED
    from nmr_audit.io.reference_home import HOME_VARIABLE, editions, reference_home, table_source

    before = os.environ.get(HOME_VARIABLE)
    if home is not None:  # for this listing only: a caller in the same process keeps its own home
        os.environ[HOME_VARIABLE] = str(home)
    try:
        target = reference_home()
        typer.echo(f"reference home: {target}")
        for name in (*REQUIRED, "claim_filing_indicators", "carcs", "pfs_rvu", "gpci", "pfs_fees"):
            found = table_source(name, reference)
            if not found.path.is_file():
                continue
            edition = f" ({found.provenance['quarter']}, imported {found.provenance.get('imported_at', '')})" \
                if found.provenance else ""
            typer.echo(f"  {name}: {found.layer}{edition} — {found.path}")
        imported = editions(target)
        if len(imported):
            typer.echo("editions:")
            for row in imported.itertuples():
                typer.echo(f"  {row.table} {row.quarter}{' (active)' if row.active else ''}: {row.rows} rows from {row.files}, "
                           f"imported {row.imported_at}")
    finally:
        if home is not None:
            if before is None:
                os.environ.pop(HOME_VARIABLE, None)
            else:
                os.environ[HOME_VARIABLE] = before
