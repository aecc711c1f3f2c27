"""Great Expectations as the rule engine: the suites decide which fact rows are unexpected.

Suites are JSON (`expectations/*.json`, one per grain of `nmr_audit.facts`); each expectation
carries in `meta` its `rule_id`, `severity`, a message template and which fact columns hold the
excess units and the dollars at risk. A run loads them into an ephemeral GX context, validates
each expectation over its grain's facts with `result_format` COMPLETE and returns the
unexpected `row_id`s. Nothing else flags a row.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier
from great_expectations.execution_engine import pandas_execution_engine
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.validator.v1_validator import Validator

from nmr_audit.contract import SEVERITIES

UNEXPECTED_COLUMNS = ("grain", "expectation", "rule_id", "severity", "field", "field_column", "message",
                      "excess_units", "dollars", "row_id", "edition")
META_KEYS = ("rule_id", "severity", "message")
RESULT_FORMAT = {"result_format": "COMPLETE"}  # unexpected_index_list: the batch index, i.e. row_id
SITE = "nmr-audit"  # the Data Docs site



def setup_gx() -> None:
    """Set GX up for nmr-audit's rule engine; called by `RuleEngine` before it builds a context.

    GX fingerprints every pandas batch under 1 GB (hash_pandas_object over all of it, then MD5)
    only to label the batch: a quarter of the rule engine's time at millions of rows. Nothing
    here reads the label, so no batch is fingerprinted (GX's `HASH_THRESHOLD` set to 0 in this
    process). Idempotent."""
    pandas_execution_engine.HASH_THRESHOLD = 0


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
    """Run each grain's suite over its frame; one row per (expectation, unexpected row)."""
    return RuleEngine(suites, docs_dir).validate(frames)


class RuleEngine:
    """The suites loaded once into an ephemeral GX context, validated over one frame set per call.

    Each expectation sees only the columns it names, indexed by `row_id`: GX filters and copies
    its whole batch for every row condition and missing-value rule, so width costs time and
    memory at millions of rows, and an index read back as is costs nothing per row (looking
    `row_id` up per unexpected row did). With `docs_dir` (absolute), each suite runs whole
    through a checkpoint (its result kept in GX's results store), and once every suite has run
    the Data Docs are rendered there in one build: a page per suite and per validation result,
    one validation result per suite and call (a run audited in patient buckets lists one per
    bucket), and the index. (GX's UpdateDataDocsAction on each checkpoint rebuilt the index and
    compiled every page template again for each suite: 1.7 of the 500-visit sample's 3 s.)
    Without `docs_dir`, results also skip GX's results store, which would serialize every
    unexpected row id once more.
    """

    def __init__(self, suites: dict[str, gx.ExpectationSuite], docs_dir: Path | None = None) -> None:
        setup_gx()
        self.suites = suites
        self.context = _context()
        if docs_dir is not None:
            self.context.add_data_docs_site(site_name=SITE, site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(docs_dir.resolve())},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        source = self.context.data_sources.add_pandas("nmr-audit")
        self._checkpoints: dict[str, Any] = {}
        self._batches: dict[tuple[str, int], Any] = {}
        for grain, suite in suites.items():
            if docs_dir is not None:
                self._checkpoints[grain] = _checkpoint(self.context, grain, source, suite)
                continue
            for number in range(len(suite.expectations)):
                name = f"{grain} {number}"
                self._batches[grain, number] = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)

    def validate(self, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """One row per (expectation, unexpected row) of each grain's facts in `frames`
        (columns `UNEXPECTED_COLUMNS`; `row_id` int64); with Data Docs, their pages rendered
        once every suite has run. Raises RuleEngineError when an expectation cannot be evaluated."""
        found, documented = [], []
        for grain, suite in self.suites.items():
            if grain in self._checkpoints:
                results, ids = _run_checkpoint(self._checkpoints[grain], suite,
                                               batch_frame(frames[grain], suite.expectations))
                documented += ids
            else:
                results = [_expectation(self._batches[grain, n], e, frames[grain]) for n, e in enumerate(suite.expectations)]
            found += [_unexpected(grain, number, r) for number, r in enumerate(results)]
        if documented:
            self.context.build_data_docs(site_names=[SITE], resource_identifiers=documented)
        columns: dict[str, list[Any]] = {column: [] for column in UNEXPECTED_COLUMNS if column != "row_id"}
        for same, ids in found:  # each expectation's meta repeated over its rows: no Python per row
            for column, values in columns.items():
                values += [same[column]] * len(ids)
        row_ids = np.concatenate([ids for _, ids in found]) if found else np.empty(0, dtype="int64")
        return pd.DataFrame({**columns, "row_id": row_ids.astype("int64")})[list(UNEXPECTED_COLUMNS)]


def _expectation(batch: Any, expectation: Any, frame: pd.DataFrame) -> Any:
    """One expectation over its own narrow batch."""
    validator = Validator(batch_definition=batch, result_format=RESULT_FORMAT,
                          batch_parameters={"dataframe": batch_frame(frame, [expectation])})
    return validator.validate_expectation(expectation)


def _checkpoint(context: Any, grain: str, source: Any, suite: gx.ExpectationSuite) -> Any:
    """A checkpoint over one grain's suite, its results kept for the Data Docs (rendered by
    `RuleEngine.validate` once every suite has run, not by an action per checkpoint)."""
    batch_definition = source.add_dataframe_asset(grain).add_batch_definition_whole_dataframe(grain)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=grain, data=batch_definition, suite=context.suites.add(suite)))
    return context.checkpoints.add(gx.Checkpoint(
        name=f"nmr-audit {grain}", validation_definitions=[definition], result_format=RESULT_FORMAT, actions=[]))


def _run_checkpoint(checkpoint: Any, suite: gx.ExpectationSuite, frame: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """The suite's expectation results in the suite's order, and what the Data Docs render for
    them: the validation result's identifier and the suite's."""
    outcome = checkpoint.run(batch_parameters={"dataframe": frame})
    results = [r for result in outcome.run_results.values() for r in result.results]
    place = {expectation.id: number for number, expectation in enumerate(suite.expectations)}
    ids = [*outcome.run_results, ExpectationSuiteIdentifier(name=suite.name)]
    return sorted(results, key=lambda r: place[r.expectation_config.id]), ids  # GX reorders; keep the suite's


def columns_read(expectations: list[Any]) -> list[str]:
    """Every column the expectations read, row conditions included, plus `row_id`."""
    names = ["row_id"]
    for expectation in expectations:
        kwargs = expectation.configuration.to_json_dict()["kwargs"]
        names += [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
        names += list(kwargs.get("column_list", []))
        names += _condition_columns(kwargs.get("row_condition"))
    return list(dict.fromkeys(names))


def _condition_columns(condition: Any) -> list[str]:
    if not isinstance(condition, dict):
        return []
    own = [condition["column"]["name"]] if isinstance(condition.get("column"), dict) else []
    return own + [c for part in condition.get("conditions", []) for c in _condition_columns(part)]


def batch_frame(frame: pd.DataFrame, expectations: list[Any]) -> pd.DataFrame:
    """What GX gets: the columns the expectations read (one they name but the facts lack still
    fails in GX), indexed by `row_id`, in dtypes its pandas metrics handle."""
    narrow = frame[[c for c in columns_read(expectations) if c in frame.columns]]
    return for_gx(narrow.set_axis(pd.Index(narrow["row_id"].to_numpy())))  # unnamed: GX lists it as is


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


def _unexpected(grain: str, number: int, result: Any) -> tuple[dict[str, Any], np.ndarray]:
    """One expectation's result: what every unexpected row of it carries (`UNEXPECTED_COLUMNS` but
    `row_id`), and the unexpected `row_id`s (int64). Raises RuleEngineError when GX could not
    evaluate it."""
    meta = result.expectation_config.meta
    problem = _exception(result.exception_info or {})
    if problem:
        raise RuleEngineError(f"{meta['rule_id']} ({grain} suite, expectation {number}) could not be "
                              f"evaluated: {problem}")
    ids = [] if result.success else (result.result.get("unexpected_index_list") or [])
    same = {"grain": grain, "expectation": number, "rule_id": meta["rule_id"], "severity": meta["severity"],
            "field": meta.get("field"), "field_column": meta.get("field_column"), "message": meta["message"],
            "excess_units": meta.get("excess_units"), "dollars": meta.get("dollars"), "edition": meta.get("edition")}
    return same, np.asarray(ids, dtype="int64")


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
