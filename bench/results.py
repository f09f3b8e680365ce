"""Where benchmark results go: one JSON line per run, appended to ``bench/results/<name>.jsonl``."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def record(name: str, result: dict[str, Any], output: Path | None = None) -> Path:
    """Print ``result`` as one JSON line and append it, with the time and machine, to the results file."""
    print(json.dumps(result))
    path = output or RESULTS_DIR / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        **result,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    return path
