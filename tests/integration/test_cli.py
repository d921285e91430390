"""The `mimdesk` command as scripts and operators use it: output, JSON, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run

UTC_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
STATUSES = ["detected", "declared", "mobilised", "mitigated", "resolved", "closed"]
INCIDENT_KEYS = {
    "id", "title", "severity", "severity_name", "status", "open", "demo", "services",
    "detected_at", "elapsed_seconds", "milestones", "reopen_count", "durations",
    "created_at", "updated_at",
}  # fmt: skip
# Formats only ever gain fields within a version (README, "JSON output").
EVENT_KEYS = {
    "seq", "id", "kind", "at", "typed_offset", "recorded_at", "actor", "seat", "text",
    "payload",
}  # fmt: skip


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


@pytest.fixture
def incident_id(mimdesk: Run) -> str:
    out = ok(
        mimdesk(
            "incident", "declare", "--title", "Card payments failing",
            "--severity", "1", "--service", "payments-api",
            "--detected-at", "10m ago",
        )
    )  # fmt: skip
    return out.strip()


def test_declare_prints_the_new_id(incident_id: str) -> None:
    assert re.fullmatch(r"INC-\d{6}-[0-9A-HJKMNP-TV-Z]{4}", incident_id)


def test_list_json_has_the_documented_shape(mimdesk: Run, incident_id: str) -> None:
    listed = as_json(mimdesk("incident", "list", "--json"))

    assert listed["format"] == "mimdesk.incidents/1"
    (item,) = listed["incidents"]
    assert set(item) >= INCIDENT_KEYS
    assert re.fullmatch(UTC_TIME, item["detected_at"])
    assert (item["id"], item["status"], item["open"]) == (incident_id, "declared", True)
    assert item["severity_name"] == "SEV1 Critical"
    assert item["services"] == ["payments-api"]
    assert 600 <= item["elapsed_seconds"] < 3600
    assert list(item["milestones"]) == STATUSES
    for entry in item["milestones"].values():
        assert set(entry) == {"at", "reached", "skipped"}
    assert item["milestones"]["detected"]["at"] == item["detected_at"]
    assert item["milestones"]["mobilised"] == {
        "at": None,
        "reached": False,
        "skipped": False,
    }


def test_note_status_and_severity_show_up_in_show_json(
    mimdesk: Run, incident_id: str
) -> None:
    ok(mimdesk("incident", "note", incident_id, "Acquirer", "timeouts"))
    ok(mimdesk("incident", "status", incident_id, "mitigated", "--reason", "failover"))
    out = ok(mimdesk("incident", "severity", incident_id.lower(), "2"))

    shown = as_json(mimdesk("incident", "show", incident_id, "--json"))

    assert out.strip() == f"{incident_id}: severity now SEV2"
    assert {"format", "incident", "timeline"} <= set(shown)
    assert shown["format"] == "mimdesk.incident/1"
    incident = shown["incident"]
    assert (incident["status"], incident["severity"]) == ("mitigated", 2)
    assert incident["milestones"]["mobilised"] == {
        "at": None,
        "reached": False,
        "skipped": True,
    }
    assert incident["milestones"]["mitigated"]["reached"] is True
    assert all(set(event) >= EVENT_KEYS for event in shown["timeline"])
    assert all(re.fullmatch(UTC_TIME, event["at"]) for event in shown["timeline"])
    # What the automation rules add to a SEV1 is tested with them.
    lifecycle = [e for e in shown["timeline"] if e["kind"].startswith("incident.")]
    assert [event["text"] for event in lifecycle] == [
        "incident opened: SEV1 Card payments failing (payments-api)",
        "status detected → declared",
        "Acquirer timeouts",
        "status declared → mitigated (not reached: mobilised) — failover",
        "severity SEV1 → SEV2",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--title", "Outage", "--severity", "7"], "invalid choice: 7"),
        (["--title", "   ", "--severity", "1"], "needs a title"),
        (["--title", "Outage", "--severity", "1", "--service", "nope"], "catalogue"),
        (["--title", "Outage", "--severity", "1", "--detected-at", "teatime"], "ISO"),
        (
            [
                "--title",
                "Outage",
                "--severity",
                "1",
                "--detected-at",
                "2099-01-01T09:00Z",
            ],
            "in the future",
        ),
    ],
)
def test_bad_input_exits_2_and_records_nothing(
    mimdesk: Run, args: list[str], message: str
) -> None:
    result = mimdesk("incident", "declare", *args)

    assert result.returncode == 2
    assert message in result.stderr
    assert "No incidents" in ok(mimdesk("incident", "list"))


@pytest.mark.parametrize(
    "args",
    [
        ["incident", "show", "INC-000000-ZZZZ"],
        ["incident", "note", "INC-000000-ZZZZ", "hello"],
        ["incident", "status", "INC-000000-ZZZZ", "resolved"],
        ["incident", "severity", "INC-000000-ZZZZ", "2"],
        ["journal", "verify", "INC-000000-ZZZZ"],
    ],
)
def test_an_unknown_incident_exits_4(mimdesk: Run, args: list[str]) -> None:
    result = mimdesk(*args)

    assert result.returncode == 4
    assert result.stderr.strip() == "error: no incident INC-000000-ZZZZ in this store"


def test_verify_exits_1_when_the_journal_was_tampered_with(
    mimdesk: Run, data_dir: Path, incident_id: str
) -> None:
    assert "chain intact" in ok(mimdesk("journal", "verify"))
    conn = sqlite3.connect(data_dir / "mimdesk.sqlite")
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET actor = 'someone else' WHERE seq = 2")
    conn.commit()
    conn.close()

    result = mimdesk("journal", "verify")

    assert result.returncode == 1
    assert "event #2: was changed after it was recorded" in result.stdout
    assert "1 problem(s) in the whole journal" in result.stderr


def test_a_local_time_the_clocks_skipped_is_refused(mimdesk: Run, config: Path) -> None:
    config.write_text('timezone = "Europe/London"\n', encoding="utf-8")

    result = mimdesk(
        "incident", "declare", "--title", "Outage", "--severity", "2",
        "--detected-at", "2024-03-31 01:30",
    )  # fmt: skip

    assert result.returncode == 2
    assert "does not exist in Europe/London: the clocks went forward" in result.stderr


def test_a_broken_settings_line_warns_and_the_command_still_works(
    mimdesk: Run, config: Path, incident_id: str
) -> None:
    config.write_text('theme = "dark"\noperator = "Dana\n', encoding="utf-8")

    result = mimdesk("incident", "list")

    assert incident_id in ok(result)
    (warning,) = result.stderr.splitlines()
    assert warning.startswith(f"warning: {config}: ")
    assert "line 2" in warning


def test_subcommands_never_import_qt(data_dir: Path, config: Path) -> None:
    script = f"""
import sys
from mimdesk import cli
common = ["--data-dir", {str(data_dir)!r}, "--config", {str(config)!r}]
cli.main([*common, "incident", "declare", "--title", "Outage", "--severity", "3"])
for args in (["incident", "list", "--json"], ["journal", "verify"],
             ["store", "check"], ["--demo", "incident", "list"]):
    assert cli.main([*common, *args]) == 0, args
print(sorted(m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_demo_lists_demo_incidents_and_leaves_the_real_store_alone(
    mimdesk: Run, data_dir: Path, incident_id: str
) -> None:
    real = data_dir / "mimdesk.sqlite"
    before = hashlib.sha256(real.read_bytes()).hexdigest()

    lines = ok(mimdesk("--demo", "incident", "list")).splitlines()

    assert len(lines) == 4
    assert all(line.endswith("[DEMO]") for line in lines)
    assert not any(incident_id in line for line in lines)
    assert hashlib.sha256(real.read_bytes()).hexdigest() == before
    assert (data_dir / "demo" / "mimdesk.sqlite").exists()
    real_lines = ok(mimdesk("incident", "list")).splitlines()
    assert [incident_id in line for line in real_lines] == [True]
    assert "[DEMO]" not in real_lines[0]


def test_console_without_a_display_explains_instead_of_aborting(data_dir: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }

    result = subprocess.run(
        [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )

    assert result.returncode == 2
    assert "no display" in result.stderr
    assert "QT_QPA_PLATFORM=offscreen" in result.stderr
    assert not (data_dir / "mimdesk.sqlite").exists()


def test_console_screenshot_shows_the_demo_store(
    data_dir: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "console.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")

    command = [sys.executable, "-m", "mimdesk", "--demo", "--data-dir", str(data_dir)]

    result = subprocess.run(
        [*command, "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000
    assert (data_dir / "demo" / "mimdesk.sqlite").exists()
    assert not (data_dir / "mimdesk.sqlite").exists()


def test_a_pasted_note_cannot_pose_as_a_timeline_row(
    mimdesk: Run, incident_id: str
) -> None:
    forged = "x\n  2026-12-03 16:59:00 UTC  ceo          status mitigated → resolved"
    ok(mimdesk("incident", "note", incident_id, forged))

    shown = ok(mimdesk("incident", "show", incident_id)).splitlines()

    row = next(line for line in shown if "ceo" in line)
    assert row.lstrip().startswith("| ")


def test_an_id_read_out_with_o_and_l_is_understood(
    mimdesk: Run, incident_id: str
) -> None:
    heard = incident_id.lower().replace("0", "o").replace("1", "l")

    shown = ok(mimdesk("incident", "show", heard, "--json"))

    assert json.loads(shown)["incident"]["id"] == incident_id


def test_output_cut_short_by_a_pipe_is_not_a_store_failure(
    data_dir: Path, config: Path, incident_id: str
) -> None:
    command = f"{sys.executable} -m mimdesk --data-dir {data_dir} --config {config}"

    result = subprocess.run(
        f"{command} incident list --json | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )

    assert "could not be used" not in result.stderr
    assert result.stdout == '{\n  "forma'


def test_services_are_not_taken_unchecked_when_the_catalogue_is_broken(
    mimdesk: Run, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[service]]\nid = \n", encoding="utf-8")

    result = mimdesk(
        "incident", "declare", "--title", "t", "--severity", "2",
        "--service", "payments-api", "--catalogue", str(broken),
    )  # fmt: skip

    assert result.returncode == 2
    assert "cannot check the service ids" in result.stderr
    assert str(broken) in result.stderr


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('severity_names = "x"', "severity_names"),
        ("operator = 5", "operator"),
        ('operator = ""', "operator"),
        ("catalogue = 5", "catalogue"),
        ('[severity_names]\n1 = ""', "severity_names"),
    ],
)
def test_settings_of_the_wrong_kind_are_reported(
    mimdesk: Run, config: Path, line: str, named: str
) -> None:
    config.write_text(line + "\n", encoding="utf-8")

    result = mimdesk("incident", "list")

    assert result.returncode == 0
    assert f"{config}: {named}" in result.stderr


def test_a_data_dir_that_is_a_file_is_explained(tmp_path: Path, config: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="utf-8")
    command = [sys.executable, "-m", "mimdesk", "--data-dir", str(not_a_folder)]

    result = subprocess.run(
        [*command, "incident", "list"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 3
    assert "is a file, not a folder" in result.stderr


def test_roster_from_the_command_line(mimdesk: Run, incident_id: str) -> None:
    ok(mimdesk("roster", incident_id, "request", "alice", "bob", "--at", "8m ago"))
    ok(mimdesk("roster", incident_id, "join", "alice", "--role", "commander"))
    refused = mimdesk("roster", incident_id, "leave", "bob", "alice")
    ok(mimdesk("roster", incident_id, "assign", "scribe", "bob"))

    data = as_json(mimdesk("roster", incident_id, "--json"))

    assert refused.returncode == 2
    assert "bob: bob is not on the bridge" in refused.stderr
    assert "alice left the bridge" in refused.stdout  # one refusal stops no one else
    assert data["format"] == "mimdesk.roster/1"
    assert data["missing"] == ["commander", "comms", "scribe", "tech-lead", "business"]
    people = {p["id"]: p for p in data["people"]}
    assert people["alice"]["presence"] == "left"
    assert people["alice"]["roles"] == ["commander"]
    assert people["bob"]["presence"] == "requested"
    assert data["roles"]["scribe"][0]["person"] == "bob"
    assert not people["bob"]["in_directory"]


def test_roster_refuses_an_unknown_role(mimdesk: Run, incident_id: str) -> None:
    result = mimdesk("roster", incident_id, "assign", "pilot", "alice")

    assert result.returncode == 2
    assert "unknown role 'pilot'" in result.stderr


def test_show_json_gives_durations_never_invented(
    mimdesk: Run, incident_id: str
) -> None:
    ok(mimdesk("incident", "status", incident_id, "resolved"))

    found = as_json(mimdesk("incident", "show", incident_id, "--json"))["incident"]

    spans = found["durations"]
    assert spans["time_to_mobilise"] is None  # mobilised was skipped
    assert spans["time_to_mitigate"] is None
    assert spans["time_to_resolve"]["running"] is False
    assert 10 * 60 <= spans["time_to_resolve"]["seconds"] <= 11 * 60  # detected 10m ago


def test_the_milestone_clock_moves_with_updates_and_reports(
    mimdesk: Run, incident_id: str, config: Path
) -> None:
    config.write_text('regulations = ["dora"]\n', encoding="utf-8")
    before = as_json(mimdesk("incident", "clock", incident_id, "--json"))

    ok(
        mimdesk(
            "incident",
            "update",
            incident_id,
            "Payments",
            "failing",
            "--audience",
            "execs",
        )
    )
    refused = mimdesk("incident", "report", incident_id, "initial")
    ok(mimdesk("incident", "report", incident_id, "dora.initial"))
    after = as_json(mimdesk("incident", "clock", incident_id, "--json"))

    assert before["format"] == "mimdesk.clock/1"
    first = {t["target"]: t for t in after["targets"]}
    assert first["first update within 30 min of declared"]["level"] == "met"
    reports = {r["report"]: r for r in after["reports"]}
    assert [r["report"] for r in before["reports"]] == [
        "initial",
        "intermediate",
        "final",
    ]
    assert refused.returncode == 2
    assert "reports here: dora.initial, dora.intermediate, dora.final" in refused.stderr
    assert reports["initial"]["state"] == "sent"
    assert reports["intermediate"]["state"] == "running"
    assert after["next_update"]["due"] > before["next_update"]["due"]


# --- stakeholder updates -----------------------------------------------------------


def test_update_preview_send_and_approve(
    mimdesk: Run, config: Path, tmp_path: Path
) -> None:
    audiences = tmp_path / "audiences.toml"
    audiences.write_text(
        "approval = true\n"
        '[[audience]]\nid = "execs"\nname = "Executives"\n'
        'email = ["cio@bank.example"]\n'
        '[[audience]]\nid = "desk"\nname = "Service desk"\n'
        'email = ["desk@bank.example"]\ntypes = ["initial"]\n'
    )
    smtp = '[smtp]\nhost = "127.0.0.1"\nfrom = "mim@bank.example"\n'
    config.write_text(f'operator = "casey"\naudiences = "{audiences}"\n{smtp}')
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text(f'audiences = "{audiences}"\n')
    incident = ok(
        mimdesk(
            "incident", "declare", "--title", "Card payments failing", "--severity", "1"
        )
    ).strip()

    shown = as_json(
        mimdesk(
            "update", "preview", incident, "--message", "Failover started", "--json"
        )
    )
    assert shown["format"] == "mimdesk.update/1"
    assert shown["update_type"] == "initial"
    assert [c["audience"] for c in shown["copies"]] == ["execs", "desk"]
    assert "Failover started" in shown["copies"][0]["body"]
    assert shown["deliveries"][0]["to"] == ["cio@bank.example"]

    config_text = config.read_text()
    config.write_text(nowhere.read_text())
    refused = mimdesk("update", "send", incident, "--audience", "execs")
    assert refused.returncode != 0
    assert "email is not set up ([smtp] host and from)" in refused.stderr
    assert "nothing was sent" in refused.stderr
    config.write_text(config_text)

    drafted = ok(mimdesk("update", "send", incident, "--audience", "execs"))
    assert "drafted for Executives" in drafted
    draft_id = drafted.split("approve ")[1].split()[1].strip("`")
    assert ok(mimdesk("outbox", "list")).startswith("the outbox is empty")
    refused = mimdesk("update", "approve", incident, draft_id)
    assert refused.returncode != 0
    assert "someone else" in refused.stderr

    config.write_text(f'operator = "dana"\naudiences = "{audiences}"\n{smtp}')
    assert "approved and queued for Executives" in ok(
        mimdesk("update", "approve", incident, draft_id)
    )
    assert "email to cio@bank.example" in ok(mimdesk("outbox", "list"))
    assert "no update awaits approval" in ok(mimdesk("update", "drafts", incident))
