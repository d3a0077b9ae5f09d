"""Charts, laid out once and drawn twice: as SVG (dashboard pages and HTML reports) and as a
reportlab Drawing (PDF reports), so that every format shows the same picture.

A chart is a list of marks (rectangles, lines, text, groups) with their final coordinates,
y measured from the top as in SVG. A mark styled by a CSS class leaves its look to the page's
style sheet; one given a colour draws itself (the only way in a standalone file or a PDF).
Drawing as SVG escapes every text, so labels that came from endpoints stay text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.shapes import Line as DrawingLine
from reportlab.graphics.shapes import Rect as DrawingRect
from reportlab.lib.colors import HexColor

Anchor = Literal["start", "middle", "end"]
PALETTE = ("#2f6db5", "#e0873a", "#4a9e5c")
_TEXT = "#333333"
_AXIS = "#999999"
_FONT = "Helvetica, Arial, sans-serif"


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float  # top edge
    width: float
    height: float
    fill: str = ""
    css: str = ""
    corner: float = 0


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = ""
    css: str = ""


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    anchor: Anchor = "middle"
    size: float = 9
    css: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """Marks that belong together (a bar and its labels), with the tooltip they share."""

    marks: tuple[Mark, ...]
    tip: str = ""


Mark = Rect | Line | Text | Group


def _n(value: float, decimals: int = 2) -> str:
    """A number as SVG text: at most ``decimals`` decimals, no trailing zeros."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _css(css: str) -> str:
    return f' class="{escape(css)}"' if css else ""


def _svg_mark(mark: Mark, decimals: int) -> str:
    def n(value: float) -> str:
        return _n(value, decimals)

    if isinstance(mark, Rect):
        corner = f' rx="{n(mark.corner)}"' if mark.corner else ""
        fill = f' fill="{mark.fill}"' if mark.fill else ""
        return (
            f'<rect x="{n(mark.x)}" y="{n(mark.y)}" width="{n(mark.width)}" '
            f'height="{n(mark.height)}"{corner}{fill}{_css(mark.css)}/>'
        )
    if isinstance(mark, Line):
        stroke = f' stroke="{mark.stroke}"' if mark.stroke else ""
        return (
            f'<line x1="{n(mark.x1)}" y1="{n(mark.y1)}" x2="{n(mark.x2)}" '
            f'y2="{n(mark.y2)}"{stroke}{_css(mark.css)}/>'
        )
    if isinstance(mark, Text):
        style = (
            _css(mark.css)
            if mark.css
            else f' font-size="{n(mark.size)}" font-family="{_FONT}" fill="{_TEXT}" '
            f'text-anchor="{mark.anchor}"'
        )
        return f'<text x="{n(mark.x)}" y="{n(mark.y)}"{style}>{escape(mark.text)}</text>'
    tip = f"<title>{escape(mark.tip)}</title>" if mark.tip else ""
    return "<g>" + tip + "".join(_svg_mark(inner, decimals) for inner in mark.marks) + "</g>"


def _drawing_marks(mark: Mark, height: float) -> list[DrawingRect | DrawingLine | String]:
    """Return the reportlab shapes of one mark, y flipped to PDF's upward axis."""
    if isinstance(mark, Rect):
        rect = DrawingRect(mark.x, height - mark.y - mark.height, mark.width, mark.height)
        rect.fillColor = HexColor(mark.fill or PALETTE[0])
        rect.strokeColor = None
        return [rect]
    if isinstance(mark, Line):
        colour = HexColor(mark.stroke or _AXIS)
        return [
            DrawingLine(mark.x1, height - mark.y1, mark.x2, height - mark.y2, strokeColor=colour)
        ]
    if isinstance(mark, Text):
        return [
            String(
                mark.x,
                height - mark.y,
                mark.text,
                fontName="Helvetica",
                fontSize=mark.size,
                fillColor=HexColor(_TEXT),
                textAnchor=mark.anchor,
            )
        ]
    return [shape for inner in mark.marks for shape in _drawing_marks(inner, height)]


@dataclass(frozen=True, slots=True)
class Chart:
    """A laid-out chart: every mark has its final coordinates."""

    title: str
    width: float
    height: float
    marks: tuple[Mark, ...]
    summary: str = ""  # the chart's content in words, for screen readers
    css: str = ""  # the class of the chart on a page
    decimals: int = 2  # how finely the SVG states coordinates

    def to_svg(self) -> str:
        """Return the chart as one <svg> element (every text escaped)."""
        # A page describes its chart with <desc>: a <title> on the root would show as a
        # tooltip over the whole chart, hiding the tooltips of its bars.
        about = (
            f"<desc>{escape(self.summary)}</desc>"
            if self.summary
            else f"<title>{escape(self.title)}</title>"
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(self.width)}" '
            f'height="{_n(self.height)}" viewBox="0 0 {_n(self.width)} {_n(self.height)}" '
            f'role="img" aria-label="{escape(self.title)}"{_css(self.css)}>'
            + about
            + "".join(_svg_mark(mark, self.decimals) for mark in self.marks)
            + "</svg>"
        )

    def __html__(self) -> str:
        """Let a template write the chart as it is: its SVG is already escaped."""
        return self.to_svg()

    def to_drawing(self) -> Drawing:
        """Return the chart as a reportlab Drawing for a PDF."""
        drawing = Drawing(self.width, self.height)
        for mark in self.marks:
            for shape in _drawing_marks(mark, self.height):
                drawing.add(shape)
        return drawing


# Layouts -------------------------------------------------------------------------------------


def grouped_bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    width: float = 480,
    height: float = 200,
) -> Chart:
    """Lay out a standalone grouped bar chart of ``series`` (name, one value per category),
    with its title, value labels and legend drawn in the chart (reports)."""
    left, right, top, bottom = 10.0, 10.0, 34.0, 28.0
    plot_width = width - left - right
    plot_height = height - top - bottom
    peak = max([1, *(value for _name, values in series for value in values)])
    group = plot_width / max(1, len(categories))
    bar_width = group * 0.8 / max(1, len(series))
    base = top + plot_height
    bars: list[Mark] = []
    labels: list[Mark] = [Text(left, 14, title, "start", 11)]
    for index, category in enumerate(categories):
        group_x = left + index * group + group * 0.1
        for number, (_name, values) in enumerate(series):
            value = values[index]
            bar_height = plot_height * value / peak
            x = group_x + number * bar_width
            bars.append(Rect(x, base - bar_height, bar_width * 0.92, bar_height, PALETTE[number]))
            labels.append(
                Text(x + bar_width * 0.46, base - bar_height - 3, str(value), "middle", 7)
            )
        labels.append(Text(left + index * group + group / 2, base + 12, category, "middle", 7))
    legend_x = width - right
    for number, (name, _values) in reversed(list(enumerate(series))):
        labels.append(Text(legend_x, 14, name, "end", 8))
        bars.append(Rect(legend_x - len(name) * 4.4 - 12, 6, 8, 8, PALETTE[number]))
        legend_x -= len(name) * 4.4 + 24
    axis = Line(left, base, width - right, base, stroke=_AXIS)
    # Reports have always stated their SVG coordinates to a tenth of a point.
    return Chart(title=title, width=width, height=height, marks=(*bars, axis, *labels), decimals=1)


def bar_chart(
    points: Sequence[tuple[str, int]],
    *,
    title: str,
    tip: str = "{label}: {value}",
    width: int = 560,
    height: int = 180,
    label_every: int = 2,
) -> Chart:
    """Lay out one bar per (label, value) point for a page, scaled to the largest value: the
    value above each bar, every ``label_every``-th label (and the last) below; the page's
    style sheet colours it (classes bars, bar, axis, bar-value, bar-label)."""
    top, bottom = 16, 28
    plot = height - top - bottom
    largest = max((value for _label, value in points), default=0)
    scale = plot / largest if largest else 0
    slot = width / max(len(points), 1)
    gap = min(8.0, slot * 0.25)
    baseline = top + plot
    marks: list[Mark] = [Line(0, baseline, width, baseline, css="axis")]
    for index, (label, value) in enumerate(points):
        bar = Rect(
            x=round(index * slot + gap / 2, 1),
            y=round(top + plot - value * scale, 1),
            width=round(slot - gap, 1),
            height=round(value * scale, 1),
            css="bar",
            corner=3,
        )
        centre = bar.x + bar.width / 2
        inner: list[Mark] = [bar]
        if value:
            inner.append(Text(centre, bar.y - 4, str(value), css="bar-value"))
        if index % label_every == 0 or index == len(points) - 1:
            inner.append(Text(centre, height - 8, label, css="bar-label"))
        marks.append(Group(tuple(inner), tip=tip.format(label=label, value=value)))
    summary = ", ".join(f"{label}: {value}" for label, value in points)
    return Chart(
        title=title,
        width=width,
        height=height,
        marks=tuple(marks),
        summary=f"{title}. {summary}".strip(". "),
        css="bars",
    )


def stacked_bar(
    parts: Sequence[tuple[str, int, str]], *, title: str, width: int = 560, height: int = 40
) -> Chart:
    """Lay out one horizontal bar split into a segment per (label, value, css) part with a
    value, each proportional to its value; a chart without marks when every value is 0."""
    total = sum(value for _label, value, _css in parts)
    marks: list[Mark] = []
    x = 0.0
    for label, value, css in parts:
        if value and total:
            part = width * value / total
            segment = Rect(round(x, 1), 4, round(part, 1), height - 8, css=f"seg seg-{css}")
            marks.append(Group((segment,), tip=f"{label}: {value}"))
            x += part
    summary = ", ".join(f"{label}: {value}" for label, value, _css in parts if value)
    return Chart(
        title=title, width=width, height=height, marks=tuple(marks), summary=summary, css="stack"
    )


def violation_chart(points: Sequence[tuple[dt.date, int]]) -> Chart:
    """Lay out violations seen per day (collector.store.inventory.list_violation_trend)."""
    return bar_chart(
        [(day.strftime("%d %b"), count) for day, count in points],
        title="Violations seen per day",
        tip="{label}: {value} violations",
        label_every=7,
    )
