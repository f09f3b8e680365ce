"""A model version's NYC Local Law 144 bias audit over a period, from its rollups (6 RCNY §§5-301 to 5-303).

The policy's ``bias_audit`` says which protected attribute is sex and which race/ethnicity, and maps their
values onto the EEO-1 categories the rule uses; a value it does not map counts as *unknown*. The tables are
``monitoring.fairness.ll144``'s, over every prediction of the period:

- a *selection* tool's tally of a category is its predictions and how many were the favourable decision;
- a *scoring* tool's is its predictions and how many scored above the whole period's median score. The rollups
  keep scores as histograms of ``SCORE_BINS`` equal bins, so the median is known to within its bin and the rows
  of that bin cannot be placed: each scoring rate and ratio is given as the interval between placing none of
  them and all of them above the median (exact when the halves of the sample meet at a bin's edge).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from compliance.crypto.canonical import sorted_json_sha256
from monitoring.audit_report.bundle import csv_cell
from monitoring.audit_report.period import Period
from monitoring.constants import INTERSECTION_SEPARATOR, SCORE_BINS
from monitoring.fairness.ll144 import (
    EXCLUSION_LIMIT,
    INTERSECTIONAL,
    RACE,
    SEX,
    Cell,
    ImpactTable,
    Tally,
    audit_tables,
    scoring_bounds,
)
from monitoring.ingestion.rollup_math import attribute_keys
from monitoring.ingestion.selectors import window_counts, window_score_histograms
from registry.models import MLModel, ModelVersion, MonitoringPolicy

VALIDITY = timedelta(days=365)  # §20-871: a bias audit no more than one year old
SCORE_EDGES = [index / SCORE_BINS for index in range(SCORE_BINS + 1)]


class NotConfigured(ValueError):
    """The policy in force says nothing about bias audits."""


@dataclass
class BiasAudit:
    model: MLModel
    version: ModelVersion
    period: Period
    policy: MonitoringPolicy
    audit_date: date
    tool: str
    data_source: str
    distribution_date: str | None
    tables: dict[str, ImpactTable]  # selection, or scoring with none of the median's bin above it
    upper_tables: dict[str, ImpactTable] = field(default_factory=dict)  # scoring: all of that bin above it
    median: dict[str, Any] | None = None
    assessed: int = 0

    @property
    def valid_until(self) -> date:
        return self.audit_date + VALIDITY

    def as_dict(self) -> dict[str, Any]:
        """The audit as its JSON bundle (what the page shows), with a digest of everything in it."""
        body = {
            "kind": "nyc_ll144_bias_audit",
            "rule": "NYC Admin Code 20-870 to 20-874; 6 RCNY 5-300 to 5-304",
            "model": self.model.name,
            "version": self.version.version,
            "policy_version": self.policy.version,
            "period": self.period.as_dict(),
            "audit_date": self.audit_date.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "tool": self.tool,
            "data_source": self.data_source,
            "distribution_date": self.distribution_date,
            "assessed": self.assessed,
            "median_score": self.median,
            "tables": {name: _table_dict(table, self.upper_tables.get(name)) for name, table in self.tables.items()},
        }
        return {**body, "bundle_sha256": sorted_json_sha256(body)}


def _table_dict(table: ImpactTable, upper: ImpactTable | None) -> dict[str, Any]:
    upper_rows = {row.category: row for row in upper.rows} if upper is not None else {}
    return {
        "dimension": table.dimension,
        "unknown": table.unknown,
        "reference": table.reference,
        "excluded": table.excluded,
        "rows": [
            {
                "category": row.category,
                "assessed": row.assessed,
                "positive": row.positive,
                "rate": row.rate,
                "impact_ratio": row.impact_ratio,
                "share": row.share,
                "excluded": row.excluded,
                "justification": row.justification,
                **(
                    {
                        "positive_upper": upper_rows[row.category].positive,
                        "rate_upper": upper_rows[row.category].rate,
                        "impact_ratio_upper": upper_rows[row.category].impact_ratio,
                    }
                    if row.category in upper_rows
                    else {}
                ),
            }
            for row in table.rows
        ],
    }


CSV_COLUMNS = (
    "dimension",
    "category",
    "assessed",
    "positive",
    "positive_upper",
    "rate",
    "rate_upper",
    "impact_ratio",
    "impact_ratio_upper",
    "excluded",
    "justification",
)


def bias_audit_csv(bundle: Mapping[str, Any]) -> str:
    """The bundle's tables as CSV, header row first: one row per category, and per table one row ``unknown``
    with the count left out of its rates (the summary fields and digest are the JSON's)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for dimension, table in bundle["tables"].items():
        for row in table["rows"]:
            writer.writerow(
                [csv_cell(dimension), csv_cell(row["category"]), *(csv_cell(row.get(name)) for name in CSV_COLUMNS[2:])]
            )
        writer.writerow([dimension, "unknown", table["unknown"], *[""] * (len(CSV_COLUMNS) - 3)])
    return buffer.getvalue()


def _category(spec: Mapping[str, Any] | None, value: str) -> str | None:
    return (spec or {}).get("categories", {}).get(value)


def _source_attribute(policy: MonitoringPolicy) -> tuple[str, list[str]]:
    """The rollup attribute whose groups give each prediction's sex and race/ethnicity: the configured attribute
    alone, or the intersection of all the protected attributes (summed over any others) when both are set."""
    config = policy.bias_audit
    names = [config[dimension]["attribute"] for dimension in (SEX, RACE) if dimension in config]
    if len(names) == 1:
        return names[0], names
    joined = attribute_keys(policy.protected_attributes)[-1]
    return joined, joined.split(INTERSECTION_SEPARATOR)


def _cell_of(config: Mapping[str, Any], names: list[str], group: Any) -> Cell:
    values = dict(zip(names, group if isinstance(group, tuple) else (group,), strict=True))
    sex = _category(config.get(SEX), values[config[SEX]["attribute"]]) if SEX in config else None
    race = _category(config.get(RACE), values[config[RACE]["attribute"]]) if RACE in config else None
    return sex, race


EXCLUDE = "exclude"  # a value per excluded category: "<dimension>|<category>"; its reason in "why|<same>"


def requested_exclusions(params: Any) -> dict[str, dict[str, str]]:
    """The exclusions a request asks for (a query dict): ``{dimension: {category: justification}}``."""
    chosen: dict[str, dict[str, str]] = {}
    for value in params.getlist(EXCLUDE) if hasattr(params, "getlist") else []:
        dimension, _, category = str(value).partition("|")
        chosen.setdefault(dimension, {})[category] = str(params.get(f"why|{value}", ""))[:500]
    return chosen


def eligible_exclusions(tables: Mapping[str, ImpactTable]) -> dict[str, list[str]]:
    """Per table, the categories small enough (under 2% of its data) that the auditor may exclude them."""
    return {
        name: [row.category for row in table.rows if row.share < EXCLUSION_LIMIT and row.assessed]
        for name, table in tables.items()
    }


def build_bias_audit(
    model: MLModel,
    version: ModelVersion,
    period: Period,
    *,
    policy: MonitoringPolicy | None,
    audit_date: date,
    exclusions: Mapping[str, Mapping[str, str]] | None = None,
) -> BiasAudit:
    """The audit of ``version``'s predictions in ``period`` under ``policy``'s bias-audit settings.

    Raises ``NotConfigured`` when the policy has none, and ``ValueError`` for an exclusion the rule does not
    allow (a category of 2% or more, or no justification)."""
    if policy is None or not policy.bias_audit:
        raise NotConfigured(f"{model.name}'s policy does not say which attributes are sex and race/ethnicity")
    config = policy.bias_audit
    attribute, names = _source_attribute(policy)
    tool = config.get("tool", "selection")
    dimensions = [dimension for dimension in (SEX, RACE) if dimension in config]
    if len(dimensions) == 2:
        dimensions.append(INTERSECTIONAL)
    if tool == "selection":
        counts = window_counts(
            model_version=version, start=period.start, end=period.end, favorable_label=policy.favorable_label
        ).get(attribute)
        cells: dict[Cell, Tally] = {}
        for group, tally in counts.groups.items() if counts else ():
            cell = _cell_of(config, names, group)
            cells[cell] = cells.get(cell, Tally(0, 0)) + Tally(int(tally.n), int(tally.predicted_positive))
        tables = audit_tables(cells, exclusions=exclusions)
        upper, median = {}, None
    else:
        histograms: dict[Cell, list[int]] = {}
        for group, counts in window_score_histograms(
            model_version=version, attribute=attribute, start=period.start, end=period.end
        ).items():
            cell = _cell_of(config, names, group)
            current = histograms.get(cell, [0] * SCORE_BINS)
            histograms[cell] = [a + b for a, b in zip(current, counts, strict=True)]
        if not any(sum(counts) for counts in histograms.values()):
            raise NotConfigured("no scores were received in this period: a scoring audit needs them")
        located, bounds = scoring_bounds(SCORE_EDGES, histograms)
        tables = audit_tables({cell: low for cell, (low, _) in bounds.items()}, exclusions=exclusions)
        upper = audit_tables({cell: high for cell, (_, high) in bounds.items()}, exclusions=exclusions)
        median = {
            "low": located.low,
            "high": located.high,
            "bin_width": 1 / SCORE_BINS,
            "exact_split": not located.in_doubt,
        }
    chosen = {name: table for name, table in tables.items() if name in dimensions}
    assessed = sum(row.assessed for row in chosen[dimensions[0]].rows) + chosen[dimensions[0]].unknown
    return BiasAudit(
        model=model,
        version=version,
        period=period,
        policy=policy,
        audit_date=audit_date,
        tool=tool,
        data_source=config.get("data_source", "historical"),
        distribution_date=config.get("distribution_date"),
        tables=chosen,
        upper_tables={name: table for name, table in upper.items() if name in dimensions},
        median=median,
        assessed=assessed,
    )
