"""Great Expectations as the rule engine: the suites decide which fact rows are unexpected.

Suites are JSON (`expectations/*.json`, one per grain of `nmr_audit.facts`); each expectation
carries in `meta` its `rule_id`, `severity`, a message template and which fact columns hold the
excess units and the dollars at risk. A run loads them into an ephemeral GX context, validates
each grain's frame with `result_format` COMPLETE and returns the unexpected `row_id`s. Nothing
else flags a row.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from nmr_audit.contract import SEVERITIES

UNEXPECTED_COLUMNS = ("grain", "expectation", "rule_id", "severity", "field", "message",
                      "excess_units", "dollars", "row_id")
META_KEYS = ("rule_id", "severity", "message")


class RuleEngineError(RuntimeError):
    """An expectation could not be evaluated: the run must not read as clean."""


def suite_from_json(document: dict[str, Any]) -> gx.ExpectationSuite:
    """An ExpectationSuite from its JSON form, each expectation's meta checked."""
    expectations = []
    for number, item in enumerate(document.get("expectations", [])):
        meta = item.get("meta", {})
        missing = [k for k in META_KEYS if not meta.get(k)]
        if missing:
            raise ValueError(f"suite {document.get('name')!r} expectation {number}: meta lacks {', '.join(missing)}")
        if meta["severity"] not in SEVERITIES:
            raise ValueError(f"suite {document.get('name')!r} expectation {number}: severity "
                             f"{meta['severity']!r} is not one of {', '.join(SEVERITIES)}")
        config = ExpectationConfiguration(type=item["type"], kwargs=item["kwargs"], meta=meta)
        expectations.append(config.to_domain_obj())
    return gx.ExpectationSuite(name=document["name"], expectations=expectations,
                               meta=document.get("meta", {}))


def validate(suites: dict[str, gx.ExpectationSuite], frames: dict[str, pd.DataFrame],
             docs_dir: Path | None = None) -> pd.DataFrame:
    """Run each grain's suite over its frame; one row per (expectation, unexpected row).

    With `docs_dir` (absolute), GX also renders its Data Docs there.
    """
    context = _context()
    if docs_dir is not None:
        context.add_data_docs_site(site_name="nmr-audit", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(docs_dir.resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    source = context.data_sources.add_pandas("nmr-audit")
    found = []
    for grain, suite in suites.items():
        frame = for_gx(frames[grain])
        batch_definition = source.add_dataframe_asset(grain).add_batch_definition_whole_dataframe(grain)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=grain, data=batch_definition, suite=context.suites.add(suite)))
        actions = [gx.checkpoint.UpdateDataDocsAction(name="data docs")] if docs_dir is not None else []
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"nmr-audit {grain}", validation_definitions=[definition], actions=actions,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]}))
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for result in outcome.run_results.values():
            found += [_unexpected(grain, number, r) for number, r in enumerate(result.results)]
    rows = [row for part in found for row in part]
    return pd.DataFrame(rows, columns=list(UNEXPECTED_COLUMNS)).astype({"row_id": "int64"})


def _context() -> Any:
    """An in-memory GX context without its default docs site (a temp folder it never cleans)."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    for name, site in dict(context.variables.data_docs_sites or {}).items():
        folder = site.get("store_backend", {}).get("base_directory")
        context.delete_data_docs_site(name)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return context


def _unexpected(grain: str, number: int, result: Any) -> list[dict[str, Any]]:
    meta = result.expectation_config.meta
    problem = _exception(result.exception_info or {})
    if problem:
        raise RuleEngineError(f"{meta['rule_id']} ({grain} suite, expectation {number}) could not be "
                              f"evaluated: {problem}")
    if result.success:
        return []
    ids = result.result.get("unexpected_index_list") or []
    return [{"grain": grain, "expectation": number, "rule_id": meta["rule_id"], "severity": meta["severity"],
             "field": meta.get("field"), "message": meta["message"], "excess_units": meta.get("excess_units"),
             "dollars": meta.get("dollars"), "row_id": int(item["row_id"])} for item in ids]


def _exception(info: dict[str, Any]) -> str | None:
    """GX reports a failed metric either flat or keyed by metric: find a raised one."""
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    nested = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    return str(nested[0].get("exception_message")) if nested else None


def for_gx(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in dtypes GX's pandas metrics handle: nullable ints/bools as float/object."""
    converted = {}
    for column, dtype in frame.dtypes.items():
        if str(dtype) == "Int64" or str(dtype) == "Float64":
            converted[column] = frame[column].astype("float64")
        elif str(dtype) == "boolean":
            converted[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return frame.assign(**converted)
