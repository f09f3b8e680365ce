"""The browsable API's view descriptions: reStructuredText literals as code, wrapped lines joined, text escaped."""

from __future__ import annotations

from django.test import Client

from core.api.descriptions import view_description


class Documented:
    """Ingest a batch for one model version, as ``text/csv`` or JSON.

    The header names the columns; see :class:`~monitoring.ingestion.parsing.RawBody` and <b>this</b>.
    """


def test_literals_become_code_and_markup_is_escaped() -> None:
    html = str(view_description(Documented(), html=True))
    assert "<code>text/csv</code>" in html
    assert "<code>monitoring.ingestion.parsing.RawBody</code>" in html
    assert "``" not in html
    assert "&lt;b&gt;this&lt;/b&gt;" in html
    assert html.count("<p>") == 2  # two paragraphs, the wrapped lines of each joined


def test_the_plain_description_has_no_backticks() -> None:
    text = view_description(Documented(), html=False)
    assert "``" not in text
    assert "as text/csv or JSON." in text


def test_the_browsable_api_page_shows_no_raw_backticks(ml_model: object, monitor_user: object) -> None:
    # the predictions view's docstring holds ``literals``
    client = Client()
    client.force_login(monitor_user)
    html = client.get("/api/v1/models/loan_model/versions/1/predictions", HTTP_ACCEPT="text/html").content.decode()
    start = html.index("<h1>Predictions</h1>")
    description = html[start : html.index("</p>", html.index("CSV:", start))]
    assert "<code>" in description
    assert "``" not in description
