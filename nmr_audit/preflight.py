"""What the command checks before anything slow starts: paths, mapping and audit profiles,
reference tables, rule suites, the mask key and the output folder.

The audit flow checks the same again (it can run without the command), but the command must
answer a mistyped path at once, not after Prefect and its server have started (8–30 s). This
module imports only what reading those small files needs (pandas, PyYAML), never Prefect or
Great Expectations: the checks take well under a second.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nmr_audit.errors import InputError

MASK_KEY_VARIABLE = "NMR_AUDIT_MASK_KEY"
SUITE_GRAINS = ("claim_lines", "visits", "notes", "patient_days")


def check_run(claims: list[str], notes: list[str], out: Path | None = None, *, mapping: Path | None = None,
              profile: Path | None = None, reference: Path | None = None, expectations: Path | None = None,
              mask_patients: str = "keep", mask_key_file: Path | None = None, out_label: str = "--out",
              remits: list[str] | None = None, remits_may_be_empty: bool = False) -> None:
    """Raise `InputError` (one line: the file and what to do) for the first thing that would stop
    the run: a claims, notes or remittances PATH matching no supported file, an unreadable or invalid mapping
    or audit profile, a missing reference table or rule suite, `--mask-patients hash` without a
    key, or an output folder that is a file or cannot be made."""
    from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
    from nmr_audit.io.discover import discover
    from nmr_audit.resources import mapping_profile, shipped_mappings

    discover(claims, CLAIM_LINES)
    discover(notes, VISIT_NOTES)
    if remits and remits_may_be_empty:  # the nightly drop folder of the payers' files: empty most nights
        for pattern in remits:
            if not Path(pattern).is_dir():
                discover([pattern], REMITS)
    elif remits:
        discover(remits, REMITS)
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
