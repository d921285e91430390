"""The console's Health view: every service tile, beside the incident views."""

from __future__ import annotations

import logging
from datetime import tzinfo

from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from mimdesk.domain.catalogue import WallConfig
from mimdesk.domain.wall import WallState
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.health_list import summary as summary  # re-exported
from mimdesk.ui.theme import Theme
from mimdesk.ui.wall_corner import SourceStatus
from mimdesk.ui.wall_grid import WallGrid

log = logging.getLogger(__name__)

COLUMNS = 3
TILE_HEIGHT = 250
NO_SOURCE = (
    "No health source. Start with --demo for the built-in DEMO data, or set a "
    "Prometheus server in the settings (see the README)."
)


class HealthView(QWidget):
    """Tiles in `COLUMNS` columns, scrolling, with the source's state on top."""

    def __init__(
        self, feed: HealthFeed | None, theme: Theme, zone: tzinfo, config: WallConfig
    ) -> None:
        super().__init__()
        self.setObjectName("HealthView")
        self.feed, self.theme, self.scale = feed, theme, 1.0
        self.title = QLabel("SERVICE HEALTH")
        self.title.setObjectName("SectionTitle")
        self.empty = QLabel(NO_SOURCE)
        self.empty.setWordWrap(True)
        self.source = SourceStatus(theme, zone)
        self.grid = WallGrid(theme, zone, config, columns=COLUMNS)
        scroll = QScrollArea()
        scroll.setObjectName("HealthScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.source)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(scroll, 1)
        self.set_look(theme, 1.0)
        if feed is not None:
            feed.state_changed.connect(self._on_feed_state_changed)
        self.show_state(feed.latest if feed else None)

    def _on_feed_state_changed(self, state: WallState) -> None:
        self.show_state(state)

    def show_state(self, state: WallState | None) -> None:
        self.empty.setVisible(state is None)
        self.source.setVisible(state is not None)
        if state is None:
            return
        self.grid.show_state(state)
        self.source.show_source(state.source, state.now)
        self._fit()

    def set_look(self, theme: Theme, scale: float) -> None:
        self.theme, self.scale = theme, scale
        self.source.theme = theme
        self.grid.set_look(theme, scale)
        self._fit()
        if self.feed is not None and self.feed.latest is not None:
            self.source.show_source(self.feed.latest.source, self.feed.latest.now)

    def _fit(self) -> None:
        rows = -(-len(self.grid.order) // COLUMNS)
        self.grid.setMinimumHeight(rows * round(TILE_HEIGHT * self.scale))
