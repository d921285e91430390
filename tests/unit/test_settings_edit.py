"""Writing values into settings.toml: only what is asked changes, comments stay,
and an edit that cannot be made safely leaves the file alone."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from mimdesk.settings import load_settings
from mimdesk.settings_edit import SettingsEditError, toml_string, write_values

KEPT = """\
# Control room B
timezone = "Europe/London"  # where the bridge is

[prometheus]
url = "http://old.example:9090"
auth = "bearer"

# Alerts come from the EU cluster
[alertmanager]
url = "http://am.example:9093"
"""


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "settings.toml"


def test_a_new_file_has_a_header_and_only_the_values_given(
    settings_file: Path,
) -> None:
    write_values(settings_file, {("prometheus", "url"): "http://127.0.0.1:9090"})

    text = settings_file.read_text()
    assert text.startswith("# MIMDesk settings")
    assert "never in this file" in text
    assert tomllib.loads(text) == {"prometheus": {"url": "http://127.0.0.1:9090"}}
    assert load_settings(settings_file).problems == ()


def test_nothing_to_write_still_makes_the_file(settings_file: Path) -> None:
    write_values(settings_file, {})

    assert tomllib.loads(settings_file.read_text()) == {}


def test_an_edit_keeps_comments_order_and_other_keys(settings_file: Path) -> None:
    settings_file.parent.mkdir()
    settings_file.write_text(KEPT)

    write_values(
        settings_file,
        {
            ("prometheus", "url"): "https://prom.example:9090",
            ("prometheus", "username"): "mimdesk",
            ("matrix", "url"): "https://matrix.example.org",
        },
    )

    text = settings_file.read_text()
    assert text.startswith(KEPT.split("[prometheus]")[0])  # comments, zone
    assert "# Alerts come from the EU cluster\n[alertmanager]" in text
    assert text.index("username") < text.index("# Alerts come")
    assert tomllib.loads(text) == {
        "timezone": "Europe/London",
        "prometheus": {
            "url": "https://prom.example:9090",
            "auth": "bearer",
            "username": "mimdesk",
        },
        "alertmanager": {"url": "http://am.example:9093"},
        "matrix": {"url": "https://matrix.example.org"},
    }


@pytest.mark.parametrize(
    "layout",
    [
        'prometheus.url = "http://a:9090"\n',  # a dotted key, no table
        'prometheus = { url = "http://a:9090" }\n',  # an inline table
        '[prometheus]\nurl = """\nhttp://a:9090"""\n',  # a multi-line string
    ],
)
def test_a_layout_that_cannot_be_edited_safely_is_refused_untouched(
    settings_file: Path, layout: str
) -> None:
    settings_file.parent.mkdir()
    settings_file.write_text(layout)

    with pytest.raises(SettingsEditError, match="by hand") as refused:
        write_values(settings_file, {("prometheus", "url"): "http://b:9090"})

    assert "does not read as TOML" not in str(refused.value)
    assert settings_file.read_text() == layout


def test_a_broken_file_is_refused_with_the_reason(settings_file: Path) -> None:
    settings_file.parent.mkdir()
    settings_file.write_text('theme = "dark\n')

    with pytest.raises(SettingsEditError, match="does not read as TOML"):
        write_values(settings_file, {("prometheus", "url"): "http://b:9090"})


def test_quotes_backslashes_and_control_characters_survive(
    settings_file: Path,
) -> None:
    tricky = 'a "quoted" C:\\path\twith\u007fdel and ünïcode'

    write_values(settings_file, {("matrix", "user"): tricky})

    assert tomllib.loads(settings_file.read_text())["matrix"]["user"] == tricky
    assert toml_string('say "hi"') == '"say \\"hi\\""'


def test_the_files_permissions_are_kept(settings_file: Path) -> None:
    settings_file.parent.mkdir()
    settings_file.write_text(KEPT)
    os.chmod(settings_file, 0o640)

    write_values(settings_file, {("prometheus", "url"): "http://b:9090"})

    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o640
    assert [p.name for p in settings_file.parent.iterdir()] == ["settings.toml"]


def test_a_folder_in_the_way_is_an_error_not_a_crash(settings_file: Path) -> None:
    settings_file.mkdir(parents=True)

    with pytest.raises(SettingsEditError, match="not a file"):
        write_values(settings_file, {("prometheus", "url"): "http://b:9090"})
