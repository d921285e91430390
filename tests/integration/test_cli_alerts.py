"""`mimdesk alerts`: saved payloads in, the list out, incidents declared from alerts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mimdesk.domain.times import parse_utc, utc_iso

from .conftest import Run

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"
UTC_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
CASE_TIME = re.compile(r"^2024-05-01T[\d:.]+Z$")
ALERT_KEYS = {
    "id", "name", "summary", "status", "starts_at", "ends_at", "duration_seconds",
    "first_seen", "last_seen", "seen", "fingerprints", "services", "labels",
    "annotations", "generator_url", "incident",
}  # fmt: skip
GROUP_KEYS = {
    "key", "ref", "incident", "open", "firing", "total", "recovered", "detected_at",
    "suggestion", "services", "alerts",
}  # fmt: skip


def shifted(value: Any, delta: timedelta) -> Any:
    """The case's 2024 times moved by `delta`, so that they are recent."""
    if isinstance(value, dict):
        return {k: shifted(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, delta) for v in value]
    if isinstance(value, str) and CASE_TIME.match(value):
        return utc_iso(parse_utc(value) + delta)
    return value


@pytest.fixture
def c12(tmp_path: Path) -> list[Path]:
    """C12's deliveries as saved payload files, its last one ten minutes ago."""
    case = json.loads((CASES / "C12.json").read_text(encoding="utf-8"))
    last = parse_utc(case["deliveries"][-1]["at"])
    delta = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10) - last
    files = []
    for number, delivery in enumerate(case["deliveries"], start=1):
        path = tmp_path / f"c12-{number}.json"
        path.write_text(json.dumps(shifted(delivery["body"], delta)), encoding="utf-8")
        files.append(path)
    return files


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(
        '[[service]]\nid = "svc-e"\nname = "Service E"\n\n'
        '[[service]]\nid = "payments-api"\nname = "Payments API"\n',
        encoding="utf-8",
    )
    return path


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def listed(mimdesk: Run, catalogue: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        ok(mimdesk("alerts", "list", "--json", "--catalogue", str(catalogue)))
    )
    return data


def test_c12_deliveries_one_by_one_make_one_alert_seen_four_times(
    mimdesk: Run, c12: list[Path], catalogue: Path
) -> None:
    outputs = [ok(mimdesk("alerts", "ingest", str(path))) for path in c12]

    assert "fired    LatencyHigh on svc-e" in outputs[0]
    assert all("seen     LatencyHigh on svc-e" in out for out in outputs[1:])
    assert "(seen 4 times)" in outputs[3]
    data = listed(mimdesk, catalogue)
    assert data["format"] == "mimdesk.alerts/1"
    assert data["spool"] == {"done": 4, "pending": 0, "rejected": 0}
    (group,) = data["groups"]
    assert set(group) == GROUP_KEYS
    assert (group["key"], group["firing"], group["total"]) == (
        '{}:{service="svc-e"}',
        1,
        1,
    )
    assert (group["suggestion"], group["incident"]) == ("declare", None)
    assert group["services"] == ["svc-e"]
    (alert,) = group["alerts"]
    assert set(alert) == ALERT_KEYS
    assert (alert["status"], alert["seen"], alert["ends_at"]) == ("firing", 4, None)
    assert alert["fingerprints"] == ["3333333333333333"]
    assert re.fullmatch(UTC_TIME, alert["starts_at"])
    assert not alert["starts_at"].startswith("0001")
    assert 4 * 3600 <= alert["duration_seconds"] < 5 * 3600


def test_declaring_from_the_group_takes_detection_and_services_from_alerts(
    mimdesk: Run, c12: list[Path], catalogue: Path
) -> None:
    for path in c12:
        ok(mimdesk("alerts", "ingest", str(path)))
    (group,) = listed(mimdesk, catalogue)["groups"]

    out = ok(
        mimdesk(
            "alerts", "declare", group["ref"], "--title", "Latency on service E",
            "--severity", "2", "--catalogue", str(catalogue),
        )
    )  # fmt: skip

    incident_id = out.splitlines()[0]
    assert "(earliest alert start); services: svc-e" in out
    shown = json.loads(ok(mimdesk("incident", "show", incident_id, "--json")))
    assert shown["incident"]["detected_at"] == group["alerts"][0]["starts_at"]
    assert shown["incident"]["services"] == ["svc-e"]
    texts = [e["text"] for e in shown["timeline"]]
    assert "1 alert attached (1 firing): LatencyHigh on svc-e" in texts
    assert texts.count("alert LatencyHigh on svc-e fired") == 1
    (after,) = listed(mimdesk, catalogue)["groups"]
    assert (after["incident"], after["suggestion"]) == (incident_id, "keep open")


def test_attach_a_group_to_an_incident_once(mimdesk: Run, c12: list[Path]) -> None:
    ok(mimdesk("alerts", "ingest", str(c12[0])))
    incident_id = ok(
        mimdesk("incident", "declare", "--title", "Slow", "--severity", "2")
    ).strip()

    out = ok(mimdesk("alerts", "attach", incident_id, '{}:{service="svc-e"}'))
    again = mimdesk("alerts", "attach", incident_id, '{}:{service="svc-e"}')

    assert out.startswith(f"{incident_id}: 1 alert attached")
    assert again.returncode == 2
    assert f"already attached to {incident_id}" in again.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "the payload is not valid JSON"),
        ('{"version": "3", "alerts": []}', "unsupported payload version '3'"),
    ],
)
def test_a_malformed_payload_is_exit_2_and_kept(
    mimdesk: Run, tmp_path: Path, catalogue: Path, body: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(body, encoding="utf-8")

    result = mimdesk("alerts", "ingest", str(path))

    assert result.returncode == 2
    assert message in result.stderr
    assert "The payload is kept in the spool" in result.stderr
    data = listed(mimdesk, catalogue)
    assert data["spool"] == {"done": 0, "pending": 0, "rejected": 1}
    assert data["groups"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "missing.json"], "give the path of a saved webhook payload"),
        (["declare", "nope", "--title", "T"], "`mimdesk alerts list` shows"),
        (["attach", "INC-240101-AAAA", "nope"], "`mimdesk alerts list` shows"),
    ],
)
def test_bad_input_says_what_to_do(mimdesk: Run, args: list[str], message: str) -> None:
    result = mimdesk("alerts", *args)

    assert result.returncode == 2
    assert message in result.stderr


def test_ingest_reads_stdin_and_the_plain_list_reads_well(
    mimdesk: Run, c12: list[Path], data_dir: Path, config: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}
    command = [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir)]
    piped = subprocess.run(
        [*command, "--config", str(config), "alerts", "ingest", "-"],
        input=c12[0].read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr

    out = ok(mimdesk("alerts", "list"))

    assert "1 firing, 0/1 recovered  [no incident] \u2192 declare" in out
    assert "FIRING   LatencyHigh on svc-e  since" in out
