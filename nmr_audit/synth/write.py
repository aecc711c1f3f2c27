"""Write generated chunks as clinic exports, streaming so 10M lines never sit in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from nmr_audit.contract import CLAIM_COLUMNS, MINUTES_PREFIX, NOTE_COLUMNS
from nmr_audit.io.reference import default_reference_dir, load_reference
from nmr_audit.mapping import MappingProfile
from nmr_audit.synth.generate import EPISODE, Chunk, generate_chunk
from nmr_audit.synth.world import ALL_CODES, build_world

CHUNK_VISITS = EPISODE * 8192  # fixed: the same seed must give the same files
XLSX_MAX_ROWS = 1_048_575


@dataclass(frozen=True)
class ExportStyle:
    """How the files look: format, and the quirks of the EMR being imitated."""

    format: str = "parquet"
    delimiter: str = ","
    us_dates: bool = False
    windows: bool = False
    mapping: MappingProfile | None = None
    twelve_hour: bool = False  # time_in/time_out as `9:05 AM`
    decimal_comma: bool = False  # amounts as `62,00` (a `;`-separated export of a European-locale spreadsheet)

    def __post_init__(self) -> None:
        if self.decimal_comma and self.format == "csv" and self.delimiter == ",":
            raise ValueError("decimal commas need another delimiter than ',' (use ';')")


def chunks(visits: int, seed: int, defect_rate: float, progress: bool = False) -> Iterator[Chunk]:
    """The dataset chunk by chunk; each chunk's generator is seeded by (seed, chunk number)."""
    world = build_world(seed)
    # packaged tables: the same seed, the same files — without the CMS fee schedule a user may have
    # imported into the reference home (it would reprice the KX amounts the courses are shaped by)
    reference = replace(load_reference(default_reference_dir()), pfs_fees=None, pfs_rvu=None)
    starts = range(0, visits, CHUNK_VISITS)
    for index, first in enumerate(tqdm(starts, desc="generating", unit="chunk", disable=not progress)):
        rng = np.random.default_rng([seed, 1, index])
        yield generate_chunk(rng, first, min(CHUNK_VISITS, visits - first), world, reference,
                             defect_rate)


def write_dataset(out: Path, visits: int, seed: int, defect_rate: float, style: ExportStyle,
                  progress: bool = False) -> dict[str, int]:
    x12 = None
    if style.format == "x12":  # claims as 837P, their remittances as 835 (remit_truth.parquet), notes as CSV
        from nmr_audit.synth.x12 import X12Writer

        x12 = X12Writer(out / "claims" / "claims.837", out / "remits" / "remits.835", out / "remit_truth.parquet", seed)
        style = ExportStyle(format="csv", delimiter=style.delimiter, us_dates=style.us_dates, windows=style.windows,
                            mapping=style.mapping)
    sinks = {t: _Sink(out / t / f"{t}.{_suffix(style.format)}", style)
             for t in ("claims", "notes") if not (x12 and t == "claims")}
    truths: list[pd.DataFrame] = []
    counts = {"claim_lines": 0, "visit_notes": 0, "defects": 0}
    for chunk in chunks(visits, seed, defect_rate, progress):
        claims, notes = _claims_table(chunk), _notes_table(chunk, style.format)
        if x12:
            x12.write(claims, chunk.truth)
        else:
            sinks["claims"].write(_shape(claims, "claim_lines", style))
        sinks["notes"].write(_shape(notes, "visit_notes", style))
        truths.append(chunk.truth)
        counts["claim_lines"] += len(claims)
        counts["visit_notes"] += len(notes)
        counts["defects"] += len(chunk.truth)
    for sink in sinks.values():
        sink.close()
    if x12:
        x12.close()
    pd.concat(truths, ignore_index=True).to_parquet(out / "truth.parquet", index=False)
    return counts


def _suffix(kind: str) -> str:
    return {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl", "xlsx": "xlsx"}[kind]


def _claims_table(chunk: Chunk) -> pd.DataFrame:
    return chunk.claim_lines[[c for c in CLAIM_COLUMNS if c in chunk.claim_lines.columns]]


def _notes_table(chunk: Chunk, kind: str) -> pd.DataFrame:
    notes = chunk.visit_notes[[c for c in NOTE_COLUMNS if c in chunk.visit_notes.columns]]
    services = chunk.services
    if kind == "jsonl":
        items = services.assign(item=[{"cpt_code": c, "minutes": int(m)} for c, m in
                                      zip(services["cpt_code"], services["minutes"], strict=True)])
        lists = items.groupby("note_id")["item"].agg(list)
        return notes.assign(services=notes["note_id"].map(lists).apply(
            lambda v: v if isinstance(v, list) else []))
    wide = services.pivot_table(index="note_id", columns="cpt_code", values="minutes",
                                aggfunc="sum").reindex(columns=list(ALL_CODES))
    wide.columns = [f"{MINUTES_PREFIX}{c}" for c in wide.columns]
    return notes.join(wide.astype("Int64"), on="note_id")


def _shape(frame: pd.DataFrame, table: str, style: ExportStyle) -> pd.DataFrame:
    """Dates, booleans and lists spelled as the imitated export spells them."""
    shaped = frame.copy()
    for column in shaped.select_dtypes(include="bool").columns:
        shaped[column] = shaped[column].map({True: "true", False: "false"})
    for column in ("date_of_service", "plan_of_care_signed_date"):
        if column in shaped and style.us_dates:
            shaped[column] = shaped[column].str.replace(
                r"^(\d{4})-(\d{2})-(\d{2})$", r"\2/\3/\1", regex=True)
    for column in ("time_in", "time_out"):
        if column in shaped and style.twelve_hour:
            shaped[column] = twelve_hour(shaped[column])
    if "charge_amount" in shaped and style.decimal_comma:
        amounts = pd.to_numeric(shaped["charge_amount"], errors="coerce")
        shaped["charge_amount"] = amounts.map("{:.2f}".format).str.replace(".", ",", regex=False).where(
            amounts.notna(), shaped["charge_amount"].astype("str"))
    if style.mapping is None:
        return shaped
    tm = style.mapping.for_table(table)
    for column, spellings in tm.values.items():  # noqa: PD011 (a mapping, not a frame)
        inverse: dict[str, str] = {}
        for spelling, value in spellings.items():
            inverse.setdefault(value, spelling)
        if column in shaped:
            shaped[column] = shaped[column].astype("str").map(lambda v, m=inverse: m.get(v, v))
    renames: dict[str, str] = {}
    for export_name, targets in tm.columns.items():
        if targets[0] in shaped.columns and targets[0] not in renames:
            renames[targets[0]] = export_name
    fed = {t for targets in tm.columns.values() for t in targets[1:]}
    return shaped.drop(columns=[c for c in fed if c in shaped and c not in renames]).rename(
        columns=renames)


def twelve_hour(clock: pd.Series) -> pd.Series:
    """'HH:MM' as a 12-hour clock time ('09:05' → '9:05 AM', '00:15' → '12:15 AM'); anything that
    is no clock time (an injected '25:61') as it is."""
    parts = clock.astype("str").str.extract(r"^([01]\d|2[0-3]):([0-5]\d)$")
    hours = pd.to_numeric(parts[0], errors="coerce")
    half = hours.ge(12).map({True: "PM", False: "AM"})
    twelve = (hours % 12).replace(0, 12)
    written = twelve.astype("Int64").astype("str") + ":" + parts[1] + " " + half
    return written.where(hours.notna(), clock)


class _Sink:
    """Appends chunks to one file of the chosen format."""

    def __init__(self, path: Path, style: ExportStyle) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.style = path, style
        self._writer: pq.ParquetWriter | None = None
        self._rows: list[pd.DataFrame] = []
        self._first = True
        if path.exists():
            path.unlink()

    def write(self, frame: pd.DataFrame) -> None:
        kind = self.style.format
        if kind == "csv":
            self._csv(frame)
        elif kind == "jsonl":
            with self.path.open("a", encoding="utf-8") as handle:
                frame.to_json(handle, orient="records", lines=True, force_ascii=False)
        elif kind == "parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema)
            self._writer.write_table(table.cast(self._writer.schema))
        else:
            self._rows.append(frame)
        self._first = False

    def _csv(self, frame: pd.DataFrame) -> None:
        text = frame.to_csv(index=False, header=self._first, sep=self.style.delimiter,
                            lineterminator="\r\n" if self.style.windows else "\n")
        mode, encoding = ("w", "utf-8-sig") if self._first and self.style.windows else ("a", "utf-8")
        with self.path.open(mode, encoding=encoding, newline="") as handle:
            handle.write(text)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._rows:
            frame = pd.concat(self._rows, ignore_index=True)
            if len(frame) > XLSX_MAX_ROWS:
                raise ValueError(f"{len(frame)} rows do not fit one Excel sheet; use csv or parquet")
            frame.to_excel(self.path, index=False, engine="openpyxl")
