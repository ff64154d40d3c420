"""Geometry of the console's bar charts, computed here and drawn as inline SVG by a template.

Sizes are SVG presentation attributes (x, y, width, height), not style=: the page's
Content-Security-Policy forbids inline styles. Pure: no I/O."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str  # the value as people read it, drawn after the bar
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    title: str
    summary: str  # what a screen reader says instead of the picture
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int
    bar_span: int  # the longest bar, for the largest value


def horizontal_bars(
    title: str,
    items: list[tuple[str, float, str]],
    *,
    width: int = 560,
    label_width: int = 140,
    bar_height: int = 22,
    gap: int = 8,
    value_room: int = 90,
) -> BarChart:
    """One bar per (label, value, shown) in the order given, scaled to the largest value; a
    value of 0 still gets a sliver so that its row reads as a bar of nothing, not a gap."""
    span = max(width - label_width - value_room, 10)
    top = max((v for _, v, _ in items), default=0) or 1
    bars = [
        Bar(label, shown, i * (bar_height + gap), max(round(span * value / top), 1))
        for i, (label, value, shown) in enumerate(items)
    ]
    summary = f"{title}: " + (", ".join(f"{label} {shown}" for label, _, shown in items) or "no data")
    height = max(len(items) * (bar_height + gap) - gap, bar_height)
    return BarChart(title, summary, bars, width, height, label_width, bar_height, span)
