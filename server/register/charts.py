"""Chart geometry for server-side inline SVG: the template draws rectangles from these numbers,
so no script and no chart library are needed, and every label stays escaped text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    baseline: float
    bars: tuple[Bar, ...]
    max_value: int
    summary: str


def bar_chart(
    points: Sequence[tuple[str, int]], *, width: int = 560, height: int = 180, title: str = ""
) -> BarChart:
    """Lay out one bar per point, scaled to the largest value, with room for labels below."""
    top, bottom = 16, 28
    plot = height - top - bottom
    largest = max((value for _label, value in points), default=0)
    scale = plot / largest if largest else 0
    slot = width / max(len(points), 1)
    gap = min(8.0, slot * 0.25)
    bars = tuple(
        Bar(
            x=round(index * slot + gap / 2, 1),
            y=round(top + plot - value * scale, 1),
            width=round(slot - gap, 1),
            height=round(value * scale, 1),
            label=label,
            value=value,
        )
        for index, (label, value) in enumerate(points)
    )
    summary = ", ".join(f"{label}: {value}" for label, value in points)
    return BarChart(width, height, top + plot, bars, largest, f"{title}. {summary}".strip(". "))


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    width: float
    label: str
    value: int
    css: str


def stacked_bar(parts: Sequence[tuple[str, int, str]], *, width: int = 560) -> tuple[Segment, ...]:
    """Split one horizontal bar into segments proportional to each part."""
    total = sum(value for _label, value, _css in parts)
    if not total:
        return ()
    segments, x = [], 0.0
    for label, value, css in parts:
        if value:
            part = width * value / total
            segments.append(Segment(round(x, 1), round(part, 1), label, value, css))
            x += part
    return tuple(segments)
