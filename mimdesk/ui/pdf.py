"""Stakeholder updates as PDF, for audiences told on paper when nothing else
works (Qt's own PDF writer: no browser, no network)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPdfWriter, QTextDocument

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
