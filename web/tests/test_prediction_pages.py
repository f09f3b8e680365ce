"""The stored predictions page: newest first, keyset pages that neither skip nor repeat a row, keyed hashes only."""

from __future__ import annotations

import re
from typing import Any

import pytest

from monitoring.checks.tests.builders import ingest_loans, loan_version
from monitoring.models import Prediction
from web.tests.pages import client_for
from web.views.predictions import PAGE_SIZE

pytestmark = pytest.mark.django_db


def shown_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-id="(\d+)">', html)]


def test_pages_run_newest_first_and_cover_every_prediction_once(monitor_user: Any) -> None:
    version = loan_version()
    ingest_loans(version, hour=0, n=2 * PAGE_SIZE + 20, drift=0.0, seed=3)
    client = client_for(monitor_user)
    seen: list[int] = []
    url = "/dashboard/loan_model/predictions/?version=1"
    pages = 0
    while url:
        html = client.get(url).content.decode()
        ids = shown_ids(html)
        assert ids == sorted(ids, reverse=True)
        seen += ids
        pages += 1
        older = re.search(r'href="(\?[^"]+)" rel="next"', html)
        url = "/dashboard/loan_model/predictions/" + older.group(1).replace("&amp;", "&") if older else ""
    assert pages == 3
    assert seen == sorted(Prediction.objects.filter(model_version=version).values_list("id", flat=True), reverse=True)
    assert f"{2 * PAGE_SIZE + 20} predictions stored for v1" in html


def test_the_page_shows_keyed_hashes_not_the_ids_sent(monitor_user: Any) -> None:
    version = loan_version()
    ingest_loans(version, hour=0, n=5, drift=0.0, seed=3)
    html = client_for(monitor_user).get("/dashboard/loan_model/predictions/").content.decode()
    assert len(shown_ids(html)) == 5
    assert f"v{version.pk}-h0-s3-" not in html  # the client's ids (see ingest_loans) are never stored or shown
    stored = Prediction.objects.filter(model_version=version).first().prediction_key
    assert stored[:16] in html


def test_bad_positions_and_unknown_versions_say_so(monitor_user: Any) -> None:
    loan_version()
    client = client_for(monitor_user)
    bad = client.get("/dashboard/loan_model/predictions/?before=abc")
    assert bad.status_code == 400
    assert "is not a page position" in bad.content.decode()
    assert client.get("/dashboard/loan_model/predictions/?version=9").status_code == 404
    assert client.get("/dashboard/nope/predictions/").status_code == 404
    empty = client.get("/dashboard/loan_model/predictions/").content.decode()
    assert "No predictions stored yet" in empty
