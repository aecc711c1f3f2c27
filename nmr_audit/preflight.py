"""What the command checks before anything slow starts: paths, mapping and audit profiles,
reference tables, rule suites, the mask key, the output folder and a Dask scheduler's address.

The audit flow checks the same again (it can run without the command), but the command must
answer a mistyped path at once, not after Prefect and its server have started (8–30 s). This
module imports only what reading those small files needs (pandas, PyYAML), never Prefect or
Great Expectations: the checks take well under a second (Dask's client, imported only when
something listens at a `--dask-address`, waits at most 15 s for a scheduler's answer).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from nmr_audit.errors import InputError

MASK_KEY_VARIABLE = "NMR_AUDIT_MASK_KEY"
SUITE_GRAINS = ("claim_lines", "visits", "notes", "patient_days")


def check_run(claims: list[str], notes: list[str], out: Path | None = None, *, mapping: Path | None = None,
              profile: Path | None = None, reference: Path | None = None, expectations: Path | None = None,
              mask_patients: str = "keep", mask_key_file: Path | None = None, out_label: str = "--out",
              remits: list[str] | None = None, remits_may_be_empty: bool = False,
              dask_address: str | None = None) -> None:
    """Raise `InputError` (one line: the file and what to do) for the first thing that would stop
    the run: a claims, notes or remittances PATH matching no supported file, an unreadable or invalid mapping
    or audit profile, a missing reference table or rule suite, `--mask-patients hash` without a
    key, an output folder that is a file or cannot be made, or a `--dask-address` where no Dask
    scheduler answers (`dask_scheduler`). Every input file's first bytes
    are read (`io.readers.check_head`): a file its extension promises as CSV, Parquet or a
    workbook that is not one (a binary file named .csv) is refused here, not by the run."""
    from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
    from nmr_audit.io.discover import discover
    from nmr_audit.io.readers import check_head
    from nmr_audit.resources import mapping_profile, shipped_mappings

    found = {CLAIM_LINES: discover(claims, CLAIM_LINES)[0], VISIT_NOTES: discover(notes, VISIT_NOTES)[0]}
    if remits and remits_may_be_empty:  # the nightly drop folder of the payers' files: empty most nights
        found[REMITS] = [path for pattern in remits if not Path(pattern).is_dir()
                         for path in discover([pattern], REMITS)[0]]
    elif remits:
        found[REMITS] = discover(remits, REMITS)[0]
    for table, paths in found.items():
        for path in paths:
            check_head(path, table)
    if mapping is not None:
        mapping = mapping_profile(mapping)  # a shipped profile may be named: therachart_csv
        if not mapping.exists():
            raise InputError(mapping, "mapping profile not found",
                             f"check the path, or name a shipped profile ({', '.join(shipped_mappings())})")
    for path, what in ((mapping, "mapping profile"), (profile, "audit profile")):
        if path is not None:
            _yaml(path, what)  # unreadable or not YAML: said before pandas is even imported
    if reference is not None and not reference.is_dir():
        raise InputError(reference, "reference folder not found", "pass --reference DIR holding the reference tables")
    if mapping is not None:
        from nmr_audit.io.mapping_file import load_mapping

        load_mapping(mapping)
    if profile is not None:
        from nmr_audit.io.profile_file import load_profile
        from nmr_audit.io.reference import load_reference

        load_profile(profile, load_reference(reference))
    if expectations is not None:
        _suites(expectations)
    if mask_patients == "hash":
        _mask_key(mask_key_file)
    if out is not None:
        _output_folder(out, out_label)
    dask_scheduler(dask_address)


DASK_SCHEMES = ("tcp", "tls")
DASK_ADDRESS_HINT = "give the scheduler's address as `dask scheduler` prints it, e.g. tcp://host:8786, or 'local'"


def dask_scheduler(address: str | None, seconds: float = 10.0) -> None:
    """Raise `InputError` unless `address` (the command's `--dask-address`; None or 'local':
    nothing to check) names a Dask scheduler that answers within `seconds`: an address that is
    not `tcp://host:port` (or `tls://`), a port nothing listens on, or something that answers but
    not as a Dask scheduler (a web server there made the run wait forever, or fail with Dask's
    MemoryError reading its reply as a frame). Checked before the inputs are read; imports
    `distributed` only when something listens there."""
    if not address or address == "local":
        return
    scheme, separator, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    where = f"--dask-address {address}"
    if not separator or scheme not in DASK_SCHEMES or not host or not port.isdigit():
        raise InputError(where, "not a Dask scheduler's address", DASK_ADDRESS_HINT)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            pass
    except OSError as problem:
        raise InputError(where, f"nothing answers there ({problem.strerror or type(problem).__name__})",
                         "start the scheduler (`dask scheduler --port " + port + "`) or use --dask-address local"
                         ) from None
    answer = _scheduler_answer(address, seconds)
    if answer is not None:
        raise InputError(where, f"no Dask scheduler answered there within {seconds:g} s ({answer})", DASK_ADDRESS_HINT)


def _scheduler_answer(address: str, seconds: float) -> str | None:
    """None when a Dask client connects to `address` within `seconds`, else what went wrong. In a
    daemon thread: Dask's own timeout does not bound its handshake with a server that never
    replies (a web server on the port: measured, the command waited 11 minutes)."""
    import threading

    outcome: list[str | None] = []

    def connect() -> None:
        try:
            from distributed import Client

            Client(address, timeout=seconds, set_as_default=False).close()
            outcome.append(None)
        except Exception as problem:
            outcome.append(type(problem).__name__)

    trying = threading.Thread(target=connect, name="dask-scheduler-check", daemon=True)
    trying.start()
    trying.join(seconds + 5)  # the import of distributed, then the handshake
    return outcome[0] if outcome else "it never replied"


def _readable(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(path, f"{what} not found", "check the path")
    if not path.is_file():
        raise InputError(path, f"{what} is not a file", "give the YAML file itself")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as problem:
        raise InputError(path, f"{what} cannot be read: {problem.strerror}") from None


def _yaml(path: Path, what: str) -> None:
    import yaml

    _readable(path, what)
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, f"{what} is not UTF-8 text", "save it as UTF-8 YAML") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        reason = getattr(problem, "problem", None) or str(problem).splitlines()[0]
        raise InputError(path, f"{what} is not valid YAML: {where}{reason}") from None


def _suites(folder: Path) -> None:
    if not folder.is_dir():
        raise InputError(folder, "rule suite folder not found", "pass --expectations DIR holding "
                         + ", ".join(f"{g}.json" for g in SUITE_GRAINS))
    for grain in SUITE_GRAINS:
        path = folder / f"{grain}.json"
        if not path.exists():
            raise InputError(path, "rule suite not found", "pass --expectations DIR holding "
                             + ", ".join(f"{g}.json" for g in SUITE_GRAINS))
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as problem:
            raise InputError(path, f"rule suite is not valid JSON: {problem}") from None


def _mask_key(key_file: Path | None) -> None:
    if key_file is not None:
        _readable(key_file, "mask key file")
        if key_file.read_bytes().strip():
            return
    elif os.environ.get(MASK_KEY_VARIABLE, "").strip():
        return
    raise InputError(key_file or MASK_KEY_VARIABLE, "hashing patient ids needs a key",
                     f"set {MASK_KEY_VARIABLE} or pass --mask-key-file FILE (keep the same key per client)")


def _output_folder(out: Path, label: str) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(out, f"{label} is a file, not a folder", "give a folder for the outputs")
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(out, f"{label} cannot be created or written here ({existing} is not writable)",
                         "choose a folder you can write to")
