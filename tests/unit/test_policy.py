"""Policy files: the bundled targets and regulatory presets, and broken files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mimdesk.domain.lifecycle import Status
from mimdesk.domain.regulatory import PRESETS, Anchor, Period, ReportSent
from mimdesk.domain.targets import DEFAULT_POLICY, FIRST_UPDATE, Target
from mimdesk.policy import (
    PolicyError,
    load_regulatory,
    load_targets,
    parse_period,
)

SEV1 = "[severity.1]\ntargets = [{ %s }]"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_targets_load_without_problems() -> None:
    loaded = load_targets()

    assert loaded.problems == ()
    assert loaded.value == DEFAULT_POLICY
    assert loaded.value.targets_for(1)[2] == Target(
        Status.DECLARED, FIRST_UPDATE, timedelta(minutes=30)
    )
    assert loaded.value.cadence == {
        1: timedelta(minutes=30),
        2: timedelta(hours=1),
        3: timedelta(hours=2),
    }


def test_bundled_regulatory_presets_load_without_problems() -> None:
    loaded = load_regulatory()

    assert loaded.problems == ()
    assert loaded.value == dict(PRESETS)
    initial = loaded.value["dora"].reports[0]
    assert initial.deadline.within == Period(fixed=timedelta(hours=4))
    assert initial.deadline.after is Anchor.CLASSIFIED_MAJOR
    assert initial.backstop is not None
    assert initial.backstop.label == "24 h after detection"
    assert loaded.value["dora"].reports[2].deadline.within == Period(months=1)
    assert loaded.value["nis2"].reports[2].deadline.after == ReportSent("notification")


def test_a_broken_line_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "targets.toml",
        'warn_fraction = 0.2\n\n[severity.1]\nupdate_every = = "30 min"\n',
    )

    loaded = load_targets(path)

    assert loaded.value == DEFAULT_POLICY
    (problem,) = loaded.problems
    assert str(path) in problem
    assert "line 4" in problem
    assert problem.endswith("using the built-in targets")


def test_a_bad_value_is_reported_and_that_severity_keeps_its_defaults(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "targets.toml",
        """
[severity.1]
update_every = "15 min"
targets = [
    { from = "detected", to = "declared", within = "fifteen" },
]

[severity.2]
update_every = "45 min"
targets = [{ from = "detected", to = "declared", within = "20 min" }]
""",
    )

    loaded = load_targets(path)

    (problem,) = loaded.problems
    assert problem.startswith(f"{path}: severity.1: targets[1].within: 'fifteen'")
    assert problem.endswith("keeping the default SEV1 targets")
    assert loaded.value.by_severity[1] == DEFAULT_POLICY.by_severity[1]
    assert loaded.value.cadence[2] == timedelta(minutes=45)
    assert loaded.value.targets_for(2) == (
        Target(Status.DETECTED, Status.DECLARED, timedelta(minutes=20)),
    )
    assert loaded.value.by_severity[3] == DEFAULT_POLICY.by_severity[3]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("warn_fraction = 1.5", "warn_fraction: must be at least 0 and below 1"),
        ('warn_margin = "1 month"', "warn_margin: '1 month': months vary in length"),
        ('colour = "red"', "unknown key 'colour' ignored"),
        ("[severity.5]\ntargets = []", "severity.5 ignored: use 1 to 4"),
        (
            SEV1 % 'from = "detected", to = "fixed", within = "1 h"',
            "targets[1].to: unknown status 'fixed'",
        ),
        (
            SEV1 % 'from = "detected", to = "declared", in = "1 h"',
            "unknown key in in targets[1]",
        ),
    ],
)
def test_each_bad_value_is_named(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, "targets.toml", text + "\n")

    loaded = load_targets(path)

    (problem,) = loaded.problems
    assert problem.startswith(f"{path}: ")
    assert fragment in problem
    assert loaded.value.by_severity == DEFAULT_POLICY.by_severity


def test_a_missing_file_gives_the_defaults_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"

    targets = load_targets(path)
    regulatory = load_regulatory(path)

    assert targets.value == DEFAULT_POLICY
    assert regulatory.value == dict(PRESETS)
    assert targets.problems == (f"{path}: file not found; using the built-in targets",)
    assert regulatory.problems == (
        f"{path}: file not found; using the built-in presets",
    )


def test_a_regime_can_be_adjusted_or_added(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "regulatory.toml",
        """
[gdpr]
title = "GDPR personal-data breach (internal target)"
[[gdpr.report]]
id = "notification"
title = "Notification"
within = "48 h"
after = "detected"

[central_bank]
title = "Central bank operational incident"
[[central_bank.report]]
id = "first"
title = "First call"
within = "2 h"
after = "declared"
backstop = { within = "1 d", after = "detected" }
""",
    )

    loaded = load_regulatory(path)

    assert loaded.problems == ()
    assert loaded.value["dora"] == PRESETS["dora"]
    gdpr = loaded.value["gdpr"].reports[0]
    assert gdpr.deadline.within == Period(fixed=timedelta(hours=48))
    bank = loaded.value["central_bank"].reports[0]
    assert bank.backstop is not None
    assert bank.backstop.label == "24 h after detection"


@pytest.mark.parametrize(
    ("report", "fragment"),
    [
        ('within = "4 h"\nafter = "classified"', "report[1].after: unknown start"),
        ('within = "soon"\nafter = "detected"', "report[1].within: 'soon' is not"),
        (
            'within = "4 h"\nafter = "sent:interim"',
            "after sent:interim, no such report",
        ),
        ('within = "4 h"\nafter = "detected"\nbackstp = "24 h"', "unknown key backstp"),
    ],
)
def test_a_bad_rule_is_reported_and_the_preset_kept(
    tmp_path: Path, report: str, fragment: str
) -> None:
    head = '[dora]\ntitle = "DORA"\n[[dora.report]]\nid = "initial"\ntitle = "I"\n'
    text = f"{head}{report}\n"
    path = write(tmp_path, "regulatory.toml", text)

    loaded = load_regulatory(path)

    (problem,) = loaded.problems
    assert problem.startswith(f"{path}: dora: ")
    assert fragment in problem
    assert problem.endswith("keeping the preset")
    assert loaded.value["dora"] == PRESETS["dora"]


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("15 min", Period(fixed=timedelta(minutes=15))),
        ("4h", Period(fixed=timedelta(hours=4))),
        ("1 h 30 min", Period(fixed=timedelta(minutes=90))),
        ("1 month", Period(months=1)),
        ("2 days", Period(fixed=timedelta(days=2))),
    ],
)
def test_durations_are_read_as_written(text: str, period: Period) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["", "fifteen", "15", "15 fortnights", "0 min", 15])
def test_unreadable_durations_are_refused(text: object) -> None:
    with pytest.raises(PolicyError):
        parse_period(text)


def test_bundled_roles_match_the_built_in_ones() -> None:
    from mimdesk.domain.roster import RolePolicy
    from mimdesk.policy import load_roles

    loaded = load_roles()

    assert loaded.problems == ()
    assert loaded.value == RolePolicy()


def test_roles_file_with_an_unknown_required_role_says_so(tmp_path) -> None:
    from mimdesk.policy import load_roles

    path = tmp_path / "roles.toml"
    path.write_text(
        '[[role]]\nid = "commander"\nlabel = "IC"\n\n'
        '[required]\n1 = ["commander", "pilot"]\n',
        encoding="utf-8",
    )

    loaded = load_roles(path)

    assert [r.label for r in loaded.value.roles] == ["IC"]
    assert loaded.problems == (
        f"{path}: required.1 ignored (use 1 to 4 and known role ids; unknown: pilot)",
    )
