"""What one run is told: a typed configuration object, the only parameter of the flows.

`RunConfig` is everything an audit run depends on (inputs, settings files, sizes, sharing,
the nightly context it may belong to); `NightlyConfig` is what the nightly flow is told, and
makes each night's `RunConfig`. Both are frozen dataclasses: the command line builds one, the
flows take it whole (Prefect validates it and shows it as the flow run's parameters), a
deployment passes it as JSON (`prefect.yaml`: `parameters: {config: {...}}`), and the head
start compares it with the flow's to decide whether the flow takes its reading over.

Nothing here imports Prefect, pandas or GX: the command builds a configuration in its first
milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from nmr_audit.sizes import BATCH_ROWS, BUCKETS_AT_ONCE, LINES_PER_BUCKET, LOOK_BACK_DAYS, WORKBOOK_ROWS

Severity = Literal["info", "low", "medium", "high"]
Masking = Literal["keep", "hash", "drop"]


def _paths(values: Any) -> tuple[str, ...]:
    """PATH arguments as a tuple of text (a list, a tuple, one path, or nothing)."""
    if values is None:
        return ()
    if isinstance(values, str | Path):
        return (str(values),)
    return tuple(str(v) for v in values)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True)
class RunConfig:
    """One audit run (`flows.audit.audit_flow`).

    Inputs: `claims`, `notes` (files, folders or globs); `remits` (X12 835 remittance files,
    folders or globs: matched to the claim lines, each finding's outcome, denial weights learnt
    from them; none: no remittances); `mapping` (a mapping profile's file or
    shipped name), `profile` (audit profile), `reference` (a folder of reference tables),
    `expectations` (a folder of rule suites); each None for the defaults. Outputs: `out` (the
    folder written), `data_docs` (GX Data Docs), `mask_patients` with `mask_key_file` (patient ids
    in the human-facing outputs), `share_with_group` (modes of what is written), `workbook_rows`
    (rows per detail sheet of report.xlsx), `fail_on` (recorded; the command exits 3 on it).

    Execution: rows are read `batch_rows` at a time; a run of more than `lines_per_bucket` claim
    lines is audited in buckets of patients, `buckets_at_once` side by side; `partitioned` audits
    each bucket as a mapped task (on Dask when the flow runs with prefect-dask's task runner).
    The outputs are the same whichever way (`runtime.executors`).

    Nightly: `as_of` (the night audited), `run_id`, `history` (a folder of earlier nights' state
    whose rows from `history_since` on are audited again where tonight's rows touch them), and
    `nightly_root` (the root whose previous run the reports compare with). None outside a
    nightly run.
    """

    claims: tuple[str, ...]
    notes: tuple[str, ...]
    out: str
    mapping: str | None = None
    profile: str | None = None
    reference: str | None = None
    expectations: str | None = None
    fail_on: Severity | None = None
    data_docs: bool = True
    partitioned: bool = False
    mask_patients: Masking = "keep"
    mask_key_file: str | None = None
    share_with_group: bool = False
    batch_rows: int = BATCH_ROWS
    lines_per_bucket: int = LINES_PER_BUCKET
    buckets_at_once: int = BUCKETS_AT_ONCE
    workbook_rows: int = WORKBOOK_ROWS
    as_of: date | None = None
    run_id: str | None = None
    history: str | None = None
    history_since: date | None = None
    nightly_root: str | None = None
    remits: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("claims", "notes", "remits"):
            object.__setattr__(self, name, _paths(getattr(self, name)))
        for name in ("out", "mapping", "profile", "reference", "expectations", "mask_key_file", "history",
                     "nightly_root"):
            object.__setattr__(self, name, _text(getattr(self, name)))
        for name in ("batch_rows", "lines_per_bucket", "buckets_at_once", "workbook_rows"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")

    @property
    def side_by_side(self) -> int:
        """Buckets audited at once: one when Data Docs are written (one GX site is written by one
        rule engine, so that it lists every bucket), else `buckets_at_once`."""
        return 1 if self.data_docs and not self.partitioned else self.buckets_at_once


@dataclass(frozen=True)
class NightlyConfig:
    """The nightly audit (`flows.nightly.nightly_audit`): the exports to look in (`claims`,
    `notes`), the `output_root` holding runs/, ledger.csv and state/, the night (`as_of`, today
    when None), `full` (re-audit every file, not only new ones), `look_back_days` (dates of
    service whose audited rows are kept and audited again when new files touch their visits),
    `remits` (where the payers' 835 remittances arrive: a folder holding none yet is no error;
    those no earlier night read are tonight's), and the settings each night's run takes
    (`RunConfig`)."""

    claims: tuple[str, ...]
    notes: tuple[str, ...]
    output_root: str
    as_of: date | None = None
    full: bool = False
    mapping: str | None = None
    profile: str | None = None
    reference: str | None = None
    expectations: str | None = None
    partitioned: bool = False
    data_docs: bool = True
    fail_on: Severity | None = None
    look_back_days: int = LOOK_BACK_DAYS
    share_with_group: bool = False
    remits: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("claims", "notes", "remits"):
            object.__setattr__(self, name, _paths(getattr(self, name)))
        for name in ("output_root", "mapping", "profile", "reference", "expectations"):
            object.__setattr__(self, name, _text(getattr(self, name)))
        if self.look_back_days < 0:
            raise ValueError(f"look_back_days must be 0 or more, not {self.look_back_days}")

    def night(self, claims: list[str], notes: list[str], out: Path, as_of: date, run_id: str,
              history: Path | None, history_since: date, remits: list[str] | None = None) -> RunConfig:
        """The run of one night: its new files (and new remittances) into its own folder, with the
        root's history."""
        return RunConfig(claims=tuple(claims), notes=tuple(notes), remits=tuple(remits or ()), out=str(out),
                         mapping=self.mapping,
                         profile=self.profile, reference=self.reference, expectations=self.expectations,
                         data_docs=self.data_docs, partitioned=self.partitioned, as_of=as_of, run_id=run_id,
                         fail_on=self.fail_on, share_with_group=self.share_with_group,
                         history=str(history) if history else None, history_since=history_since,
                         nightly_root=self.output_root)

