"""Server-side SVG line charts for fairness metrics over checks. Pure: no Django, no JavaScript, no CDN.

A chart shows one metric per check with its confidence band, the policy's threshold line(s), and optionally a
forecast point with its prediction interval. The SVG carries a <title> and <desc> for screen readers, and
callers also render the same numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 18, 42
LINE = "#0b57c2"
BAND = "#0b57c2"
THRESHOLD = "#a3141c"
FORECAST = "#7a4a00"


@dataclass(frozen=True)
class Point:
    label: str  # x-axis label, e.g. "21:14"
    value: float | None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class Forecast:
    value: float
    lower: float | None = None
    upper: float | None = None


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _y_range(points: Sequence[Point], thresholds: Sequence[float], forecast: Forecast | None) -> tuple[float, float]:
    values = _finite([p.value for p in points] + [p.lower for p in points] + [p.upper for p in points])
    values += list(thresholds)
    if forecast is not None:
        values += _finite([forecast.value, forecast.lower, forecast.upper])
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 0.02)
    return low - pad, high + pad


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / (count - 1)
    return [low + step * index for index in range(count)]


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    metric: str,
    thresholds: Sequence[float] = (),
    forecast: Forecast | None = None,
    chart_id: str = "metric-chart",
) -> str:
    """The SVG markup of the chart (safe to embed: every text is escaped)."""
    slots = len(points) + (1 if forecast is not None else 0)
    low, high = _y_range(points, thresholds, forecast)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * (index + 0.5) / max(slots, 1))

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    described = [f"{p.label}: {'n/a' if p.value is None else f'{p.value:.3f}'}" for p in points]
    parts = [
        f'<svg id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(metric)} per check, oldest first: '
        f"{escape('; '.join(described) or 'no checks yet')}.</desc>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#c9d1d9"/>',
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eceff2"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" fill="#4a5360">'
            f"{tick:.2f}</text>"
        )
    band = [(index, p) for index, p in enumerate(points) if p.lower is not None and p.upper is not None]
    if len(band) >= 2:
        upper = " ".join(f"{x(i):.1f},{y(p.upper):.1f}" for i, p in band)
        lower = " ".join(f"{x(i):.1f},{y(p.lower):.1f}" for i, p in reversed(band))
        parts.append(f'<polygon class="confidence-band" points="{upper} {lower}" fill="{BAND}" fill-opacity="0.12"/>')
    for threshold in thresholds:
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="{THRESHOLD}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{LEFT + plot_w - 4}" y="{y(threshold) - 5:.1f}" font-size="11" text-anchor="end" '
            f'fill="{THRESHOLD}">threshold {threshold:g}</text>'
        )
    defined = [(index, p) for index, p in enumerate(points) if p.value is not None]
    if len(defined) >= 2:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in defined)
        parts.append(f'<polyline class="series" points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for index, p in defined:
        parts.append(f'<circle cx="{x(index):.1f}" cy="{y(p.value):.1f}" r="3" fill="{LINE}"/>')
    if forecast is not None:
        fx = x(len(points))
        if forecast.lower is not None and forecast.upper is not None:
            parts.append(
                f'<line x1="{fx:.1f}" x2="{fx:.1f}" y1="{y(forecast.lower):.1f}" y2="{y(forecast.upper):.1f}" '
                f'stroke="{FORECAST}" stroke-width="2"/>'
            )
        parts.append(
            f'<circle class="forecast" cx="{fx:.1f}" cy="{y(forecast.value):.1f}" r="5" fill="#fff" '
            f'stroke="{FORECAST}" stroke-width="2"/>'
        )
    step = max(1, math.ceil(slots / 8))
    labels = [p.label for p in points] + (["next"] if forecast is not None else [])
    for index, label in enumerate(labels):
        if index % step == 0 or index == len(labels) - 1:
            parts.append(
                f'<text x="{x(index):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" '
                f'fill="#4a5360">{escape(label)}</text>'
            )
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="12" fill="#1b1f24" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})" text-anchor="middle">{escape(metric)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
