"""The SVG chart: escaped text, accessible title and description, band, threshold and forecast drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from web.charts import Forecast, Point, line_chart

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
