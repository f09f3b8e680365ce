"""A check's anytime-valid evidence: the stored state advanced through the hours closed since. Pure: no Django.

A check hands in what it read (see ``monitoring.checks.services``): the previous check's evidence (or nothing: a fresh
chain), the hourly bucket counts closed since that evidence's last processed hour, the alert subjects whose
evidence must start again (resolved alerts), and the hour a fresh state starts at. :func:`advance_evidence`
returns the new evidence: one stored state per banded comparison (:mod:`monitoring.fairness.sequential`), its
e-value against the family threshold (:mod:`monitoring.fairness.family`), the decision, the anytime-valid
interval, the calibrated change detector and the minimum detectable DIR at the window's volume.

Alerts come from this evidence; the window estimates stay for reading. The same inputs always give the same
output, so a stored check is recomputed exactly by ``redraw()``.

Evidence of compliance: when a paging comparison's evidence reaches its alert threshold, a *reverse* state
(null "violation") starts at the next hour; the alert resolves automatically when the reverse evidence reaches
the resolution threshold. A resolved alert (automatically or by a person) resets the comparisons of its
subject: fresh states from the next hour.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.timestamps import rfc3339_utc
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness import FairnessPolicy, GroupedCounts
from monitoring.fairness.comparisons import PAGE_TIER, Comparison, comparisons_for_policy
from monitoring.fairness.count_change import detect_count_change
from monitoring.fairness.detectability import minimum_detectable_dir
from monitoring.fairness.family import (
    ALERT,
    FINDING,
    PRE_ALERT,
    QUIET,
    decide,
    pre_alert_threshold,
    resolution_threshold,
)
from monitoring.fairness.sequential import (
    SequentialSettings,
    advance_states,
    confidence_sequence,
    evidence,
    evidences,
    new_state,
)
from monitoring.group_labels import display_label, group_from_stored, stored_label

HOUR_SECONDS = 3600
DECISION_ORDER = (QUIET, FINDING, PRE_ALERT, ALERT)
DETECTABLE_DAYS = 7.0


def hour_index(moment: datetime) -> int:
    """Hours since the epoch of the hourly bucket holding ``moment``."""
    return int(moment.timestamp()) // HOUR_SECONDS


def hour_start(index: int) -> str:
    return rfc3339_utc(datetime.fromtimestamp(index * HOUR_SECONDS, tz=UTC))


def settings_for(alpha: float, review_period_days: int) -> SequentialSettings:
    return SequentialSettings(alpha=float(alpha), period_hours=int(review_period_days) * 24)


def subject_of(comparison: Comparison) -> tuple[str, str, str]:
    """``(attribute, group, metric)`` as alerts name it: what an alert is about, whichever band edge."""
    return INTERSECTION_SEPARATOR.join(comparison.attribute), display_label(comparison.group), comparison.metric


def _groups_seen(
    previous: Mapping[str, Sequence[str]], hours: Sequence[tuple[int, Mapping[str, GroupedCounts]]]
) -> dict[str, list[str]]:
    """Every group label seen so far in the chain, per attribute (stored form): the family grows as groups
    appear, never shrinks within a chain."""
    seen = {attribute: set(groups) for attribute, groups in previous.items()}
    for _, counts in hours:
        for attribute, grouped in counts.items():
            seen.setdefault(attribute, set()).update(stored_label(group) for group in grouped.groups)
    return {attribute: sorted(groups) for attribute, groups in sorted(seen.items())}


def policy_comparisons(
    policy: FairnessPolicy, privileged: Mapping[str, str], groups: Mapping[str, Sequence[str]]
) -> list[Comparison]:
    """The comparisons the policy makes over the groups seen (attributes with a known privileged value)."""
    by_attribute: dict[tuple[str, ...], list[Hashable]] = {}
    references: dict[tuple[str, ...], Hashable] = {}
    for attribute, labels in groups.items():
        names = tuple(attribute.split(INTERSECTION_SEPARATOR))
        if not all(name in privileged for name in names):
            continue
        references[names] = tuple(privileged[name] for name in names) if len(names) > 1 else privileged[names[0]]
        by_attribute[names] = [group_from_stored(attribute, label) for label in labels]
    return comparisons_for_policy(policy, by_attribute, references)


def _detectable(comparison: Comparison, window: Mapping[str, GroupedCounts], window_hours: int, **kwargs: Any):
    if comparison.metric != "DIR" or comparison.edge != "lower" or comparison.tier != PAGE_TIER:
        return None
    grouped = window.get(INTERSECTION_SEPARATOR.join(comparison.attribute))
    if grouped is None:
        return None
    total = sum(int(counts.n) for counts in grouped.groups.values())
    group, reference = grouped.groups.get(comparison.group), grouped.groups.get(comparison.reference)
    if not total or group is None or reference is None or not group.n or not reference.n:
        return None
    reference_rate = float(reference.predicted_positive) / float(reference.n)
    if not 0.0 < reference_rate < 1.0:
        return None
    effect = minimum_detectable_dir(
        total * 24.0 / max(window_hours, 1),
        float(group.n) / total,
        float(reference.n) / total,
        reference_rate,
        band=comparison.bound,
        days=DETECTABLE_DAYS,
        **kwargs,
    )
    return {"days": effect.days, "dir_below": effect.dir_below, "statement": effect.statement}


def uses_labels(comparison: Comparison) -> bool:
    """Whether the comparison reads labelled rows (EOD, AOD, FPR difference): those wait for late labels."""
    return any(leg.rows != "all" for leg in comparison.legs)


def _processed_totals(
    hours: Sequence[tuple[int, Mapping[str, GroupedCounts]]], attribute: str | None
) -> tuple[int, int]:
    """Rows and labelled rows of one single attribute over ``hours`` (every row has each attribute once)."""
    rows = labels = 0
    for _, counts in hours:
        grouped = counts.get(attribute) if attribute is not None else None
        for group in grouped.groups.values() if grouped is not None else ():
            rows += int(group.n)
            labels += int(group.tp + group.fp + group.tn + group.fn)
    return rows, labels


def advance_evidence(
    *,
    policy: FairnessPolicy,
    privileged: Mapping[str, str],
    alpha: float,
    review_period_days: int,
    previous: Mapping[str, Any] | None,
    hours: Sequence[tuple[int, Mapping[str, GroupedCounts]]],
    start_hour: int,
    resets: Sequence[Sequence[str]],
    window: Mapping[str, GroupedCounts],
    window_hours: int,
    label_until: int | None = None,
    chain_totals: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The check's evidence; see the module docstring. ``hours`` are closed hourly buckets, increasing, each
    after the previous evidence's last hour (or its last label hour); ``start_hour`` is where fresh states (new
    comparisons, resets) begin.

    ``label_until`` (a policy's label lag): label-based comparisons take only hours before it, and resume
    from the evidence's ``label_last_hour``; selection-rate comparisons take every hour. ``chain_totals``:
    the rows and labels the rollups now hold over the hours the previous evidence had processed; compared
    with the rows and labels it processed then, they give the late arrivals the evidence missed."""
    settings = settings_for(alpha, review_period_days)
    previous = previous or {}
    groups = _groups_seen(previous.get("groups", {}), hours)
    comparisons = policy_comparisons(policy, privileged, groups)
    reset_subjects = {tuple(subject) for subject in resets}
    old_states = previous.get("states", {})
    old_reverse = previous.get("reverse_states", {})
    states, reverse_keys, reverse_states = [], [], []
    for comparison in comparisons:
        fresh = comparison.key not in old_states or subject_of(comparison) in reset_subjects
        states.append(new_state(comparison, start_hour, settings) if fresh else old_states[comparison.key])
        if not fresh and comparison.key in old_reverse:
            reverse_keys.append(comparison)
            reverse_states.append(old_reverse[comparison.key])
    engine_hours = [
        (hour, {tuple(name.split(INTERSECTION_SEPARATOR)): grouped.groups for name, grouped in counts.items()})
        for hour, counts in hours
    ]
    reversed_comparisons = [comparison.reversed() for comparison in reverse_keys]
    if label_until is None:
        states = advance_states(comparisons, states, engine_hours, settings)
        reverse_states = advance_states(reversed_comparisons, reverse_states, engine_hours, settings)
    else:
        label_hours = [(hour, counts) for hour, counts in engine_hours if hour < label_until]
        states = _advance_split(comparisons, states, engine_hours, label_hours, settings)
        reverse_states = _advance_split(reversed_comparisons, reverse_states, engine_hours, label_hours, settings)
    reverse_by_key = {
        comparison.key: (reversed_comparison, state)
        for comparison, reversed_comparison, state in zip(
            reverse_keys, reversed_comparisons, reverse_states, strict=True
        )
    }
    found = {c.key: item for c, item in zip(comparisons, evidences(comparisons, states, settings), strict=True)}
    decisions = decide(comparisons, {key: item.log_e for key, item in found.items()}, alpha)
    paging = [c for c in comparisons if c.tier == PAGE_TIER]
    explore_size = len(comparisons) - len(paging)
    previous_last = int(previous.get("last_hour", start_hour - 1))
    last_hour = max([previous_last, *(hour for hour, _ in hours)])
    next_hour = last_hour + 1
    entries, stored_states, stored_reverse = [], {}, {}
    for comparison, state in zip(comparisons, states, strict=True):
        item, decision = found[comparison.key], decisions[comparison.key]
        stored_states[comparison.key] = state
        reverse = None
        if comparison.key in reverse_by_key:
            reversed_comparison, reverse_state = reverse_by_key[comparison.key]
            stored_reverse[comparison.key] = reverse_state
            threshold = resolution_threshold(len(paging), alpha)
            log_e = evidence(reversed_comparison, reverse_state, settings).log_e
            reverse = {
                "log_e": log_e,
                "log_threshold": threshold,
                "since_hour": int(reverse_state["period_start"]),
                "compliant": log_e >= threshold,
            }
        elif decision.status == ALERT and comparison.tier == PAGE_TIER:
            # Evidence of compliance is gathered from the hour after the evidence passed the threshold.
            stored_reverse[comparison.key] = new_state(comparison.reversed(), next_hour, settings)
        change = detect_count_change(state)
        elapsed = next_hour - int(state["period_start"])
        grid_weight = (
            math.log(1.0 / settings.start_weight)
            if elapsed < settings.grid_hours or settings.grid_size == 1
            else math.log((settings.grid_size - 1) / (1.0 - settings.start_weight))
        )
        interval = confidence_sequence(comparison, state, alpha)
        attribute, group, metric = subject_of(comparison)
        entries.append(
            {
                "key": comparison.key,
                "attribute": attribute,
                "group": group,
                "reference": display_label(comparison.reference),
                "metric": metric,
                "edge": comparison.edge,
                "bound": comparison.bound,
                "tier": comparison.tier,
                "log_e": item.log_e,
                "e_value": item.e_value,
                "log_threshold": decision.log_threshold,
                "log_pre_alert_threshold": (
                    pre_alert_threshold(len(paging), alpha) if comparison.tier == PAGE_TIER else None
                ),
                "decision": decision.status,
                "since_hour": item.started_hour,
                "since": hour_start(item.started_hour),
                "units": item.units,
                "interval": list(interval) if interval is not None else None,
                "reverse": reverse,
                "change": {
                    "detected": change.detected,
                    "start_hour": change.start_hour,
                    "log_statistic": change.log_statistic,
                    "log_threshold": change.log_threshold,
                },
                "detectable": _detectable(
                    comparison,
                    window,
                    window_hours,
                    family_size=max(len(paging), 1),
                    alpha=alpha,
                    mixture_nats=grid_weight,
                ),
            }
        )
    result = {
        "chained": True,
        "alpha": alpha,
        "review_period_days": review_period_days,
        "family": {"page": len(paging), "explore": explore_size},
        "start_hour": start_hour,
        "last_hour": last_hour,
        "hours_processed": [hour for hour, _ in hours if hour > previous_last],
        "groups": groups,
        "comparisons": entries,
        "states": stored_states,
        "reverse_states": stored_reverse,
    }
    if label_until is None:
        return result
    previous_label_last = int(previous.get("label_last_hour", previous_last))
    label_new = [(hour, counts) for hour, counts in hours if previous_label_last < hour < label_until]
    row_new = [(hour, counts) for hour, counts in hours if hour > previous_last]
    attribute = min((name for name in groups if INTERSECTION_SEPARATOR not in name), default=None)
    rows_before, labels_before = (
        (previous.get("processed") or {}).get("rows", 0),
        (previous.get("processed") or {}).get("labels", 0),
    )
    new_rows, _ = _processed_totals(row_new, attribute)
    _, new_labels = _processed_totals(label_new, attribute)
    late = None
    if chain_totals is not None and previous.get("processed") is not None:
        late = {
            "rows": int(chain_totals["rows"]) - int(rows_before),
            "labels": int(chain_totals["labels"]) - int(labels_before),
        }
    result.update(
        label_lag_until=label_until,
        label_last_hour=max([previous_label_last, *(hour for hour, _ in label_new)]),
        label_hours_processed=[hour for hour, _ in label_new],
        chain_start_hour=int(previous.get("chain_start_hour", start_hour)),
        processed={"rows": int(rows_before) + new_rows, "labels": int(labels_before) + new_labels},
        late_arrivals=late,
    )
    return result


def _advance_split(comparisons, states, all_hours, label_hours, settings):
    """Advance selection-rate comparisons through every hour and label-based ones through ``label_hours``."""
    labelled = [index for index, comparison in enumerate(comparisons) if uses_labels(comparison)]
    selection = [index for index, comparison in enumerate(comparisons) if not uses_labels(comparison)]
    result = list(states)
    for members, hours in ((selection, all_hours), (labelled, label_hours)):
        advanced = advance_states([comparisons[i] for i in members], [states[i] for i in members], hours, settings)
        for index, state in zip(members, advanced, strict=True):
            result[index] = state
    return result


def stale_evidence(head_check: int | None) -> dict[str, Any]:
    """What a check of an older window than the chain's head stores: it neither advances nor overwrites it."""
    return {"chained": False, "reason": "stale", "head_check": head_check, "comparisons": []}


def subjects(evidence_result: Mapping[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per alert subject ``(attribute, group, metric)``: the strongest decision over its band edges, its
    evidence, and whether the evidence of compliance for it has reached its threshold."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in evidence_result.get("comparisons", []):
        subject = (entry["attribute"], entry["group"], entry["metric"])
        current = found.get(subject)
        if current is None or DECISION_ORDER.index(entry["decision"]) > DECISION_ORDER.index(current["decision"]):
            found[subject] = {
                "decision": entry["decision"],
                "tier": entry["tier"],
                "log_e": entry["log_e"],
                "e_value": entry["e_value"],
                "log_threshold": entry["log_threshold"],
                "edge": entry["edge"],
                "since": entry["since"],
                "interval": entry["interval"],
                "detectable": entry["detectable"],
            }
    for subject, summary in found.items():
        reverses = [
            entry["reverse"]
            for entry in evidence_result.get("comparisons", [])
            if (entry["attribute"], entry["group"], entry["metric"]) == subject and entry["reverse"] is not None
        ]
        summary["compliant"] = bool(reverses) and all(item["compliant"] for item in reverses)
    return found


def change_summary(evidence_result: Mapping[str, Any]) -> dict[str, Any]:
    """The calibrated change detector over the paging comparisons, for the trend: detected, since when."""
    paging = [entry for entry in evidence_result.get("comparisons", []) if entry["tier"] == PAGE_TIER]
    detected = [entry for entry in paging if entry["change"]["detected"]]
    starts = [entry["change"]["start_hour"] for entry in detected if entry["change"]["start_hour"] is not None]
    return {
        "method": "e-detector on hourly bucket counts",
        "detected": bool(detected),
        "comparisons": [entry["key"] for entry in detected],
        "change_hour": min(starts) if starts else None,
        "change_at": hour_start(min(starts)) if starts else None,
        "log_statistic": max((entry["change"]["log_statistic"] for entry in paging), default=0.0),
        "log_threshold": paging[0]["change"]["log_threshold"] if paging else None,
    }
