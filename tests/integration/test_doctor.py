"""`mimdesk doctor` against real servers: Prometheus, Alertmanager and Synapse on
loopback, the Slack contract server, a dead port and bad credentials, each with
the message an operator would act on, and the command's JSON and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mimdesk import doctor
from mimdesk.doctor import Status
from mimdesk.settings import (
    AlertmanagerSettings,
    ChatSettings,
    PrometheusSettings,
    Settings,
)

from .chat_contract import BOT, ChatContract, serving
from .servers import Server, free_port
from .synapse import Synapse

SLACK_TOKEN = "xoxb-424242-doctor-token-do-not-show"
CHECKS = ["settings", "store", "logs", "keyring", "prometheus", "alertmanager",
          "matrix", "slack", "teams", "email"]  # fmt: skip


def secrets(**kept: str) -> doctor.SecretLookup:
    def lookup(key: str) -> tuple[str | None, str]:
        return kept.get(key.replace(".", "_")), ""

    return lookup


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def slack() -> Iterator[ChatContract]:
    with serving(SLACK_TOKEN) as server:
        yield server


@pytest.fixture
def doctor_run(data_dir: Path, config: Path) -> Callable[..., Any]:
    """Run `mimdesk doctor --json` with only the given MIMDESK_ variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}

    def run(**variables: str) -> tuple[int, dict[str, Any]]:
        command = [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir),
                   "--config", str(config), "doctor", "--json"]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, env=base | variables,
            check=False, timeout=120,
        )  # fmt: skip
        return done.returncode, json.loads(done.stdout)

    return run


# --- one check at a time ----------------------------------------------------------


def test_prometheus_answers_and_says_how_many_targets_are_up(
    node_and_prometheus: tuple[Server, Server],
) -> None:
    _exporter, prom = node_and_prometheus
    settings = Settings(prometheus=PrometheusSettings(url=prom.url))

    result = doctor.check_prometheus(settings, environ={}, secret=secrets())

    assert result.status is Status.OK
    assert result.message == f"{prom.url} answers queries; 1 of 1 targets up"


def test_prometheus_at_a_dead_port_is_refused(dead_url: str) -> None:
    settings = Settings(prometheus=PrometheusSettings(url=dead_url))

    result = doctor.check_prometheus(settings, environ={}, secret=secrets())

    assert result.status is Status.FAILED
    assert f"cannot reach Prometheus at {dead_url}: connection refused" in (
        result.message
    )


def test_alertmanager_answers_with_its_version_and_cluster(
    start_alertmanager: Callable[..., Server],
) -> None:
    manager = start_alertmanager()
    settings = Settings(alertmanager=AlertmanagerSettings(url=manager.url))

    result = doctor.check_alertmanager(settings, environ={}, secret=secrets())

    assert result.status is Status.OK
    assert result.message.startswith("Alertmanager 0.")
    assert f"at {manager.url} answers" in result.message


def test_prometheus_given_as_alertmanager_says_there_is_no_api(
    node_and_prometheus: tuple[Server, Server],
) -> None:
    _exporter, prom = node_and_prometheus
    settings = Settings(alertmanager=AlertmanagerSettings(url=prom.url))

    result = doctor.check_alertmanager(settings, environ={}, secret=secrets())

    assert result.status is Status.FAILED
    assert "no Alertmanager API v2 here (HTTP 404); check the URL" in result.message


def test_matrix_accepts_a_good_token_and_a_password(synapse: Synapse) -> None:
    account = synapse.register("doctor")
    chat = ChatSettings(matrix_url=synapse.url, matrix_user=account.user_id)

    by_token = doctor.check_matrix(
        chat, secret=secrets(matrix_token=account.access_token)
    )
    by_password = doctor.check_matrix(
        chat, secret=secrets(matrix_password=account.password)
    )

    assert by_token.status is by_password.status is Status.OK
    assert by_token.message == f"{synapse.url} accepts the token of {account.user_id}"
    assert "accepts the password" in by_password.message


def test_the_password_check_leaves_no_device_behind(synapse: Synapse) -> None:
    import requests

    account = synapse.register("devices")
    chat = ChatSettings(matrix_url=synapse.url, matrix_user=account.user_id)

    doctor.check_matrix(chat, secret=secrets(matrix_password=account.password))

    devices = requests.get(
        f"{synapse.url}/_matrix/client/v3/devices",
        headers={"Authorization": f"Bearer {account.access_token}"},
        timeout=10,
    ).json()["devices"]
    assert [d["device_id"] for d in devices] == [account.device_id]


def test_matrix_with_a_bad_token_says_to_store_a_new_one(synapse: Synapse) -> None:
    chat = ChatSettings(matrix_url=synapse.url)

    result = doctor.check_matrix(chat, secret=secrets(matrix_token="syt_not_a_token"))

    assert result.status is Status.FAILED
    assert "rejected the access token (M_UNKNOWN_TOKEN" in result.message
    assert "mimdesk secret set matrix.token" in result.message


def test_slack_accepts_the_bot_token_and_refuses_a_bad_one(
    slack: ChatContract,
) -> None:
    chat = ChatSettings(slack_api_url=slack.api_url)

    good = doctor.check_slack(chat, secret=secrets(slack_token=SLACK_TOKEN))
    bad = doctor.check_slack(chat, secret=secrets(slack_token="xoxb-wrong"))

    assert good.status is Status.OK
    assert good.message == f"{slack.api_url} accepts the bot token (app user {BOT})"
    assert bad.status is Status.FAILED
    assert "invalid_auth" in bad.message
    assert "mimdesk secret set slack.token" in bad.message
    assert "xoxb-wrong" not in bad.message


# --- the command ------------------------------------------------------------------


def test_doctor_json_all_set_up_and_working_exits_0(
    doctor_run: Callable[..., Any],
    mimdesk: Callable[..., subprocess.CompletedProcess[str]],
    config: Path,
    node_and_prometheus: tuple[Server, Server],
    start_alertmanager: Callable[..., Server],
    synapse: Synapse,
    data_dir: Path,
) -> None:
    _exporter, prom = node_and_prometheus
    manager = start_alertmanager()
    account = synapse.register("cli")
    config.write_text(
        f'[prometheus]\nurl = "{prom.url}"\n[alertmanager]\nurl = "{manager.url}"\n'
        f'[matrix]\nurl = "{synapse.url}"\n'
    )
    assert (
        mimdesk("incident", "declare", "--title", "T", "--severity", "3").returncode
        == 0
    )

    code, report = doctor_run(MIMDESK_SECRET_MATRIX_TOKEN=account.access_token)

    assert code == 0, report
    assert report["format"] == "mimdesk.doctor/1"
    assert report["ok"] is True
    assert report["paths"]["store"] == str(data_dir / "mimdesk.sqlite")
    assert report["paths"]["log_file"] == str(data_dir / "logs" / "mimdesk.log")
    assert [c["name"] for c in report["checks"]] == CHECKS
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses == dict.fromkeys(CHECKS[:7], "ok") | {
        "slack": "skipped",
        "teams": "skipped",
        "email": "skipped",
    }
    assert all(
        set(c) == {"name", "status", "message", "seconds"} for c in report["checks"]
    )
    assert "journal: 2 events, chain intact" in report["checks"][1]["message"]


def test_doctor_with_a_dead_port_exits_1_and_says_what_failed(
    doctor_run: Callable[..., Any], dead_url: str
) -> None:
    started = time.monotonic()

    code, report = doctor_run(
        MIMDESK_ALERTMANAGER_URL=dead_url, MIMDESK_SECRET_TEAMS_WEBHOOK="http://x"
    )

    assert code == 1
    assert report["ok"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["alertmanager"]["status"] == "failed"
    assert checks["alertmanager"]["message"] == (
        f"cannot reach Alertmanager at {dead_url}: connection refused; is it running "
        "there, and are the host and port right?"
    )
    assert checks["teams"]["status"] == "failed"
    assert "must be an https:// URL from Workflows" in checks["teams"]["message"]
    assert checks["prometheus"]["status"] == "skipped"
    assert time.monotonic() - started < 60


def test_doctor_text_lists_each_check_and_a_summary(
    mimdesk: Callable[..., subprocess.CompletedProcess[str]], dead_url: str
) -> None:
    done = mimdesk("doctor")

    lines = done.stdout.splitlines()
    assert done.returncode in (0, 1)
    assert lines[0].startswith("data_dir:")
    assert any(line.startswith("skipped  prometheus   not set up") for line in lines)
    assert lines[-1].endswith("skipped (not set up)")


def test_doctor_never_imports_qt(data_dir: Path, config: Path) -> None:
    script = f"""
import sys
from mimdesk import cli
cli.main(["--data-dir", {str(data_dir)!r}, "--config", {str(config)!r}, "doctor"])
print(sorted(m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph"))))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert done.stdout.splitlines()[-1] == "[]", done.stderr
