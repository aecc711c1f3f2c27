"""Every rule the suites can raise, and every rule the contract names, says what it means and what to fix."""

import json

from nmr_audit.rule_catalogue import CATALOGUE_COLUMNS, rule_catalogue
from tests.conftest import REPO
from tests.test_suites import CONTRACT_RULES

V11_RULES = {"FIELD_UNREADABLE": "low", "NOTE_QUARANTINED": "medium", "DAY_UNITS_EXCEED_TIME": "medium",
             "PAYER_EDIT": "high", "KX_MISSING": "high", "KX_REVIEW_THRESHOLD": "info",
             "PROGRESS_REPORT_OVERDUE": "medium"}


def test_the_catalogue_covers_the_contract_with_its_severities():
    catalogue = rule_catalogue()
    assert tuple(catalogue.columns) == CATALOGUE_COLUMNS and catalogue["rule_id"].is_unique
    assert catalogue.set_index("rule_id")["severity"].to_dict() == {**CONTRACT_RULES, **V11_RULES}


def test_every_rule_in_the_suites_is_explained():
    catalogue = rule_catalogue().set_index("rule_id")
    for suite in (REPO / "expectations").glob("*.json"):
        for expectation in json.loads(suite.read_text())["expectations"]:
            rule = expectation["meta"]["rule_id"]
            assert rule in catalogue.index, rule
            assert catalogue.loc[rule, "severity"] == expectation["meta"]["severity"]
    for column in ("meaning", "fix", "source"):
        assert catalogue[column].str.len().gt(5).all(), column
