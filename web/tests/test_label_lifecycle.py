"""The label lifecycle through the real path: predictions ingested, labels arriving hours later and at different
rates per group, a check that says EOD/AOD/FPR are provisional and that labels arrive unevenly, the model page
showing coverage and delay per group, and the same check final once the labels are in."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from monitoring.checks.services import run_check
from monitoring.checks.tests.builders import BASE, HOUR, ingest_items, loan_version, stamp
from monitoring.ingestion.services import ingest_labels
from web.dashboard_data import label_lifecycle
from web.tests.pages import client_for, element, text_of

pytestmark = pytest.mark.django_db

N = 200  # predictions per group, all in hour 0


def _items() -> list[dict[str, Any]]:
    return [
        {
            "id": f"{gender}-{index}",
            "timestamp": stamp(0, index, N),
            "attributes": {"gender": gender},
            "y_pred": int(index % 2 == 0),
        }
        for gender in ("Female", "Male")
        for index in range(N)
    ]


def test_labels_arriving_unevenly_make_the_check_provisional_and_the_page_says_why(monitor_user: Any) -> None:
    version = loan_version(label_coverage_final=0.8, window_hours=24)
    with time_machine.travel(BASE + 2 * HOUR, tick=False):
        ingest_items(version, _items())
        # Men's outcomes come back within the hour: 190 of 200 (95%)
        ingest_labels(
            model_version=version, labels=[{"id": f"Male-{i}", "y_true": 1} for i in range(190)], principal="t"
        )
    with time_machine.travel(BASE + 30 * HOUR, tick=False):
        # Women's a day later, and only 90 of 200 (45%)
        ingest_labels(
            model_version=version, labels=[{"id": f"Female-{i}", "y_true": 1} for i in range(90)], principal="t"
        )
        check = run_check(model_version=version, window_end=BASE + 24 * HOUR, trigger="manual", claim_token="t")
    labels = check.result["labels"]
    assert labels["status"] == "provisional"
    assert labels["coverage"] == pytest.approx(280 / 400)
    groups = labels["attributes"]["gender"]["groups"]
    assert groups["Female"]["coverage"] == pytest.approx(0.45)
    assert groups["Male"]["coverage"] == pytest.approx(0.95)
    assert labels["attributes"]["gender"]["uneven"] is True
    assert labels["uneven"] == ["gender"]

    with time_machine.travel(BASE + 31 * HOUR, tick=False):
        html = client_for(monitor_user).get(f"/dashboard/{version.model.name}/").content.decode()
    assert "are provisional: some compared group has fewer labels" in text_of(html, "labels-status")
    assert "Labels arrive unevenly across gender: coverage differs by 50%" in html
    table = html[html.index(element(html, "labels-table")) :]
    female = table[table.index('data-group="gender=Female"') :]
    assert 'data-value="0.45"' in female[: female.index("</tr>")]
    # delays: women labeled 30 h after hour 0 began, men 2 h after (predictions spread over hour 0)
    lifecycle = label_lifecycle(check)
    delays = {row["group"]: row["delay"] for row in lifecycle.rows}
    assert 29 <= delays["Female"]["median_hours"] <= 30
    assert 1 <= delays["Male"]["median_hours"] <= 2
    assert delays["Female"]["labeled"] == 90
    delay = text_of(html, "labels-delay")
    assert "Delay from prediction to label: median" in delay

    # the rest of the labels arrive: a check of a window holding the same predictions is final
    with time_machine.travel(BASE + 32 * HOUR, tick=False):
        ingest_labels(
            model_version=version,
            labels=[{"id": f"Female-{i}", "y_true": 0} for i in range(90, 200)]
            + [{"id": f"Male-{i}", "y_true": 0} for i in range(190, 200)],
            principal="t",
        )
        later = run_check(
            model_version=version, window_start=BASE, window_end=BASE + 25 * HOUR, trigger="manual", claim_token="t2"
        )
    assert later.result["labels"]["status"] == "final"
    assert later.result["labels"]["uneven"] == []
