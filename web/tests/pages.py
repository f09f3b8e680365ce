"""Builders the page tests share: checked versions, signed-in clients, and reading elements out of HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from monitoring.checks.services import run_check
from monitoring.checks.tests.builders import ingest_loans, window_end
from monitoring.models import FairnessCheck
from registry.models import ModelVersion

SPD_BAND = {"DIR": {"min": 0.8, "max": None}, "SPD": {"min": -0.1, "max": 0.1}}


def check(version: ModelVersion, hour: int) -> FairnessCheck:
    return run_check(model_version=version, window_end=window_end(hour), trigger="manual", claim_token="t")


def checked(version: ModelVersion, drifts: list[float], n: int = 800) -> list[FairnessCheck]:
    """One completed check per hour, over ``n`` loan decisions at each drift."""
    done = []
    for hour, drift in enumerate(drifts):
        ingest_loans(version, hour=hour, n=n, drift=drift, seed=100 + hour)
        done.append(check(version, hour))
    return done


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def element(html: str, element_id: str) -> str:
    """The opening tag of the element with ``element_id``."""
    match = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', html)
    assert match, f"no element #{element_id}"
    return match.group(0)


def classes(html: str, element_id: str) -> set[str]:
    return set(re.search(r'class="([^"]*)"', element(html, element_id)).group(1).split())


def text_of(html: str, element_id: str) -> str:
    """The visible text of a (non-nested) element, whitespace collapsed."""
    start = html.index(element(html, element_id))
    chunk = html[start : html.index("</div>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", chunk).split())


class VerdictCells(HTMLParser):
    """{(attribute, group, metric): {"value": ..., "lower": ..., "upper": ...}} from the verdict tables."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], dict[str, str]] = {}
        self.attribute = self.group = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and "verdict-table" in (found.get("class") or ""):
            self.attribute = found.get("data-attribute")
        elif tag == "tr" and self.attribute is not None:
            self.group = found.get("data-group")
        elif tag == "td" and self.group is not None and "data-metric" in found:
            key = (self.attribute, self.group, found["data-metric"])
            self.cells[key] = {name[5:]: value for name, value in found.items() if name.startswith("data-")}

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.attribute = self.group = None


def verdict_cells(body: str) -> dict[tuple[str, str, str], dict[str, str]]:
    parser = VerdictCells()
    parser.feed(body)
    return parser.cells


def duplicate_ids(html: str) -> list[str]:
    """Element ids that occur more than once (a label or a fragment link would find only the first)."""
    found = re.findall(r'\sid="([^"]+)"', html)
    return sorted({item for item in found if found.count(item) > 1})
