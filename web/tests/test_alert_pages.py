"""The alert inbox (filters, paging, resolved alerts kept) and one alert's page (timeline with deliveries and
their attempts, the action dialog, the warning when the violation persists)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from monitoring.alerts.delivery import deliver
from monitoring.alerts.models import Alert, Delivery
from monitoring.alerts.tests.builders import LoopbackReceiver, make_endpoint
from registry.models import ModelVersion
from web.inbox_data import PAGE_SIZE
from web.tests.pages import checked, client_for

pytestmark = pytest.mark.django_db


def listed(html: str) -> set[int]:
    """The alert ids in the inbox table."""
    return {int(found) for found in re.findall(r'id="inbox-alert-(\d+)"', html)}


def resolve(client: Client, alert: Alert, note: str = "fixed upstream") -> None:
    client.post(f"/dashboard/alerts/{alert.pk}/resolve", {"note": note, "resolve_anyway": "yes"})


def test_the_inbox_shows_unresolved_alerts_and_keeps_resolved_ones(monitor_user: Any, alerting: ModelVersion) -> None:
    client = client_for(monitor_user)
    dir_alert, spd_alert = Alert.objects.get(metric="DIR"), Alert.objects.get(metric="SPD")
    assert listed(client.get("/alerts/").content.decode()) == {dir_alert.pk, spd_alert.pk}
    resolve(client, spd_alert)
    by_default = client.get("/alerts/").content.decode()
    assert listed(by_default) == {dir_alert.pk}  # the default is unresolved: open or acknowledged
    resolved = client.get("/alerts/?status=resolved").content.decode()
    assert listed(resolved) == {spd_alert.pk}
    assert "(manual)" in resolved
    assert listed(client.get("/alerts/?status=").content.decode()) == {dir_alert.pk, spd_alert.pk}


def test_each_filter_narrows_the_inbox(monitor_user: Any, alerting: ModelVersion) -> None:
    client = client_for(monitor_user)
    dir_alert, spd_alert = Alert.objects.get(metric="DIR"), Alert.objects.get(metric="SPD")
    client.post(f"/dashboard/alerts/{dir_alert.pk}/acknowledge", {"note": "on it"})
    today = timezone.now().date().isoformat()
    cases = {
        "metric=SPD": {spd_alert.pk},
        "metric=DIR&status=acknowledged": {dir_alert.pk},
        "status=open": {spd_alert.pk},
        f"severity={dir_alert.severity}": {a.pk for a in Alert.objects.filter(severity=dir_alert.severity)},
        "model=loan_model": {dir_alert.pk, spd_alert.pk},
        f"opened_from={today}&opened_to={today}": {dir_alert.pk, spd_alert.pk},
        "opened_to=2020-01-01": set(),
    }
    for query, expected in cases.items():
        response = client.get(f"/alerts/?{query}")
        assert response.status_code == 200, query
        assert listed(response.content.decode()) == expected, query


def test_a_bad_filter_is_a_400_that_says_which_and_applies_the_rest(monitor_user: Any, alerting: ModelVersion) -> None:
    response = client_for(monitor_user).get("/alerts/?metric=SPD&opened_from=yesterday&severity=apocalyptic")
    html = response.content.decode()
    assert response.status_code == 400
    errors = html[html.index('id="inbox-errors"') :]
    assert "Opened on or after: Enter a valid date." in errors
    assert "Severity: Select a valid choice." in errors
    assert listed(html) == {Alert.objects.get(metric="SPD").pk}
    reversed_range = client_for(monitor_user).get("/alerts/?opened_from=2026-02-02&opened_to=2026-01-01")
    assert reversed_range.status_code == 400
    assert "The end date is before the start date." in reversed_range.content.decode()


def test_the_inbox_is_paged_and_the_pages_keep_the_filters(monitor_user: Any, alerting: ModelVersion) -> None:
    template = Alert.objects.get(metric="SPD")
    for index in range(PAGE_SIZE + 5):
        Alert.objects.create(
            model=template.model,
            model_version=template.model_version,
            attribute="gender",
            group=f"group-{index}",
            metric="SPD",
            status=Alert.Status.RESOLVED,
            severity=Alert.Severity.MEDIUM,
            first_check=template.first_check,
            last_check=template.last_check,
            last_seen_at=timezone.now(),
        )
    client = client_for(monitor_user)
    first = client.get("/alerts/?status=resolved&metric=SPD").content.decode()
    assert len(listed(first)) == PAGE_SIZE
    assert "page 1 of 2" in first
    link = re.search(r'href="\?([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "status=resolved" in link
    assert "metric=SPD" in link
    second = client.get(f"/alerts/?{link}").content.decode()
    assert len(listed(second)) == 5
    assert not listed(first) & listed(second)


def test_auditors_read_the_inbox_and_alert_pages_without_actions(auditor_user: Any, alerting: ModelVersion) -> None:
    client = client_for(auditor_user)
    alert = Alert.objects.get(metric="DIR")
    assert listed(client.get("/alerts/").content.decode())
    page = client.get(f"/alerts/{alert.pk}/")
    assert page.status_code == 200
    assert f'id="act-{alert.pk}"' not in page.content.decode()
    assert Client().get("/alerts/").status_code == 302  # anonymous: sign in first


def test_an_unknown_alert_is_a_404_page(monitor_user: Any, db: None) -> None:
    response = client_for(monitor_user).get("/alerts/424242/")
    assert response.status_code == 404
    assert "There is no alert 424242." in response.content.decode()


def test_the_alert_page_shows_the_timeline_with_deliveries_and_attempts(
    monitor_user: Any, receiver: LoopbackReceiver, db: None
) -> None:
    from monitoring.checks.tests.builders import loan_version

    make_endpoint(receiver, name="ops-hook")
    version = loan_version()
    checked(version, [0.0, 0.9, 0.9], n=1500)
    alert = Alert.objects.get(metric="DIR")
    client = client_for(monitor_user)
    client.post(f"/dashboard/alerts/{alert.pk}/acknowledge", {"note": "dana is retraining"})
    for delivery in Delivery.objects.all():
        deliver(delivery.pk)  # the worker's step, to the real loopback receiver
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    timeline = html[html.index('id="alert-timeline"') :]
    opened, acknowledged = timeline.index("<strong>Opened</strong>"), timeline.index("<strong>Acknowledged</strong>")
    assert opened < acknowledged
    assert f"by {monitor_user.username}: dana is retraining" in timeline
    assert timeline.count("webhook ops-hook") == 2  # one delivery per event
    assert timeline.count('data-delivery-status="delivered"') == 2
    assert "attempt 1 at" in timeline
    assert "HTTP 200" in timeline
    assert f"latest check ({alert.last_check_id}) still finds it" in html
    assert f'id="resolve-anyway-{alert.pk}"' in html  # the dialog warns before resolving


def test_a_resolved_alert_page_has_no_dialog_and_says_how_it_was_resolved(
    monitor_user: Any, alerting: ModelVersion
) -> None:
    client = client_for(monitor_user)
    alert = Alert.objects.get(metric="DIR")
    resolve(client, alert, note="rolled back to v0")
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert 'data-status="resolved"' in html
    assert f'id="act-{alert.pk}"' not in html
    assert "rolled back to v0" in html[html.index('id="alert-timeline"') :]


def test_the_busiest_pages_have_unique_element_ids(admin_user: Any, alerting: ModelVersion) -> None:
    from web.tests.pages import duplicate_ids

    client = client_for(admin_user)
    alert = Alert.objects.get(metric="DIR")
    for path in (
        "/dashboard/loan_model/",
        "/dashboard/loan_model/?metric=SPD&days=7",
        "/alerts/?status=",
        f"/alerts/{alert.pk}/",
        "/onboarding/",
        "/onboarding/loan_model/",
        "/dashboard/loan_model/predictions/",
    ):
        html = client.get(path).content.decode()
        assert not duplicate_ids(html), (path, duplicate_ids(html))
