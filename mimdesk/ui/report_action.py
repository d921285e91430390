"""The Incident menu's 'Write post-incident report (PDF)…': the same report as
`mimdesk report ID --format pdf`, for the incident on screen."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from mimdesk.ui.pdf import write_html_pdf

if TYPE_CHECKING:
    from datetime import tzinfo

    from mimdesk.ui.console import ConsoleContext
    from mimdesk.ui.header import IncidentHeader

log = logging.getLogger(__name__)


class _Console(Protocol):
    """What the report action uses of the console window."""

    @property
    def ctx(self) -> ConsoleContext: ...
    @property
    def header(self) -> IncidentHeader: ...
    @property
    def zone(self) -> tzinfo: ...

    def _action(
        self, menu: Any, text: str, shortcut: str | None, slot: Callable[[], object]
    ) -> QAction: ...
    def window(self) -> QWidget: ...
    def show_message(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: ...


def _ask_path(parent: QWidget, suggested: str) -> Path | None:
    chosen, _ = QFileDialog.getSaveFileName(
        parent, "Write post-incident report", suggested, "PDF (*.pdf)"
    )
    return Path(chosen) if chosen else None


class ReportAction(QObject):
    """Asks where, then writes the selected incident's report as PDF.
    `ask_path` is the file question (replaced in tests)."""

    def __init__(self, console: _Console, menu: QMenu) -> None:
        super().__init__(console.window())
        self.console = console
        self.ask_path: Callable[[QWidget, str], Path | None] = _ask_path
        self.action = console._action(
            menu, "Write post-incident &report (PDF)\u2026", None, self.write
        )

    def write(self) -> Path | None:
        incident = self.console.header.incident
        if incident is None:
            self.console.show_error("Choose an incident first.")
            return None
        path = self.ask_path(self.console.window(), f"{incident.id}-report.pdf")
        if path is None:
            return None
        # FIXME(report): the journal is read and checked on the GUI thread; a
        # very long journal would want a worker. The same worker would fetch
        # the health graphs (mimdesk.graphs.incident_graphs from the health
        # feed's source): Prometheus is not asked from the GUI thread, so the
        # report written here says the graphs were not drawn; `mimdesk report`
        # has them.
        from mimdesk import postmortem  # Jinja2: loaded when a report is written

        ctx = self.console.ctx
        try:
            found, events, check = postmortem.from_store(ctx.store, incident.id)
            data = postmortem.report_data(
                found, events, scale=ctx.settings.severity, catalogue=ctx.catalogue,
                directory=ctx.directory, targets=ctx.targets, verification=check,
                zone=self.console.zone, now=ctx.clock.now(),
            )  # fmt: skip
            write_html_pdf(path, postmortem.render_html(data), title=incident.title,
                           header=f"Post-incident report {incident.id}")  # fmt: skip
        except OSError as exc:
            log.warning("report for %s not written: %s", incident.id, exc)
            self.console.show_error(f"The report could not be written: {exc}")
            return None
        self.console.show_message(f"Post-incident report written to {path}")
        return path
