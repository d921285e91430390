"""The wall's corner: connection state, last refresh, and catalogue problems."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

from mimdesk.domain.wall import Link, SourceState
from mimdesk.ui.theme import DARK
from mimdesk.ui.wall_corner import SourceStatus


def test_a_catalogue_that_did_not_reload_is_said_in_words(qtbot) -> None:
    corner = SourceStatus(DARK, UTC)
    qtbot.addWidget(corner)
    corner.show()
    good = SourceState("prom", Link.CONNECTED, last_success=1_783_000_000.0)
    problem = "services.toml:12: service id 'two words' must be one word"

    corner.show_source(replace(good, catalogue_problem=problem), 0)
    shown = corner.catalogue.text(), corner.catalogue.isVisible()
    corner.show_source(good, 0)

    assert shown == (f"Catalogue not reloaded: {problem}", True)
    assert not corner.catalogue.isVisible()
    assert corner.link.text() == "CONNECTED"
