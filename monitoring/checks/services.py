"""Fairness checks: claim a (version, policy version, window end), compute, store once, announce the result.

A check row is created first (``pending``) and claimed by whoever runs it. The claim only avoids duplicate
work; correctness comes from the final write, which locks the row and stores a result only if none is
stored yet. So reruns, concurrent runs and a worker killed half-way all converge on one completed row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from compliance.crypto.canonical import sorted_json_sha256
from compliance.services import audit_append
from core.task_queue import enqueue
from monitoring.checks.analysis import analyse_window, counts_as_inputs, counts_from_inputs
from monitoring.checks.evidence import HOUR_SECONDS, advance_evidence, hour_index, stale_evidence
from monitoring.checks.feature_evidence import (
    BASELINE_MAX_HOURS,
    advance_feature_drift,
    baseline_end_hour,
    pending_feature_drift,
)
from monitoring.checks.selectors import completed_checks_by_window, evidence_chain_head, evidence_checks, is_stale
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness.forecast import FORECAST_PERIODS
from monitoring.fairness.labels import label_coverage
from monitoring.fairness.version import ENGINE_VERSION
from monitoring.group_labels import display_label
from monitoring.ingestion.features import drift_features, schema_from_policy
from monitoring.ingestion.selectors import (
    attribute_totals,
    feature_counts,
    first_feature_hour,
    first_rollup_start,
    hourly_counts,
    hourly_feature_counts,
    hourly_group_rows,
    period_selection_counts,
    predictions_received,
    window_counts,
    window_has_data,
    window_score_histograms,
)
from monitoring.models import FairnessCheck, IngestionCheckGate
from monitoring.reporting import engine_policy
from monitoring.signals import check_stored, evidence_resets
from registry.models import ModelVersion, MonitoringPolicy
from registry.services import current_policy

# The task that runs one check (monitoring.tasks); services enqueue it by this name.
RUN_CHECK_TASK = "monitoring.tasks.run_check_task"
logger = logging.getLogger("fairlens.checks")
HISTORY_LENGTH = 29


class CheckBusy(Exception):
    """Another runner holds the claim on this check and its lease has not expired."""


def policy_threshold(policy: MonitoringPolicy) -> float:
    """The DIR line trends and forecasts are measured against: the policy's DIR minimum, else ALERT_THRESHOLD."""
    band = (policy.metric_bands or {}).get("DIR") or {}
    return float(band.get("min") if band.get("min") is not None else settings.FAIRLENS_ALERT_THRESHOLD)


def aligned_window_end(policy: MonitoringPolicy, now: datetime) -> datetime:
    """The latest multiple of the policy's check interval at or before ``now`` (UTC epoch-aligned)."""
    step = policy.check_interval_minutes * 60
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=now.tzinfo)


def _check_row(
    model_version: ModelVersion, policy: MonitoringPolicy, window_start: datetime, window_end: datetime, trigger: str
) -> FairnessCheck:
    lookup = {"model_version": model_version, "policy": policy, "window_end": window_end}
    try:
        with transaction.atomic():
            check, _ = FairnessCheck.objects.get_or_create(
                **lookup, defaults={"window_start": window_start, "trigger": trigger}
            )
    except IntegrityError:  # a concurrent runner created it between our read and our insert
        check = FairnessCheck.objects.get(**lookup)
    return check


def _lease_expired(now: datetime) -> Q:
    """Running checks whose holder's lease ran out: its worker died or was killed (the lease outlives the task
    time limit, so a live run never loses it)."""
    stale = now - timedelta(seconds=settings.CHECK_LEASE_SECONDS)
    return Q(status=FairnessCheck.Status.RUNNING, claimed_at__lt=stale)


def _claim(check: FairnessCheck, token: str) -> bool:
    """Take the check: it is pending, or ours already (a redelivered task), or its holder's lease ran out."""
    now = timezone.now()
    claimable = (
        Q(status=FairnessCheck.Status.PENDING)
        | Q(status=FairnessCheck.Status.FAILED)
        | Q(status=FairnessCheck.Status.RUNNING, claim_token=token)
        | _lease_expired(now)
    )
    taken = FairnessCheck.objects.filter(claimable, pk=check.pk).update(
        status=FairnessCheck.Status.RUNNING, claim_token=token, claimed_at=now
    )
    return taken == 1


def baseline_histograms(
    model_version: ModelVersion, policy: MonitoringPolicy, window_start: datetime
) -> dict[str, dict[str, list[int]]] | None:
    """Score histograms the version is compared with: set at registration (``metadata['baseline_score_
    histograms']``), else the version's first window of data, once the checked window lies past it."""
    stored = (model_version.metadata or {}).get("baseline_score_histograms")
    if stored:
        return stored
    first = first_rollup_start(model_version)
    if first is None:
        return None
    baseline_end = first + timedelta(hours=policy.window_hours)
    if window_start < baseline_end:
        return None
    return _histograms(model_version, policy, first, baseline_end)


def _histograms(
    model_version: ModelVersion, policy: MonitoringPolicy, start: datetime, end: datetime
) -> dict[str, dict[str, list[int]]]:
    return {
        attribute: {
            display_label(group): histogram
            for group, histogram in window_score_histograms(
                model_version=model_version, attribute=attribute, start=start, end=end
            ).items()
        }
        for attribute in policy.protected_attributes
    }


def _earlier_dirs(check: FairnessCheck) -> list[float | None]:
    """Headline DIRs of the version's checks of earlier windows (or the same window under an earlier policy
    version), oldest first in window order: the series the trend and the forecast read."""
    earlier = (
        completed_checks_by_window(check.model_version_id)
        .exclude(pk=check.pk)
        .filter(window_end__lte=check.window_end)
        .values_list("headline_dir", flat=True)[:HISTORY_LENGTH]
    )
    return list(reversed(list(earlier)))


def evidence_inputs(check: FairnessCheck, now: datetime) -> dict[str, Any]:
    """What the check's evidence is computed from: the chain head's stored evidence and the hourly buckets
    closed since its last processed hour, up to the check's window end.

    The chain is per (model version, policy version): a new version or a new policy version starts fresh
    evidence at the first hour of its first check's window. Only closed hours count (a bucket whose hour ended
    by the window end and by now), each once and in order: a later check processes the hours after the head's
    last hour. A check whose window ends at or before the head's (an older window completed late, see
    ``is_stale``) neither advances nor overwrites the chain: it stores ``chained: false`` and its evidence is
    the head's. Alerts of the version resolved since the head was stored (by a person or by evidence of
    compliance) reset their subject's evidence: fresh states from the next hour.
    """
    policy = check.policy
    head = evidence_chain_head(check)
    if head is not None and check.window_end <= head.window_end:
        return {"stale": True, "head_check": head.pk}
    closed_until = int(min(check.window_end, now).timestamp() // HOUR_SECONDS)  # first hour not yet closed
    # Label-based comparisons take an hour only once it is label_lag_hours old, so late labels still count.
    label_until = closed_until - int(policy.label_lag_hours)
    chain_totals = None
    if head is not None:
        previous = head.result["evidence"]
        start_hour = int(previous["last_hour"]) + 1
        label_from = int(previous.get("label_last_hour", previous["last_hour"])) + 1
        if "chain_start_hour" in previous:
            chain_totals = _chain_totals(
                check, previous["chain_start_hour"], previous["last_hour"], previous["label_last_hour"]
            )
        answers = evidence_resets.send(
            sender=FairnessCheck, model_version_id=check.model_version_id, since=head.completed_at
        )
        resets = sorted({tuple(subject) for _receiver, subjects in answers for subject in subjects})
    else:
        previous, resets = None, []
        start_hour = hour_index(check.window_start)
        if check.window_start.timestamp() % HOUR_SECONDS:
            start_hour += 1  # a window starting inside an hour: that hour is partly outside it
        label_from = start_hour
    read_from = min(start_hour, label_from)
    hours = []
    if closed_until > read_from:
        hours = hourly_counts(
            model_version=check.model_version,
            start=datetime.fromtimestamp(read_from * HOUR_SECONDS, tz=UTC),
            end=datetime.fromtimestamp(int(closed_until) * HOUR_SECONDS, tz=UTC),
            favorable_label=policy.favorable_label,
        )
    return {
        "stale": False,
        "previous_check": head.pk if head is not None else None,
        "previous": previous_evidence(previous),
        "start_hour": start_hour,
        "hours": [[hour_index(moment), counts_as_inputs(counts)] for moment, counts in hours],
        "resets": [list(subject) for subject in resets],
        "label_until": label_until,
        "chain_totals": chain_totals,
    }


def _chain_totals(check: FairnessCheck, chain_start: int, last_hour: int, label_last_hour: int) -> dict[str, int]:
    """Rows the rollups now hold over the hours the chain's selection-rate evidence processed, and labels over
    the hours its label-based evidence processed (one single attribute: every row has each attribute once)."""
    attribute = sorted(check.policy.protected_attributes)[0]
    start = datetime.fromtimestamp(int(chain_start) * HOUR_SECONDS, tz=UTC)

    def total(until: int, labelled_only: bool) -> int:
        end = datetime.fromtimestamp((int(until) + 1) * HOUR_SECONDS, tz=UTC)
        return attribute_totals(
            model_version=check.model_version, attribute=attribute, start=start, end=end, labelled_only=labelled_only
        )

    return {"rows": total(last_hour, False), "labels": total(label_last_hour, True)}


def policy_drift_features(policy: MonitoringPolicy) -> list[tuple[str, str]]:
    return drift_features(schema_from_policy(policy.features))


def feature_drift_inputs(check: FairnessCheck, evidence: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """What the check's input-drift evidence is computed from (``None``: the policy declares no feature to test).

    It follows the fairness evidence's chain: the head's stored state and the hours closed since its last hour.
    A fresh chain first needs the version's input baseline (its first windows of data, until each sizeable
    group has enough rows: ``baseline_end_hour``) to be over; it then starts at the later of the baseline's end
    and the chain's first hour, so a new policy version reads at most a window of old hours.
    """
    policy = check.policy
    if not policy_drift_features(policy):
        return None
    if evidence["stale"]:
        return {"stale": True, "head_check": evidence["head_check"]}
    # The same head the fairness evidence continues (read once by evidence_inputs), so both advance together.
    previous = None
    if evidence["previous_check"] is not None:
        head = FairnessCheck.objects.only("result").get(pk=evidence["previous_check"])
        previous = (head.result.get("feature_drift") or {}).get("state")
    closed_until = int(min(check.window_end, now).timestamp() // HOUR_SECONDS)
    baseline = None
    if previous is not None:
        start = int(previous["last_hour"]) + 1
    else:
        first = first_feature_hour(check.model_version)
        if first is None:
            return {"stale": False, "pending": "no_feature_values"}
        baseline_start = hour_index(first)
        baseline_end = baseline_end_hour(
            baseline_start,
            int(policy.window_hours),
            hourly_group_rows(
                model_version=check.model_version,
                attributes=list(policy.protected_attributes),
                start=first,
                end=_hour_moment(min(closed_until, baseline_start + BASELINE_MAX_HOURS)),
            ),
            closed_until,
        )
        if baseline_end is None or closed_until <= baseline_end:
            return {"stale": False, "pending": "baseline_filling", "baseline_end_hour": baseline_end}
        chain_start = int((evidence["previous"] or {}).get("chain_start_hour", evidence["start_hour"]))
        start = max(baseline_end, chain_start)
        baseline = {
            "start_hour": baseline_start,
            "end_hour": baseline_end,
            "counts": feature_counts(model_version=check.model_version, start=first, end=_hour_moment(baseline_end)),
        }
    hours = []
    if closed_until > start:
        hours = hourly_feature_counts(
            model_version=check.model_version, start=_hour_moment(start), end=_hour_moment(closed_until)
        )
    return {
        "stale": False,
        "previous": previous,
        "baseline": baseline,
        "start_hour": start,
        "hours": [[hour_index(moment), counts] for moment, counts in hours],
        "window": feature_counts(model_version=check.model_version, start=check.window_start, end=check.window_end),
    }


def _hour_moment(index: int) -> datetime:
    return datetime.fromtimestamp(int(index) * HOUR_SECONDS, tz=UTC)


def feature_drift_from_inputs(stored: dict[str, Any] | None, policy: MonitoringPolicy) -> dict[str, Any]:
    if stored is None:
        return pending_feature_drift("no_features")
    if stored["stale"]:
        return pending_feature_drift("stale", head_check=stored["head_check"])
    if stored.get("pending"):
        return pending_feature_drift(stored["pending"], baseline_end_hour=stored.get("baseline_end_hour"))
    return advance_feature_drift(
        features=policy_drift_features(policy),
        alpha=policy.alpha,
        previous=stored["previous"],
        baseline=stored["baseline"],
        start_hour=int(stored["start_hour"]),
        restart_hours=int(policy.window_hours),
        hours=[(int(hour), counts) for hour, counts in stored["hours"]],
        window=stored["window"],
    )


def forecast_periods(check: FairnessCheck) -> dict[str, Any]:
    """What the forecast reads: selected and total counts per group of the ``FORECAST_PERIODS`` non-overlapping
    windows of the policy's length ending at the check's window end (the check's own window last)."""
    policy = check.policy
    return {
        "period_hours": int(policy.window_hours),
        "counts": period_selection_counts(
            model_version=check.model_version,
            end=check.window_end,
            period_hours=int(policy.window_hours),
            periods=FORECAST_PERIODS,
            favorable_label=policy.favorable_label,
        ),
    }


def previous_evidence(evidence: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a stored evidence result the next check continues from."""
    if evidence is None:
        return None
    names = ("groups", "states", "reverse_states", "last_hour", "label_last_hour", "chain_start_hour", "processed")
    return {name: evidence[name] for name in names if name in evidence}


def compute(check: FairnessCheck) -> tuple[dict[str, Any], dict[str, Any]]:
    """The check's inputs (counts and histograms of its window, the evidence it continues) and its result."""
    policy = check.policy
    counts = window_counts(
        model_version=check.model_version,
        start=check.window_start,
        end=check.window_end,
        favorable_label=policy.favorable_label,
    )
    histograms = _histograms(check.model_version, policy, check.window_start, check.window_end)
    baseline = baseline_histograms(check.model_version, policy, check.window_start)
    earlier = _earlier_dirs(check)
    now = timezone.now()
    # Everything the result depends on, so a stored check can be recomputed exactly (see redraw()).
    inputs = {
        "counts": counts_as_inputs(counts),
        "score_histograms": histograms,
        "baseline_score_histograms": baseline,
        "earlier_dirs": earlier,
        "evidence": evidence_inputs(check, now),
        "forecast_periods": forecast_periods(check),
    }
    inputs["feature_drift"] = feature_drift_inputs(check, inputs["evidence"], now)
    if inputs["evidence"]["stale"]:
        head = FairnessCheck.objects.get(pk=inputs["evidence"]["head_check"]).result["evidence"]
        inputs["evidence"]["head"] = {"comparisons": head.get("comparisons", [])}
    result = redraw(inputs, policy, seed=int(check.window_end.timestamp()) % (2**32))
    return inputs, result


def _policy_engine(policy: MonitoringPolicy):
    return engine_policy(
        metric_bands=policy.metric_bands,
        min_group_size=policy.min_group_size,
        confidence_level=policy.confidence_level,
    )


def evidence_from_inputs(inputs: dict[str, Any], policy: MonitoringPolicy) -> dict[str, Any] | None:
    """The evidence result from a check's stored evidence inputs (``None`` for checks stored before it)."""
    stored = inputs.get("evidence")
    if stored is None:
        return None
    if stored["stale"]:
        head = stored.get("head") or {}
        return {**stale_evidence(stored["head_check"]), "comparisons": head.get("comparisons", [])}
    result = advance_evidence(
        policy=_policy_engine(policy),
        privileged=policy.privileged,
        alpha=policy.alpha,
        review_period_days=policy.review_period_days,
        previous=stored["previous"],
        hours=[(int(hour), counts_from_inputs(counts)) for hour, counts in stored["hours"]],
        start_hour=int(stored["start_hour"]),
        resets=stored["resets"],
        window=counts_from_inputs(inputs["counts"]),
        window_hours=policy.window_hours,
        label_until=stored.get("label_until"),  # absent in checks stored before the label lag: no lag
        chain_totals=stored.get("chain_totals"),
    )
    if stored.get("superseded_by") is not None:
        # Another check continued the same head first: this one is kept for reading, outside the chain.
        result.update(chained=False, reason="superseded", superseded_by=stored["superseded_by"])
    return result


def _keep_chain_linear(check: FairnessCheck, inputs: dict[str, Any], policy: MonitoringPolicy, seed: int):
    """Called under the version's row lock at the final write: if another check advanced the chain since this
    one read its head, this one leaves the chain (its hours were, or will be, processed by the chain itself)."""
    stored = inputs.get("evidence")
    if not stored or stored["stale"]:
        return None
    head = evidence_chain_head(check)
    if (head.pk if head is not None else None) == stored["previous_check"]:
        return None
    stored["superseded_by"] = head.pk
    return redraw(inputs, policy, seed=seed)


def redraw(inputs: dict[str, Any], policy: MonitoringPolicy, *, seed: int) -> dict[str, Any]:
    """The result of a check from its stored inputs and its policy version (the same code path as a run)."""
    result = analyse_window(
        counts=counts_from_inputs(inputs["counts"]),
        privileged=policy.privileged,
        policy=_policy_engine(policy),
        earlier_dirs=inputs["earlier_dirs"],
        threshold=policy_threshold(policy),
        histograms=inputs["score_histograms"],
        baseline_histograms=inputs["baseline_score_histograms"],
        seed=seed,
        evidence=evidence_from_inputs(inputs, policy),
        forecast_periods=inputs.get("forecast_periods"),
    )
    if "feature_drift" in inputs:  # checks stored before input drift was tested have neither
        result["feature_drift"] = feature_drift_from_inputs(inputs["feature_drift"], policy)
    # Whether EOD, AOD and FPR of this window are provisional or final, and whether labels arrive unevenly.
    result["labels"] = label_coverage(
        inputs["counts"], final_at=policy.label_coverage_final, min_group_size=policy.min_group_size
    )
    return result


def _window_size(counts: dict[str, dict[str, list[int]]]) -> int:
    singles = [groups for attribute, groups in counts.items() if INTERSECTION_SEPARATOR not in attribute]
    return max((sum(sum(values) for values in groups.values()) for groups in singles), default=0)


def is_new_evidence(check: FairnessCheck) -> bool:
    """Whether a just computed check adds evidence: only such checks count towards a persisting violation.

    It must be the version's latest window, and hold predictions the last counted check had not seen: rows
    after that check's window end, or rows ingested since it that changed the window's counts. So re-checks
    of the same rows (an ingestion-triggered check, the scheduled one and a manual one over one batch) count
    once, and a check of an older window never does.
    """
    if check.n_predictions == 0 or is_stale(check):
        return False
    previous = evidence_checks(check.model_version_id).exclude(pk=check.pk).first()
    if previous is None:
        return True
    if check.window_end <= previous.window_end:
        return False
    if window_has_data(
        model_version=check.model_version,
        start=max(check.window_start, previous.window_end),
        end=check.window_end,
    ):
        return True
    return check.predictions_seen > previous.predictions_seen and check.inputs["counts"] != previous.inputs["counts"]


@dataclass
class ComputedCheck:
    """A claimed check's inputs and result, computed but not yet stored (see :func:`store_check`)."""

    check: FairnessCheck
    inputs: dict[str, Any]
    result: dict[str, Any]
    predictions_seen: int


def run_check(
    *,
    model_version: ModelVersion,
    window_end: datetime,
    trigger: str,
    claim_token: str,
    window_start: datetime | None = None,
    policy: MonitoringPolicy | None = None,
) -> FairnessCheck:
    """Run (or return the stored) check of ``model_version`` for the window ending at ``window_end``.

    Raises ``CheckBusy`` when another runner holds a live claim on it.
    """
    computed = compute_check(
        model_version=model_version,
        window_end=window_end,
        trigger=trigger,
        claim_token=claim_token,
        window_start=window_start,
        policy=policy,
    )
    if isinstance(computed, FairnessCheck):
        return computed
    return store_check(computed)


def compute_check(
    *,
    model_version: ModelVersion,
    window_end: datetime,
    trigger: str,
    claim_token: str,
    window_start: datetime | None = None,
    policy: MonitoringPolicy | None = None,
) -> FairnessCheck | ComputedCheck:
    """The first half of :func:`run_check`: claim the check and compute it outside any transaction (the stored
    check if it is already completed). Other checks may complete before :func:`store_check` writes this one."""
    policy = policy or current_policy(model_version.model)
    if policy is None:
        raise ValueError(f"{model_version.model.name} has no monitoring policy")
    start = window_start or window_end - timedelta(hours=policy.window_hours)
    check = _check_row(model_version, policy, start, window_end, trigger)
    if check.status == FairnessCheck.Status.COMPLETED:
        return check
    if not _claim(check, claim_token):
        raise CheckBusy(f"check {check.pk} is being run by {check.claim_token}")
    check.refresh_from_db()
    if settings.CHECK_FAULT_DELAY_SECONDS:
        time.sleep(settings.CHECK_FAULT_DELAY_SECONDS)
    # Read before the window: rows arriving meanwhile make the next check count as new evidence, never this one.
    seen = predictions_received(model_version)
    try:
        inputs, result = compute(check)
    except Exception as exc:
        FairnessCheck.objects.filter(pk=check.pk, status=FairnessCheck.Status.RUNNING).update(
            status=FairnessCheck.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return ComputedCheck(check, inputs, result, seen)


def store_check(computed: ComputedCheck) -> FairnessCheck:
    """The final write of :func:`run_check`: store the result once, keep the evidence chain linear, audit it
    and announce it (``check_stored``: the alerts app applies it), in one transaction under the version's row
    lock."""
    check, inputs, result, seen = computed.check, computed.inputs, computed.result, computed.predictions_seen
    model_version, policy = check.model_version, check.policy
    with transaction.atomic():
        # The version's row lock serialises final writes of its checks, so the evidence chain stays linear.
        ModelVersion.objects.select_for_update().filter(pk=model_version.pk).first()
        check = FairnessCheck.objects.select_for_update().get(pk=check.pk)
        if check.status == FairnessCheck.Status.COMPLETED:
            return check  # someone else finished first; their result stands
        result = _keep_chain_linear(check, inputs, policy, int(check.window_end.timestamp()) % (2**32)) or result
        check.status = FairnessCheck.Status.COMPLETED
        check.inputs = inputs
        check.inputs_sha256 = sorted_json_sha256(inputs)
        check.result = result
        check.verdict = result["verdict"]
        check.status_summary = result["status"]
        check.headline_dir = result["headline_dir"]
        check.n_predictions = _window_size(inputs["counts"])
        check.predictions_seen = seen
        check.new_evidence = is_new_evidence(check)
        check.engine_version = ENGINE_VERSION
        check.attempts += 1
        check.error = ""
        check.completed_at = timezone.now()
        check.save()
        audit_append(
            action="fairness_check.completed",
            object_type="fairness_check",
            object_id=str(check.pk),
            payload={
                "model": model_version.model.name,
                "version": model_version.version,
                "policy_version": policy.version,
                "window_start": check.window_start.isoformat(),
                "window_end": check.window_end.isoformat(),
                "trigger": check.trigger,
                "verdict": check.verdict,
                "status": check.status_summary,
                "headline_dir": check.headline_dir,
                "inputs_sha256": check.inputs_sha256,
                "new_evidence": check.new_evidence,
                "engine_version": ENGINE_VERSION,
            },
        )
        check_stored.send(sender=FairnessCheck, check=check)
    logger.info(
        "check %s of %s v%s: %s (DIR %s, n=%s)",
        check.pk,
        model_version.model.name,
        model_version.version,
        check.status_summary,
        "n/a" if check.headline_dir is None else f"{check.headline_dir:.3f}",
        check.n_predictions,
    )
    return check


def due_checks(now: datetime) -> list[tuple[ModelVersion, MonitoringPolicy, datetime]]:
    """(version, policy, window end) of every scheduled check that is due and not yet stored.

    Monitored versions are those not retired that have predictions in the window.
    """
    due = []
    versions = ModelVersion.objects.exclude(stage=ModelVersion.Stage.RETIRED).select_related("model")
    for version in versions:
        policy = current_policy(version.model)
        if policy is None:
            continue
        end = aligned_window_end(policy, now)
        start = end - timedelta(hours=policy.window_hours)
        has_data = window_has_data(model_version=version, start=start, end=end)
        stored = FairnessCheck.objects.filter(
            model_version=version, policy=policy, window_end=end, status=FairnessCheck.Status.COMPLETED
        ).exists()
        if has_data and not stored:
            due.append((version, policy, end))
    return due


def _orphaned(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.CHECK_LEASE_SECONDS)
    return _lease_expired(now) | Q(status=FairnessCheck.Status.PENDING, created_at__lt=stale)


def orphaned_checks(now: datetime) -> list[FairnessCheck]:
    """Checks nobody will finish by themselves: running past their lease, or created and never claimed (the
    runner died between the two) for as long. Beat re-dispatches only the current window, and the lost task
    message comes back only after the broker's visibility timeout, so the reaper re-enqueues these."""
    return list(FairnessCheck.objects.filter(_orphaned(now)).order_by("window_end", "pk"))


def take_over(check: FairnessCheck, token: str, now: datetime) -> bool:
    """Hand an orphaned check to the runner ``token`` (a task about to be enqueued) with a fresh lease.

    Conditional on the check still being orphaned, so of two reapers (or a reaper and a redelivered message)
    one wins, and the next reaper pass leaves the check to that runner until its own lease runs out.
    """
    taken = FairnessCheck.objects.filter(_orphaned(now), pk=check.pk).update(
        status=FairnessCheck.Status.RUNNING, claim_token=token, claimed_at=now
    )
    return taken == 1


def release(check: FairnessCheck, token: str, claimed_at: datetime | None) -> None:
    """Give back a takeover whose task could not be enqueued (broker down): the next reaper pass tries again."""
    FairnessCheck.objects.filter(pk=check.pk, status=FairnessCheck.Status.RUNNING, claim_token=token).update(
        claimed_at=claimed_at or check.created_at
    )


def open_ingestion_gate(model_version: ModelVersion, now: datetime) -> bool:
    """True for the first ingestion of a version in each CHECK_DEBOUNCE_SECONDS: that one enqueues a check."""
    until = now + timedelta(seconds=settings.CHECK_DEBOUNCE_SECONDS)
    gate = IngestionCheckGate.objects.filter(model_version=model_version)
    if gate.filter(next_allowed_at__lte=now).update(next_allowed_at=until):
        return True
    if gate.exists():
        # Closed. Checked before trying an insert so the usual case raises nothing: an IntegrityError's traceback
        # would keep the ingesting request's frames (and its batch) alive until the next full garbage collection.
        return False
    try:
        with transaction.atomic():
            IngestionCheckGate.objects.create(model_version=model_version, next_allowed_at=until)
    except IntegrityError:
        return False  # another ingestion created it a moment ago
    return True


def enqueue_ingestion_check(model_version: ModelVersion, **_signal: Any) -> None:
    """After an ingestion commits (``monitoring.signals.predictions_stored``): a near-real-time check of the
    version, at most one per debounce period. The task is named, not imported: checks are below the task module
    that runs them."""
    now = timezone.now()
    if not open_ingestion_gate(model_version, now):
        return
    try:
        enqueue(RUN_CHECK_TASK, model_version.pk, None, now.isoformat(), "ingestion")
    except Exception:  # broker down: the scheduled dispatcher still covers the version
        logger.warning("could not enqueue the ingestion check of %s", model_version, exc_info=True)
