"""Load the rule suites (`expectations/*.json`), one per grain of the facts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import great_expectations as gx

from nmr_audit.errors import InputError
from nmr_audit.gx_engine import suite_from_json
from nmr_audit.resources import shipped
from nmr_audit.rules import suite_problems

GRAINS = ("claim_lines", "visits", "notes", "patient_days", "discipline_days", "fields", "code_pairs",
          "therapy_lines", "treatment_days")


def default_expectations_dir() -> Path:
    """The rule suites shipped with nmr-audit (`expectations/` of the repository, inside the
    installed package or the checkout's: `nmr_audit.resources.shipped`)."""
    return shipped("expectations")


def load_suites(folder: Path | None = None) -> dict[str, gx.ExpectationSuite]:
    """One GX suite per grain of the facts, held to the rule registry (`nmr_audit.rules`).

    Raises InputError naming the file for a missing or invalid suite, and naming the folder when
    the suites and the registry disagree (an unknown rule, a severity or suite not the
    registry's, a registered rule with no expectation).
    """
    folder = folder or default_expectations_dir()
    suites = {}
    for grain in GRAINS:
        path = folder / f"{grain}.json"
        if not path.exists():
            raise InputError(path, "rule suite not found", "pass --expectations DIR holding "
                             + ", ".join(f"{g}.json" for g in GRAINS))
        try:
            suites[grain] = suite_from_json(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise InputError(path, f"rule suite is not valid: {exc}") from exc
    problems = suite_problems({grain: [(e.meta["rule_id"], e.meta["severity"]) for e in suite.expectations]
                               for grain, suite in suites.items()})
    if problems:
        raise InputError(folder, "rule suites disagree with the rule registry: " + "; ".join(problems),
                         "add the rule to nmr_audit/contract.py RULES and its suite together")
    return suites


def suites_fingerprint(folder: Path) -> str:
    """A digest of the suite files in `folder` (those that exist): equal digests, equal suites."""
    digest = hashlib.sha256()
    for grain in GRAINS:
        path = folder / f"{grain}.json"
        digest.update(grain.encode() + (path.read_bytes() if path.exists() else b"\0missing"))
    return digest.hexdigest()
