"""Input errors raised by the fairness engine.

Every error derives from :class:`FairnessInputError` (a ``ValueError``) and carries a stable machine ``code``
plus the offending column or value, so the API layer can map them to 4xx responses without parsing messages.
Undefined *metrics* (zero denominators, empty groups) are never errors: they are ``None`` values with a reason.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any


class FairnessInputError(ValueError):
    """Base class for invalid input given to the engine."""

    code = "invalid_input"

    def __init__(self, message: str, *, column: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.value = value

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description: ``{"code", "message", "column", "value"}``."""
        return {"code": self.code, "message": self.message, "column": self.column, "value": _plain(self.value)}


class MissingColumnError(FairnessInputError):
    """A required column is absent from the DataFrame."""

    code = "missing_column"

    def __init__(self, column: str, available: Iterable[Hashable] = ()) -> None:
        listed = ", ".join(repr(name) for name in list(available)[:20])
        super().__init__(f"Column {column!r} is missing; available columns: [{listed}].", column=column)


class NonBinaryLabelError(FairnessInputError):
    """A prediction or label column holds more than two distinct values."""

    code = "non_binary_label"

    def __init__(self, column: str, values: Iterable[Any]) -> None:
        shown = sorted((repr(_plain(value)) for value in values), key=str)[:10]
        super().__init__(f"Column {column!r} must be binary but holds the values [{', '.join(shown)}].", column=column)


class NaNValueError(FairnessInputError):
    """A column holds missing values (NaN/None) where none are allowed."""

    code = "nan_value"

    def __init__(self, column: str, count: int) -> None:
        super().__init__(f"Column {column!r} contains {count} missing (NaN/None) value(s).", column=column, value=count)


class UnknownFavorableLabelError(FairnessInputError):
    """The favorable label is not one of the two label values present in the data."""

    code = "unknown_favorable_label"

    def __init__(self, column: str, favorable_label: Any, values: Iterable[Any]) -> None:
        shown = sorted((repr(_plain(value)) for value in values), key=str)
        super().__init__(
            f"Favorable label {favorable_label!r} is not among the values of {column!r}: [{', '.join(shown)}].",
            column=column,
            value=favorable_label,
        )


class SingleGroupError(FairnessInputError):
    """The protected attribute has fewer than two groups, so nothing can be compared."""

    code = "single_group"

    def __init__(self, column: str, groups: Iterable[Any]) -> None:
        shown = [repr(_plain(group)) for group in groups]
        super().__init__(
            f"Protected attribute {column!r} needs at least two groups; found [{', '.join(shown)}].", column=column
        )


class PrivilegedValueMissingError(FairnessInputError):
    """The configured privileged (reference) value does not occur in the protected attribute."""

    code = "privileged_value_missing"

    def __init__(self, column: str, privileged: Any, groups: Iterable[Any]) -> None:
        shown = sorted((repr(_plain(group)) for group in groups), key=str)[:20]
        super().__init__(
            f"Privileged value {privileged!r} does not occur in {column!r}; groups present: [{', '.join(shown)}].",
            column=column,
            value=privileged,
        )


class LengthMismatchError(FairnessInputError):
    """Parallel input arrays have different lengths."""

    code = "length_mismatch"

    def __init__(self, column: str, expected: int, actual: int) -> None:
        super().__init__(f"{column!r} has {actual} rows but {expected} were expected.", column=column, value=actual)


class InvalidParameterError(FairnessInputError):
    """A numeric parameter or array is outside its allowed domain (negative weight, bad level, ...)."""

    code = "invalid_parameter"


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python scalars so messages and ``to_dict`` stay JSON-friendly."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        return item()
    return value
