"""Brute-force lockout (django-axes): JSON 429, also for the right password, lifted by the cool-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PASSWORD = "correct-Horse-battery-9"


def attempt(password: str, **extra: str) -> object:
    return APIClient().post("/api/login", {"username": "carol-monitor", "password": password}, format="json", **extra)


def test_repeated_bad_passwords_lock_the_account_even_for_the_right_password(monitor_user: object) -> None:
    # given failures up to the limit
    statuses = [attempt("wrong-guess").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    # then the attempt that reaches the limit is already refused as a lockout
    assert statuses[:-1] == [401] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    # and so is the right password
    locked = attempt(PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())


def test_lockout_ends_after_the_cool_off(monitor_user: object) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("wrong-guess")
    assert attempt(PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1), tick=False):
        assert attempt(PASSWORD).status_code == 200


def test_rotating_x_forwarded_for_gains_no_extra_attempts(monitor_user: object) -> None:
    for index in range(settings.AXES_FAILURE_LIMIT):
        attempt("wrong-guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{index}")
    assert attempt(PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.77").status_code == 429


def test_success_resets_the_failure_count(monitor_user: object) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt("wrong-guess")
    assert attempt(PASSWORD).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt("wrong-guess").status_code == 401
