"""`mimdesk doctor`'s checks without outside servers: the store, the log folder,
the keyring, addresses that cannot work, and checks that never hang."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from mimdesk import doctor
from mimdesk.doctor import Check, Status
from mimdesk.paths import Paths
from mimdesk.settings import (
    AlertmanagerSettings,
    ChatSettings,
    PrometheusSettings,
    Settings,
)
from mimdesk.store.store import Store

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
LEGACY_TEAMS = (
    "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/1/2"
)
WORKFLOW = (
    "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual?sig=x"
)


class MemoryKeyring(KeyringBackend):
    """A keyring that works, in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.kept.pop((service, username), None)


@pytest.fixture
def use_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "data", tmp_path / "settings.toml", tmp_path / "logs")


def no_secret(_key: str) -> tuple[str | None, str]:
    return None, ""


def secrets(**kept: str) -> doctor.SecretLookup:
    def lookup(key: str) -> tuple[str | None, str]:
        return kept.get(key.replace(".", "_")), ""

    return lookup


def _recorded(paths: Paths) -> None:
    store = Store.open(paths.store, clock=lambda: NOW)
    try:
        store.declare(
            title="Payments down", severity=1, services=[], detected_at=None,
            actor="test",
        ).result()  # fmt: skip
    finally:
        store.close()


# --- the store and the log folder -------------------------------------------------


def test_no_store_yet_is_skipped_and_nothing_is_created(paths: Paths) -> None:
    result = doctor.check_store(paths)

    assert result.status is Status.SKIPPED
    assert "created on first use" in result.message
    assert not paths.data_dir.exists()


def test_a_sound_store_is_ok_with_its_event_count(paths: Paths) -> None:
    _recorded(paths)

    result = doctor.check_store(paths)

    assert result.status is Status.OK
    assert result.message == f"{paths.store} is sound; journal: 2 events, chain intact"


def test_an_edited_journal_fails_naming_the_event_and_the_way_back(
    paths: Paths,
) -> None:
    _recorded(paths)
    with closing(sqlite3.connect(paths.store)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS journal_no_update")
        triggers = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='journal'"
        ).fetchall()
        for (name,) in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE journal SET actor = 'someone else' WHERE seq = 1")
        conn.commit()

    result = doctor.check_store(paths)

    assert result.status is Status.FAILED
    assert "event #1: was changed after it was recorded" in result.message
    assert "mimdesk journal verify" in result.message
    assert "mimdesk store restore" in result.message


def test_a_damaged_file_fails_and_names_the_restore(paths: Paths) -> None:
    paths.data_dir.mkdir(parents=True)
    paths.store.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)

    result = doctor.check_store(paths)

    assert result.status is Status.FAILED
    assert str(paths.store) in result.message
    assert "No backup was found." in result.message


def test_a_store_from_a_newer_mimdesk_says_to_upgrade(paths: Paths) -> None:
    _recorded(paths)
    with closing(sqlite3.connect(paths.store)) as conn:
        conn.execute("PRAGMA user_version = 999")
        conn.commit()

    result = doctor.check_store(paths)

    assert result.status is Status.FAILED
    assert "written by a newer MIMDesk (schema 999" in result.message
    assert "upgrade MIMDesk" in result.message


def test_a_file_where_the_data_folder_should_be_fails(paths: Paths) -> None:
    paths.data_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.data_dir.write_text("not a folder")

    result = doctor.check_store(paths)

    assert result.status is Status.FAILED
    assert "is a file, not a folder" in result.message


def test_the_log_folder_is_written_and_left_clean(paths: Paths) -> None:
    result = doctor.check_logs(paths.log_dir)

    assert result == Check("logs", Status.OK, f"{paths.log_dir} is writable")
    assert list(paths.log_dir.iterdir()) == []


def test_a_log_folder_that_cannot_be_made_fails_with_what_to_do(
    paths: Paths,
) -> None:
    paths.log_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.log_dir.write_text("a file in the way")

    result = doctor.check_logs(paths.log_dir)

    assert result.status is Status.FAILED
    assert f"cannot write in the log folder {paths.log_dir}" in result.message
    assert "fix its permissions" in result.message


def test_a_settings_problem_fails_with_the_file_and_line(paths: Paths) -> None:
    paths.config_file.write_text('theme = "purple"\n')

    result = doctor.check_settings(paths.config_file)

    assert result.status is Status.FAILED
    assert "theme: must be 'dark' or 'light'" in result.message


# --- the keyring --------------------------------------------------------------------


def test_no_keyring_fails_and_says_how_to_pass_secrets(use_keyring: None) -> None:
    keyring.set_keyring(fail.Keyring())

    result = doctor.check_keyring({})

    assert result.status is Status.FAILED
    assert result.message.startswith("no system keyring - secrets not persisted")
    assert "MIMDESK_SECRET_MATRIX_TOKEN" in result.message


def test_no_keyring_with_secrets_in_the_environment_is_ok(use_keyring: None) -> None:
    keyring.set_keyring(fail.Keyring())

    result = doctor.check_keyring({"MIMDESK_SECRET_MATRIX_TOKEN": "t"})

    assert result.status is Status.OK
    assert "MIMDESK_SECRET_MATRIX_TOKEN" in result.message


def test_a_working_keyring_is_ok(use_keyring: None) -> None:
    keyring.set_keyring(MemoryKeyring())

    assert doctor.check_keyring({}).status is Status.OK


# --- monitoring that cannot be asked --------------------------------------------------


def test_monitoring_not_set_up_is_skipped_with_where_to_set_it() -> None:
    prometheus = doctor.check_prometheus(Settings(), environ={}, secret=no_secret)
    manager = doctor.check_alertmanager(Settings(), environ={}, secret=no_secret)

    assert prometheus.status is manager.status is Status.SKIPPED
    assert "[prometheus] url" in prometheus.message
    assert "MIMDESK_PROMETHEUS_URL" in prometheus.message
    assert "MIMDESK_ALERTMANAGER_URL" in manager.message


def test_a_malformed_url_from_the_environment_names_the_variable() -> None:
    environ = {"MIMDESK_PROMETHEUS_URL": "prometheus:9090"}

    result = doctor.check_prometheus(Settings(), environ=environ, secret=no_secret)

    assert result.status is Status.FAILED
    assert result.message.startswith("MIMDESK_PROMETHEUS_URL must be an http://")


def test_a_dead_port_says_refused_and_what_to_check() -> None:
    settings = Settings(prometheus=PrometheusSettings(url="http://127.0.0.1:9"))

    started = time.monotonic()
    result = doctor.check_prometheus(settings, environ={}, secret=no_secret)

    assert result.status is Status.FAILED
    assert result.message == (
        "cannot reach Prometheus at http://127.0.0.1:9: connection refused; is it "
        "running there, and are the host and port right?"
    )
    assert time.monotonic() - started < 5


def test_auth_without_a_secret_fails_before_asking() -> None:
    settings = Settings(
        alertmanager=AlertmanagerSettings(url="http://127.0.0.1:9", auth="bearer")
    )

    result = doctor.check_alertmanager(settings, environ={}, secret=no_secret)

    assert result.status is Status.FAILED
    assert "[alertmanager] auth is 'bearer' but no secret" in result.message
    assert "mimdesk secret set alertmanager" in result.message


# --- chat ----------------------------------------------------------------------------


def test_chat_not_set_up_is_skipped() -> None:
    chat = ChatSettings()

    results = [
        doctor.check_matrix(chat, secret=no_secret),
        doctor.check_slack(chat, secret=no_secret),
        doctor.check_teams(chat, secret=no_secret),
    ]

    assert [r.status for r in results] == [Status.SKIPPED] * 3
    assert results[1].message == (
        "not set up: no 'slack.token' or 'slack.webhook' secret stored"
    )


def test_matrix_without_credentials_says_which_to_store() -> None:
    chat = ChatSettings(matrix_url="http://127.0.0.1:9")

    result = doctor.check_matrix(chat, secret=no_secret)

    assert result.status is Status.FAILED
    assert "mimdesk secret set matrix.token" in result.message


def test_a_retired_teams_connector_url_fails_with_directions() -> None:
    result = doctor.check_teams(
        ChatSettings(), secret=secrets(teams_webhook=LEGACY_TEAMS)
    )

    assert result.status is Status.FAILED
    assert "Microsoft has retired those connectors" in result.message
    assert "Workflows" in result.message


def test_a_workflows_url_passes_on_its_shape_showing_only_the_host() -> None:
    result = doctor.check_teams(ChatSettings(), secret=secrets(teams_webhook=WORKFLOW))

    assert result.status is Status.OK
    assert "prod-01.westeurope.logic.azure.com" in result.message
    assert "sig=" not in result.message
    assert "not posted to" in result.message


def test_a_slack_webhook_is_checked_for_its_shape_only() -> None:
    good = secrets(slack_webhook="https://hooks.slack.com/services/T/B/secretpart")
    bad = secrets(slack_webhook="hooks.slack.com/services/T/B/secretpart")

    passed = doctor.check_slack(ChatSettings(), secret=good)
    refused = doctor.check_slack(ChatSettings(), secret=bad)

    assert passed.status is Status.OK
    assert "secretpart" not in passed.message
    assert refused.status is Status.FAILED
    assert "not an https:// URL" in refused.message


# --- running them --------------------------------------------------------------------


def test_a_check_that_raises_fails_and_the_others_still_run() -> None:
    def broken() -> Check:
        raise KeyError("surprise")

    results = doctor.run(
        [("broken", broken), ("fine", lambda: doctor.ok("fine", "all good"))]
    )

    assert [r.status for r in results] == [Status.FAILED, Status.OK]
    assert results[0].message == "the check itself failed: KeyError: 'surprise'"


def test_a_check_still_running_at_the_deadline_fails_and_run_returns() -> None:
    release = threading.Event()

    def hangs() -> Check:
        release.wait(10)
        return doctor.ok("hangs", "late")

    started = time.monotonic()
    try:
        (result,) = doctor.run([("hangs", hangs)], deadline_s=0.2)
    finally:
        release.set()

    assert time.monotonic() - started < 2
    assert result.status is Status.FAILED
    assert result.message.startswith("no answer within 0.2 s")


def test_checks_for_lists_every_check_in_order(paths: Paths) -> None:
    named = doctor.checks_for(paths, Settings(), environ={}, secret=no_secret)

    assert [name for name, _check in named] == [
        "settings", "store", "logs", "keyring", "prometheus", "alertmanager",
        "matrix", "slack", "teams", "email",
    ]  # fmt: skip
    assert doctor.passed([Check("a", Status.OK, ""), Check("b", Status.SKIPPED, "")])
    assert not doctor.passed([Check("a", Status.FAILED, "")])
