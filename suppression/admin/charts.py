"""30-day charts drawn on the server as SVG: no script, no library, nothing fetched.

A rate is drawn as its rule reads it: over the rule's window ending that day, and only on days
with the rule's minimum volume (below it the rate is undefined, so the line has a gap, never a
fall to zero). The warning and critical thresholds are drawn across.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

from config.policy import Rate
from suppression.policy import Counts

WIDTH, HEIGHT = 600, 160
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 10, 22  # margins: room for the axis labels


@dataclass(frozen=True)
class Point:
    day: date
    value: float | None  # None: undefined that day


def volume(series: list[tuple[date, Counts]], days: int) -> list[Point]:
    """Sends per day over the last `days` days of `series`."""
    return [Point(day, float(counts.sends)) for day, counts in series[-days:]]


def rolling_rate(series: list[tuple[date, Counts]], counter: str, rule: Rate, days: int) -> list[Point]:
    """For each of the last `days` days of `series`, the rule's rate over its window ending then.
    `series` must start rule.days - 1 days before the first day shown."""
    points = []
    for end in range(len(series) - days, len(series)):
        window = [counts for _, counts in series[max(0, end - rule.days + 1):end + 1]]
        sends, events = sum(c.sends for c in window), sum(getattr(c, counter) for c in window)
        defined = sends >= max(rule.min_sends, 1)
        points.append(Point(series[end][0], events / sends if defined else None))
    return points


def bars(title: str, points: list[Point]) -> Markup:
    """A bar chart of `points` (volume)."""
    top = max([p.value or 0 for p in points] + [1.0])
    width = _plot_width() / max(len(points), 1)
    rects = "".join(
        f'<rect x="{LEFT + i * width + 1:.1f}" y="{_y(p.value or 0, top):.1f}" width="{max(width - 2, 1):.1f}" '
        f'height="{_y(0, top) - _y(p.value or 0, top):.1f}" class="bar"><title>{p.day}: {p.value:,.0f}</title></rect>'
        for i, p in enumerate(points))
    return _svg(title, rects + _axes(points, top, lambda v: f"{v:,.0f}"))


def line(title: str, points: list[Point], warning: float, critical: float | None) -> Markup:
    """A line of `points` (rates) with the warning and critical thresholds drawn across."""
    values = [p.value for p in points if p.value is not None]
    top = max(values + [warning * 1.5, (critical or 0) * 1.2, 1e-6])
    marks = _threshold(warning, top, "warning") + (_threshold(critical, top, "critical") if critical else "")
    return _svg(title, marks + _path(points, top) + _axes(points, top, _percent))


def _path(points: list[Point], top: float) -> str:
    step = _plot_width() / max(len(points) - 1, 1)
    runs, current = [], []
    for i, p in enumerate(points):
        if p.value is None:  # a gap: the rate is undefined that day
            runs, current = runs + [current] if current else runs, []
            continue
        current.append(f"{LEFT + i * step:.1f},{_y(p.value, top):.1f}")
    runs += [current] if current else []
    lines = "".join(f'<polyline points="{" ".join(run)}" class="rate"/>' for run in runs if len(run) > 1)
    dots = "".join(f'<circle cx="{LEFT + i * step:.1f}" cy="{_y(p.value, top):.1f}" r="2.5" class="dot">'
                   f"<title>{p.day}: {_percent(p.value)}</title></circle>"
                   for i, p in enumerate(points) if p.value is not None)
    return lines + dots


def _threshold(value: float, top: float, kind: str) -> str:
    y = _y(value, top)
    return (f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="{kind}"/>'
            f'<text x="{WIDTH - RIGHT - 2}" y="{y - 3:.1f}" text-anchor="end" class="{kind}-label">'
            f"{kind} {_percent(value)}</text>")


def _axes(points: list[Point], top: float, label) -> str:
    bottom = HEIGHT - BOTTOM
    first, last = (points[0].day, points[-1].day) if points else ("", "")
    return (f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" class="axis"/>'
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}" class="axis"/>'
            f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">{label(top)}</text>'
            f'<text x="{LEFT - 4}" y="{bottom}" text-anchor="end">{label(0)}</text>'
            f'<text x="{LEFT}" y="{HEIGHT - 6}">{first}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{last}</text>')


def _svg(title: str, body: str) -> Markup:
    return Markup(f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" aria-label="{escape(title)}" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def _y(value: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - min(value, top) / top)


def _plot_width() -> float:
    return WIDTH - LEFT - RIGHT


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"
