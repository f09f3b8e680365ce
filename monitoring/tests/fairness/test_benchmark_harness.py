"""The benchmark harness runs end to end and its fairlens numbers agree with fairlearn (no timing asserted)."""

from __future__ import annotations

import json

import numpy as np

from bench import metrics as bench_metrics


def test_benchmark_record_on_small_input() -> None:
    record = bench_metrics.run(rows=20_000, repeat=1, skip_fairlearn=False, seed=1)
    assert {"rows", "fairlens_s", "fairlearn_s", "numpy_floor_s", "peak_mib", "input_mib"} <= set(record)
    assert record["rows"] == 20_000
    assert record["fairlearn_source"] == "measured"
    assert record["agrees_with_fairlearn"] is True
    assert record["input_mib"] == round(3 * 20_000 / (1024 * 1024), 2)
    json.dumps(record)


def test_numpy_floor_counts_every_row() -> None:
    groups, y_true, y_pred = bench_metrics.make_arrays(5000, seed=2)
    floor = bench_metrics.numpy_floor(groups, y_true, y_pred)
    assert floor.sum() == 5000
    assert floor[0b111] == np.sum((groups == 1) & (y_true == 1) & (y_pred == 1))


def test_main_appends_the_result_to_the_results_file(tmp_path: object) -> None:
    output = tmp_path / "metrics.jsonl"  # type: ignore[operator]
    bench_metrics.main(["--rows", "5000", "--repeat", "1", "--skip-fairlearn", "--output", str(output)])
    bench_metrics.main(["--rows", "6000", "--repeat", "1", "--skip-fairlearn", "--output", str(output)])
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["rows"] for line in lines] == [5000, 6000]
    assert all("recorded_at" in line and line["machine"]["cpus"] for line in lines)
