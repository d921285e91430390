"""`mimdesk actions`: a runbook started on the DEMO payments incident, actions
moved, a circle refused, checks recorded, and "mitigated" held back until the
verification passes or is overridden."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mimdesk import checks, cli
from mimdesk.domain.actions import FAILED, PASSED, CheckResult
from mimdesk.domain.runbooks import Check


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """`mimdesk --demo ARGS` in this process; gives (exit code, stdout, stderr)."""
    for name in ("MIMDESK_CATALOGUE", "MIMDESK_PROMETHEUS_URL", "MIMDESK_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)

    def call(*args: str, demo: bool = True) -> tuple[int, str, str]:
        argv = ["--data-dir", str(tmp_path / "data"), "--config",
                str(tmp_path / "settings.toml"), *(["--demo"] if demo else []),
                *args]  # fmt: skip
        parsed = cli.build_parser().parse_args(argv)
        code = cli._run(parsed.func, cli.Context(parsed), parsed)
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def outcome_is(monkeypatch: pytest.MonkeyPatch, outcome: str) -> None:
    def fake(check: Check, *, target: str, now: datetime, **_: Any) -> CheckResult:
        return CheckResult(check.name, outcome, "worst 0.002 over 5 min", now, target)

    monkeypatch.setattr(checks, "run_check", fake)


@pytest.fixture
def sev1(run: Any) -> str:
    code, out, _ = run("incident", "list", "--json")
    assert code == 0
    return next(i["id"] for i in json.loads(out)["incidents"] if i["severity"] == 1)


def test_the_payments_runbook_is_offered_and_started_with_owners(
    run: Any, sev1: str
) -> None:
    code, out, _ = run("actions", sev1, "runbook")
    assert code == 0
    assert out.startswith("* payments-failover ")

    code, out, _ = run("actions", sev1, "runbook", "payments-failover")
    assert code == 0
    assert "action A1 added: Confirm the failure" in out
    assert "(bob)" in out

    code, out, _ = run("actions", sev1)
    assert out.splitlines()[0] == "Recovery: 0/4 done, 0 blocked, 0 overdue"
    assert "decision: If payments still fail" in out
    assert "Verify: payments error ratio below 1% for 5 minutes: not run yet" in out


def test_moves_a_refused_circle_and_the_json(run: Any, sev1: str) -> None:
    run("actions", sev1, "runbook", "payments-failover")

    assert run("actions", sev1, "done", "A1")[0] == 0
    code, _, err = run("actions", sev1, "block", "A2")
    assert code == 2
    assert "say why the action is blocked" in err
    assert run("actions", sev1, "block", "A2", "--reason", "line down")[0] == 0
    code, _, err = run("actions", sev1, "depend", "A1", "A4")
    assert code == 2
    assert "circle (A1 -> A4 -> A3 -> A1)" in err
    code, out, _ = run("actions", sev1, "add", "Call", "the", "vendor",
                       "--owner", "alice", "--due", "30m", "--after", "A3")  # fmt: skip
    assert code == 0
    assert "action A5 added: Call the vendor (alice)" in out

    code, out, _ = run("actions", sev1, "--json")
    data = json.loads(out)
    assert data["format"] == "mimdesk.actions/1"
    assert data["progress"] == {"done": 1, "total": 5, "blocked": 1, "overdue": []}
    a2 = data["actions"][1]
    assert (a2["status"], a2["reason"], a2["owner"]) == ("blocked", "line down", None)
    assert data["actions"][4]["after"] == ["A3"]


def test_mitigated_waits_for_verification_then_is_allowed(
    run: Any, sev1: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("actions", sev1, "runbook", "payments-failover")

    code, _, err = run("incident", "status", sev1, "mitigated")
    assert code == 2
    assert "mitigated waits for verification" in err

    outcome_is(monkeypatch, FAILED)
    code, out, _ = run("actions", sev1, "verify")
    assert code == 1
    assert "check failed (verify): payments error ratio below 1%" in out
    assert run("incident", "status", sev1, "mitigated")[0] == 2

    outcome_is(monkeypatch, PASSED)
    assert run("actions", sev1, "verify")[0] == 0
    assert run("incident", "status", sev1, "mitigated")[0] == 0


def test_an_override_is_kept_in_the_timeline(run: Any, sev1: str) -> None:
    run("actions", sev1, "runbook", "payments-failover")

    code, _, err = run("actions", sev1, "verify", "--override", "mitigated")
    assert code == 2
    assert "say why" in err
    code, out, _ = run("actions", sev1, "verify", "--override", "mitigated",
                       "--reason", "vendor confirms the fix")  # fmt: skip
    assert code == 0
    assert run("incident", "status", sev1, "mitigated")[0] == 0

    code, out, _ = run("incident", "show", sev1)
    assert "verification overridden for mitigated: vendor confirms the fix" in out


def test_action_checks_run_and_are_recorded(
    run: Any, sev1: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("actions", sev1, "runbook", "payments-failover")
    outcome_is(monkeypatch, PASSED)

    code, out, _ = run("actions", sev1, "check")

    assert code == 0
    assert out.strip().endswith(
        "check passed (action A3): payments error ratio below 1% for 5 minutes"
        " \u2014 worst 0.002 over 5 min"
    )
    code, _, err = run("actions", sev1, "check", "A1")
    assert code == 2
    assert "no action chosen has a check" in err


def test_a_sev1_declared_from_the_cli_fires_the_rules_once(run: Any) -> None:
    code, out, err = run(
        "incident", "declare", "--title", "Card payments failing", "--severity", "1",
        "--service", "payments-api",
    )  # fmt: skip
    incident_id = out.strip()

    assert code == 0
    assert "rule start_runbooks fired" in err
    run("incident", "status", incident_id, "mobilised")
    code, out, _ = run("actions", incident_id, "rules", "--json")
    firings = json.loads(out)["firings"]
    assert [f["rule"] for f in firings].count("start_runbooks") == 1
    started = next(f for f in firings if f["rule"] == "start_runbooks")

    code, out, _ = run("actions", incident_id, "undo", started["id"])

    assert code == 0
    assert "rule start_runbooks undone: skipped A1, A2, A3, A4" in out
    _, out, _ = run("actions", incident_id, "rules")
    assert "(undone)" in out


def test_automation_can_be_turned_off_in_the_settings(run: Any, tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("[automation]\nenabled = false\n")

    _, out, err = run(
        "incident", "declare", "--title", "Card payments failing", "--severity", "1",
        "--service", "payments-api",
    )  # fmt: skip

    assert "fired" not in err
    _, listed, _ = run("actions", out.strip(), "rules")
    assert "No automation rule has fired" in listed


def test_checks_on_a_real_incident_never_ask_the_demo_series(
    run: Any, tmp_path: Path
) -> None:
    """No Prometheus configured and no --demo: a check cannot pass or fail on
    made-up series, it could not check, and mitigated stays held back."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    shipped = Path(__file__).parents[2] / "resources" / "runbooks" / "payments.toml"
    (folder / "payments.toml").write_text(shipped.read_text(encoding="utf-8"))
    code, out, _ = run(
        "incident", "declare", "--title", "Card payments failing", "--severity", "2",
        "--service", "payments-api", demo=False,
    )  # fmt: skip
    incident_id = out.strip()
    assert code == 0
    run("actions", incident_id, "runbook", "payments-failover", demo=False)

    code, out, err = run("actions", incident_id, "verify", demo=False)

    assert code == 5
    assert "could not check (verify)" in out
    assert "no Prometheus is configured" in err
    assert "DEMO" not in out
    code, _, err = run("incident", "status", incident_id, "mitigated", demo=False)
    assert code == 2
    assert "mitigated waits for verification" in err


def test_the_rules_of_an_incident_that_does_not_exist_are_an_error(run: Any) -> None:
    code, out, err = run("actions", "INC-000000-ZZZZ", "rules")

    assert code == 4
    assert out == ""
    assert "no incident INC-000000-ZZZZ" in err


@pytest.mark.parametrize("value", ['"false"', "0", '"off"'])
def test_a_mistyped_off_switch_keeps_the_rules_off(
    run: Any, tmp_path: Path, value: str
) -> None:
    (tmp_path / "settings.toml").write_text(f"[automation]\nenabled = {value}\n")

    _, _, err = run(
        "incident", "declare", "--title", "Card payments failing", "--severity", "1",
        "--service", "payments-api",
    )  # fmt: skip

    assert "fired" not in err
    assert "settings.toml:2: [automation] enabled" in err
    assert "rules stay off" in err
