"""pandas data frames as FairLens batches: an Arrow IPC stream when pyarrow is installed, else JSON records."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

ARROW_STREAM = "application/vnd.apache.arrow.stream"

try:  # optional: pip install "fairlens-client[arrow]"
    import pyarrow as pa
except ImportError:  # pragma: no cover - exercised where pyarrow is absent
    pa = None


def arrow_available() -> bool:
    return pa is not None


def canonical_frame(
    frame: Any,
    *,
    id: str,  # noqa: A002 - the column holding each prediction's id, named as in the server's API
    decision: str,
    protected: Sequence[str],
    score: str | None,
    label: str | None,
    timestamp: str | None,
    features: Sequence[str],
    now: Any,
) -> Any:
    """The columns FairLens reads, renamed to its names (``id``, ``timestamp``, ``y_pred``, ``y_true``, ``score``,
    one per protected attribute, one per feature), as a copy the caller may go on changing its frame after.

    Raises ``KeyError`` for a column the frame lacks and ``ValueError`` for times without a zone: both are
    mistakes in the call that would otherwise lose every row of the frame on the server.
    """
    import pandas as pd

    wanted = {"id": id, "y_pred": decision}
    if score is not None:
        wanted["score"] = score
    if label is not None:
        wanted["y_true"] = label
    if timestamp is not None:
        wanted["timestamp"] = timestamp
    for name in [*protected, *features]:
        wanted[name] = name
    missing = [column for column in wanted.values() if column not in frame.columns]
    if missing:
        raise KeyError(f"the frame has no column(s) {missing}")
    if timestamp is not None:
        stamps = frame[timestamp]
        if pd.api.types.is_datetime64_any_dtype(stamps) and stamps.dt.tz is None:
            raise ValueError(f"column {timestamp!r} holds times without a zone; use .dt.tz_localize('UTC')")
    result = pd.DataFrame({target: frame[source].reset_index(drop=True).copy() for target, source in wanted.items()})
    if timestamp is None:
        result["timestamp"] = pd.Timestamp(now)
    return result


def arrow_body(frame: Any) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def json_records(frame: Any, protected: Sequence[str], features: Sequence[str]) -> list[dict[str, Any]]:
    """Each row as the JSON API's prediction object."""
    records = []
    for row in frame.to_dict("records"):
        record: dict[str, Any] = {
            "id": _scalar(row["id"]),
            "timestamp": _time(row["timestamp"]),
            "attributes": {name: _scalar(row[name]) for name in protected},
            "y_pred": _scalar(row["y_pred"]),
        }
        for name in ("y_true", "score"):
            if name in row and not _missing(row[name]):
                record[name] = _scalar(row[name])
        if features:
            record["features"] = {name: _scalar(row[name]) for name in features if not _missing(row[name])}
        records.append(record)
    return records


def json_body(key: str, records: list[dict[str, Any]]) -> bytes:
    return json.dumps({key: records}, separators=(",", ":"), default=str).encode()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("NaT", "<NA>")


def _scalar(value: Any) -> Any:
    """numpy and pandas scalars as plain Python values."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def _time(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)
