"""Settings: the display zone, including the machine's own zone with its DST rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import tzlocal

from mimdesk.domain.errors import TimeInputError
from mimdesk.domain.times import parse_instant
from mimdesk.settings import load_settings, resolve_zone


@pytest.fixture
def london_machine(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Europe/London")
    tzlocal.reload_localzone()
    yield
    monkeypatch.undo()
    tzlocal.reload_localzone()


def test_local_zone_keeps_dst_rules_not_todays_offset(london_machine) -> None:
    zone = resolve_zone("local")
    winter = datetime(2026, 1, 15, 12, tzinfo=UTC).astimezone(zone)
    summer = datetime(2026, 7, 15, 12, tzinfo=UTC).astimezone(zone)

    assert (winter.tzname(), summer.tzname()) == ("GMT", "BST")


def test_local_time_in_the_spring_gap_is_refused_on_a_local_machine(
    london_machine,
) -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)

    with pytest.raises(TimeInputError, match="clocks went forward"):
        parse_instant("2024-03-31 01:30", zone=resolve_zone("local"), now=now)


def test_utc_and_iana_names_resolve() -> None:
    assert resolve_zone("UTC") is UTC
    assert str(resolve_zone("America/New_York")) == "America/New_York"


def test_a_short_csv_row_is_a_problem_not_a_crash(tmp_path) -> None:
    from mimdesk.settings import load_directory

    people = tmp_path / "people.csv"
    people.write_text("id,name,teams,email,chat,phone,timezone\nalice,Alice\n")

    directory, problem = load_directory(people)

    assert problem == ""
    assert directory.name("alice") == "Alice"


def test_a_directory_value_of_the_wrong_kind_is_reported(tmp_path) -> None:
    from mimdesk.settings import load_directory

    people = tmp_path / "people.toml"
    people.write_text('[[person]]\nid = "bob"\ntimezone = 5\n')

    directory, problem = load_directory(people)

    assert directory.people == ()
    assert "timezone must be text" in problem


RULE = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9090"


@pytest.mark.parametrize("url", ["127.0.0.1:29090", "ftp://prom", "http://", "x y"])
def test_an_unusable_prometheus_url_is_a_problem_and_kept(tmp_path, url) -> None:
    from mimdesk.settings import load_settings

    config = tmp_path / "settings.toml"
    config.write_text(f'[prometheus]\nurl = "{url}"\n', encoding="utf-8")

    loaded = load_settings(config)

    assert loaded.problems == (f"{config}: [prometheus] url {RULE}, not {url!r}",)
    # Kept, so the wall says the server is unusable instead of showing DEMO data.
    assert loaded.settings.prometheus.url == url


def test_a_good_prometheus_url_is_no_problem(tmp_path) -> None:
    from mimdesk.settings import load_settings

    config = tmp_path / "settings.toml"
    config.write_text('[prometheus]\nurl = "https://prom:9090/p/"\n')

    loaded = load_settings(config)

    assert loaded.problems == ()
    assert loaded.settings.prometheus.url == "https://prom:9090/p/"


def test_a_missing_ca_file_is_reported_with_file_and_key(tmp_path) -> None:
    from mimdesk.settings import load_settings

    config = tmp_path / "settings.toml"
    config.write_text('[prometheus]\nurl = "https://prom"\nca_file = "/nope/ca.pem"\n')

    (problem,) = load_settings(config).problems

    assert problem.startswith(
        f"{config}: [prometheus] ca_file: /nope/ca.pem does not exist or is not a file"
    )


def test_a_readable_ca_file_is_no_problem(tmp_path) -> None:
    from mimdesk.settings import load_settings

    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = tmp_path / "settings.toml"
    config.write_text('[prometheus]\nurl = "https://prom"\nca_file = "ca.pem"\n')

    loaded = load_settings(config)

    assert loaded.problems == ()
    assert loaded.settings.prometheus.ca_file == tmp_path / "ca.pem"


def test_chat_settings_are_read_and_checked(tmp_path: Path) -> None:
    from mimdesk.settings import ChatSettings, chat_from_environment

    path = tmp_path / "settings.toml"
    path.write_text(
        '[matrix]\nurl = "https://matrix.example.org"\nuser = "@mimdesk:example.org"\n'
        "[slack]\nhistory_seconds = 0\ntoken = 'xoxb-not-here'\n"
        '[chat]\nplatforms = ["matrix", "irc"]\n',
        encoding="utf-8",
    )
    loaded = load_settings(path)
    chat = loaded.settings.chat
    assert chat.matrix_url == "https://matrix.example.org"
    assert chat.matrix_user == "@mimdesk:example.org"
    assert chat.slack_history_seconds == 60.0
    assert chat.platforms == ()
    text = "\n".join(loaded.problems)
    assert "slack.history_seconds must be 1 to 3600 seconds, not 0" in text
    # A secret in the settings file is refused, and its value never repeated.
    assert "unknown setting slack.token ignored" in text
    assert "xoxb-not-here" not in text
    assert "chat.platforms must be a list of matrix, slack, teams" in text

    env = {
        "MIMDESK_MATRIX_URL": "http://127.0.0.1:8008",
        "MIMDESK_MATRIX_USER": "@bot:localhost",
        "MIMDESK_CHAT_PLATFORMS": "slack, matrix",
        "MIMDESK_SLACK_API_URL": "not a url",
    }
    merged, problems = chat_from_environment(ChatSettings(), env)
    assert merged.matrix_url == "http://127.0.0.1:8008"
    assert merged.matrix_user == "@bot:localhost"
    assert merged.platforms == ("slack", "matrix")
    assert merged.slack_api_url == ""
    assert problems == (
        "MIMDESK_SLACK_API_URL must be an http:// or https:// URL with a host, e.g. "
        "http://127.0.0.1:9090, not 'not a url'",
    )


def test_the_seats_table_is_read_and_its_mistakes_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        '[seats]\nenabled = true\nrole = "kiosk"\nwriters = "@a:hq"\n'
        'readers = ["@wall:hq"]\n',
        encoding="utf-8",
    )

    loaded = load_settings(path)

    seats = loaded.settings.seats
    assert seats.enabled
    assert seats.role == "wallboard"  # a mistyped role never gives the right to write
    assert seats.readers == ("@wall:hq",)
    assert seats.writers == ()
    assert loaded.problems == (
        f"{path}:3: seats.role must be 'workstation' or 'wallboard', not 'kiosk'; "
        "this seat only reads (as a wallboard) until it is fixed",
        f"{path}:4: seats.writers must be a list of Matrix user ids like "
        "'@ops:example.org', not '@a:hq'; using the default",
    )
