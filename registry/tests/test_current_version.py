"""The one rule for "the version a reader means": pages, reports, the API and the demo all call it."""

from __future__ import annotations

import pytest

from monitoring.audit_report.build import report_version
from registry.models import MLModel
from registry.selectors import current_version
from registry.services import register_model, version_set_stage

pytestmark = pytest.mark.django_db
POLICY = {"protected_attributes": ["gender"], "privileged": {"gender": "Male"}}


def model_with(*stages: str) -> MLModel:
    """A model whose versions 1, 2, ... are registered in this order with these stages."""
    for number, stage in enumerate(stages, start=1):
        version = register_model(name="credit", version=str(number), registered_by=None, policy=POLICY)
        version_set_stage(model_version=version, stage=stage)
    return MLModel.objects.get(name="credit")


def test_the_newest_production_version_wins_over_newer_staging_ones() -> None:
    model = model_with("production", "production", "staging")
    assert current_version(model).version == "2"


def test_without_production_the_newest_version_not_retired() -> None:
    model = model_with("staging", "staging", "retired")
    assert current_version(model).version == "2"


def test_when_every_version_is_retired_there_is_none_but_a_report_can_name_one() -> None:
    model = model_with("retired", "retired")
    assert current_version(model) is None
    assert report_version(model, "") is None
    assert report_version(model, "1").version == "1"
    assert report_version(model, "7") is None
