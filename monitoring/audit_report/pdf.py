"""A document as a PDF: title, summary fields, sections of paragraphs, fields and tables (no Django).

Each document kind turns its JSON bundle into a ``Document`` (so the PDF states the bundle's numbers, formatted by
``number``), and ``render_pdf`` lays it out with fpdf2 in DejaVu Sans, which is embedded (the fonts ship with the
code, so the PDF looks the same on every machine and covers Latin, Greek and Cyrillic group names). Every page's
footer carries the bundle's SHA-256, the link between the PDF and the bundle the audit trail records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
MISSING = "–"


def number(value: Any, digits: int = 4) -> str:
    """How the documents print a value: integers as they are, floats to ``digits`` decimals, None as a dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    widths: Sequence[float] | None = None  # relative column widths; equal when None


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: Sequence[str] = ()
    fields: Sequence[tuple[str, Any]] = ()
    tables: Sequence[Table] = ()


@dataclass(frozen=True)
class Document:
    kind: str
    title: str
    subtitle: str
    bundle_sha256: str
    created_at: datetime
    fields: Sequence[tuple[str, Any]] = ()
    sections: Sequence[Section] = field(default_factory=list)


def render_pdf(document: Document) -> bytes:
    """The unsigned PDF of ``document`` (A4 portrait)."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT, "", 7)
            self.cell(0, 4, f"Bundle SHA-256 {document.bundle_sha256} · page {self.page_no()}/{{nb}}", align="C")

    pdf = _Pdf(format="A4")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(document.title)
    pdf.set_subject(document.kind)
    pdf.set_keywords(f"bundle_sha256={document.bundle_sha256}")
    pdf.set_creator("FairLens")
    pdf.set_creation_date(document.created_at)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 8, document.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 5, document.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _fields(pdf, document.fields)
    for section in document.sections:
        pdf.ln(3)
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(0, 6, section.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 9)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 4.5, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        _fields(pdf, section.fields)
        for table in section.tables:
            _table(pdf, table)
    return bytes(pdf.output())


def _fields(pdf: Any, fields: Sequence[tuple[str, Any]]) -> None:
    if not fields:
        return
    pdf.set_font(FONT, "", 9)
    with pdf.table(col_widths=(1, 2), first_row_as_headings=False, line_height=4.5) as table:
        for label, value in fields:
            row = table.row()
            row.cell(label)
            row.cell(number(value))
    pdf.ln(1)


def _table(pdf: Any, table: Table) -> None:
    if table.caption:
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(0, 5, table.caption, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 7.5)
    widths = tuple(table.widths) if table.widths else None
    with pdf.table(col_widths=widths, line_height=3.8, text_align="LEFT") as grid:
        heading = grid.row()
        for column in table.columns:
            heading.cell(column)
        for values in table.rows:
            row = grid.row()
            for value in values:
                row.cell(number(value))
    pdf.ln(2)
