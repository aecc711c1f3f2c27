"""Load an audit profile (YAML) and apply it to the reference data."""

from __future__ import annotations

from pathlib import Path

import yaml

from nmr_audit.errors import InputError
from nmr_audit.profile import apply_rule_basis
from nmr_audit.reference import ReferenceData


def load_profile(path: Path, reference: ReferenceData) -> ReferenceData:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, f"audit profile cannot be read: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or set(document) - {"name", "description", "rule_basis"}:
        raise InputError(path, "an audit profile has the keys name, description, rule_basis")
    try:
        return apply_rule_basis(reference, {str(k): str(v).lower() for k, v in
                                            (document.get("rule_basis") or {}).items()}, path.name)
    except ValueError as exc:
        raise InputError(path, str(exc)) from exc
