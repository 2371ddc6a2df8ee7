"""Small charts drawn on the server as SVG from plain numbers: counts over time as columns,
values by name as horizontal bars, and percentiles by name as ranges. Each chart is an image
to assistive technology (role="img" and an aria-label), each mark tells its number in a <title>
and carries it in data-* attributes; no script, no CDN. Every text is escaped."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 560, 48, 12, 12, 30  # the columns' frame, in pixels
ROW, NAMES, HEAD = 24, 170, 16  # a bar's row, the names' column, the ranges' header row, in pixels
GRID, AXIS, TEXT = "#e5e7eb", "#6e7781", "#24292f"


def columns(chart_id: str, counts: Sequence[int], step: float, label: str, colour: str,
            height: int = 150) -> Markup:
    """Counts per bucket of `step` seconds, the latest last, as columns whose height is the rate
    (count / step per second); the x axis is how long ago, the chart's data-total the counts' sum."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    top = _ceiling(max(counts, default=0) / step)
    width = plot_w / max(len(counts), 1)
    marks = [_grid(TOP + plot_h * (1 - share), f"{top * share:g}/s") for share in (0, 0.5, 1)]
    marks += _ago_ticks(len(counts), step, width, TOP + plot_h)
    for index, count in enumerate(counts):
        ago = (len(counts) - index) * step
        bar_h = plot_h * count / step / top
        marks.append(f'<rect class="bar" data-count="{count}" x="{LEFT + index * width + 1:.1f}" '
                     f'y="{TOP + plot_h - bar_h:.1f}" width="{max(width - 2, 1):.1f}" height="{bar_h:.1f}" '
                     f'fill="{colour}"><title>{ago:g} to {ago - step:g} s ago: {count} '
                     f'({count / step:.3g}/s)</title></rect>')
    total = sum(counts)
    span = len(counts) * step
    summary = f"{label}: {total} in the last " + (f"{span / 60:g} minutes" if span % 60 == 0 else f"{span:g} s")
    return _svg(chart_id, WIDTH, height, summary, marks, f'data-total="{total}"')


def bars(chart_id: str, values: Mapping[str, float], label: str, colour: str, unit: str = "") -> Markup:
    """Values by name as horizontal bars, in the order given, each with its number at its end;
    a chart with no values says there is nothing to show."""
    if not values:
        return _svg(chart_id, WIDTH, ROW + 8, f"{label}: none", [_note("nothing to show yet")], 'data-total="0"')
    top = _ceiling(max(values.values()))
    span = WIDTH - NAMES - 70
    marks = []
    for row, (name, value) in enumerate(values.items()):
        y, length = 4 + row * ROW, span * value / top
        shown = f"{_number(value)}{unit}"
        marks.append(f'<text x="{NAMES - 8}" y="{y + 15}" text-anchor="end" fill="{TEXT}">{escape(name)}</text>'
                     f'<rect class="bar" data-name="{escape(name)}" data-value="{value:g}" x="{NAMES}" y="{y + 3}" '
                     f'width="{max(length, 1):.1f}" height="{ROW - 8}" fill="{colour}"><title>{escape(name)}: '
                     f'{shown}</title></rect><text x="{NAMES + length + 6:.1f}" y="{y + 15}" fill="{TEXT}">{shown}</text>')
    summary = f"{label}: " + ", ".join(f"{name} {_number(value)}{unit}" for name, value in values.items())
    return _svg(chart_id, WIDTH, 8 + ROW * len(values), summary, marks, f'data-total="{sum(values.values()):g}"')


def ranges(chart_id: str, percentiles: Mapping[str, Mapping[str, float]], label: str) -> Markup:
    """Percentiles in seconds by name (each a mapping such as p50, p95, p99, smallest first) as a line
    from the first to the last with a dot at each, on an axis in milliseconds shared by all the names."""
    if not percentiles:
        return _svg(chart_id, WIDTH, ROW + 8, f"{label}: none", [_note("nothing handled in the window")])
    top = _ceiling(1000 * max(max(values.values()) for values in percentiles.values()))
    span, axis_y = WIDTH - NAMES - RIGHT - 150, HEAD + ROW * len(percentiles) + 4
    keys = " · ".join(next(iter(percentiles.values())))
    marks = [f'<text x="{NAMES + span + 10}" y="{HEAD - 4}" fill="{AXIS}">{escape(keys)} (ms)</text>',
             f'<line x1="{NAMES}" y1="{axis_y}" x2="{NAMES + span}" y2="{axis_y}" stroke="{AXIS}"/>']
    marks += [f'<text x="{NAMES + span * share}" y="{axis_y + 14}" text-anchor="middle" fill="{AXIS}">'
              f'{top * share:g} ms</text>' for share in (0, 0.5, 1)]
    for row, (name, values) in enumerate(percentiles.items()):
        marks.append(_range(name, {key: 1000 * seconds for key, seconds in values.items()}, HEAD + row * ROW, top, span))
    summary = f"{label}: " + "; ".join(
        f"{name} " + ", ".join(f"{key} {_millis(1000 * seconds)} ms" for key, seconds in values.items())
        for name, values in percentiles.items())
    return _svg(chart_id, WIDTH, axis_y + 20, summary, marks)


def _range(name: str, millis: Mapping[str, float], y: float, top: float, span: float) -> str:
    """One name's row of a ranges chart: its line, its dots, its numbers."""
    x = {key: NAMES + span * value / top for key, value in millis.items()}
    middle = y + ROW / 2
    attributes = " ".join(f'data-{key}="{value:.2f}"' for key, value in millis.items())
    dots = "".join(f'<circle cx="{x[key]:.1f}" cy="{middle}" r="4" fill="#0969da" fill-opacity="{0.4 + 0.3 * rank}">'
                   f'<title>{escape(name)} {key}: {_millis(value)} ms</title></circle>'
                   for rank, (key, value) in enumerate(millis.items()))
    told = " · ".join(_millis(value) for value in millis.values())
    return (f'<g class="range" data-name="{escape(name)}" {attributes}>'
            f'<text x="{NAMES - 8}" y="{middle + 4}" text-anchor="end" fill="{TEXT}">{escape(name)}</text>'
            f'<line x1="{min(x.values()):.1f}" y1="{middle}" x2="{max(x.values()):.1f}" y2="{middle}" stroke="#0969da" '
            f'stroke-width="2"/>{dots}<text x="{NAMES + span + 10}" y="{middle + 4}" fill="{TEXT}">{told}</text></g>')


def _ago_ticks(buckets: int, step: float, width: float, base: float) -> list[str]:
    """The x axis of a columns chart: a tick each minute, labelled how long ago, and "now"."""
    every = max(1, round(60 / step))
    ticks = [f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="{AXIS}"/>']
    for index in range(0, buckets + 1, every):
        ago = (buckets - index) * step
        text = "now" if ago == 0 else f"−{ago / 60:g} min"
        ticks.append(f'<text x="{LEFT + index * width:.1f}" y="{base + 16}" text-anchor="middle" fill="{AXIS}">'
                     f'{text}</text>')
    return ticks


def _grid(y: float, text: str) -> str:
    return (f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{text}</text>')


def _note(text: str) -> str:
    return f'<text x="{NAMES}" y="20" fill="{AXIS}" font-style="italic">{escape(text)}</text>'


def _svg(chart_id: str, width: int, height: int, summary: str, marks: list[str], extra: str = "") -> Markup:
    return Markup(f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
                  f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" '
                  f'font-size="11" role="img" aria-label="{escape(summary)}" {extra}>'
                  f'<title>{escape(summary)}</title>{"".join(marks)}</svg>')


def _ceiling(value: float) -> float:
    """The top of an axis: the least of 1, 2 or 5 times a power of ten that is at least `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(round(step * power, 12) for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-12))


def _millis(value: float) -> str:
    """Milliseconds as a reader takes them in: whole from ten, one decimal from one, two below."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.3g}"
