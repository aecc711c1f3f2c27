"""Load mapping profiles (YAML) into `MappingProfile`s, rejecting what would be misread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nmr_audit.conform import minutes_code
from nmr_audit.contract import CLAIM_COLUMNS, MINUTES_PREFIX, NOTE_COLUMNS, SERVICES_COLUMN
from nmr_audit.errors import InputError
from nmr_audit.mapping import MappingProfile, TableMapping
from nmr_audit.resources import mapping_profile

_SECTIONS = {"claim_lines": CLAIM_COLUMNS, "visit_notes": NOTE_COLUMNS}
_NUMBER_KEYS = ("locale", "decimal_mark")

# The decimal mark of a locale's numbers (Unicode CLDR, `symbols/decimal` of each locale's main
# data): languages that write a decimal comma, and the regions where that language writes a dot
# (or, for English, a comma). A locale not listed here is refused: name `decimal_mark` instead.
_COMMA_LANGUAGES = frozenset({
    "af", "az", "be", "bg", "bs", "ca", "cs", "da", "de", "el", "es", "et", "eu", "fi", "fo", "fr", "gl",
    "hr", "hu", "hy", "id", "is", "it", "ka", "kk", "lt", "lv", "mk", "nb", "nl", "nn", "no", "pl", "pt",
    "ro", "ru", "sk", "sl", "sq", "sr", "sv", "tr", "uk", "uz", "vi",
})
_DOT_LANGUAGES = frozenset({"en", "ja", "zh", "ko", "he", "th", "hi", "ms", "ga", "mt"})
_DOT_REGIONS = frozenset({"de_CH", "de_LI", "it_CH", "es_MX", "es_US", "es_PR", "es_DO", "es_GT", "es_HN", "es_NI",
                          "es_PA", "es_SV", "ms_BN"})
_COMMA_REGIONS = frozenset({"en_ZA", "en_DK", "en_BE", "en_NL", "en_SE", "en_FI", "en_DE", "en_AT", "en_SI"})


def load_mapping(path: Path) -> MappingProfile:
    """The mapping profile in the YAML file `path`, or, for a bare name that is no file here
    (`therachart_csv`), the shipped profile of that name (`resources.mapping_profile`).
    Raises `InputError` naming the file for what cannot be read or would be misread."""
    path = mapping_profile(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, f"mapping profile cannot be read: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict):
        raise InputError(path, "a mapping profile is a YAML mapping with claim_lines/visit_notes")
    unknown = set(document) - {"name", "description", *_NUMBER_KEYS, *_SECTIONS}
    if unknown:
        raise InputError(path, f"unknown section(s) {', '.join(sorted(unknown))}",
                         "sections are name, description, locale, decimal_mark, claim_lines, visit_notes")
    default_mark = decimal_mark_of(path, document)
    tables = {t: _table(path, t, document.get(t) or {}, default_mark) for t in _SECTIONS}
    return MappingProfile(name=str(document.get("name", path.stem)),
                          description=str(document.get("description", "")), **tables)


def decimal_mark_of(path: Path, section: dict[str, Any]) -> str | None:
    """The decimal mark a profile (or one table of it) names: `decimal_mark: ","` or `"."`, or
    the mark of its `locale` (`de_DE`, `fr-CA`, `en_US`); None when it names neither."""
    mark, locale = section.get("decimal_mark"), section.get("locale")
    if mark is not None:
        if str(mark) not in (".", ","):
            raise InputError(path, f"decimal_mark {mark!r} is neither '.' nor ','")
        return str(mark)
    if locale is None:
        return None
    name = str(locale).strip().replace("-", "_").split(".")[0]
    language, _, region = name.partition("_")
    full = f"{language.lower()}_{region.upper()}" if region else language.lower()
    if full in _DOT_REGIONS or full in _COMMA_REGIONS:
        return "." if full in _DOT_REGIONS else ","
    if language.lower() in _COMMA_LANGUAGES | _DOT_LANGUAGES:
        return "," if language.lower() in _COMMA_LANGUAGES else "."
    raise InputError(path, f"locale {locale!r}: its decimal mark is not known here",
                     "name decimal_mark: ',' or decimal_mark: '.' instead")


def _table(path: Path, table: str, section: dict[str, Any], default_mark: str | None = None) -> TableMapping:
    columns: dict[str, tuple[str, ...]] = {}
    for export_name, target in (section.get("columns") or {}).items():
        targets = tuple(target) if isinstance(target, list) else (str(target),)
        for name in targets:
            if not _is_contract_column(table, name):
                raise InputError(path, f"{table}.columns maps '{export_name}' to '{name}', "
                                 "which is not a column of the contract",
                                 "per-code minutes are minutes_<CPT>, e.g. minutes_97112"
                                 if name.startswith(MINUTES_PREFIX) else "")
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
    mark = decimal_mark_of(path, section)
    return TableMapping(columns=columns, values=values, delimiter=section.get("delimiter"),
                        sheet=section.get("sheet"), x12=x12, decimal_mark=mark if mark is not None else default_mark)


def _is_contract_column(table: str, name: str) -> bool:
    if name in _SECTIONS[table]:
        return True
    return table == "visit_notes" and (name == SERVICES_COLUMN or (name.startswith(MINUTES_PREFIX)
                                                                   and minutes_code(name) is not None))
