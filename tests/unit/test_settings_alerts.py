"""Settings for alerts in: `[alertmanager]` and `[receiver]`, with problems named."""

from __future__ import annotations

from pathlib import Path

from mimdesk.settings import (
    AlertmanagerSettings,
    ReceiverSettings,
    Settings,
    load_settings,
)


def load(tmp_path: Path, text: str) -> tuple[Settings, tuple[str, ...]]:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    loaded = load_settings(path)
    return loaded.settings, loaded.problems


def test_receiver_is_off_and_on_loopback_by_default(tmp_path: Path) -> None:
    settings, problems = load(tmp_path, 'theme = "dark"\n')
    assert settings.receiver == ReceiverSettings()
    assert settings.receiver.enabled is False
    assert settings.receiver.listen == "127.0.0.1"
    assert settings.receiver.port == 9095
    assert settings.alertmanager == AlertmanagerSettings()
    assert problems == ()


def test_both_sections_are_read(tmp_path: Path) -> None:
    settings, problems = load(
        tmp_path,
        '[alertmanager]\nurl = "https://am.example.internal:9093"\n'
        'auth = "bearer"\nca_file = "ca.pem"\npoll_seconds = 15\n'
        "[receiver]\nenabled = true\nport = 19095\n"
        'path = "/hooks/am"\nmax_bytes = 65536\n',
    )
    assert problems == ()
    manager = settings.alertmanager
    assert manager.url == "https://am.example.internal:9093"
    assert manager.auth == "bearer"
    assert manager.ca_file == (tmp_path / "ca.pem").resolve()
    assert manager.poll_seconds == 15.0
    receiver = settings.receiver
    assert (receiver.enabled, receiver.port, receiver.path) == (
        True,
        19095,
        "/hooks/am",
    )
    assert receiver.max_bytes == 65536


def test_bad_values_are_named_and_defaults_kept(tmp_path: Path) -> None:
    settings, problems = load(
        tmp_path,
        '[alertmanager]\nurl = "am:9093"\nauth = "token"\npoll_seconds = 1\n'
        '[receiver]\nenabled = "yes"\nport = 70000\npath = "hooks"\n'
        "max_bytes = 0\ncolour = 1\n",
    )
    text = "\n".join(problems)
    for key in (
        "alertmanager.url",
        "alertmanager.auth",
        "alertmanager.poll_seconds",
        "receiver.enabled",
        "receiver.port",
        "receiver.path",
        "receiver.max_bytes",
        "unknown setting receiver.colour",
    ):
        assert key in text
    assert settings.receiver == ReceiverSettings()
    assert settings.alertmanager.url == ""
