"""Tiles laid out in a grid, a page at a time; each service's tile is made once."""

from __future__ import annotations

import logging
import math
from datetime import tzinfo

from PySide6.QtWidgets import QGridLayout, QWidget

from mimdesk.domain.catalogue import WallConfig
from mimdesk.domain.series import stale_after
from mimdesk.domain.wall import WallState
from mimdesk.ui.theme import Theme, pill
from mimdesk.ui.wall_tile import HealthTile, tile_stylesheet

log = logging.getLogger(__name__)


def grid_shape(count: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) for `count` tiles: a landscape grid, or `columns` wide."""
    count = max(1, count)
    columns = min(columns or math.ceil(math.sqrt(count * 4 / 3)), count)
    return math.ceil(count / columns), columns


def page_count(tiles: int, per_page: int) -> int:
    return max(1, math.ceil(tiles / max(1, per_page)))


class WallGrid(QWidget):
    """Shows a WallState's tiles, `per_page` at a time (all when None), in
    `columns` columns (a landscape grid when None)."""

    def __init__(
        self,
        theme: Theme,
        zone: tzinfo,
        config: WallConfig,
        *,
        per_page: int | None = None,
        columns: int | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("WallGrid")
        self.theme, self.zone, self.config = theme, zone, config
        self.per_page, self.columns = per_page, columns
        self.scale = 1.0
        self.tiles: dict[str, HealthTile] = {}
        self.order: list[str] = []
        self.page = 0
        self._placed: list[str] = []
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.set_look(theme, 1.0)

    @property
    def pages(self) -> int:
        return page_count(len(self.order), self.per_page or len(self.order))

    def set_look(self, theme: Theme, scale: float) -> None:
        self.theme, self.scale = theme, scale
        self.setStyleSheet(tile_stylesheet(theme, scale))
        self.grid.setSpacing(round(8 * scale))
        for tile in self.tiles.values():
            tile.set_look(theme, scale)

    def show_state(self, state: WallState) -> None:
        """Refresh every tile (also those on other pages), then lay out the page."""
        for tile in state.tiles:
            widget = self.tiles.get(tile.service.id) or self._make(tile.service.id)
            widget.show_tile(tile, demo=state.source.demo, now=state.now)
            if state.source.demo and state.source.name == "EXERCISE":
                widget.demo.setText("EXERCISE")
                widget.demo.setStyleSheet(pill(self.theme.exercise, compact=True))
        order = [t.service.id for t in state.tiles]
        if order != self.order:
            self._forget(set(self.order) - set(order))
            self.order = order
            self.page = min(self.page, self.pages - 1)
            self._place()

    def _make(self, service_id: str) -> HealthTile:
        tile = HealthTile(
            service_id,
            self.theme,
            self.zone,
            stale_limit=stale_after(
                self.config.scrape_interval, self.config.stale_factor
            ),
            hours=self.config.history_hours,
        )
        tile.set_look(self.theme, self.scale)
        tile.setParent(self)
        tile.hide()
        self.tiles[service_id] = tile
        return tile

    def _forget(self, gone: set[str]) -> None:
        """Services no longer in the catalogue: their tiles go for good."""
        for service_id in gone:
            tile = self.tiles.pop(service_id)
            self.grid.removeWidget(tile)
            tile.deleteLater()

    def show_page(self, page: int) -> None:
        """Show page `page` (wrapping round)."""
        self.page = page % self.pages
        self._place()

    def next_page(self) -> None:
        self.show_page(self.page + 1)

    def visible_ids(self) -> list[str]:
        return list(self._placed)

    def _place(self) -> None:
        size = self.per_page or len(self.order)
        wanted = self.order[self.page * size : (self.page + 1) * size]
        if wanted == self._placed:
            return
        for service_id in self._placed:
            if service_id in self.tiles:
                self.grid.removeWidget(self.tiles[service_id])
                self.tiles[service_id].hide()
        # One page: the grid fits the tiles there are. Several: every page keeps
        # the full page's cells, so a short last page keeps the tiles' size.
        cells = size if self.pages > 1 else len(wanted)
        rows, columns = grid_shape(cells, self.columns)
        for index, service_id in enumerate(wanted):
            tile = self.tiles[service_id]
            self.grid.addWidget(tile, index // columns, index % columns)
            tile.show()
        for row in range(max(rows, self.grid.rowCount())):
            self.grid.setRowStretch(row, int(row < rows))
        for column in range(max(columns, self.grid.columnCount())):
            self.grid.setColumnStretch(column, int(column < columns))
        self._placed = wanted
        log.debug("wall page %d of %d: %s", self.page + 1, self.pages, wanted)
