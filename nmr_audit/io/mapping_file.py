"""Load mapping profiles (YAML) into `MappingProfile`s, rejecting what would be misread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nmr_audit.contract import CLAIM_COLUMNS, MINUTES_PREFIX, NOTE_COLUMNS, SERVICES_COLUMN
from nmr_audit.errors import InputError
from nmr_audit.mapping import MappingProfile, TableMapping

_SECTIONS = {"claim_lines": CLAIM_COLUMNS, "visit_notes": NOTE_COLUMNS}


def load_mapping(path: Path) -> MappingProfile:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, f"mapping profile cannot be read: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict):
        raise InputError(path, "a mapping profile is a YAML mapping with claim_lines/visit_notes")
    unknown = set(document) - {"name", "description", *_SECTIONS}
    if unknown:
        raise InputError(path, f"unknown section(s) {', '.join(sorted(unknown))}",
                         "sections are name, description, claim_lines, visit_notes")
    tables = {t: _table(path, t, document.get(t) or {}) for t in _SECTIONS}
    return MappingProfile(name=str(document.get("name", path.stem)),
                          description=str(document.get("description", "")), **tables)


def _table(path: Path, table: str, section: dict[str, Any]) -> TableMapping:
    columns: dict[str, tuple[str, ...]] = {}
    for export_name, target in (section.get("columns") or {}).items():
        targets = tuple(target) if isinstance(target, list) else (str(target),)
        for name in targets:
            if not _is_contract_column(table, name):
                raise InputError(path, f"{table}.columns maps '{export_name}' to '{name}', "
                                 "which is not a column of the contract")
        columns[str(export_name)] = targets
    values = {str(c): {str(k): str(v) for k, v in (m or {}).items()}
              for c, m in (section.get("values") or {}).items()}
    x12 = {str(k): str(v) for k, v in (section.get("x12") or {}).items()}
    if x12:
        from nmr_audit.x12.claims_837 import ClaimOptions

        try:
            ClaimOptions.from_settings(x12)
        except ValueError as exc:
            raise InputError(path, f"{table}.{exc}") from exc
    return TableMapping(columns=columns, values=values, delimiter=section.get("delimiter"),
                        sheet=section.get("sheet"), x12=x12)


def _is_contract_column(table: str, name: str) -> bool:
    if name in _SECTIONS[table]:
        return True
    return table == "visit_notes" and (name == SERVICES_COLUMN or name.startswith(MINUTES_PREFIX))
