"""The fonts of the PDF report: DejaVu Sans (Debian fonts-dejavu-core) for Latin, Greek and
Cyrillic, and Droid Sans Fallback (fonts-droid-fallback) for the scripts DejaVu lacks (Chinese,
Japanese, Korean...), both TrueType so that reportlab embeds them. Text is split into runs by
which font has the glyph (``markup``); without these fonts the report falls back to Helvetica
and says so in the log (CJK names then cannot be drawn)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/local/share/fonts"))
REGULAR = "DejaVuSans.ttf"
BOLD = "DejaVuSans-Bold.ttf"
FALLBACK = "DroidSansFallbackFull.ttf"


@dataclass(frozen=True, slots=True)
class ReportFonts:
    regular: str
    bold: str
    fallback: str | None  # the font name for glyphs the regular font lacks
    covered: frozenset[int]  # code points the regular font draws
    fallback_covered: frozenset[int]

    def markup(self, text: str) -> str:
        """Return ``text`` escaped for a reportlab Paragraph, runs the regular font cannot draw
        set in the fallback font."""
        if self.fallback is None:
            return escape(text)
        out: list[str] = []
        run: list[str] = []
        in_fallback = False
        for char in text:
            wants_fallback = (
                ord(char) not in self.covered
                and ord(char) in self.fallback_covered
                and not char.isspace()
            )
            if wants_fallback != in_fallback and run:
                out.append(self._run("".join(run), in_fallback))
                run = []
            in_fallback = wants_fallback
            run.append(char)
        if run:
            out.append(self._run("".join(run), in_fallback))
        return "".join(out)

    def _run(self, text: str, fallback: bool) -> str:
        return f'<font name="{self.fallback}">{escape(text)}</font>' if fallback else escape(text)


def _find(name: str) -> Path | None:
    for folder in FONT_DIRS:
        if folder.is_dir():
            found = next(folder.rglob(name), None)
            if found is not None:
                return found
    return None


@functools.cache
def report_fonts() -> ReportFonts:
    """Register the report's fonts with reportlab (once) and return their names."""
    regular, bold, fallback = _find(REGULAR), _find(BOLD), _find(FALLBACK)
    if regular is None or bold is None:
        log.warning(
            "PDF reports use Helvetica: install fonts-dejavu-core and fonts-droid-fallback "
            "to draw names in every script (CJK included)"
        )
        return ReportFonts("Helvetica", "Helvetica-Bold", None, frozenset(), frozenset())
    regular_font = TTFont("ShadowmapSans", str(regular))
    pdfmetrics.registerFont(regular_font)
    pdfmetrics.registerFont(TTFont("ShadowmapSans-Bold", str(bold)))
    pdfmetrics.registerFontFamily(
        "ShadowmapSans",
        normal="ShadowmapSans",
        bold="ShadowmapSans-Bold",
        italic="ShadowmapSans",
        boldItalic="ShadowmapSans-Bold",
    )
    covered = frozenset(regular_font.face.charToGlyph)
    if fallback is None:
        log.warning("PDF reports cannot draw CJK names: install fonts-droid-fallback")
        return ReportFonts("ShadowmapSans", "ShadowmapSans-Bold", None, covered, frozenset())
    fallback_font = TTFont("ShadowmapFallback", str(fallback))
    pdfmetrics.registerFont(fallback_font)
    return ReportFonts(
        "ShadowmapSans",
        "ShadowmapSans-Bold",
        "ShadowmapFallback",
        covered,
        frozenset(fallback_font.face.charToGlyph),
    )
