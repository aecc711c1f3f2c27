"""Every rule the suites can raise says, in the reports, what it means and what to fix: from the registry."""

import json

from nmr_audit.contract import RULES
from nmr_audit.rule_catalogue import CATALOGUE_COLUMNS, rule_catalogue
from tests.conftest import REPO
from tests.test_suites import CONTRACT_RULES


def test_the_catalogue_is_the_registry_with_the_contracts_severities():
    catalogue = rule_catalogue()
    assert tuple(catalogue.columns) == CATALOGUE_COLUMNS and catalogue["rule_id"].is_unique
    assert catalogue["rule_id"].tolist() == [r.rule_id for r in RULES]
    assert {r: set(s.split("/")) for r, s in catalogue.set_index("rule_id")["severity"].items()} == CONTRACT_RULES


def test_every_rule_in_the_suites_is_explained():
    catalogue = rule_catalogue().set_index("rule_id")
    for suite in (REPO / "expectations").glob("*.json"):
        for expectation in json.loads(suite.read_text())["expectations"]:
            rule = expectation["meta"]["rule_id"]
            assert rule in catalogue.index, rule
            assert expectation["meta"]["severity"] in catalogue.loc[rule, "severity"].split("/")
    for column in ("meaning", "fix", "source"):
        assert catalogue[column].str.len().gt(5).all(), column
