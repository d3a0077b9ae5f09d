"""Render discovery figures as HTML (inline SVG charts), PDF (reportlab, the same charts)
and CSV. Pure functions of the figures: no database, no network."""

from __future__ import annotations

import csv
import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    ListFlowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from server.charts import Chart, grouped_bar_chart
from server.reports.figures import DiscoveryFigures
from server.web.templates import environment

FORMATS = ("html", "pdf", "csv")
MEDIA_TYPES = {"html": "text/html", "pdf": "application/pdf", "csv": "text/csv"}

_HEADLINE_LABELS = {
    "services_total": "AI services known",
    "new_services": "new this period",
    "hosts_using_ai": "hosts using AI",
    "unreviewed": "awaiting review",
    "prohibited_in_use": "prohibited still in use",
    "violations": "violations this week",
    "hosts_not_reporting": "hosts not reporting",
}


def _headline(figures: DiscoveryFigures) -> list[tuple[str, int]]:
    head = figures.headline()
    return [(label, head[key]) for key, label in _HEADLINE_LABELS.items()]


def adoption_chart(figures: DiscoveryFigures) -> Chart:
    return grouped_bar_chart(
        title="Adoption over time (cumulative, by week)",
        categories=[point.week_ending.strftime("%d %b") for point in figures.adoption],
        series=[
            ("AI services", [point.services for point in figures.adoption]),
            ("hosts using AI", [point.hosts for point in figures.adoption]),
            ("users", [point.users for point in figures.adoption]),
        ],
    )


def queue_chart(figures: DiscoveryFigures) -> Chart:
    return grouped_bar_chart(
        title="Unreviewed services by waiting time",
        categories=[label for label, _count in figures.unreviewed_ages],
        series=[("services", [count for _label, count in figures.unreviewed_ages])],
        height=160,
    )


def violation_chart(figures: DiscoveryFigures) -> Chart:
    return grouped_bar_chart(
        title="Violations of the register seen per week",
        categories=[week.strftime("%d %b") for week, _count in figures.violation_trend],
        series=[("violations", [count for _week, count in figures.violation_trend])],
        height=160,
    )


def render_html(figures: DiscoveryFigures) -> str:
    """Return the report as one self-contained HTML page (user text escaped)."""
    return (
        environment()
        .get_template("reports/discovery.html")
        .render(
            f=figures,
            headline=_headline(figures),
            adoption_svg=adoption_chart(figures).to_svg(),
            queue_svg=queue_chart(figures).to_svg(),
            violation_svg=violation_chart(figures).to_svg(),
        )
    )


def _table(header: list[str], rows: list[list[str]], widths: list[float]) -> Table:
    table = Table([header, *rows], colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def render_pdf(figures: DiscoveryFigures) -> bytes:
    """Return the report as a PDF with the same sections and charts as the HTML."""
    styles = getSampleStyleSheet()
    small = ParagraphStyle(
        "small", parent=styles["Normal"], fontSize=8, textColor=colors.HexColor("#666666")
    )
    story: list[Flowable] = [
        Paragraph(escape(figures.title), styles["Title"]),
        Paragraph(
            f"{figures.start:%d %b %Y} to {figures.end:%d %b %Y} (UTC), generated "
            f"{figures.generated_at:%Y-%m-%d %H:%M} UTC",
            small,
        ),
        Spacer(1, 4 * mm),
        Paragraph("Board summary", styles["Heading2"]),
        ListFlowable(
            [Paragraph(escape(line), styles["Normal"]) for line in figures.summary],
            bulletType="bullet",
        ),
        Spacer(1, 4 * mm),
    ]
    headline = _headline(figures)
    cells = [[str(value) for _label, value in headline], [label for label, _value in headline]]
    numbers = Table(cells, colWidths=[174 * mm / len(headline)] * len(headline))
    numbers.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 16),
                ("FONT", (0, 1), (-1, 1), "Helvetica", 7),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#dddddd")),
                ("INNERGRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#eeeeee")),
            ]
        )
    )
    story += [numbers, Spacer(1, 5 * mm), adoption_chart(figures).to_drawing()]
    story += [
        Paragraph(f"New AI services discovered ({len(figures.new_services)})", styles["Heading2"])
    ]
    if figures.new_services:
        story.append(
            _table(
                ["Service", "Vendor", "Category", "Hosts", "Users", "First seen"],
                [
                    [
                        use.item.name[:40],
                        use.item.vendor[:30],
                        use.item.category[:20],
                        str(use.host_count),
                        str(use.user_count),
                        f"{use.item.first_seen_at:%Y-%m-%d}",
                    ]
                    for use in figures.new_services
                ],
                [55 * mm, 35 * mm, 28 * mm, 14 * mm, 14 * mm, 24 * mm],
            )
        )
    else:
        story.append(Paragraph("None this period.", styles["Normal"]))
    story += [
        Paragraph(f"Unreviewed queue ({len(figures.unreviewed)})", styles["Heading2"]),
        queue_chart(figures).to_drawing(),
    ]
    if figures.unreviewed:
        story.append(
            _table(
                ["Service", "Vendor", "Hosts", "Waiting (days)"],
                [
                    [
                        use.item.name[:40],
                        use.item.vendor[:30],
                        str(use.host_count),
                        str((figures.end - use.item.first_seen_at).days),
                    ]
                    for use in figures.unreviewed[:15]
                ],
                [70 * mm, 50 * mm, 20 * mm, 30 * mm],
            )
        )
    story.append(
        Paragraph(
            f"Prohibited services still in use ({len(figures.prohibited_in_use)})",
            styles["Heading2"],
        )
    )
    story.append(violation_chart(figures).to_drawing())
    if figures.prohibited_in_use:
        story.append(
            _table(
                ["Service", "Vendor", "Hosts", "Users", "Last seen"],
                [
                    [
                        use.item.name[:40],
                        use.item.vendor[:30],
                        str(use.host_count),
                        str(use.user_count),
                        f"{use.last_seen_at:%Y-%m-%d}" if use.last_seen_at else "",
                    ]
                    for use in figures.prohibited_in_use
                ],
                [60 * mm, 45 * mm, 18 * mm, 18 * mm, 30 * mm],
            )
        )
    else:
        story.append(Paragraph("None seen this period.", styles["Normal"]))
    story.append(Paragraph(f"Hosts not reporting ({len(figures.stale_hosts)})", styles["Heading2"]))
    if figures.stale_hosts:
        story.append(
            _table(
                ["Host", "OS", "Last report"],
                [
                    [
                        host.hostname[:50],
                        host.os,
                        f"{host.last_report_at:%Y-%m-%d %H:%M}" if host.last_report_at else "never",
                    ]
                    for host in figures.stale_hosts
                ],
                [80 * mm, 30 * mm, 50 * mm],
            )
        )
    else:
        story.append(Paragraph("Every host reported.", styles["Normal"]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=figures.title,
        author="Shadowmap",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        invariant=True,
    )
    document.build(story)
    return buffer.getvalue()


def render_csv(figures: DiscoveryFigures) -> str:
    """Return the report's rows as one CSV: a section column, then the item's fields."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "section",
            "name",
            "vendor",
            "category",
            "state",
            "hosts",
            "users",
            "first_seen",
            "last_seen",
        ]
    )
    for key, value in figures.headline().items():
        writer.writerow(["headline", key, "", "", "", value, "", "", ""])
    sections = (
        ("new", figures.new_services),
        ("unreviewed", figures.unreviewed),
        ("prohibited_in_use", figures.prohibited_in_use),
    )
    for section, uses in sections:
        for use in uses:
            writer.writerow(
                [
                    section,
                    _cell(use.item.name),
                    _cell(use.item.vendor),
                    _cell(use.item.category),
                    use.item.state,
                    use.host_count,
                    use.user_count,
                    use.item.first_seen_at.isoformat(),
                    use.last_seen_at.isoformat() if use.last_seen_at else "",
                ]
            )
    for host in figures.stale_hosts:
        writer.writerow(
            [
                "host_not_reporting",
                _cell(host.hostname),
                "",
                "",
                "",
                "",
                "",
                "",
                host.last_report_at.isoformat() if host.last_report_at else "",
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in text that came from endpoints (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render(figures: DiscoveryFigures, fmt: str) -> bytes:
    if fmt == "html":
        return render_html(figures).encode()
    if fmt == "pdf":
        return render_pdf(figures)
    if fmt == "csv":
        return render_csv(figures).encode()
    raise ValueError(f"unknown report format {fmt!r}")
