"""Render the management review pack as one self-contained HTML page and as a PDF. Pure
functions of the review: no database, no network."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from server.management_review.service import ManagementReview
from server.web.templates import environment

#: The pack is one self-contained page with its own inline style: served in a sandbox that
#: allows that style and nothing else (as the report files are).
PACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def render_html(review: ManagementReview) -> str:
    """Return the pack as one HTML page (every value escaped)."""
    return environment().get_template("management_review/pack.html").render(r=review)


def _table(rows: list[list[str]], widths: list[float]) -> Table:
    styles = getSampleStyleSheet()
    cells = [[Paragraph(escape(cell), styles["BodyText"]) for cell in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dddddd")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def render_pdf(review: ManagementReview) -> bytes:
    """Return the pack as a PDF with the same sections as the HTML."""
    styles = getSampleStyleSheet()
    h2 = styles["Heading2"]
    story: list[Flowable] = [
        Paragraph("AI management system: management review", styles["Title"]),
        Paragraph(escape(f"Generated {review.generated_at:%Y-%m-%d %H:%M} UTC"), styles["Normal"]),
        Paragraph(escape(review.scope.sentence()), styles["Normal"]),
        Spacer(1, 4 * mm),
        Paragraph("Objectives", h2),
        _table(
            [["Objective", "Now", "Target", "Met", "Trend"]]
            + [
                [
                    row.measure.label,
                    row.show(row.value),
                    ("≥ " if row.measure.better == "higher" else "≤ ") + row.show(row.target),
                    {True: "yes", False: "NO", None: "—"}[row.met],
                    " → ".join(row.show(value) for _at, value in row.trend) or "—",
                ]
                for row in review.objectives
            ],
            [60 * mm, 20 * mm, 20 * mm, 14 * mm, 56 * mm],
        ),
        Paragraph("Policies and acknowledgements", h2),
        _table(
            [["Policy", "Published", "Approved by", "Acknowledged"]]
            + [
                [
                    f"{p.policy.title} v{p.policy.version}",
                    str(p.policy.published_on),
                    f"{p.policy.approved_by} ({p.policy.approver_role})",
                    f"{p.acknowledged} of {p.people}",
                ]
                for p in review.policies
            ],
            [60 * mm, 30 * mm, 45 * mm, 35 * mm],
        ),
        Paragraph("Register and risk", h2),
        Paragraph(
            escape(
                "Entries by status: "
                + (
                    ", ".join(
                        f"{k.replace('_', ' ')} {v}"
                        for k, v in sorted(review.entries_by_status.items())
                    )
                    or "none"
                )
                + ". By risk: "
                + (
                    ", ".join(f"{k} {v}" for k, v in sorted(review.entries_by_risk.items()))
                    or "none"
                )
                + f". Approval routes: {review.routes}. Assessments completed: "
                + (
                    ", ".join(
                        f"{k.replace('_', ' ')} {v}"
                        for k, v in sorted(review.assessments_done.items())
                    )
                    or "none"
                )
                + f". Reviews overdue: {len(review.reviews_overdue)}."
            ),
            styles["Normal"],
        ),
        Paragraph("Incidents", h2),
        _table(
            [["Incident", "Entry", "Severity", "People", "Status"]]
            + [
                [
                    f"{i.incident_id} {i.title}",
                    i.register_id or "—",
                    i.severity,
                    str(i.people_affected),
                    i.status,
                ]
                for i in review.incidents
            ],
            [70 * mm, 30 * mm, 20 * mm, 20 * mm, 30 * mm],
        ),
        Paragraph("Training coverage", h2),
        _table(
            [["Department", "Uses AI", "Trained"]]
            + [
                [t.department, "yes" if t.uses_ai else "no", f"{t.trained} of {t.people}"]
                for t in review.training
            ],
            [70 * mm, 30 * mm, 70 * mm],
        ),
        Paragraph("Statement of Applicability", h2),
        Paragraph(
            escape(
                f"{review.soa_applicable} of 38 Annex A controls apply. "
                + ", ".join(
                    f"{k.replace('_', ' ')} {v}" for k, v in sorted(review.soa_status.items())
                )
            ),
            styles["Normal"],
        ),
        Paragraph("Audit trail", h2),
        Paragraph(
            escape(
                f"{'Intact' if review.audit_ok else 'BROKEN'}: {review.audit_events} events, "
                f"head {review.audit_head}."
            ),
            styles["Normal"],
        ),
    ]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, title="Management review").build(story)
    return out.getvalue()
