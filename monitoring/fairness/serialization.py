"""Conversion of engine results to plain Python types for JSON responses and stored check rows."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np


def to_native(value: Any) -> Any:
    """Recursively convert dataclasses, enums, numpy scalars/arrays and tuples to JSON-ready Python values.

    Non-finite floats become ``None`` because JSON has no NaN; mapping keys are kept when they are strings
    or numbers and turned into strings otherwise.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_native(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return to_native(value.value)
    if isinstance(value, np.ndarray):
        return [to_native(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return to_native(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_key(key): to_native(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_native(item) for item in value]
    return value


def _key(key: Any) -> Any:
    key = to_native(key)
    return key if isinstance(key, str | int | float | bool) or key is None else str(key)
