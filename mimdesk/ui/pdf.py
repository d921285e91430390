"""Stakeholder updates and post-incident reports as PDF, for people told on
paper (Qt's own PDF writer: no browser, no network)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QTextDocument,
)

from mimdesk.domain.times import utc_iso


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "update"


def write_update_pdf(
    folder: Path,
    *,
    incident_id: str,
    audience: str,
    subject: str,
    body: str,
    at: datetime,
) -> Path:
    """One update on A4 pages, named after the incident, the time and the
    audience; returns where it was written (OSError if it could not be)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utc_iso(at)[:19].replace(":", "")
    path = folder / f"{_safe(incident_id)}-{stamp}Z-{_safe(audience)}.pdf"
    writer = QPdfWriter(str(path))
    writer.setTitle(subject)
    writer.setCreator("MIMDesk")
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(20, 20, 20, 20), QPageLayout.Unit.Millimeter)
    document = QTextDocument()
    font = QFont()
    font.setPointSize(11)
    document.setDefaultFont(font)
    document.setPlainText(f"{subject}\n\n{body}\n\n({incident_id}, {utc_iso(at)})")
    document.print_(writer)
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"the PDF {path} could not be written")
    return path


def write_html_pdf(
    path: Path, html: str, *, title: str, header: str = "", marking: str = ""
) -> Path:
    """An HTML document (headings, tables, images) printed on A4 pages at `path`.

    Every page has `header` at its top and "page N of M" at its foot; a
    `marking` ("EXERCISE") is printed large at the top and foot of every page.
    Works without a display (see `ensure_app`)."""
    ensure_app()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(path))
    writer.setTitle(f"{marking}: {title}" if marking else title)
    writer.setCreator("MIMDesk")
    writer.setResolution(300)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter)
    document = QTextDocument()
    font = QFont()
    font.setPointSize(10)
    # Without ligatures, text copied or searched in the PDF is the text written.
    font.setFeature(QFont.Tag("liga"), 0)
    document.setDefaultFont(font)
    # Laid out for the writer, as QTextDocument.print_ does: fonts, lengths
    # and images are sized for paper, not for the screen.
    document.documentLayout().setPaintDevice(writer)
    document.setHtml(html)
    _Pages(writer, document, header, marking).print_all()
    del writer  # finishes the file
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"the PDF {path} could not be written")
    return path


class _Pages:
    """Paginates a document with a header and a footer band on every page."""

    def __init__(
        self, writer: QPdfWriter, document: QTextDocument, header: str, marking: str
    ) -> None:
        self.writer, self.document = writer, document
        self.header, self.marking = header, marking
        dpi = writer.resolution()
        self.mm = dpi / 25.4
        page = writer.pageLayout().fullRectPixels(dpi)
        self.margin = 18 * self.mm
        # The header or footer, the space between it and the text included.
        self.band = (14 if marking else 10) * self.mm
        self.body = QRectF(
            self.margin,
            self.margin + self.band,
            page.width() - 2 * self.margin,
            page.height() - 2 * (self.margin + self.band),
        )
        document.setDocumentMargin(0)
        document.setPageSize(QSizeF(self.body.width(), self.body.height()))

    def print_all(self) -> None:
        painter = QPainter(self.writer)
        try:
            count = self.document.pageCount()
            for n in range(count):
                if n:
                    self.writer.newPage()
                self._page(painter, n, count)
        finally:
            painter.end()

    def _page(self, painter: QPainter, n: int, count: int) -> None:
        body = self.body
        painter.save()
        painter.translate(body.left(), body.top() - n * body.height())
        self.document.drawContents(
            painter, QRectF(0, n * body.height(), body.width(), body.height())
        )
        painter.restore()
        high = self.band - 4 * self.mm
        top = QRectF(body.left(), self.margin, body.width(), high)
        foot = QRectF(body.left(), body.bottom() + 4 * self.mm, body.width(), high)
        self._band(painter, top, self.header, Qt.AlignmentFlag.AlignBottom)
        self._band(painter, foot, f"page {n + 1} of {count}",
                   Qt.AlignmentFlag.AlignTop)  # fmt: skip

    def _band(
        self, painter: QPainter, box: QRectF, text: str, edge: Qt.AlignmentFlag
    ) -> None:
        font = QFont(self.document.defaultFont())
        font.setPointSize(8)
        painter.setFont(font)
        painter.setPen(QColor("#444444"))
        painter.drawText(box, Qt.AlignmentFlag.AlignRight | edge, text)
        if self.marking:
            strong = QFont(font)
            strong.setPointSize(14)
            strong.setBold(True)
            painter.setFont(strong)
            painter.setPen(QColor("#a00000"))
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | edge, self.marking)
        rule = (
            box.bottom() + 1 * self.mm
            if edge == Qt.AlignmentFlag.AlignBottom
            else (box.top() - 1 * self.mm)
        )
        painter.setPen(QPen(QColor("#a00000" if self.marking else "#999999"),
                            (0.8 if self.marking else 0.3) * self.mm))  # fmt: skip
        painter.drawLine(QPointF(box.left(), rule), QPointF(box.right(), rule))


def ensure_app() -> None:
    """Outside the console, make a Qt application on the offscreen platform:
    fonts and text layout need one, a display does not."""
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _keep.append(QGuiApplication([]))


_keep: list[QGuiApplication] = []  # the application made for writing, kept alive
