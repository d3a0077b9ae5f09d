"""Bar charts laid out once, drawn twice: as inline SVG for HTML and as a reportlab Drawing
for the PDF, so both formats show the same picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.colors import HexColor

Anchor = Literal["start", "middle", "end"]
PALETTE = ("#2f6db5", "#e0873a", "#4a9e5c")
_TEXT = "#333333"
_AXIS = "#999999"


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float  # top edge, measured from the top of the chart (SVG convention)
    width: float
    height: float
    colour: str
    value: int


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float  # baseline, from the top
    text: str
    anchor: Anchor
    size: float = 9


@dataclass(frozen=True, slots=True)
class BarChart:
    """A laid-out grouped bar chart: every shape has its final coordinates."""

    title: str
    width: float
    height: float
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    axis: tuple[float, float, float, float]  # x1, y1, x2, y2 of the base line
    legend: tuple[tuple[str, str], ...]

    def to_svg(self) -> str:
        """Return the chart as a standalone <svg> element (text escaped)."""
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" '
            f'height="{self.height:.0f}" viewBox="0 0 {self.width:.0f} {self.height:.0f}" '
            f'role="img" aria-label="{escape(self.title)}">',
            f"<title>{escape(self.title)}</title>",
        ]
        for bar in self.bars:
            parts.append(
                f'<rect x="{bar.x:.1f}" y="{bar.y:.1f}" width="{bar.width:.1f}" '
                f'height="{bar.height:.1f}" fill="{bar.colour}"/>'
            )
        x1, y1, x2, y2 = self.axis
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{_AXIS}"/>'
        )
        for label in self.labels:
            parts.append(
                f'<text x="{label.x:.1f}" y="{label.y:.1f}" font-size="{label.size:.0f}" '
                f'font-family="Helvetica, Arial, sans-serif" fill="{_TEXT}" '
                f'text-anchor="{label.anchor}">{escape(label.text)}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)

    def to_drawing(self) -> Drawing:
        """Return the chart as a reportlab Drawing (y flipped to PDF's upward axis)."""
        drawing = Drawing(self.width, self.height)
        for bar in self.bars:
            rect = Rect(bar.x, self.height - bar.y - bar.height, bar.width, bar.height)
            rect.fillColor = HexColor(bar.colour)
            rect.strokeColor = None
            drawing.add(rect)
        x1, y1, x2, y2 = self.axis
        drawing.add(Line(x1, self.height - y1, x2, self.height - y2, strokeColor=HexColor(_AXIS)))
        for label in self.labels:
            drawing.add(
                String(
                    label.x,
                    self.height - label.y,
                    label.text,
                    fontName="Helvetica",
                    fontSize=label.size,
                    fillColor=HexColor(_TEXT),
                    textAnchor=label.anchor,
                )
            )
        return drawing


def bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    width: float = 480,
    height: float = 200,
) -> BarChart:
    """Lay out a grouped bar chart of ``series`` (name, one value per category)."""
    left, right, top, bottom = 10.0, 10.0, 34.0, 28.0
    plot_width = width - left - right
    plot_height = height - top - bottom
    peak = max([1, *(value for _name, values in series for value in values)])
    group = plot_width / max(1, len(categories))
    bar_width = group * 0.8 / max(1, len(series))
    base = top + plot_height
    bars: list[Bar] = []
    labels: list[Label] = [Label(left, 14, title, "start", 11)]
    for index, category in enumerate(categories):
        group_x = left + index * group + group * 0.1
        for number, (_name, values) in enumerate(series):
            value = values[index]
            bar_height = plot_height * value / peak
            x = group_x + number * bar_width
            bars.append(
                Bar(x, base - bar_height, bar_width * 0.92, bar_height, PALETTE[number], value)
            )
            labels.append(
                Label(x + bar_width * 0.46, base - bar_height - 3, str(value), "middle", 7)
            )
        labels.append(Label(left + index * group + group / 2, base + 12, category, "middle", 7))
    legend = tuple((name, PALETTE[number]) for number, (name, _values) in enumerate(series))
    legend_x = width - right
    for name, colour in reversed(legend):
        labels.append(Label(legend_x, 14, name, "end", 8))
        bars.append(Bar(legend_x - len(name) * 4.4 - 12, 6, 8, 8, colour, 0))
        legend_x -= len(name) * 4.4 + 24
    return BarChart(
        title=title,
        width=width,
        height=height,
        bars=tuple(bars),
        labels=tuple(labels),
        axis=(left, base, width - right, base),
        legend=legend,
    )
