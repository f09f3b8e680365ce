"""Fixtures of the page tests: a passing version and an alerting one (DIR and SPD alerts open)."""

from __future__ import annotations

from typing import Any

import pytest

from monitoring.alerts.models import Alert
from monitoring.checks.tests.builders import loan_version
from registry.models import ModelVersion
from web.tests.pages import SPD_BAND, checked


@pytest.fixture
def passing(ml_model: Any) -> ModelVersion:
    version = loan_version()
    checked(version, [0.0, 0.0])
    return version


@pytest.fixture
def alerting() -> ModelVersion:
    # a compliant hour, then drifted ones: the evidence passes the family threshold over the closed drifted hours
    version = loan_version(metric_bands=SPD_BAND)
    checked(version, [0.0, 0.9, 0.9, 0.9], n=1500)
    assert Alert.objects.filter(model_version=version).exists()
    return version
