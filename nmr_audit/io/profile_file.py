"""Load an audit profile (YAML) and apply it to the reference data."""

from __future__ import annotations

from pathlib import Path

import yaml

from nmr_audit.errors import InputError
from nmr_audit.profile import apply_payers, apply_rule_basis
from nmr_audit.reference import ReferenceData

KEYS = {"name", "description", "rule_basis", "payers"}


def load_profile(path: Path, reference: ReferenceData) -> ReferenceData:
    """The reference data with the profile's rule basis per payer type and its payers added.

    Raises InputError naming the file for YAML that cannot be read, unknown keys, an unknown
    payer type or rule basis, or a payers row without payer_id, payer_type and rule_basis.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, f"audit profile cannot be read: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or set(document) - KEYS:
        raise InputError(path, "an audit profile has the keys " + ", ".join(sorted(KEYS)))
    payers = document.get("payers") or []
    if not isinstance(payers, list):
        raise InputError(path, "payers: is a list of {payer_id, payer_type, rule_basis, medicare_rules, source}")
    try:
        updated = apply_rule_basis(reference, {str(k): str(v).lower() for k, v in
                                               (document.get("rule_basis") or {}).items()}, path.name)
        return apply_payers(updated, payers, path.name)
    except ValueError as exc:
        raise InputError(path, str(exc)) from exc
