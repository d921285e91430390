"""The `[automation]` settings and the watch's verdict, without a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mimdesk.domain import actions as act
from mimdesk.domain import rules
from mimdesk.settings import load_settings

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_the_defaults_turn_every_rule_on_for_sev1_and_sev2() -> None:
    settings = rules.RuleSettings()

    assert all(settings.on(rule) for rule in rules.RULES)
    assert settings.severities == (1, 2)
    assert (settings.watch, settings.watch_every) == (
        timedelta(minutes=30), timedelta(minutes=5),
    )  # fmt: skip


def test_a_table_turns_rules_off_and_sets_the_watch() -> None:
    settings, problems = rules.rule_settings_from_mapping(
        {"open_chat": False, "severities": [1], "watch": "1h", "watch_every": "10m",
         "on_call": {"commander": "alice"}}
    )  # fmt: skip

    assert problems == []
    assert not settings.on("open_chat")
    assert settings.on("start_runbooks")
    assert settings.watch == timedelta(hours=1)
    assert settings.on_call == {"commander": "alice"}


def test_bad_values_are_problems_and_keep_their_defaults() -> None:
    settings, problems = rules.rule_settings_from_mapping(
        {"open_chat": "no", "severities": [7], "watch": "soon", "colour": "red"}
    )

    assert [p.split(":")[0] for p in problems] == [
        "[automation] open_chat", "[automation] severities", "[automation] watch",
        "[automation] colour",
    ]  # fmt: skip
    assert settings == rules.RuleSettings()


def test_the_settings_file_reads_the_automation_table(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[automation]\nenabled = false\nwatch_every = '2h'\n")

    loaded = load_settings(path)

    assert not loaded.settings.automation.enabled
    assert loaded.problems[0] == (
        f"{path}:3: [automation] watch_every: watch_every must be more than 0 and "
        "at most watch; using the default"
    )


def watch(*outcomes: str) -> rules.Watch:
    results = tuple(
        act.CheckResult("error ratio", o, "", AT + timedelta(minutes=5 * n), "verify")
        for n, o in enumerate(outcomes)
    )
    firing = rules.Firing("01X", rules.RECOVERY_WATCH, "01M", AT, {})
    return rules.Watch(firing, AT, AT + timedelta(minutes=30),
                       timedelta(minutes=5), results, ended=False)  # fmt: skip


def test_recovery_held_only_when_every_check_passed() -> None:
    assert watch(act.PASSED, act.PASSED).verdict()[0] == rules.HELD
    assert watch(act.PASSED, act.FAILED).verdict()[0] == rules.NOT_HELD
    assert watch(act.PASSED, act.UNKNOWN).verdict()[0] == rules.UNKNOWN
    assert watch().verdict() == (rules.UNKNOWN, "no check ran")


def test_the_next_round_is_one_interval_after_the_last() -> None:
    assert watch().next_round() == AT
    assert watch(act.PASSED, act.PASSED).next_round() == AT + timedelta(minutes=10)
