"""The one chart model: laid out once, drawn as SVG and as a PDF drawing with the same shapes."""

from __future__ import annotations

import re

from reportlab.graphics.shapes import Line as DrawingLine
from reportlab.graphics.shapes import Rect as DrawingRect
from reportlab.graphics.shapes import String

from server.charts import Chart, bar_chart, grouped_bar_chart, stacked_bar

HOSTILE = '<img src=x onerror="alert(1)">'


def _svg_rects(svg: str) -> list[tuple[float, float, float, float]]:
    return [
        tuple(float(value) for value in found)  # type: ignore[misc]
        for found in re.findall(
            r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg
        )
    ]


def test_svg_and_pdf_draw_the_same_shapes() -> None:
    chart = grouped_bar_chart(
        title="Adoption",
        categories=["w1", "w2", "w3"],
        series=[("services", [1, 4, 9]), ("hosts", [2, 3, 5])],
    )
    svg = chart.to_svg()
    shapes = chart.to_drawing().contents
    rects = [shape for shape in shapes if isinstance(shape, DrawingRect)]
    texts = [shape for shape in shapes if isinstance(shape, String)]
    assert len([s for s in shapes if isinstance(s, DrawingLine)]) == svg.count("<line ") == 1
    assert len(rects) == svg.count("<rect ") == 3 * 2 + 2  # bars and legend swatches
    assert [t.text for t in texts] == re.findall(r">([^<]*)</text>", svg)
    # The PDF's y axis points up: flip it back and the two agree to the SVG's precision.
    for (x, y, width, height), rect in zip(_svg_rects(svg), rects, strict=True):
        flipped = chart.height - rect.y - rect.height
        assert abs(x - rect.x) <= 0.05 and abs(y - flipped) <= 0.05
        assert abs(width - rect.width) <= 0.05 and abs(height - rect.height) <= 0.05
    # Bars go category by category, series by series; the peak (9) fills the plot's height.
    assert rects[4].height == max(rect.height for rect in rects) == 200 - 34 - 28


def test_every_text_is_escaped_in_svg() -> None:
    for chart in (
        grouped_bar_chart(title=HOSTILE, categories=[HOSTILE], series=[(HOSTILE, [3])]),
        bar_chart([(HOSTILE, 2)], title=HOSTILE, tip=HOSTILE + "{label}"),
        stacked_bar([(HOSTILE, 2, "approved")], title=HOSTILE),
    ):
        svg = chart.to_svg()
        assert "<img" not in svg and "&lt;img" in svg
        assert chart.__html__() == svg


def test_a_page_chart_leaves_its_look_to_the_style_sheet() -> None:
    chart = bar_chart(
        [("01 Jan", 0), ("08 Jan", 3), ("15 Jan", 1)],
        title="Per week",
        tip="Week of {label}: {value}",
    )
    svg = chart.to_svg()
    # No inline style (the page's CSP forbids it) and no colour of its own.
    assert "style=" not in svg and "fill=" not in svg
    assert 'class="bars"' in svg and svg.count('class="bar"') == 3
    assert "<title>Week of 08 Jan: 3</title>" in svg
    assert "<desc>Per week. 01 Jan: 0, 08 Jan: 3, 15 Jan: 1</desc>" in svg
    # A value over each bar that has one; the first and every other label, and the last.
    assert re.findall(r'class="bar-value">(\d+)<', svg) == ["3", "1"]
    assert re.findall(r'class="bar-label">([^<]+)<', svg) == ["01 Jan", "15 Jan"]


def test_a_stacked_bar_splits_its_width_by_value() -> None:
    chart = stacked_bar(
        [("approved", 3, "approved"), ("suspended", 0, "suspended"), ("prohibited", 1, "x")],
        title="Decisions",
        width=400,
    )
    widths = [rect[2] for rect in _svg_rects(chart.to_svg())]
    assert widths == [300.0, 100.0]
    assert "<desc>approved: 3, prohibited: 1</desc>" in chart.to_svg()
    empty = stacked_bar([("approved", 0, "approved")], title="Decisions")
    assert isinstance(empty, Chart) and empty.marks == ()
