"""The console during an exercise: an EXERCISE banner over every view with the
scenario clock, the facilitator's injects as they come, and the debrief at the
end (written off the GUI thread)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from mimdesk.clock import ExerciseClock
from mimdesk.domain.scenario import offset_text
from mimdesk.exercise import Run
from mimdesk.sync.exercise import ExerciseChat, Player

if TYPE_CHECKING:
    from mimdesk.ui.banners import BannerStack

log = logging.getLogger(__name__)

BANNER = "exercise"
NOTICE = "exercise-notice"
OVER = "exercise-over"
TICK_MS = 250


@dataclass
class ExerciseMode:
    """A running exercise, as the console needs it. `notices` is filled from
    the player's thread; `write_debrief` is called off the GUI thread."""

    run: Run
    clock: ExerciseClock
    player: Player
    chat: ExerciseChat
    write_debrief: Callable[[], Path]
    notices: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    real_traffic: bool = False

    def banner_text(self) -> str:
        s = self.run.scenario
        offset = min(self.clock.offset(), s.length)
        speed = f"\u00d7{self.run.speed:g}"
        who = "autopilot plays the team" if self.run.autopilot else "the team plays"
        out = (
            "exercise messages go to REAL audiences, marked [EXERCISE]"
            if self.real_traffic
            else "nothing is sent to real audiences"
        )
        return (
            f"EXERCISE \u2014 {s.title} \u2014 {offset_text(offset)} of "
            f"{offset_text(s.length)} at {speed}, {who} \u2014 {out}. "
            "Not a real incident."
        )


class ExerciseWatch(QObject):
    """Keeps the console's exercise banners current and writes the debrief
    once the scenario's time is up (or the exercise is ended early)."""

    def __init__(
        self,
        mode: ExerciseMode,
        banners: BannerStack,
        show_message: Callable[[str], None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.mode = mode
        self._banners = banners
        self._show_message = show_message
        self.debrief: Future[Path] | None = None
        self.debrief_path: Path | None = None
        banners.raise_alert(BANNER, mode.banner_text(), kind="exercise")
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start(TICK_MS)

    def _on_timer_timeout(self) -> None:
        self._banners.set_alert_text(BANNER, self.mode.banner_text())
        while self.mode.notices:
            text = self.mode.notices.popleft()
            self._banners.raise_alert(NOTICE, text, kind="exercise", dismissable=True)
        if self.mode.player.finished.is_set() and self.debrief is None:
            self.write_debrief()
        if self.debrief is not None and self.debrief.done():
            self._on_debrief_done(self.debrief)

    def end_now(self) -> None:
        """Stop the injects and write the debrief of what was done so far."""
        self.mode.player.stop()
        self.write_debrief()

    def write_debrief(self) -> None:
        if self.debrief is not None and not self.debrief.done():
            return
        future: Future[Path] = Future()

        def work() -> None:
            try:
                future.set_result(self.mode.write_debrief())
            except Exception as exc:  # shown to the operator, logged in full
                log.exception("the exercise debrief could not be written")
                future.set_exception(exc)

        self.debrief = future
        self.debrief_path = None
        threading.Thread(target=work, name="debrief", daemon=True).start()
        self._show_message("Writing the exercise debrief\u2026")

    def _on_debrief_done(self, future: Future[Path]) -> None:
        if self.debrief_path is not None:
            return
        error = future.exception()
        if error is not None:
            text = f"The exercise is over, but the debrief failed: {error}"
            self.debrief_path = Path()
        else:
            self.debrief_path = future.result()
            text = (
                f"The exercise is over. Debrief: {self.debrief_path} "
                "(Exercise \u2192 Write the debrief again)"
            )
        self._banners.raise_alert(OVER, text, kind="exercise")
        self._show_message(text)

    def stop(self) -> None:
        self._timer.stop()
