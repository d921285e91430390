"""The Connections dialog: Prometheus, Alertmanager and one chat platform, each
with a Test connection button that runs `mimdesk doctor`'s check for it on a
worker thread and says exactly what failed. Save writes what was filled in to
settings.toml and secrets to the keyring (never to a file). Shown on the first
start of the console (no settings file yet) and from View → Connections….

Keys: Tab moves through the fields, Enter tests the section the focus is in
(or presses the focused button), Esc closes.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mimdesk import doctor
from mimdesk.doctor import Check, SecretLookup
from mimdesk.secrets import env_name, get_secret, keyring_problem, set_secret
from mimdesk.settings import (
    URL_RULE,
    ChatSettings,
    Settings,
    load_settings,
    url_problem,
    without_credentials,
)
from mimdesk.settings_edit import SettingsEditError, write_values
from mimdesk.ui.check_section import CheckRunner, Section, row_label
from mimdesk.ui.theme import THEMES

log = logging.getLogger(__name__)

# Variables that set a connection up without a settings file (a kiosk).
ENVIRONMENT = {
    "prometheus": doctor.PROMETHEUS_VARIABLE,
    "alertmanager": doctor.ALERTMANAGER_VARIABLE,
    "matrix": "MIMDESK_MATRIX_URL",
}
PLATFORMS = (("matrix", "Matrix"), ("slack", "Slack"), ("teams", "Microsoft Teams"))
# Per platform: (label, secret key) for each kind of credential it takes.
CREDENTIALS = {
    "matrix": (("Access token", "matrix.token"), ("Password", "matrix.password")),
    "slack": (("Bot token", "slack.token"), ("Incoming webhook URL", "slack.webhook")),
    "teams": (("Workflows webhook URL", "teams.webhook"),),
}
CHECKS = {
    "matrix": doctor.check_matrix,
    "slack": doctor.check_slack,
    "teams": doctor.check_teams,
}
HEADLESS = ("offscreen", "minimal")


def wanted(
    config_file: Path,
    *,
    demo: bool,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> bool:
    """Whether this start shows the dialog: the first real (not DEMO) start,
    with no settings file, no connection set up by the environment, and a
    screen someone can answer it on."""
    env = os.environ if environ is None else environ
    if demo or config_file.exists():
        return False
    if any(env.get(variable) for variable in ENVIRONMENT.values()):
        return False
    shown_on = platform or QGuiApplication.platformName()
    if shown_on in HEADLESS:
        log.info("first start on the %s platform: no Connections dialog", shown_on)
        return False
    return True


def run(config_file: Path) -> bool:
    """Show the dialog for the first start; True when the operator saved."""
    settings = load_settings(config_file).settings
    dialog = ConnectionsDialog(config_file, settings, first_run=True)
    return dialog.exec() == QDialog.DialogCode.Accepted


def show_connections(config_file: Path, parent: QWidget) -> ConnectionsDialog:
    """Open the dialog over the console (View → Connections…), not waiting.

    FIXME(settings): what is saved here is used from the next start; restarting
    the health and alert pollers and chat on the new settings would apply it at
    once."""
    settings = load_settings(config_file).settings
    dialog = ConnectionsDialog(config_file, settings, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


class ConnectionsDialog(QDialog):
    """The connections to set up and test; see the module's docstring."""

    def __init__(
        self,
        config_file: Path,
        settings: Settings,
        *,
        first_run: bool = False,
        parent: QWidget | None = None,
        lookup: SecretLookup = get_secret,
        store_secret: Callable[[str, str], str] = set_secret,
        keyring: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ConnectionsDialog")
        self.setWindowTitle("MIMDesk: connections" if first_run else "Connections")
        self.setMinimumWidth(720)
        self.config_file = config_file
        self.settings = settings
        self.first_run = first_run
        self._lookup, self._store_secret = lookup, store_secret
        self.keyring = keyring_problem() if keyring is None else keyring
        self._environ = os.environ if environ is None else environ
        self.theme = THEMES.get(settings.theme, THEMES["dark"])
        self._attempts: dict[str, int] = {}
        self.runner = CheckRunner(self)
        # Queued: a result that comes after the dialog closed is dropped, never
        # shown from the checking thread.
        self.runner.finished.connect(
            self._on_runner_finished, Qt.ConnectionType.QueuedConnection
        )
        layout = QVBoxLayout(self)
        self._intro(layout)
        self.sections = {
            "prometheus": self._prometheus(),
            "alertmanager": self._alertmanager(),
            "chat": self._chat(),
        }
        for section in self.sections.values():
            section.test_requested.connect(partial(self.test, section.name))
            section.result_shown.connect(self._on_section_result_shown)
            layout.addWidget(section)
        layout.addStretch(1)
        self.saved = QLabel()
        self.saved.setObjectName("save_result")
        self.saved.setWordWrap(True)
        layout.addWidget(self.saved)
        layout.addLayout(self._buttons())
        self._tab_order()
        self.prometheus_url.setFocus()

    # --- construction ---------------------------------------------------------

    def _intro(self, layout: QVBoxLayout) -> None:
        text = (
            "Connect MIMDesk to your monitoring and your chat. Every part is "
            "optional; test each one, then save. "
            if self.first_run
            else "Changes are used from MIMDesk's next start. "
        )
        text += f"Settings go to {self.config_file}; empty fields leave it as it is."
        intro = QLabel(text)
        intro.setObjectName("intro")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if not self.keyring:
            return
        notice = QLabel(
            f"{self.keyring}: a secret typed here is used for the test only and "
            "is not saved anywhere. Pass it to MIMDesk in the environment instead "
            f"(MIMDESK_SECRET_…, e.g. {env_name('matrix.token')})."
        )
        notice.setObjectName("keyring_notice")
        notice.setWordWrap(True)
        notice.setStyleSheet(f"color: {self.theme.warning};")
        layout.addWidget(notice)

    def _env_hint(self, section: Section, name: str) -> None:
        variable = ENVIRONMENT.get(name, "")
        value = self._environ.get(variable, "").strip() if variable else ""
        if value:
            section.note(
                f"{name}_environment",
                f"{variable}={without_credentials(value)} is set and is used "
                "instead of this field.",
                self.theme.warning,
            )

    def _prometheus(self) -> Section:
        section = Section("prometheus", "Prometheus (service health)", self.theme)
        self.prometheus_url = section.line(
            "Server URL", "url", self.settings.prometheus.url,
            "http://prometheus.example.internal:9090",
        )  # fmt: skip
        self._env_hint(section, "prometheus")
        return section

    def _alertmanager(self) -> Section:
        section = Section("alertmanager", "Alertmanager (alerts)", self.theme)
        self.alertmanager_url = section.line(
            "Server URL", "url", self.settings.alertmanager.url,
            "http://alertmanager.example.internal:9093",
        )  # fmt: skip
        self._env_hint(section, "alertmanager")
        return section

    def _chat(self) -> Section:
        section = Section("chat", "Chat (incident channels)", self.theme)
        chat = self.settings.chat
        self.platform = QComboBox()
        self.platform.setObjectName("chat_platform")
        for key, label in PLATFORMS:
            self.platform.addItem(label, key)
        section.form.addRow(row_label("Platform"), self.platform)
        self.fields: dict[str, dict[str, QLineEdit]] = {}
        self.kinds: dict[str, QComboBox] = {}
        self.secrets: dict[str, QLineEdit] = {}
        self.rows: dict[str, list[QWidget]] = {}
        self._chat_rows(section.form, "matrix", [
            ("Homeserver URL", "url", chat.matrix_url, "https://matrix.example.org"),
            ("User", "user", chat.matrix_user, "@mimdesk:example.org"),
        ])  # fmt: skip
        self._chat_rows(section.form, "slack", [
            ("API URL", "api_url", chat.slack_api_url, f"{doctor.SLACK_API} (default)"),
        ])  # fmt: skip
        self._chat_rows(section.form, "teams", [])
        self.platform.currentIndexChanged.connect(
            partial(self._on_platform_current_index_changed, section.form)
        )
        first = "slack" if chat.slack_api_url and not chat.matrix_url else "matrix"
        self.platform.setCurrentIndex([k for k, _ in PLATFORMS].index(first))
        self._on_platform_current_index_changed(section.form)
        self._env_hint(section, "matrix")
        return section

    def _chat_rows(
        self, form: QFormLayout, platform: str, rows: list[tuple[str, str, str, str]]
    ) -> None:
        """A platform's rows in the chat form; only the chosen one's are shown."""
        self.fields[platform] = {}
        for label, key, text, hint in rows:
            edit = QLineEdit(text)
            edit.setObjectName(f"{platform}_{key}")
            edit.setPlaceholderText(hint)
            form.addRow(row_label(label), edit)
            self.fields[platform][key] = edit
        kind = QComboBox()
        kind.setObjectName(f"{platform}_credential")
        for label, key in CREDENTIALS[platform]:
            kind.addItem(label, key)
        self.kinds[platform] = kind
        secret = QLineEdit()
        secret.setObjectName(f"{platform}_secret")
        secret.setEchoMode(QLineEdit.EchoMode.Password)
        secret.setPlaceholderText("empty: keep the one stored, if any")
        form.addRow(row_label("Credential" if kind.count() > 1 else "Webhook URL"),
                    kind if kind.count() > 1 else secret)  # fmt: skip
        if kind.count() > 1:
            form.addRow(row_label("Secret"), secret)
        self.secrets[platform] = secret
        self.rows[platform] = [*self.fields[platform].values(), secret]
        if kind.count() > 1:
            self.rows[platform].append(kind)

    def _on_platform_current_index_changed(
        self, form: QFormLayout, _index: int = 0
    ) -> None:
        chosen = self.chosen_platform()
        for platform, widgets in self.rows.items():
            for widget in widgets:
                form.setRowVisible(widget, platform == chosen)

    def _buttons(self) -> QHBoxLayout:
        # Plain buttons, none the default: Enter tests a section, never saves.
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("save")
        self.close_button = QPushButton("Not now" if self.first_run else "Close")
        self.close_button.setObjectName("close")
        row = QHBoxLayout()
        row.addStretch(1)
        for button in (self.save_button, self.close_button):
            button.setAutoDefault(False)
            row.addWidget(button)
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)
        return row

    def _tab_order(self) -> None:
        """Down each section, its Test connection button last, then the buttons
        (Tab skips the fields of the platforms not chosen)."""
        chat: list[QWidget] = [self.platform]
        for platform, _label in PLATFORMS:
            chat += self.fields[platform].values()
            if self.kinds[platform].count() > 1:  # the combo is not shown for one
                chat.append(self.kinds[platform])
            chat.append(self.secrets[platform])
        chain: list[QWidget] = [
            self.prometheus_url,
            self.sections["prometheus"].test_button,
            self.alertmanager_url,
            self.sections["alertmanager"].test_button,
            *chat,
            self.sections["chat"].test_button,
            self.save_button,
            self.close_button,
        ]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)

    # --- what was typed -------------------------------------------------------

    def chosen_platform(self) -> str:
        return str(self.platform.currentData())

    def _typed_secret(self) -> tuple[str, str]:
        """The chosen platform's secret key and what was typed for it."""
        platform = self.chosen_platform()
        key = str(self.kinds[platform].currentData())
        return key, self.secrets[platform].text().strip()

    def _text(self, platform: str, key: str) -> str:
        edit = self.fields[platform].get(key)
        return edit.text().strip() if edit is not None else ""

    def candidate(self) -> Settings:
        """The settings as they would be after Save, for a test."""
        s = self.settings
        prometheus = self.prometheus_url.text().strip() or s.prometheus.url
        alertmanager = self.alertmanager_url.text().strip() or s.alertmanager.url
        return replace(
            s,
            prometheus=replace(s.prometheus, url=prometheus),
            alertmanager=replace(s.alertmanager, url=alertmanager),
            chat=self._candidate_chat(s.chat),
        )

    def _candidate_chat(self, chat: ChatSettings) -> ChatSettings:
        platform = self.chosen_platform()
        if platform == "matrix":
            return replace(
                chat,
                matrix_url=self._text("matrix", "url") or chat.matrix_url,
                matrix_user=self._text("matrix", "user") or chat.matrix_user,
            )
        if platform == "slack":
            api_url = self._text("slack", "api_url") or chat.slack_api_url
            return replace(chat, slack_api_url=api_url)
        return chat

    def secret_lookup(self) -> SecretLookup:
        """Secrets for a test: the one typed wins; the chosen platform's other
        kinds are ignored while one is typed; the rest as stored."""
        typed_key, typed = self._typed_secret()
        platform = self.chosen_platform()
        others = {key for _label, key in CREDENTIALS[platform]} - {typed_key}

        def lookup(key: str) -> tuple[str | None, str]:
            if key == typed_key and typed:
                return typed, ""
            if key in others and typed:
                return None, ""
            return self._lookup(key)

        return lookup

    def _check_for(self, name: str) -> Callable[[], Check]:
        """The doctor's check for a section, on what is typed. The environment's
        URLs are left out: the test is of the fields (a hint says when the
        environment overrides one)."""
        settings, secret = self.candidate(), self.secret_lookup()
        if name == "prometheus":
            return partial(doctor.check_prometheus, settings, environ={}, secret=secret)
        if name == "alertmanager":
            return partial(
                doctor.check_alertmanager, settings, environ={}, secret=secret
            )
        return partial(CHECKS[self.chosen_platform()], settings.chat, secret=secret)

    # --- testing ----------------------------------------------------------------

    def test(self, name: str) -> None:
        """Run the section's check on a worker thread; its answer, or the lack
        of one by doctor.DEADLINE_S, is shown in the section."""
        section = self.sections[name]
        if not section.test_button.isEnabled():
            return  # a test is running
        attempt = self._attempts.get(name, 0) + 1
        self._attempts[name] = attempt
        section.show_testing()
        self.runner.start(name, attempt, self._check_for(name))
        QTimer.singleShot(
            int(doctor.DEADLINE_S * 1000),
            self,
            partial(self._on_deadline, name, attempt),
        )

    def _on_runner_finished(self, name: str, attempt: int, check: Check) -> None:
        if self._attempts.get(name) != attempt:
            return  # an answer that came after the deadline
        self._attempts[name] = attempt + 1
        self.sections[name].show_check(check)

    def _on_deadline(self, name: str, attempt: int) -> None:
        if self._attempts.get(name) != attempt:
            return
        self._attempts[name] = attempt + 1
        self.sections[name].show_problem(
            f"no answer within {doctor.DEADLINE_S:g} s; check the address and "
            "the network"
        )

    def testing(self) -> bool:
        return not all(s.test_button.isEnabled() for s in self.sections.values())

    # --- saving -----------------------------------------------------------------

    def values(self) -> dict[tuple[str, str], str] | None:
        """What goes into settings.toml; None (the problem shown) if a URL is bad."""
        wanted: dict[tuple[str, str], str] = {}
        urls = [
            ("prometheus", ("prometheus", "url"), self.prometheus_url.text()),
            ("alertmanager", ("alertmanager", "url"), self.alertmanager_url.text()),
        ]
        platform = self.chosen_platform()
        if platform == "matrix":
            urls.append(("chat", ("matrix", "url"), self._text("matrix", "url")))
            if self._text("matrix", "user"):
                wanted[("matrix", "user")] = self._text("matrix", "user")
        if platform == "slack":
            urls.append(("chat", ("slack", "api_url"), self._text("slack", "api_url")))
        for section, key, text in urls:
            text = text.strip()
            if text and url_problem(text):
                self.sections[section].show_problem(f"not saved: the URL {URL_RULE}")
                return None
            if text:
                wanted[key] = text
        return wanted

    def save(self) -> None:
        values = self.values()
        if values is None:
            self.saved.setText("Nothing was saved: fix the URL shown in red.")
            return
        try:
            write_values(self.config_file, values)
        except SettingsEditError as exc:
            self.saved.setText(f"Nothing was saved: {exc}")
            return
        written = ", ".join(f"{t}.{k}" for t, k in values) or "nothing changed"
        log.info("settings: %s written (%s)", self.config_file, written)
        problem = self._save_secret()
        said = f"Saved to {self.config_file}."
        if problem:
            self.saved.setText(f"{said} {problem}")
            self._on_section_result_shown()
            return
        if self.first_run:
            self.accept()
            return
        self.saved.setText(f"{said} MIMDesk uses it from its next start.")

    def _save_secret(self) -> str:
        key, typed = self._typed_secret()
        if not typed:
            return ""
        if self.keyring:
            return (
                f"The secret was not stored ({self.keyring}); set {env_name(key)} "
                "in MIMDesk's environment instead."
            )
        # FIXME(ui): the keyring is written on the GUI thread; one that asks to
        # be unlocked holds this window until answered. A worker thread, as
        # Test connection uses, would keep it responsive.
        problem = self._store_secret(key, typed)
        if problem:
            return f"The secret was not stored: {problem}."
        self.secrets[self.chosen_platform()].clear()
        log.info("settings: secret %r stored in the keyring", key)
        return ""

    # --- Qt overrides -----------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_height()

    def _on_section_result_shown(self) -> None:
        # The new text's height is known once the layouts have run.
        QTimer.singleShot(0, self, self._fit_height)

    def _fit_height(self) -> None:
        """Grow to the height the layout asks for at this width: Qt sizes a
        window with wrapped text to its minimum, which squeezes the fields."""
        layout = self.layout()
        if layout is None or not self.isVisible():
            return
        wanted = layout.totalHeightForWidth(self.width())
        if self.height() < wanted:
            self.resize(self.width(), wanted)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() not in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            super().keyPressEvent(event)
            return
        focus = self.focusWidget()
        if isinstance(focus, QPushButton):
            focus.click()
            return
        for section in self.sections.values():
            if focus is not None and section.isAncestorOf(focus):
                self.test(section.name)
                return

    def done(self, result: int) -> None:
        # Esc and Close while a test runs: its answer arrives to no one.
        self._attempts.clear()
        super().done(result)
