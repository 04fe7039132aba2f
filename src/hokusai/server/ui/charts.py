"""A model's lineage as an inline SVG chart, drawn on the server (no chart library, no script).

Two panels share the x axis (the model's versions, in lineage order): the primary metric of each version
(the baseline's from the first evaluation against it, each candidate's from its run) and the cumulative
improvement (the sum of the counted accepted gains so far, in the metric's delta unit). Accepted versions
are filled dots joined by the lineage line; rejected candidates are hollow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

WIDTH, PANEL_HEIGHT, GAP = 720, 190, 56
LEFT, RIGHT, TOP = 72, 24, 34


@dataclass(frozen=True)
class Point:
    """One version on the chart."""

    version: str
    value: float | None  # the primary metric (None: never evaluated)
    accepted: bool  # the baseline or an accepted improvement
    cumulative: float  # cumulative improvement once this version is counted


@dataclass(frozen=True)
class LineageChart:
    """The chart's points and its SVG markup."""

    metric: str
    unit: str | None
    points: list[Point]
    svg: Markup


def lineage_points(history: dict[str, Any]) -> tuple[str | None, list[Point]]:
    """The primary metric's name and one point per version of ``history`` (``services.models.lineage``)."""
    versions = history["versions"]
    evaluated = [v for v in versions if v.get("run_id") and v.get("metric_deltas")]
    if not evaluated:
        return None, []
    metric = evaluated[0].get("primary_metric")
    baseline_value = (evaluated[0]["metric_deltas"].get(metric) or {}).get("baseline")
    points, total = [], 0.0
    for entry in versions:
        deltas = (entry.get("metric_deltas") or {}).get(metric) or {}
        accepted = entry["role"] in ("baseline", "improvement")
        if entry.get("run_id"):
            value = deltas.get("candidate")
            gain = entry.get("gain", entry.get("delta_pp"))
            if entry["role"] == "improvement" and entry.get("counted") and gain is not None:
                total += float(gain)
        else:
            value = baseline_value if entry["role"] == "baseline" else None
        points.append(Point(entry["version"], value, accepted, round(total, 6)))
    return metric, points


def _scale(values: list[float], top: float, height: float) -> tuple[float, float, Any]:
    low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 0.5 * (abs(low) or 1) * 0.02, high + 0.5 * (abs(high) or 1) * 0.02
    pad = (high - low) * 0.12
    low, high = low - pad, high + pad

    def y(value: float) -> float:
        return top + height - (value - low) / (high - low) * height

    return low, high, y


def nice_ticks(low: float, high: float) -> list[float]:
    """At most five grid values inside ``[low, high]`` on round steps (1, 2, 2.5 or 5 times a power of ten:
    matplotlib's ``MaxNLocator``), never the data's own odd values."""
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    return [round(float(t), 12) for t in ticks if low - 1e-12 <= t <= high + 1e-12]


def _panel(
    points: list[Point], values: list[float | None], top: float, title: str, fmt: str, xs: list[float]
) -> list[str]:
    known = [v for v in values if v is not None]
    height = PANEL_HEIGHT
    parts = [f'<text class="chart-title" x="{LEFT}" y="{top - 12:.1f}">{escape(title)}</text>']
    if not known:
        return parts
    low, high, y = _scale(known, top, height)
    for tick in nice_ticks(low, high):  # grid lines and their labels
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="tick" x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{format(tick, fmt)}</text>"
        )
    path = [(x, y(v)) for x, v, p in zip(xs, values, points, strict=True) if v is not None and p.accepted]
    if len(path) > 1:
        line = " ".join(f"{x:.1f},{py:.1f}" for x, py in path)
        parts.append(f'<polyline class="series" points="{line}"/>')
    for x, value, point in zip(xs, values, points, strict=True):
        if value is None:
            continue
        kind = "accepted" if point.accepted else "rejected"
        label = f"version {point.version}: {format(value, fmt)}"
        parts.append(
            f'<circle class="dot {kind}" cx="{x:.1f}" cy="{y(value):.1f}" r="5">'
            f"<title>{escape(label)}</title></circle>"
            f'<text class="value" x="{x:.1f}" y="{y(value) - 10:.1f}" text-anchor="middle">'
            f"{format(value, fmt)}</text>"
        )
    return parts


def lineage_chart(history: dict[str, Any]) -> LineageChart | None:
    """The chart of ``history``; None when no version was evaluated yet."""
    metric, points = lineage_points(history)
    if metric is None:
        return None
    unit = history.get("unit")
    count = len(points)
    span = WIDTH - LEFT - RIGHT
    xs = [LEFT + span * (i + 0.5) / count for i in range(count)]
    second = TOP + PANEL_HEIGHT + GAP
    height = second + PANEL_HEIGHT + 44
    unit_text = f" ({unit})" if unit else ""
    parts = [
        *_panel(points, [p.value for p in points], TOP, f"{metric} by version", ".4f", xs),
        *_panel(points, [p.cumulative for p in points], second,
                f"cumulative improvement{unit_text}", "+.2f", xs),
    ]  # fmt: skip
    for x, point in zip(xs, points, strict=True):
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{height - 16}" text-anchor="middle">'
            f"v{escape(point.version)}</text>"
        )
    final = points[-1].cumulative if points else 0.0
    desc = (
        f"{metric} of {count} versions: "
        + "; ".join(f"v{p.version} {p.value:.4f}" for p in points if p.value is not None)
        + f". Cumulative improvement {final:+.2f}{unit_text}."
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">Lineage of {escape(metric)}</title>'
        f'<desc id="chart-desc">{escape(desc)}</desc>{"".join(parts)}</svg>'
    )
    return LineageChart(metric, unit, points, Markup(svg))
