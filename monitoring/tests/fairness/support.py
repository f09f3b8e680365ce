"""Shared settings for the property-based tests of the fairness engine."""

from __future__ import annotations

from hypothesis import settings


def property_settings(max_examples: int) -> settings:
    """Deterministic examples (reproducible in CI), no example database on disk, no per-example deadline."""
    return settings(max_examples=max_examples, deadline=None, database=None, derandomize=True)
