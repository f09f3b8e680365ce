"""The evidence chain through run_check and the database: a late check of an older window stays outside it,
and of two checks racing on one chain head exactly one advances it, so every closed hour is counted once."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum

from monitoring.alerts.models import Alert
from monitoring.checks.evidence import hour_index
from monitoring.checks.selectors import evidence_chain_head
from monitoring.checks.services import ComputedCheck, compute_check, store_check
from monitoring.checks.tests.builders import BASE, HOUR, check_hour, ingest_rates, loan_version, window_end
from monitoring.models import FairnessCheck, PredictionRollup

pytestmark = pytest.mark.django_db

MEN = (400, 280)  # selection rate 0.70
CRITICAL = (400, 84)  # 0.21: DIR 0.30
FAIR = (400, 280)


def computed_hour(version, hour: int, runner: str) -> ComputedCheck:
    """The check of the window ending at the end of ``hour``, claimed and computed but not yet stored."""
    computed = compute_check(model_version=version, window_end=window_end(hour), trigger="schedule", claim_token=runner)
    assert isinstance(computed, ComputedCheck)
    return computed


def chained_hours(version) -> Counter[int]:
    """How often each hour was processed by the checks in the evidence chain."""
    counted: Counter[int] = Counter()
    for check in FairnessCheck.objects.filter(model_version=version, result__evidence__chained=True):
        counted.update(int(hour) for hour, _ in check.inputs["evidence"]["hours"])
    return counted


def chained_rows(version) -> int:
    """Rows of the single attribute summed over every hour the chain processed, from the checks' stored inputs."""
    return sum(
        sum(sum(counts) for counts in hourly["gender"].values())
        for check in FairnessCheck.objects.filter(model_version=version, result__evidence__chained=True)
        for _, hourly in check.inputs["evidence"]["hours"]
    )


def rollup_rows(version, hours: list[int]) -> int:
    fields = ("tp", "fp", "tn", "fn", "unlabeled_pos", "unlabeled_neg")
    totals = PredictionRollup.objects.filter(
        model_version=version,
        attribute="gender",
        bucket_start__gte=BASE + min(hours) * HOUR,
        bucket_start__lt=BASE + (max(hours) + 1) * HOUR,
    ).aggregate(**{name: Sum(name) for name in fields})
    return sum(totals.values())


def alerts_seen() -> list[tuple]:
    return list(Alert.objects.order_by("pk").values_list("pk", "last_check_id", "occurrences", "value", "last_seen_at"))


def assert_each_hour_counted_once(version, hours: list[int]) -> None:
    counted = chained_hours(version)
    assert counted == Counter(hour_index(BASE) + hour for hour in hours)
    assert chained_rows(version) == rollup_rows(version, hours)


def test_a_late_check_of_an_older_window_stores_chained_false_and_moves_neither_alert_nor_chain() -> None:
    # given a 24-h policy, a critical hour 0 and 1, and the check of hour 1 (the chain's head) paging
    version = loan_version(window_hours=24)
    ingest_rates(version, hour=0, male=MEN, female=CRITICAL)
    ingest_rates(version, hour=1, male=MEN, female=CRITICAL)
    head = check_hour(version, 1)
    assert head.result["evidence"]["chained"]
    alert = Alert.objects.get()
    seen = (alert.last_check_id, alert.occurrences, alert.value, alert.last_seen_at)
    # when the check of the window ending at the end of hour 0 completes after it
    late = check_hour(version, 0)
    # then it stores chained: false naming the head, adds no hour and changes no alert
    assert late.status == FairnessCheck.Status.COMPLETED
    assert late.result["evidence"]["chained"] is False
    assert late.result["evidence"]["reason"] == "stale"
    assert late.result["evidence"]["head_check"] == head.pk
    assert "hours" not in late.inputs["evidence"]
    alert.refresh_from_db()
    assert (alert.last_check_id, alert.occurrences, alert.value, alert.last_seen_at) == seen
    assert Alert.objects.count() == 1
    # and the chain's head is still the check of hour 1: the next check continues from it with hour 2 alone
    assert evidence_chain_head(late) == head
    ingest_rates(version, hour=2, male=MEN, female=CRITICAL)
    after = check_hour(version, 2)
    assert after.inputs["evidence"]["previous_check"] == head.pk
    assert [hour for hour, _ in after.inputs["evidence"]["hours"]] == [hour_index(BASE) + 2]
    assert_each_hour_counted_once(version, [0, 1, 2])
    alert.refresh_from_db()
    assert (alert.last_check_id, alert.occurrences) == (after.pk, 2)


def test_of_two_checks_racing_on_one_head_the_later_window_stored_first_advances_the_chain() -> None:
    # given the chain's head at hour 0 and critical hours 1 and 2
    version = loan_version(window_hours=24)
    ingest_rates(version, hour=0, male=MEN, female=FAIR)
    first = check_hour(version, 0)
    ingest_rates(version, hour=1, male=MEN, female=CRITICAL)
    ingest_rates(version, hour=2, male=MEN, female=CRITICAL)
    # when the check of hour 1 computes from that head, and the check of hour 2 runs and is stored meanwhile
    slow = computed_hour(version, 1, "slow-runner")
    assert slow.inputs["evidence"]["previous_check"] == first.pk
    fast = check_hour(version, 2, runner="fast-runner")
    assert fast.inputs["evidence"]["previous_check"] == first.pk
    alert = Alert.objects.get()
    seen = (alert.last_check_id, alert.occurrences, alert.value, alert.last_seen_at)
    slow_check = store_check(slow)
    # then the one stored first advanced the chain, the other was superseded by it and changed no alert
    assert fast.result["evidence"]["chained"] is True
    assert slow_check.result["evidence"]["chained"] is False
    assert slow_check.result["evidence"]["reason"] == "superseded"
    assert slow_check.result["evidence"]["superseded_by"] == fast.pk
    alert.refresh_from_db()
    assert (alert.last_check_id, alert.occurrences, alert.value, alert.last_seen_at) == seen
    # and the next check continues from the winner: every hour counted once, as many rows as the rollups
    ingest_rates(version, hour=3, male=MEN, female=CRITICAL)
    after = check_hour(version, 3)
    assert after.inputs["evidence"]["previous_check"] == fast.pk
    assert_each_hour_counted_once(version, [0, 1, 2, 3])


def test_of_two_checks_racing_on_one_head_the_older_window_stored_first_leaves_no_hour_out() -> None:
    # given the chain's head at hour 0 and critical hours 1 and 2
    version = loan_version(window_hours=24)
    ingest_rates(version, hour=0, male=MEN, female=FAIR)
    first = check_hour(version, 0)
    ingest_rates(version, hour=1, male=MEN, female=CRITICAL)
    ingest_rates(version, hour=2, male=MEN, female=CRITICAL)
    # when the check of hour 2 computes from that head, and the check of hour 1 runs and is stored meanwhile
    slow = computed_hour(version, 2, "slow-runner")
    assert slow.inputs["evidence"]["previous_check"] == first.pk
    fast = check_hour(version, 1, runner="fast-runner")
    seen = alerts_seen()
    slow_check = store_check(slow)
    # then exactly one of them is in the chain; the superseded one, whose evidence over hours 1 and 2 pages,
    # changed no alert
    assert any(entry["decision"] == "alert" for entry in slow_check.result["evidence"]["comparisons"])
    assert fast.result["evidence"]["chained"] is True
    assert slow_check.result["evidence"]["chained"] is False
    assert slow_check.result["evidence"]["superseded_by"] == fast.pk
    assert alerts_seen() == seen
    # and hour 2, which only the superseded check had read, is processed by the next check of the chain
    ingest_rates(version, hour=3, male=MEN, female=CRITICAL)
    after = check_hour(version, 3)
    assert after.inputs["evidence"]["previous_check"] == fast.pk
    assert [hour - hour_index(BASE) for hour, _ in after.inputs["evidence"]["hours"]] == [2, 3]
    assert_each_hour_counted_once(version, [0, 1, 2, 3])


def test_a_superseded_check_is_redrawn_exactly() -> None:
    from monitoring.checks.services import redraw
    from registry.services import current_policy

    version = loan_version(window_hours=24)
    ingest_rates(version, hour=0, male=MEN, female=FAIR)
    check_hour(version, 0)
    ingest_rates(version, hour=1, male=MEN, female=CRITICAL)
    slow = computed_hour(version, 1, "slow-runner")
    check_hour(version, 2, runner="fast-runner")
    stored = store_check(slow)
    stored.refresh_from_db()
    assert stored.result["evidence"]["reason"] == "superseded"
    policy = current_policy(version.model)
    assert redraw(stored.inputs, policy, seed=int(stored.window_end.timestamp()) % (2**32)) == stored.result
