"""Runbook files: the DEMO one loads, and a bad file says what is wrong and on
which line."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from mimdesk.domain.errors import DomainError
from mimdesk.domain.runbooks import (
    find_cycle,
    matching,
    parse_duration,
    runbook_from_mapping,
)
from mimdesk.resources import resource
from mimdesk.runbook_files import load_folders, load_runbook

GOOD = """\
id = "db-failover"
name = "Ledger database failover"
services = ["ledger-db"]
severities = [1, 2]

[[step]]
id = "confirm"
title = "Confirm replication lag"
role = "tech-lead"
expected = "10m"

[[step]]
id = "promote"
title = "Promote the replica"
role = "tech-lead"
after = ["confirm"]
decision = "If lag is above 5 minutes, ask the business before promoting"

[step.check]
url = "https://ledger.example.invalid/health"
status = 200
body = "ok"
max_latency = 0.5
"""


def write(tmp_path: Path, text: str, name: str = "runbook.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_runbook_loads_with_owners_checks_and_verification() -> None:
    runbook, problem = load_runbook(resource("runbooks", "payments.toml"))

    assert problem == ""
    assert runbook is not None
    assert runbook.id == "payments-failover"
    assert [s.role for s in runbook.steps] == [
        "tech-lead", "business", "tech-lead", "comms",
    ]  # fmt: skip
    failover = runbook.steps[2]
    assert failover.after == ("confirm",)
    assert failover.check is not None
    assert failover.check.below == 0.01
    assert failover.check.hold == timedelta(minutes=5)
    assert failover.decision.startswith("If payments still fail")
    assert len(runbook.verify) == 1


def test_a_good_file_gives_its_steps_in_order() -> None:
    runbook = runbook_from_mapping(tomllib.loads(GOOD))

    assert [s.id for s in runbook.steps] == ["confirm", "promote"]
    assert runbook.steps[0].expected == timedelta(minutes=10)
    check = runbook.steps[1].check
    assert check is not None
    assert (check.kind, check.status, check.body, check.max_latency) == (
        "http", 200, "ok", 0.5,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ('expected = "10m"', 'expected = "soon"', 10, "not a duration"),
        ('title = "Promote the replica"\n', "", 12, "needs a title"),
        ('after = ["confirm"]', 'after = ["nothing"]', 16, "'nothing', which is not"),
        ("status = 200", "status = 2000", 21, "status must be an HTTP status"),
        ('severities = [1, 2]', 'severities = [1, 9]', 4, "severities"),
        ('name = "Ledger database failover"', 'nmae = "x"', 2, "unknown key 'nmae'"),
        ('role = "tech-lead"\nafter', 'rolle = "tech-lead"\nafter', 15, "'rolle'"),
    ],
)  # fmt: skip
def test_a_bad_file_says_what_and_on_which_line(
    tmp_path: Path, old: str, new: str, line: int, words: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))

    runbook, problem = load_runbook(path)

    assert runbook is None
    assert problem.startswith(f"{path}:{line}: ")
    assert words in problem


def test_steps_waiting_for_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace('expected = "10m"', 'expected = "10m"\nafter = ["promote"]')

    runbook, problem = load_runbook(write(tmp_path, text))

    assert runbook is None
    assert "circle: confirm -> promote -> confirm" in problem
    assert problem.startswith(f"{tmp_path / 'runbook.toml'}:11: ")


def test_broken_toml_and_a_check_with_neither_query_nor_url(tmp_path: Path) -> None:
    _, problem = load_runbook(write(tmp_path, 'id = "x"\n[[step]\n'))
    assert "runbook.toml: " in problem

    text = GOOD.replace('url = "https://ledger.example.invalid/health"\n', "")
    runbook, problem = load_runbook(write(tmp_path, text))
    assert runbook is None
    assert "check: give either promql or url" in problem


def test_a_folder_loads_the_good_files_and_names_the_bad_ones(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")  # the same id again
    write(tmp_path, "id = 3\n", "c.toml")

    found = load_folders([tmp_path, tmp_path / "missing"])

    assert [r.id for r in found.runbooks] == ["db-failover"]
    assert len(found.problems) == 2
    assert "used twice" in found.problems[0]
    with pytest.raises(DomainError, match="no runbook 'nope'"):
        found.get("nope")


def test_runbooks_are_matched_by_service_and_severity() -> None:
    runbook = runbook_from_mapping(tomllib.loads(GOOD))

    assert matching([runbook], ["web", "ledger-db"], 1) == [runbook]
    assert matching([runbook], ["ledger-db"], 3) == []
    assert matching([runbook], ["web"], 1) == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("30 min", 1800), ("2h", 7200), ("90s", 90)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_cycles_are_found_and_their_absence_too() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) == []
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
