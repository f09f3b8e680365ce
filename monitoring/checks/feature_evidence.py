"""A check's input-drift evidence: each declared feature in each group, carried along the evidence chain. Pure.

The first check whose closed hours lie past the version's input baseline (its first windows of data, until each
sizeable group has BASELINE_MIN_ROWS rows: :func:`baseline_end_hour`) fixes the coarse bins of each feature
from that baseline (:mod:`monitoring.fairness.feature_bins`) and starts one e-process per (feature, attribute,
group) with enough baseline rows (:mod:`monitoring.fairness.feature_drift`). Each later check continues the
state stored by the chain head through the hours closed since, so a check reads only new hours, and its result
follows from its stored inputs alone (``redraw()`` reproduces it). The chain is that of the fairness evidence:
per model version and policy version, so a new version or a new policy version (which may declare other
features) starts afresh.

All cells of a check form one e-BH family at the policy's alpha. Findings are exploratory: shown beside the
check, never paged, as input drift is a reason to look, not a violation of the policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monitoring.fairness.feature_bins import NUMERIC, Partition, partition_for, pooled
from monitoring.fairness.feature_drift import FeatureCell, findings_from_log_e, log_e_of_streams

# A group's feature is tested only with this many baseline rows: fewer make the baseline's own noise dominate.
MIN_BASELINE_ROWS = 30

# The baseline is the version's first windows of data until every sizeable group (at least BASELINE_GROUP_SHARE
# of its attribute's rows) holds BASELINE_MIN_ROWS rows, or BASELINE_MAX_HOURS have passed: a two-sample test can
# find no shift the baseline itself cannot resolve, and 24 hours at 200 rows a day are 100 rows a group.
BASELINE_MIN_ROWS = 1000
BASELINE_GROUP_SHARE = 0.1
BASELINE_MAX_HOURS = 30 * 24
# Besides the run from the stream's start, the runs started at this many latest restarts are kept.
RECENT_RUNS = 7

FeatureCounts = Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]


def _cell_counts(counts: FeatureCounts, feature: str, attribute: str, group: str) -> Mapping[str, float]:
    return counts.get(feature, {}).get(attribute, {}).get(group, {})


def baseline_end_hour(
    first_hour: int,
    window_hours: int,
    hourly_rows: Sequence[tuple[int, Mapping[tuple[str, str], int]]],
    closed_until: int,
) -> int | None:
    """Where the input baseline ends: the first whole number of windows after ``first_hour`` by which every
    sizeable group of each attribute holds BASELINE_MIN_ROWS rows (``hourly_rows``: rows per (attribute, group)
    of each hour), else the last window end within BASELINE_MAX_HOURS; ``None`` while it is still filling
    (``closed_until``: the first hour not yet closed)."""
    step = max(int(window_hours), 1)
    cap = first_hour + max(BASELINE_MAX_HOURS // step, 1) * step
    totals: dict[tuple[str, str], int] = {}
    rows = sorted(hourly_rows, key=lambda item: item[0])
    position = 0
    for end in range(first_hour + step, min(cap, closed_until) + 1, step):
        while position < len(rows) and rows[position][0] < end:
            for key, count in rows[position][1].items():
                totals[key] = totals.get(key, 0) + int(count)
            position += 1
        by_attribute: dict[str, int] = {}
        for (attribute, _), count in totals.items():
            by_attribute[attribute] = by_attribute.get(attribute, 0) + count
        sizeable = [
            count for (attribute, _), count in totals.items() if count >= BASELINE_GROUP_SHARE * by_attribute[attribute]
        ]
        if sizeable and min(sizeable) >= BASELINE_MIN_ROWS:
            return end
    return cap if cap <= closed_until else None


def start_state(
    features: Sequence[tuple[str, str]], baseline: Mapping[str, Any], start_hour: int, restart_hours: int
) -> dict[str, Any]:
    """A fresh state from the baseline's counts: partitions, and the cells it can test."""
    counts: FeatureCounts = baseline["counts"]
    partitions, cells, untested = {}, [], []
    for name, kind in features:
        by_attribute = counts.get(name, {})
        if not by_attribute:
            continue
        # Every row counts once under each attribute, so one attribute's groups together are all rows.
        partition = partition_for(kind, pooled(by_attribute[sorted(by_attribute)[0]].values()))
        partitions[name] = partition.as_dict()
        for attribute in sorted(by_attribute):
            for group in sorted(by_attribute[attribute]):
                coarse = partition.coarse_counts(by_attribute[attribute][group])
                if sum(coarse) < MIN_BASELINE_ROWS:
                    untested.append({"feature": name, "attribute": attribute, "group": group, "n": sum(coarse)})
                    continue
                cells.append(
                    {
                        "feature": name,
                        "attribute": attribute,
                        "group": group,
                        "baseline": coarse,
                        "runs": [_new_run(0, partition.bins)],
                    }
                )
    return {
        "partitions": partitions,
        "cells": cells,
        "untested": untested,
        "baseline": {"start_hour": int(baseline["start_hour"]), "end_hour": int(baseline["end_hour"])},
        "stream_start_hour": int(start_hour),
        "restart_hours": int(restart_hours),
        "last_hour": int(start_hour) - 1,
    }


def _new_run(index: int, bins: int) -> dict[str, Any]:
    return {"index": index, "seen": [0.0] * bins}


def run_weight(index: int) -> float:
    """Mixture weight of the run started at restart ``index`` (0: the stream's start): 1 / ((k + 1)(k + 2)),
    which sums to 1 over all k, so the weighted sum of the runs is an e-process whichever runs are kept."""
    return 1.0 / ((index + 1) * (index + 2))


def _advance_cell(
    cell: dict[str, Any],
    partition: Partition,
    hours: Sequence[tuple[int, Mapping[str, float]]],
    state: Mapping[str, Any],
) -> float:
    """Carry one cell's runs through its new hours (starting a run at each restart boundary), return its log e."""
    for hour, fine in hours:
        boundary = (hour - state["stream_start_hour"]) // state["restart_hours"]
        if boundary > max(run["index"] for run in cell["runs"]):
            cell["runs"].append(_new_run(boundary, partition.bins))
            # The stream's first run and the latest ones: dropping a run only lowers the sum, so it stays valid.
            cell["runs"] = [cell["runs"][0], *cell["runs"][1:][-RECENT_RUNS:]]
        row = partition.coarse_counts(fine)
        for run in cell["runs"]:
            run["seen"] = [seen + count for seen, count in zip(run["seen"], row, strict=True)]
    weights = np.log([run_weight(run["index"]) for run in cell["runs"]])
    terms = weights + log_e_of_streams(cell["baseline"], [run["seen"] for run in cell["runs"]])
    top = float(terms.max())
    return top + float(np.log(np.exp(terms - top).sum()))


def advance_feature_drift(
    *,
    features: Sequence[tuple[str, str]],
    alpha: float,
    previous: Mapping[str, Any] | None,
    baseline: Mapping[str, Any] | None,
    start_hour: int,
    restart_hours: int,
    hours: Sequence[tuple[int, FeatureCounts]],
    window: FeatureCounts,
) -> dict[str, Any]:
    """The check's input-drift result: ``previous`` (the chain head's state) or a fresh state from
    ``baseline``, advanced through ``hours`` (closed, increasing, after the state's last hour); the findings
    with the window's descriptive statistics beside them; and the new state."""
    state = (
        json.loads(json.dumps(previous))  # a copy: the head's stored state stays as it was
        if previous is not None
        else start_state(features, baseline, start_hour, restart_hours)
    )
    kinds = dict(features)
    partitions = {name: Partition.from_dict(stored) for name, stored in state["partitions"].items()}
    new_hours = [(int(hour), counts) for hour, counts in hours if int(hour) > state["last_hour"]]
    tested, log_e_values = [], []
    for cell in state["cells"]:
        name, attribute, group = cell["feature"], cell["attribute"], cell["group"]
        partition = partitions[name]
        cell_hours = [
            (hour, _cell_counts(counts, name, attribute, group))
            for hour, counts in new_hours
            if _cell_counts(counts, name, attribute, group)
        ]
        log_e_values.append(_advance_cell(cell, partition, cell_hours, state))
        tested.append(
            FeatureCell(
                feature=name,
                attribute=attribute,
                group=group,
                kind=kinds.get(name, partition.kind),
                baseline=cell["baseline"],
                hours=[partition.coarse_counts(_cell_counts(window, name, attribute, group))],
                edges=list(partition.edges) if partition.kind == NUMERIC else None,
                categories=None if partition.kind == NUMERIC else partition.names,
            )
        )
    if new_hours:
        state["last_hour"] = new_hours[-1][0]
    findings = findings_from_log_e(tested, log_e_values, alpha) if tested else []
    for finding, cell in zip(findings, state["cells"], strict=True):
        finding["n_stream"] = float(sum(cell["runs"][0]["seen"]))
    return {
        "status": "tested",
        "tier": "exploratory",
        "alpha": float(alpha),
        "family": "e-BH over every (feature, attribute, group) of the check",
        "baseline": state["baseline"],
        "stream_start_hour": state["stream_start_hour"],
        "last_hour": state["last_hour"],
        "cells": findings,
        "found": sum(1 for finding in findings if finding["finding"]),
        "untested": state["untested"],
        "state": state,
    }


def pending_feature_drift(reason: str, **details: Any) -> dict[str, Any]:
    """The result of a check that cannot test input drift yet (no features, or the baseline still filling)."""
    return {"status": reason, "tier": "exploratory", "cells": [], "found": 0, **details}
