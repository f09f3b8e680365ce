"""The SVG chart: escaped text, accessible title and description, band, threshold and forecast drawn."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from web.charts import SMALL, Forecast, Point, histogram_chart, line_chart, time_labels

SVG = "{http://www.w3.org/2000/svg}"


def _chart(**kwargs: object) -> ET.Element:
    points = [Point("10:00", 0.95, 0.9, 1.0), Point("11:00", 0.85, 0.8, 0.9), Point("12:00", 0.7, 0.65, 0.75)]
    svg = line_chart(points, title="DIR over checks", metric="DIR", **kwargs)  # type: ignore[arg-type]
    return ET.fromstring(svg)


def test_chart_is_well_formed_svg_with_an_accessible_name_and_description() -> None:
    root = _chart()
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "DIR over checks"
    description = root.find(f"{SVG}desc").text
    assert "10:00: 0.950" in description
    assert "12:00: 0.700" in description


def test_chart_draws_the_series_band_threshold_and_forecast() -> None:
    root = _chart(thresholds=[0.8], forecast=Forecast(0.6, 0.5, 0.7))
    series = root.find(f"{SVG}polyline[@class='series']")
    assert len(series.get("points").split()) == 3
    assert root.find(f"{SVG}polygon[@class='confidence-band']") is not None
    assert root.find(f"{SVG}line[@class='threshold']") is not None
    assert root.find(f"{SVG}circle[@class='forecast']") is not None
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "threshold 0.8" in texts
    assert "next" in texts


def test_higher_values_are_drawn_higher_up() -> None:
    root = _chart(thresholds=[0.8])
    circles = [float(c.get("cy")) for c in root.iter(f"{SVG}circle")]
    assert circles == sorted(circles)  # 0.95, 0.85, 0.70: y grows downwards


def test_labels_and_titles_are_escaped() -> None:
    svg = line_chart([Point("<b>", 0.9)], title="A & B <script>", metric="DIR")
    assert "<script>" not in svg
    assert "A &amp; B &lt;script&gt;" in svg
    ET.fromstring(svg)


def test_an_empty_series_still_renders_and_says_so() -> None:
    root = ET.fromstring(line_chart([], title="DIR", metric="DIR"))
    assert "no checks yet" in root.find(f"{SVG}desc").text


def test_missing_values_leave_gaps_but_no_crash() -> None:
    root = ET.fromstring(line_chart([Point("a", None), Point("b", 0.9), Point("c", 0.8)], title="t", metric="DIR"))
    assert len(root.find(f"{SVG}polyline[@class='series']").get("points").split()) == 2


def test_y_ticks_are_round_numbers_spanning_the_data_and_the_threshold() -> None:
    for values, thresholds in (([0.94, 0.51, 0.52], [0.8]), ([-0.34, -0.3], [-0.1, 0.1]), ([0.701, 0.702], [])):
        points = [Point(f"{index}:00", value, value - 0.02, value + 0.02) for index, value in enumerate(values)]
        root = ET.fromstring(line_chart(points, title="t", metric="DIR", thresholds=thresholds))
        ticks = [float(t.text) for t in root.iter(f"{SVG}text") if t.get("class") == "y-tick"]
        steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
        assert len(steps) == 1, ticks  # evenly spaced
        (step,) = steps
        mantissa = round(abs(step) / 10 ** math.floor(math.log10(abs(step))), 6)
        assert mantissa in (1, 2, 2.5, 5), step
        covered = [v for value in values for v in (value - 0.02, value + 0.02)] + thresholds
        assert min(ticks) <= min(covered)
        assert max(ticks) >= max(covered)


def test_time_labels_are_unique_and_show_the_date_where_it_changes() -> None:
    start = datetime(2026, 12, 6, 22, tzinfo=UTC)
    times = [start + timedelta(hours=index) for index in range(4)] + [start + timedelta(hours=3, seconds=30)]
    labels = time_labels(times)
    assert labels == ["12-06 22:00", "23:00", "12-07 00:00", "01:00", "01:00:30"]
    assert len(set(labels)) == len(labels)


def test_x_labels_never_crowd_and_the_latest_is_always_labelled() -> None:
    points = [Point(f"{index:02d}:00", 0.9) for index in range(48)]
    for size in ((760, 300), SMALL):
        root = ET.fromstring(line_chart(points, title="t", metric="DIR", size=size))
        shown = [t for t in root.iter(f"{SVG}text") if t.get("class") == "x-label"]
        xs = [float(t.get("x")) for t in shown]
        assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= 80  # a label is about 70 units wide
        assert shown[-1].text == "47:00"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "window end (UTC)" in texts


def test_the_score_histogram_draws_each_bins_share_for_the_window_and_the_baseline() -> None:
    window, baseline = [0, 10, 30, 60], [25, 25, 25, 25]
    root = ET.fromstring(histogram_chart(window, baseline, title="Scores of gender=Female", chart_id="h"))
    drawn = [float(bar.get("height")) for bar in root.iter(f"{SVG}rect") if bar.get("class") == "window-bar"]
    outlined = [float(bar.get("height")) for bar in root.iter(f"{SVG}rect") if bar.get("class") == "baseline-bar"]
    assert len(drawn) == len(outlined) == 4
    assert drawn[0] == 0
    assert math.isclose(drawn[3] / drawn[2], 2.0, rel_tol=0.02)  # 60% against 30%
    assert len(set(outlined)) == 1  # a flat baseline
    assert "window 60%, baseline 25%" in root.find(f"{SVG}desc").text
    without = ET.fromstring(histogram_chart(window, None, title="t", chart_id="h"))
    assert not [bar for bar in without.iter(f"{SVG}rect") if bar.get("class") == "baseline-bar"]
