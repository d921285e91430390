"""Stakeholder updates and post-incident reports as PDF, for people told on
paper (Qt's own PDF writer: no browser, no network)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import (
    QFont,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPdfWriter,
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


def write_html_pdf(path: Path, html: str, *, title: str) -> Path:
    """An HTML document (headings, tables) printed on A4 pages at `path`.

    Works without a display: outside the console a Qt application is made on
    the offscreen platform, which is all the text layout needs."""
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _keep.append(QGuiApplication([]))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(path))
    writer.setTitle(title)
    writer.setCreator("MIMDesk")
    writer.setResolution(300)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    # QTextDocument.print_ adds its own 2 cm around the text and numbers the pages.
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter)
    document = QTextDocument()
    font = QFont()
    font.setPointSize(10)
    # Without ligatures, text copied or searched in the PDF is the text written.
    font.setFeature(QFont.Tag("liga"), 0)
    document.setDefaultFont(font)
    document.setHtml(html)
    document.print_(writer)
    del writer  # finishes the file
    if not path.is_file() or path.stat().st_size == 0:
        raise OSError(f"the PDF {path} could not be written")
    return path


_keep: list[QGuiApplication] = []  # the application made for writing, kept alive
