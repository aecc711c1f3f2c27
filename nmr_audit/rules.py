"""The rule registry (`contract.RULES`) held against what lists rules elsewhere.

The suites (`expectations/*.json`), the denial weights (`data/reference/denial_weights.csv`)
and the rule table of `docs/rules.md` are each checked against the registry when they load or
are tested: a rule with no expectation, no weight or a severity of its own fails loudly, never
silently as 0. Pure: lists and frames in, problems (one line each) out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from nmr_audit.contract import MINUTES_PREFIX, RULES, Rule

RULE_BY_ID: dict[str, Rule] = {rule.rule_id: rule for rule in RULES}


def rule(rule_id: str) -> Rule:
    """The registry's entry for `rule_id` (what a report shows: meaning, fix, source); KeyError
    naming the registry when there is none."""
    try:
        return RULE_BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"{rule_id} is not in the rule registry (nmr_audit/contract.py RULES)") from None


def suite_problems(expectations: Mapping[str, Iterable[tuple[str, str]]]) -> list[str]:
    """What keeps a set of suites from matching the registry.

    `expectations`: suite name (the facts grain, e.g. `visits`) → (rule_id, severity) of each of
    its expectations. Each expectation must name a registered rule, in that rule's suite, with one
    of its severities; every registered rule needs an expectation, and every severity a rule
    lists must be carried by one.
    """
    problems: list[str] = []
    seen: dict[str, set[str]] = {}
    for suite, items in expectations.items():
        for rule_id, severity in items:
            entry = RULE_BY_ID.get(rule_id)
            if entry is None:
                problems.append(f"{suite}: {rule_id} is not in the rule registry")
                continue
            if entry.suite != suite:
                problems.append(f"{suite}: {rule_id} belongs in the {entry.suite} suite")
            if severity not in entry.severities:
                problems.append(f"{suite}: {rule_id} has severity {severity}, the registry says "
                                f"{' or '.join(entry.severities)}")
            seen.setdefault(rule_id, set()).add(severity)
    for entry in RULES:
        if entry.rule_id not in seen:
            problems.append(f"{entry.rule_id} has no expectation (its suite is {entry.suite})")
        elif set(entry.severities) - seen[entry.rule_id]:
            missing = sorted(set(entry.severities) - seen[entry.rule_id])
            problems.append(f"{entry.rule_id} has no expectation of severity {', '.join(missing)}")
    return problems


def weight_problems(weights: pd.DataFrame) -> list[str]:
    """What keeps a denial-weights table (rule_id, weight) from covering the registry exactly."""
    ids = weights["rule_id"].astype("str")
    problems = [f"no weight for {r}" for r in RULE_BY_ID if r not in set(ids)]
    problems += [f"{r} is not in the rule registry" for r in sorted(set(ids) - set(RULE_BY_ID))]
    problems += [f"{r} is listed twice" for r in sorted(set(ids[ids.duplicated()]))]
    out_of_range = weights.loc[~weights["weight"].between(0, 1), "rule_id"]
    problems += [f"the weight of {r} is not between 0 and 1" for r in out_of_range]
    return problems


def rules_reading(column: str) -> list[Rule]:
    """The rules that decide from canonical input `column` (`minutes_97112` matches `minutes_*`)."""
    wanted = {column, "minutes_*"} if column.startswith(MINUTES_PREFIX) else {column}
    return [r for r in RULES if wanted & set(r.reads)]


def blocked_checks(columns: pd.Series) -> pd.DataFrame:
    """For each unreadable column name: the rules it blocks (`blocked_checks`: rule ids, or "none"),
    the words a finding says of them (`blocked_text`) and whether one is a unit check.

    Computed once per distinct name (a run has a handful), then mapped onto every row.
    """
    distinct = pd.Series(columns.dropna().unique())
    names = {c: ", ".join(r.rule_id for r in rules_reading(c)) or "none" for c in distinct}
    units = {c: any(r.unit_check for r in rules_reading(c)) for c in distinct}
    said = {c: f"these checks did not run on it: {n}" if n != "none" else "no audit rule reads it"
            for c, n in names.items()}
    return pd.DataFrame({"blocked_checks": columns.map(names).astype("str"),
                         "blocked_text": columns.map(said).astype("str"),
                         "blocks_unit_check": columns.map(units).fillna(False).astype("bool")},
                        index=columns.index)


def rule_table_markdown() -> str:
    """The rule table of `docs/rules.md`, from the registry (a test holds the doc to it)."""
    head = ("| rule_id | severity | grain | what it means | what to fix | at risk | default weight | source |\n"
            "|---|---|---|---|---|---|---|---|\n")
    rows = [f"| `{r.rule_id}` | {' / '.join(r.severities)} | {r.grain.replace('_', ' ')} | {_cell(r.meaning)} | "
            f"{_cell(r.fix)} | {_cell(r.at_risk)} | {r.weight:.2f} | {_cell(r.source)} |" for r in RULES]
    return head + "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
