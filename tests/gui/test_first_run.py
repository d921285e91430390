"""The Connections dialog: when it opens, keys, a test on a worker thread that
says what failed, and Save writing settings and secrets where they belong."""

from __future__ import annotations

import os
import socket
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from mimdesk import doctor
from mimdesk.settings import ChatSettings, PrometheusSettings, Settings
from mimdesk.ui.first_run import ConnectionsDialog, wanted
from mimdesk.ui.theme import THEMES, apply_theme

pytestmark = pytest.mark.gui

NO_KEYRING = "no system keyring - secrets not persisted"
TOKEN = "syt_first-run-token-3b9f"


class Secrets:
    """A keyring stand-in: what is kept, and what was stored."""

    def __init__(self, **kept: str) -> None:
        self.kept = {k.replace("_", "."): v for k, v in kept.items()}
        self.stored: list[tuple[str, str]] = []

    def lookup(self, key: str) -> tuple[str | None, str]:
        return self.kept.get(key), ""

    def store(self, key: str, value: str) -> str:
        self.stored.append((key, value))
        self.kept[key] = value
        return ""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config" / "settings.toml"


@pytest.fixture
def dead_url() -> str:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def make_dialog(qtbot, config: Path) -> Iterator[Callable[..., ConnectionsDialog]]:
    """An open dialog on `config`, active so keys reach it; every test thread
    it started has ended before the test does."""

    def make(settings: Settings | None = None, **kw: Any) -> ConnectionsDialog:
        kw.setdefault("keyring", "")
        kw.setdefault("environ", {})
        secrets = kw.pop("secrets", Secrets())
        dialog = ConnectionsDialog(
            config, settings or Settings(), lookup=secrets.lookup,
            store_secret=secrets.store, **kw,
        )  # fmt: skip
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        dialog.windowHandle().requestActivate()
        qtbot.waitUntil(dialog.isActiveWindow)
        return dialog

    yield make
    for thread in threading.enumerate():
        if thread.name.startswith("connection-test-"):
            thread.join(doctor.DEADLINE_S)


def _result(dialog: ConnectionsDialog, section: str) -> QLabel:
    return dialog.sections[section].result


def _shown(dialog: ConnectionsDialog) -> list[str]:
    return [w.objectName() for w in dialog.findChildren(QWidget) if w.isVisible()]


# --- when it opens ----------------------------------------------------------------


def test_it_opens_on_a_first_real_start_with_a_screen(config: Path) -> None:
    assert wanted(config, demo=False, environ={}, platform="xcb")
    assert not wanted(config, demo=True, environ={}, platform="xcb")
    assert not wanted(config, demo=False, environ={}, platform="offscreen")
    kiosk = {"MIMDESK_PROMETHEUS_URL": "http://prom:9090"}
    assert not wanted(config, demo=False, environ=kiosk, platform="wayland")
    config.parent.mkdir()
    config.write_text("")
    assert not wanted(config, demo=False, environ={}, platform="xcb")


# --- keys -------------------------------------------------------------------------


def test_tab_walks_each_section_then_the_buttons(make_dialog, qtbot) -> None:
    dialog = make_dialog(first_run=True)
    order = [QApplication.focusWidget().objectName()]
    for _ in range(11):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget().objectName())

    assert order == [
        "prometheus_url", "prometheus_test",
        "alertmanager_url", "alertmanager_test",
        "chat_platform", "matrix_url", "matrix_user", "matrix_credential",
        "matrix_secret", "chat_test",
        "save", "close",
    ]  # fmt: skip
    assert dialog.close_button.text() == "Not now"


def test_enter_tests_the_focused_section_off_the_gui_thread(
    make_dialog, qtbot, dead_url: str, monkeypatch
) -> None:
    threads: list[str] = []
    real = doctor.check_prometheus

    def spy(*args: Any, **kw: Any) -> doctor.Check:
        threads.append(threading.current_thread().name)
        return real(*args, **kw)

    monkeypatch.setattr(doctor, "check_prometheus", spy)
    dialog = make_dialog()
    qtbot.keyClicks(dialog.prometheus_url, dead_url)

    qtbot.keyClick(dialog.prometheus_url, Qt.Key.Key_Return)

    assert _result(dialog, "prometheus").text() == "Testing…"
    qtbot.waitUntil(lambda: "FAILED" in _result(dialog, "prometheus").text())
    assert _result(dialog, "prometheus").text() == (
        f"FAILED: cannot reach Prometheus at {dead_url}: connection refused; is it "
        "running there, and are the host and port right?"
    )
    assert threads == ["connection-test-prometheus"]
    assert _result(dialog, "alertmanager").text() == "Not tested yet."
    assert dialog.isVisible()  # Enter tested; it did not save or close
    assert not Path(dialog.config_file).exists()


def test_an_empty_section_says_it_is_not_set_up(make_dialog, qtbot) -> None:
    dialog = make_dialog()
    dialog.alertmanager_url.setFocus()

    qtbot.keyClick(dialog.alertmanager_url, Qt.Key.Key_Enter)

    qtbot.waitUntil(lambda: "NOT SET UP" in _result(dialog, "alertmanager").text())
    assert "[alertmanager] url" in _result(dialog, "alertmanager").text()


def test_escape_closes_without_writing(make_dialog, qtbot, config: Path) -> None:
    dialog = make_dialog(first_run=True)
    qtbot.keyClicks(dialog.prometheus_url, "http://127.0.0.1:9090")

    qtbot.keyClick(dialog.prometheus_url, Qt.Key.Key_Escape)

    assert not dialog.isVisible()
    assert dialog.result() == 0
    assert not config.exists()


# --- the chat section -------------------------------------------------------------


def test_choosing_a_platform_shows_only_its_fields(make_dialog, qtbot) -> None:
    dialog = make_dialog()

    dialog.platform.setCurrentIndex(2)  # Microsoft Teams

    shown = _shown(dialog)
    assert "teams_secret" in shown
    assert "matrix_url" not in shown
    assert "slack_secret" not in shown
    dialog.platform.setCurrentIndex(1)  # Slack
    assert {"slack_api_url", "slack_credential", "slack_secret"} <= set(_shown(dialog))


def test_the_typed_token_is_what_the_chat_test_uses(make_dialog, qtbot) -> None:
    secrets = Secrets(matrix_token="stored-token", matrix_password="pw")
    dialog = make_dialog(secrets=secrets)
    qtbot.keyClicks(dialog.fields["matrix"]["url"], "http://127.0.0.1:9")
    qtbot.keyClicks(dialog.secrets["matrix"], TOKEN)

    lookup = dialog.secret_lookup()

    assert lookup("matrix.token") == (TOKEN, "")
    assert lookup("matrix.password") == (None, "")  # not the stored one
    assert lookup("slack.token") == (None, "")
    assert dialog.candidate().chat.matrix_url == "http://127.0.0.1:9"


# --- saving -----------------------------------------------------------------------


def test_save_writes_what_was_filled_and_stores_the_secret_apart(
    make_dialog, qtbot, config: Path, tmp_path: Path
) -> None:
    secrets = Secrets()
    dialog = make_dialog(first_run=True, secrets=secrets)
    qtbot.keyClicks(dialog.prometheus_url, "http://127.0.0.1:9090")
    qtbot.keyClicks(dialog.fields["matrix"]["url"], "https://matrix.example.org")
    qtbot.keyClicks(dialog.fields["matrix"]["user"], "@mimdesk:example.org")
    qtbot.keyClicks(dialog.secrets["matrix"], TOKEN)

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert dialog.result() == 1  # the first start goes on to the console
    assert tomllib.loads(config.read_text()) == {
        "prometheus": {"url": "http://127.0.0.1:9090"},
        "matrix": {
            "url": "https://matrix.example.org",
            "user": "@mimdesk:example.org",
        },
    }
    assert secrets.stored == [("matrix.token", TOKEN)]
    assert not [
        p for p in tmp_path.rglob("*") if p.is_file() and TOKEN in p.read_text()
    ]


def test_save_from_the_menu_keeps_other_settings_and_says_when_it_applies(
    make_dialog, qtbot, config: Path
) -> None:
    config.parent.mkdir()
    config.write_text('theme = "light"\n\n[prometheus]\nurl = "http://old:9090"\n')
    settings = Settings(theme="light", prometheus=PrometheusSettings("http://old:9090"))
    dialog = make_dialog(settings)
    assert dialog.prometheus_url.text() == "http://old:9090"
    dialog.prometheus_url.setText("http://new:9090")

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert dialog.isVisible()
    assert dialog.saved.text().endswith("MIMDesk uses it from its next start.")
    assert tomllib.loads(config.read_text()) == {
        "theme": "light",
        "prometheus": {"url": "http://new:9090"},
    }


def test_a_bad_url_saves_nothing_and_says_where(
    make_dialog, qtbot, config: Path
) -> None:
    dialog = make_dialog(first_run=True)
    qtbot.keyClicks(dialog.alertmanager_url, "alertmanager:9093")

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert dialog.isVisible()
    assert not config.exists()
    assert (
        _result(dialog, "alertmanager")
        .text()
        .startswith("FAILED: not saved: the URL must be an http:// or https:// URL")
    )
    assert dialog.saved.text() == "Nothing was saved: fix the URL shown in red."


def test_without_a_keyring_the_secret_is_never_written(
    make_dialog, qtbot, config: Path, tmp_path: Path
) -> None:
    secrets = Secrets()
    dialog = make_dialog(first_run=True, keyring=NO_KEYRING, secrets=secrets)
    dialog.platform.setCurrentIndex(1)  # Slack
    qtbot.keyClicks(dialog.secrets["slack"], TOKEN)

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    notice = dialog.findChild(QLabel, "keyring_notice")
    assert notice is not None
    assert notice.text().startswith(NO_KEYRING)
    assert dialog.isVisible()  # the operator must read why
    assert "The secret was not stored" in dialog.saved.text()
    assert "MIMDESK_SECRET_SLACK_TOKEN" in dialog.saved.text()
    assert secrets.stored == []
    assert config.exists()
    assert not [
        p for p in tmp_path.rglob("*") if p.is_file() and TOKEN in p.read_text()
    ]


def test_an_environment_url_is_said_to_win(make_dialog) -> None:
    environ = {"MIMDESK_PROMETHEUS_URL": "http://user:pw@prom.kiosk:9090"}

    dialog = make_dialog(environ=environ)

    hint = dialog.findChild(QLabel, "prometheus_environment")
    assert hint is not None
    assert hint.text() == (
        "MIMDESK_PROMETHEUS_URL=http://prom.kiosk:9090 is set and is used instead "
        "of this field."
    )


@pytest.fixture
def dark_theme(qapp) -> Iterator[None]:
    """The app's dark theme, as the console runs it; put back afterwards."""
    before = qapp.styleSheet()
    apply_theme(qapp, THEMES["dark"])
    yield
    qapp.setStyleSheet(before)


@pytest.mark.usefixtures("dark_theme")
def test_the_dialog_renders_readably(make_dialog, qtbot, tmp_path: Path) -> None:
    settings = Settings(chat=ChatSettings(matrix_url="https://matrix.example.org"))
    environ = {"MIMDESK_ALERTMANAGER_URL": "http://am.kiosk:9093"}
    dialog = make_dialog(settings, first_run=True, keyring=NO_KEYRING, environ=environ)
    result = dialog.sections["prometheus"].result
    dialog.sections["prometheus"].show_problem("cannot reach Prometheus " * 6)
    qtbot.waitUntil(lambda: result.height() >= result.heightForWidth(result.width()))
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    image = dialog.grab().toImage()
    image.save(str(out / "connections-first-run.png"))

    for widget in dialog.findChildren(QWidget):
        if widget.isVisible() and widget.objectName().endswith(("_url", "_secret")):
            assert widget.height() >= widget.sizeHint().height(), widget.objectName()
        if isinstance(widget, QLabel) and widget.isVisible() and widget.wordWrap():
            wanted = widget.heightForWidth(widget.width())
            assert widget.height() >= wanted, widget.objectName()
    assert image.height() >= dialog.layout().totalHeightForWidth(dialog.width())
