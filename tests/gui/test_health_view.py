"""The console's Health view, fed from the poller's thread, and wall pictures."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from mimdesk.domain.health import Health
from mimdesk.domain.wall import Link
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.health_view import NO_SOURCE, HealthView, summary
from mimdesk.ui.theme import DARK
from mimdesk.ui.wall_main import fit_type, view_widget

from . import wall_states

pytestmark = pytest.mark.gui

SIZES = [(1920, 1080), (3840, 2160)]


def test_console_toggles_to_the_health_view(make_console, qtbot) -> None:
    feed = HealthFeed(wall_states.state(6))
    window = make_console(health=feed)
    assert window.views.currentWidget() is not window.health_view

    qtbot.keyClick(window, Qt.Key.Key_F2)
    assert window.views.currentWidget() is window.health_view
    assert sorted(window.health_view.grid.tiles) == [f"svc-{n:02d}" for n in range(6)]

    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert window.views.currentWidget() is not window.health_view


def test_states_from_the_poller_thread_reach_the_view(make_console, qtbot) -> None:
    feed = HealthFeed()
    window = make_console(health=feed)
    state = wall_states.state(3)

    with qtbot.waitSignal(feed.state_changed):
        worker = threading.Thread(target=feed.publish, args=(state,))
        worker.start()
        worker.join()

    assert window.health_view.grid.order == ["svc-00", "svc-01", "svc-02"]
    assert window.health_button.text() == summary(state)


def test_summary_puts_the_worst_first() -> None:
    state = wall_states.state(3)
    labels = [t.health for t in state.tiles]

    text = summary(state)

    assert text.startswith("Health: ")
    assert Health.WARNING in labels
    assert text.index("WARNING") < text.index("OK")


def test_without_a_source_the_view_says_how_to_get_one(qtbot) -> None:
    view = HealthView(None, DARK, UTC, wall_states.CONFIG)
    qtbot.addWidget(view)
    view.show()

    assert view.empty.isVisible()
    assert view.empty.text() == NO_SOURCE


def _clipped(label: QLabel) -> bool:
    if label.wordWrap():
        return label.height() < label.heightForWidth(label.width())
    return label.height() < label.sizeHint().height()


@pytest.mark.parametrize("view", ["wall", "health"])
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_views_render_readably_at_wall_sizes(qtbot, tmp_path, view, width, height):
    feed = HealthFeed(wall_states.state(14, demo=True))
    widget = view_widget(view, feed, theme="dark", zone=UTC, config=wall_states.CONFIG)
    qtbot.addWidget(widget)
    fit_type(widget, width)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    labels = [label for label in widget.findChildren(QLabel) if label.isVisible()]
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    image = widget.grab().toImage()
    image.save(str(out / f"{view}-{width}x{height}.png"))

    assert (image.width(), image.height()) == (width, height)
    statuses = [label for label in labels if label.objectName() == "TileStatus"]
    assert statuses
    assert all(label.text() in {h.label for h in Health} for label in statuses)
    fit_type(widget, 1920)  # the app's type back to normal for the next test


def test_console_lists_service_health_worst_first(make_console, qtbot) -> None:
    state = wall_states.state(4)
    worst = replace(state.tiles[2], health=Health.CRITICAL)
    stale = replace(state.tiles[3], health=Health.STALE)
    state = replace(state, tiles=(state.tiles[0], state.tiles[1], worst, stale))
    feed = HealthFeed(state)
    window = make_console(health=feed)
    table = window.health_list

    rows = [
        (table.item(r, 0).text(), table.item(r, 1).text())
        for r in range(table.rowCount())
    ]
    assert rows[0] == ("CRITICAL", "Service 02")
    ranks = [Health[label.replace(" ", "_")].rank for label, _ in rows]
    assert ranks == sorted(ranks, reverse=True)
    assert ("STALE", "Service 03") in rows
    assert window.connection_label.text().startswith("Monitoring: ")

    table.setFocus()
    table.setCurrentCell(0, 1)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert window.views.currentWidget() is window.health_view


def test_console_says_when_monitoring_is_unreachable(make_console, qtbot) -> None:
    feed = HealthFeed(wall_states.state(2))
    window = make_console(health=feed)

    with qtbot.waitSignal(feed.state_changed):
        feed.publish(wall_states.state(2, link=Link.UNREACHABLE, message="refused"))

    assert window.connection_label.text().endswith("UNREACHABLE")
    assert window.health_list.item(0, 0).text() == "UNREACHABLE"
