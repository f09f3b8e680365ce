"""Server-side SVG line charts for fairness metrics over checks. Pure: no Django, no JavaScript, no CDN.

A chart shows one metric per check with its confidence band, the policy's threshold line(s), and optionally a
forecast point with its prediction interval. The SVG carries a <title> and <desc> for screen readers, and
callers also render the same numbers as a table.

Axes read right: the y ticks are round numbers (1, 2, 2.5 or 5 times a power of ten) and the axis spans whole
ticks; the x labels are window ends in UTC, the date shown where it changes, thinned so that none overlap, and
the axis says its time zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 760, 300
SMALL = (380, 230)  # small multiples: drawn at about 300 px wide, so fewer, larger-looking labels
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 18, 52
LABEL_SPACING = 88  # user units per x label: a "12-31 23:00" label at font size 11 is about 70 wide
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


def time_labels(times: Sequence[datetime]) -> list[str]:
    """Unique, short x labels for window ends (aware, UTC): "MM-DD HH:MM" for the first and wherever the day
    changes, "HH:MM" otherwise; seconds are added only to tell two ends within one minute apart."""
    labels = []
    previous: datetime | None = None
    for moment in times:
        same_day = previous is not None and moment.date() == previous.date()
        label = f"{moment:%H:%M}" if same_day else f"{moment:%m-%d %H:%M}"
        if label in labels:
            label = f"{label}:{moment:%S}"
        labels.append(label)
        previous = moment
    return labels


def nice_step(span: float, intervals: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into about ``intervals``."""
    raw = max(span, 1e-9) / intervals
    power = 10 ** math.floor(math.log10(raw))
    return next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= raw - 1e-12)


def _y_axis(
    points: Sequence[Point], thresholds: Sequence[float], forecast: Forecast | None
) -> tuple[float, float, list[float]]:
    """The y range, widened to whole round ticks, and the ticks."""
    values = _finite([p.value for p in points] + [p.lower for p in points] + [p.upper for p in points])
    values += list(thresholds)
    if forecast is not None:
        values += _finite([forecast.value, forecast.lower, forecast.upper])
    if not values:
        values = [0.0, 1.0]
    low, high = min(values), max(values)
    if high - low < 0.02:  # a flat series: give it room
        low, high = low - 0.01, high + 0.01
    step = nice_step(high - low)
    start, end = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    ticks = [start + step * index for index in range(round((end - start) / step) + 1)]
    return start, end, ticks


def _tick_text(value: float, step: float) -> str:
    """A tick's label with as many decimals as the step needs (2.5 x 10^k needs one more than its power)."""
    power = math.floor(math.log10(step) + 1e-9)
    decimals = max(0, -power + (1 if math.isclose(step / 10**power, 2.5) else 0))
    text = f"{value:.{decimals}f}"
    return f"{0:.{decimals}f}" if float(text) == 0 else text


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    metric: str,
    thresholds: Sequence[float] = (),
    forecast: Forecast | None = None,
    chart_id: str = "metric-chart",
    size: tuple[int, int] = (WIDTH, HEIGHT),
    x_title: str = "window end (UTC)",
) -> str:
    """The SVG markup of the chart (safe to embed: every text is escaped)."""
    width, height = size
    slots = len(points) + (1 if forecast is not None else 0)
    low, high, ticks = _y_axis(points, thresholds, forecast)
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * (index + 0.5) / max(slots, 1))

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    described = [f"{p.label}: {'n/a' if p.value is None else f'{p.value:.3f}'}" for p in points]
    parts = [
        f'<svg id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(metric)} per check, oldest first: '
        f"{escape('; '.join(described) or 'no checks yet')}.</desc>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#c9d1d9"/>',
    ]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eceff2"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
            'fill="#4a5360">'
            f"{_tick_text(tick, step)}</text>"
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
    labels = [p.label for p in points] + (["next"] if forecast is not None else [])
    room = max(1, plot_w // LABEL_SPACING)
    every = max(1, math.ceil(len(labels) / room))
    # Thinned from the end: the latest window (and the forecast) always has its label.
    shown = {len(labels) - 1 - index for index in range(0, len(labels), every)}
    for index, label in enumerate(labels):
        if index in shown:
            parts.append(
                f'<text class="x-label" x="{x(index):.1f}" y="{height - BOTTOM + 16}" font-size="11" '
                'text-anchor="middle" '
                f'fill="#4a5360">{escape(label)}</text>'
            )
    if x_title:
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
            f'fill="#4a5360">{escape(x_title)}</text>'
        )
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="12" fill="#1b1f24" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})" text-anchor="middle">{escape(metric)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def histogram_chart(
    current: Sequence[int], baseline: Sequence[int] | None, *, title: str, chart_id: str, size: tuple[int, int] = SMALL
) -> str:
    """Two score distributions over equal bins of [0, 1] as shares of their rows: the window's as filled bars,
    the baseline's as outlined ones beside them (so the two differ by more than colour)."""
    width, height = size
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    bins = len(current)

    def shares(counts: Sequence[int] | None) -> list[float]:
        total = sum(counts or ())
        return [count / total for count in counts] if counts and total else [0.0] * bins

    window, reference = shares(current), shares(baseline)
    top = max([*window, *reference, 0.01])
    step = nice_step(top)
    ceiling = math.ceil(top / step - 1e-9) * step
    ticks = [step * index for index in range(round(ceiling / step) + 1)]

    def y(share: float) -> float:
        return TOP + plot_h * (1 - share / ceiling)

    slot = plot_w / max(bins, 1)
    described = "; ".join(
        f"{index / bins:.1f}-{(index + 1) / bins:.1f}: window {share:.0%}, baseline {base:.0%}"
        for index, (share, base) in enumerate(zip(window, reference, strict=True))
    )
    parts = [
        f'<svg id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">Share of rows per score bin: {escape(described)}.</desc>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#c9d1d9"/>',
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eceff2"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#4a5360">{tick:.0%}</text>'
        )
    for index, (share, base) in enumerate(zip(window, reference, strict=True)):
        left = LEFT + slot * index
        bar = slot * 0.4
        parts.append(
            f'<rect class="window-bar" x="{left + slot * 0.1:.1f}" y="{y(share):.1f}" width="{bar:.1f}" '
            f'height="{TOP + plot_h - y(share):.1f}" fill="{LINE}"/>'
        )
        if baseline is not None:
            parts.append(
                f'<rect class="baseline-bar" x="{left + slot * 0.5:.1f}" y="{y(base):.1f}" width="{bar:.1f}" '
                f'height="{TOP + plot_h - y(base):.1f}" fill="#fff" stroke="#4a5360" stroke-width="1.2"/>'
            )
    for fraction in (0.0, 0.5, 1.0):
        parts.append(
            f'<text class="x-label" x="{LEFT + plot_w * fraction:.1f}" y="{height - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle" fill="#4a5360">{fraction:g}</text>'
        )
    legend = "score · filled: this window" + (" · outlined: baseline" if baseline is not None else "")
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
        f'fill="#4a5360">{escape(legend)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
