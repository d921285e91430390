"""Scenario files: what a facilitator writes, read back, with mistakes named by line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mimdesk.domain.lifecycle import Status
from mimdesk.domain.scenario import Known, ScenarioError, parse, problems_with
from mimdesk.exercise import load_scenario, shipped

MINIMAL = """\
[scenario]
title = "Drill"
length = "30m"

[expect]
severity = 2
declare_within = "10m"

[[inject]]
at = "0m"
kind = "health"
service = "payments-api"
state = "down"
"""


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def test_the_shipped_scenarios_read_and_name_only_sample_services_and_people() -> None:
    names = {p.stem for p in shipped()}
    assert {"ledger-payments", "region-loss-chat-down", "slow-burn-latency"} <= names
    for path in shipped():
        scenario = load_scenario(path)
        assert scenario.injects
        assert scenario.response
        assert scenario.expect.declare_within is not None
    region = load_scenario(next(p for p in shipped() if "region" in p.stem))
    assert region.chat_down_at(m(3))
    assert region.chat_down_at(m(39.9))
    assert not region.chat_down_at(m(2.9))
    assert not region.chat_down_at(m(40))


def test_minimal_scenario_and_defaults() -> None:
    s = parse(MINIMAL, "drill")
    assert (s.name, s.title, s.length) == ("drill", "Drill", m(30))
    assert s.allow_real_traffic is False
    assert s.expect.severity == 2
    assert s.expect.declare_within == m(10)
    assert s.expect.mitigate_within is None
    assert s.expect.roles == ()
    assert s.response == ()


def test_health_follows_the_last_inject_for_each_service() -> None:
    s = load_scenario(next(p for p in shipped() if p.stem == "ledger-payments"))
    assert s.health_at("ledger-db", m(1)) == 0.5
    assert s.health_at("ledger-db", m(4)) == 1.0
    assert s.health_at("ledger-db", m(45)) == 0.5
    assert s.health_at("ledger-db", m(61)) == 0.0
    assert s.health_at("payments-api", m(4.9)) == 0.0
    assert s.health_at("identity", m(30)) == 0.0


def test_injects_are_played_in_time_order_whatever_the_file_order() -> None:
    text = MINIMAL + '\n[[inject]]\nat = "2m"\nkind = "note"\ntext = "b"\n'
    text += '\n[[inject]]\nat = "1m"\nkind = "note"\ntext = "a"\n'
    s = parse(text, "drill")
    assert [i.at for i in s.injects] == [m(0), m(1), m(2)]


@pytest.mark.parametrize(
    ("extra", "words", "line"),
    [
        ('\n[[inject]]\nat = "5m"\nkind = "explode"\n', "kind must be one of", 17),
        ('\n[[inject]]\nat = "soon"\nkind = "note"\ntext = "x"\n', "at:", 16),
        ('\n[[inject]]\nat = "45m"\nkind = "note"\ntext = "x"\n', "after the", 16),
        ('\n[[inject]]\nat = "5m"\nkind = "alert"\nservice = "x"\n', "needs name", 15),
        ('\n[[inject]]\nat = "5m"\nkind = "health"\nservice = "x"\n'
         'state = "melted"\n', "state must be", 19),
        ('\n[[inject]]\nat = "5m"\nkind = "health"\nservice = "x"\n'
         'state = "down"\nstrength = 3\n', "strength", 20),
        ('\n[[inject]]\nat = "10m"\nkind = "chat_outage"\nuntil = "5m"\n',
         "until must be after", 18),
        ('\n[[inject]]\nat = "5m"\nkind = "note"\ntext = "x"\ncolour = "red"\n',
         "does not take colour", 19),
        ('\n[[response]]\nat = "5m"\nkind = "status"\nto = "fixed"\n',
         "to must be one of", 18),
    ],
)  # fmt: skip
def test_mistakes_name_the_table_and_line(extra: str, words: str, line: int) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(MINIMAL + extra, "drill")
    assert words in str(caught.value)
    assert caught.value.line == line


def test_file_level_mistakes_are_named() -> None:
    with pytest.raises(ScenarioError, match="needs a \\[scenario\\] table"):
        parse('[[inject]]\nat = "1m"\nkind = "note"\ntext = "x"\n', "x")
    with pytest.raises(ScenarioError, match="at least one"):
        parse('[scenario]\ntitle = "x"\nlength = "5m"\n', "x")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse("[scenario\n", "x")
    with pytest.raises(ScenarioError, match="between 1 minute and 24 hours"):
        parse(MINIMAL.replace('"30m"', '"30h"'), "x")
    with pytest.raises(ScenarioError, match="severity must be") as caught:
        parse(MINIMAL.replace("severity = 2", "severity = 7"), "x")
    assert caught.value.line == 6


def test_the_response_is_read_with_typed_values() -> None:
    s = load_scenario(next(p for p in shipped() if p.stem == "ledger-payments"))
    statuses = [r.fields["to"] for r in s.response if r.kind == "status"]
    assert statuses == [Status.MOBILISED, Status.MITIGATED, Status.RESOLVED]
    declare = s.response[0]
    assert declare.kind == "declare"
    assert declare.at == m(6)
    assert declare.fields["services"][0] == "ledger-db"


def test_problems_name_every_unknown_name_by_its_line() -> None:
    text = MINIMAL + (
        '\n[[inject]]\nat = "2m"\nkind = "join"\nperson = "zed"\nrole = "chef"\n'
        '\n[[response]]\nat = "3m"\nkind = "update"\naudience = "board"\n'
        'text = "x"\n'
        '\n[[response]]\nat = "1m"\nkind = "declare"\ntitle = "t"\nseverity = 2\n'
        'services = ["ghost"]\n'
    )
    s = parse(text.replace("severity = 2\n", 'severity = 2\nroles = ["janitor"]\n', 1),
              "drill")  # fmt: skip
    known = Known(
        services=frozenset({"payments-api"}), people=frozenset({"alice"}),
        audiences=frozenset({"executives"}), roles=frozenset({"commander"}),
        sources={"people": "the people directory (people.toml)"},
    )  # fmt: skip
    found = [(p.line, p.text) for p in problems_with(s, known)]
    assert found == [
        (7, "role 'janitor' is not in the roles"),
        (19, "person 'zed' is not in the people directory (people.toml)"),
        (20, "role 'chef' is not in the roles"),
        (25, "audience 'board' is not in the audiences file"),
        (33, "service 'ghost' is not in the service catalogue"),
    ]
    assert problems_with(s, known)[0].located("d.toml") == (
        "d.toml:7: role 'janitor' is not in the roles"
    )


def test_the_shipped_names_are_known_to_the_shipped_samples() -> None:
    s = load_scenario(next(p for p in shipped() if p.stem == "ledger-payments"))
    known = Known(frozenset({"ledger-db"}), frozenset({"alice"}))
    texts = [p.text for p in problems_with(s, known)]
    assert "service 'payments-api' is not in the service catalogue" in texts
    assert "person 'bob' is not in the people directory" in texts
    assert not any("alice" in p or "'ledger-db'" in p for p in texts)


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        # A missing title is named at [scenario], not at a response's title.
        (MINIMAL.replace('title = "Drill"\n', "") + '\n[[response]]\nat = "1m"\n'
         'kind = "declare"\ntitle = "t"\nseverity = 2\nservices = ["x"]\n',
         "[scenario] needs title", 1),
        (MINIMAL.replace('length = "30m"\n', ""), "needs length", 1),
        (MINIMAL.replace('"10m"', '"45m"'),
         "declare_within = T+45:00 is after the scenario's end", 7),
        (MINIMAL + 'update_every = "2h"\n', "update_every", None),
        (MINIMAL.replace('"payments-api"', "payments-api"),
         "not valid TOML at column 11", 12),
    ],
)  # fmt: skip
def test_what_would_break_a_run_is_a_mistake_with_its_line(
    text: str, words: str, line: int | None
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(text, "drill")
    assert words in str(caught.value)
    if line is not None:
        assert caught.value.line == line
    assert "(at line" not in str(caught.value)
