"""The console rendered at wall sizes, saved so people can look at it."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QWidget

from mimdesk.domain.regulatory import PRESETS

pytestmark = pytest.mark.gui

SIZES = [(1920, 1080), (3840, 2160)]


def _clipped(label: QLabel) -> bool:
    if label.wordWrap():
        return label.height() < label.heightForWidth(label.width())
    return label.height() < label.sizeHint().height()


def _cut_short(label: QLabel) -> bool:
    """A one-line label narrower than its text."""
    return not label.wordWrap() and label.width() < label.sizeHint().width()


def _labels(*widgets: QWidget) -> list[QLabel]:
    return [
        label
        for widget in widgets
        for label in widget.findChildren(QLabel)
        if label.isVisible()
    ]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_console_renders_readably_at_wall_sizes(
    make_console, qtbot, tmp_path, width, height
) -> None:
    window = make_console()
    window.resize(width, height)
    # The status bar settles last: wait for it too, or the picture cuts it off.
    labels = _labels(window.header, window.statusBar())
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    image = window.grab().toImage()
    image.save(str(out / f"console-{width}x{height}.png"))

    assert (image.width(), image.height()) == (width, height)
    # The header's big elapsed counter must stay on screen at every size.
    elapsed = window.header.elapsed
    corner = elapsed.mapTo(window, elapsed.rect().bottomRight())
    assert corner.x() <= width
    assert corner.y() <= height
    assert elapsed.text() == "00:47:00"
    assert window.text_scale == width / 1920


def test_damaged_store_banners_render_readably(
    damaged_store, make_console, qtbot, tmp_path
) -> None:
    from mimdesk.store.store import Damage

    store = damaged_store(zero_tables=("journal",))
    latest = store.path.parent / "backups" / "mimdesk-20261203T130000+0000.sqlite"
    damage = Damage(store.path, ("database disk image is malformed",), latest)
    text = f"{damage.explain()} Showing a READ-ONLY copy; nothing can be changed."
    window = make_console(demo=False, store=store, banners=[("danger", text)])
    window.resize(1920, 1080)
    banners = [label for label in window.banners.labels if label.isVisible()]
    qtbot.waitUntil(lambda: not [label for label in banners if _clipped(label)])
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    window.grab().toImage().save(str(out / "console-damaged.png"))

    assert [label.text() for label in banners] == window.banners.shown()
    assert window.banners.shown()[1].startswith("Part of the store cannot be read")
    assert all(label.height() > label.fontMetrics().height() for label in banners)


CLOCK_SIZES = [(1480, 900), (1920, 1080), (3840, 2160)]


@pytest.mark.parametrize(("width", "height"), CLOCK_SIZES)
def test_milestone_clock_renders_readably(
    make_console, qtbot, tmp_path, width, height
) -> None:
    window = make_console(regimes=[PRESETS["dora"]])
    window.resize(width, height)
    panel = window.clock_panel
    labels = _labels(window.header, panel, window.statusBar())
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    image = window.grab().toImage()
    image.save(str(out / f"clock-{width}.png"))

    corner = panel.mapTo(window, panel.rect().bottomRight())
    assert corner.x() <= width
    assert corner.y() <= height
    assert [label.text() for label in _labels(panel) if _cut_short(label)] == []
    # The timeline and the roster below the clock keep room to be read.
    assert window.timeline.height() > window.clock_panel.height()
    assert panel.next_update.text() == "OVERDUE by 12 min"


def test_console_with_a_reminder_and_a_target_due_soon(
    make_console, qtbot, tmp_path, store, fake_time
) -> None:
    """A new SEV1 five minutes from its mobilisation target, while the demo SEV1's
    stakeholder update is overdue: both must be plain to see at 1920x1080."""
    window = make_console(regimes=[PRESETS["dora"]])
    window.resize(1920, 1080)
    demo_sev1 = window.selected
    incident_id = store.declare(
        title="Core banking ledger unavailable",
        severity=1,
        services=["payments-api"],
        detected_at=fake_time.now() - timedelta(minutes=10),
        actor="tester",
    ).result()
    window.bridge.poll()
    window.incident_list.select_incident(incident_id)
    fake_time.advance(10 * 60)
    window.timer.timeout.emit()
    labels = _labels(
        window.header, window.clock_panel, window.banners, window.roster_panel
    )
    qtbot.waitUntil(
        lambda: not [x for x in labels if _clipped(x) or _cut_short(x)], timeout=10_000
    )
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    window.grab().toImage().save(str(out / "console-reminder-due-soon.png"))

    rows = window.clock_panel.targets.texts()
    assert ["DUE SOON", "mobilised within 15 min of declared", "00:05:00 left"] in rows
    assert window.banners.shown()[-1] == (
        f"{demo_sev1}: stakeholder update overdue by 22 min \u2014 "
        "select it, then Ctrl+U records one"
    )
    button = window.banners.dismiss_buttons[f"reminder:{demo_sev1}"]
    assert button.isVisible()
    assert button.mapTo(window, button.rect().bottomRight()).x() <= 1920
