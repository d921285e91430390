"""Chat for the GUI: how each platform is doing and what waits in the outbox,
carried from the sender and reader threads to the GUI thread, and put in words."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from mimdesk.domain.outbox import Waiting
from mimdesk.domain.times import format_clock, format_instant
from mimdesk.store.store import Store
from mimdesk.sync.chat_status import ChatHealth, Link, PlatformState
from mimdesk.ui.theme import Theme, pill

log = logging.getLogger(__name__)

OUTBOX_POLL_MS = 2000
NAMES = {"matrix": "Matrix", "slack": "Slack", "teams": "Teams", "email": "Email"}
# The secret a platform's client is made with, to say which one to renew.
SECRET = {"matrix": "matrix.token", "slack": "slack.token", "teams": "teams.webhook",
          "email": "smtp.password"}  # fmt: skip
# Past this age the time alone is ambiguous: the date is shown too.
SAME_DAY = timedelta(hours=20)


def platform_name(platform: str) -> str:
    return NAMES.get(platform, platform.capitalize())


def platform_words(state: PlatformState) -> tuple[str, str]:
    """'Matrix ✓', 'Slack offline'... and the theme colour it is drawn in."""
    name = platform_name(state.platform)
    return {
        Link.OK: (f"{name} \u2713", "status_resolved"),
        Link.CONNECTING: (f"{name} \u2026", "muted"),
        Link.OFFLINE: (f"{name} offline", "warning"),
        Link.NEEDS_AUTH: (f"{name} needs re-authentication", "danger"),
        Link.NOT_CONFIGURED: (f"{name} not set up", "warning"),
    }[state.link]


# FIXME(chat): a platform is contacted only when something is sent or read, so
# an idle one shows "…" (set up, not contacted) for good; a cheap login check
# when the sender starts would say at once whether its credentials work.
# FIXME(chat): after re-authentication the operator must restart: chat_setup's
# factories keep the secrets read at start. Factories that read the secret
# when called would let a menu entry call OutboxSender.reauthenticate instead
# (the readers, which stop for good on AuthFailed, would need restarting too).
def platform_tip(state: PlatformState) -> str:
    """The whole story for a tooltip, with what to do when it needs someone."""
    tip = state.line()
    if state.link is Link.CONNECTING:
        tip = (
            f"{platform_name(state.platform)} is set up; it is contacted when "
            "there is something to send or a channel to read"
        )
    elif state.link is Link.NEEDS_AUTH:
        tip += (
            f". Nothing more is sent to {platform_name(state.platform)}: store a "
            f"new secret (`mimdesk secret set {SECRET.get(state.platform, '')}` "
            "or its MIMDESK_SECRET_ variable) and restart MIMDesk; messages keep "
            "waiting until then."
        )
    elif state.link is Link.OFFLINE:
        tip += ". Messages wait in the outbox and go out, in order, once it is back."
    return tip


def outbox_words(
    waiting: Waiting, zone: tzinfo, now: datetime, *, compact: bool = False
) -> tuple[str, str]:
    """'3 messages waiting since 03:12 UTC' and its colour (amber; red when one
    needs the operator: '3 waiting since 03:12 UTC, 1 needs you', or in
    `compact` form '3 waiting, 1 needs you'); ('', '') when nothing waits."""
    if not waiting.queued or waiting.oldest is None:
        return "", ""
    noun = "message" if waiting.queued == 1 else "messages"
    old = now - waiting.oldest > SAME_DAY
    since = (
        format_instant(waiting.oldest, zone, seconds=False)
        if old
        else format_clock(waiting.oldest, zone)
    )
    needs = waiting.needs_operator
    if needs:
        verb = "needs" if needs == 1 else "need"
        when = "" if compact else f" since {since}"
        return f"{waiting.queued} waiting{when}, {needs} {verb} you", "danger"
    return f"{waiting.queued} {noun} waiting since {since}", "warning"


class ChatFeed(QObject):
    """Chat as the console and the wall show it.

    Holds the platforms set up on this seat (`platforms`, `default_platforms`),
    their latest state (`states`), and the outbox summary (`waiting`), read
    every OUTBOX_POLL_MS and whenever the sender recorded an attempt.
    `off_reason` says why nothing is sent (DEMO), empty when chat runs.

    Signals (all delivered on the GUI thread): platform_changed(PlatformState);
    outbox_changed(Waiting) when the summary differs from the last one;
    messages_read(int) when a chat reader stored new messages or moves.
    """

    platform_changed = Signal(object)
    outbox_changed = Signal(object)
    messages_read = Signal(int)
    _touched = Signal()

    def __init__(
        self,
        store: Store,
        health: ChatHealth | None = None,
        *,
        platforms: Sequence[str] = (),
        default_platforms: Sequence[str] = (),
        off_reason: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.platforms = tuple(platforms)
        self.default_platforms = tuple(default_platforms)
        self.off_reason = off_reason
        self.waiting = Waiting()
        self.states: dict[str, PlatformState] = {}
        # The outbox sender's wake(), once one runs.
        self.wake_sender: Callable[[], None] | None = None
        self._read_failure = ""
        self._touched.connect(self.refresh)
        if health is not None:
            self.states.update(health.snapshot())
            self.platform_changed.connect(self._on_feed_platform_changed)
            health.listen(self.platform_changed.emit)  # any thread: queued here
        self.timer = QTimer(self)
        self.timer.setInterval(OUTBOX_POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # --- from the worker threads ------------------------------------------------

    def outbox_touched(self) -> None:
        """The sender recorded an attempt (any thread): read the outbox now."""
        self._touched.emit()

    def chat_read(self, count: int) -> None:
        """A chat reader stored `count` new entries (any thread)."""
        self.messages_read.emit(count)

    # --- on the GUI thread ------------------------------------------------------

    def wake(self) -> None:
        """Something was queued or retried: the sender looks now, the count too."""
        if self.wake_sender is not None:
            self.wake_sender()
        self.refresh()

    def refresh(self) -> None:
        """Read the outbox summary; an unreadable store keeps the last one."""
        if not self.store.path.exists():  # a wall before anything was recorded
            return
        try:
            waiting = self.store.outbox_waiting()
        except sqlite3.DatabaseError as exc:
            if str(exc) != self._read_failure:
                self._read_failure = str(exc)
                log.warning("cannot read the outbox: %s", exc)
            return
        self._read_failure = ""
        if waiting != self.waiting:
            self.waiting = waiting
            self.outbox_changed.emit(waiting)

    def stop(self) -> None:
        self.timer.stop()

    def _on_feed_platform_changed(self, state: PlatformState) -> None:
        self.states[state.platform] = state


class ChatStatus(QWidget):
    """The status bar's chat part: a label per platform and the outbox count,
    a flat button that opens the outbox. Hidden when no platform is set up and
    nothing waits.

    Signals: outbox_clicked().
    """

    outbox_clicked = Signal()

    def __init__(
        self,
        feed: ChatFeed,
        theme: Theme,
        zone: tzinfo,
        now: Callable[[], datetime],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)  # a parent, so showing never makes a window
        self.setObjectName("ChatStatus")
        self.feed, self.theme, self.zone, self.now = feed, theme, zone, now
        self.labels: dict[str, QLabel] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.outbox = QPushButton()
        self.outbox.setObjectName("OutboxState")
        self.outbox.setFlat(True)
        self.outbox.clicked.connect(self._on_outbox_clicked)
        _never_clipped(self.outbox)
        self._layout.addWidget(self.outbox)
        for platform in feed.platforms:
            self._label(platform)
        feed.platform_changed.connect(self._on_feed_platform_changed)
        feed.outbox_changed.connect(self._on_feed_outbox_changed)
        self.show_all()

    def _label(self, platform: str) -> QLabel:
        label = self.labels.get(platform)
        if label is None:
            label = QLabel(platform_name(platform))
            label.setObjectName(f"ChatState-{platform}")
            _never_clipped(label)
            self._layout.insertWidget(len(self.labels), label)
            self.labels[platform] = label
        return label

    def show_all(self) -> None:
        for platform in self.labels:
            self.show_platform(
                self.feed.states.get(platform, PlatformState(platform, Link.CONNECTING))
            )
        for state in self.feed.states.values():
            self.show_platform(state)
        self.show_outbox(self.feed.waiting)

    def show_platform(self, state: PlatformState) -> None:
        text, colour = platform_words(state)
        label = self._label(state.platform)
        label.setText(text)
        label.setToolTip(platform_tip(state))
        label.setStyleSheet(self._look(colour))
        self._fit()

    def show_outbox(self, waiting: Waiting) -> None:
        # Compact when someone must act: the status bar is full at such times.
        text, colour = outbox_words(waiting, self.zone, self.now(), compact=True)
        full, _ = outbox_words(waiting, self.zone, self.now())
        self.outbox.setText(text)
        tip = f"{full}. Open the outbox (F4)."
        if self.feed.off_reason:
            tip += f" {self.feed.off_reason}"
        self.outbox.setToolTip(tip)
        self.outbox.setVisible(bool(text))
        if text:
            self.outbox.setStyleSheet(self._look(colour, button=True))
        self._fit()

    def _look(self, colour: str, *, button: bool = False) -> str:
        value = getattr(self.theme, colour)
        if colour == "danger":
            return pill(value, compact=True)
        frame = "border:none; background:transparent; padding:0 6px;" if button else ""
        return f"color:{value}; font-weight:600; {frame}"

    def set_look(self, theme: Theme, zone: tzinfo) -> None:
        self.theme, self.zone = theme, zone
        self.show_all()

    def _fit(self) -> None:
        shown = bool(self.labels) or not self.outbox.isHidden()
        self.setVisible(shown)

    def _on_feed_platform_changed(self, state: PlatformState) -> None:
        self.show_platform(state)

    def _on_feed_outbox_changed(self, waiting: Waiting) -> None:
        self.show_outbox(waiting)

    def _on_outbox_clicked(self) -> None:
        self.outbox_clicked.emit()


def tick_boxes(theme: Theme) -> str:
    """Check boxes that show on both themes (the unticked box is lost on dark)."""
    return (
        f"QCheckBox::indicator {{ width: 13px; height: 13px; border-radius: 3px;"
        f" border: 2px solid {theme.muted}; background: {theme.raised}; }}"
        f" QCheckBox::indicator:checked {{ background: {theme.accent};"
        f" border-color: {theme.accent}; }}"
    )


def _never_clipped(widget: QWidget) -> None:
    """Always as wide as its words: in a full status bar, others give way."""
    widget.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
