"""`mimdesk impact`: live and per-incident impact as text and JSON, overrides set and
cleared, and the exit codes scripts rely on. Health is one DEMO refresh at a time
when the DEMO ledger database is slow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimdesk import cli, cli_impact
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.wall import Cached, Link, SourceState, WallState, build_wall
from mimdesk.resources import resource
from mimdesk.sync.demo import DemoSource

SLOW_DB = 1_796_305_800.0  # 2026-12-03 13:50 UTC: only the ledger database is slow
BUSINESS_KEYS = {
    "id", "name", "level", "computed", "override", "why", "cause", "customers",
    "segments", "since", "revenue_per_hour", "running_cost",
}  # fmt: skip


def demo_state(catalogue: Catalogue, link: Link = Link.CONNECTED) -> WallState:
    demo = DemoSource(now=lambda: SLOW_DB)
    cached = {
        s.id: {
            m.id: Cached(demo.query_range(m.expr, SLOW_DB - 600, SLOW_DB, 60).series)
            for m in s.metrics
        }
        for s in catalogue.monitored
    }
    source = SourceState(
        "DEMO", link, True, SLOW_DB, "refused" if link != Link.CONNECTED else ""
    )
    return build_wall(catalogue, cached, source=source, now=SLOW_DB)


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """`mimdesk --demo ARGS` in this process; gives (exit code, stdout, stderr)."""
    for name in ("MIMDESK_CATALOGUE", "MIMDESK_PROMETHEUS_URL", "MIMDESK_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    link = {"value": Link.CONNECTED}
    monkeypatch.setattr(
        cli_impact, "_health", lambda ctx: demo_state(ctx.catalogue, link["value"])
    )

    def call(*args: str, catalogue: Path | None = None) -> tuple[int, str, str]:
        chosen = ["--catalogue", str(catalogue)] if catalogue else []
        argv = ["--data-dir", str(tmp_path / "data"), "--config",
                str(tmp_path / "settings.toml"), "--demo", *chosen, *args]  # fmt: skip
        parsed = cli.build_parser().parse_args(argv)
        code = cli._run(parsed.func, cli.Context(parsed), parsed)
        out = capsys.readouterr()
        return code, out.out, out.err

    call.link = link  # type: ignore[attr-defined]
    return call


def _sev1(run: Any) -> str:
    code, out, _ = run("incident", "list", "--json")
    assert code == 0
    return next(i["id"] for i in json.loads(out)["incidents"] if i["severity"] == 1)


def test_live_json_has_the_documented_shape(run: Any) -> None:
    code, out, _ = run("impact", "--json")

    data = json.loads(out)
    assert code == 0
    assert data["format"] == "mimdesk.impact/1"
    assert data["incident"] is None
    assert data["source"] == {"name": "DEMO", "demo": True, "link": "connected"}
    assert set(data["totals"]) == {
        "business_services_impacted", "customers_affected", "customers_unknown",
        "revenue_per_hour", "running_cost", "since",
    }  # fmt: skip
    assert data["totals"]["customers_affected"] == 1_326_500
    assert data["totals"]["running_cost"] == {}  # nothing says when it began
    assert set(data["business_services"][0]) == BUSINESS_KEYS
    levels = {b["id"]: b["level"] for b in data["business_services"]}
    assert levels == {
        "card-payments": "degraded", "digital-banking": "degraded",
        "branch-banking": "degraded", "onboarding": "degraded",
        "staff-tools": "none",
    }  # fmt: skip
    ledger = next(s for s in data["services"] if s["id"] == "ledger-db")
    assert (ledger["health"], ledger["level"]) == ("warning", "degraded")


def test_an_incident_json_covers_what_comes_through_its_services(run: Any) -> None:
    code, out, _ = run("impact", _sev1(run), "--json")

    data = json.loads(out)
    assert code == 0
    assert data["incident"]["services"] == ["payments-api", "card-gateway"]
    assert [b["id"] for b in data["business_services"]] == [
        "card-payments", "digital-banking",
    ]  # fmt: skip
    assert data["business_services"][0]["why"] == (
        "card-gateway (hard) \u2190 core-banking (hard) \u2190 ledger-db (hard): "
        "WARNING"
    )
    assert data["totals"]["since"] == data["incident"]["detected_at"]
    assert data["totals"]["running_cost"]["EUR"] > 0


def test_an_override_is_recorded_shown_and_cleared(run: Any) -> None:
    incident = _sev1(run)

    code, out, _ = run(
        "impact", incident, "override", "card-payments", "down",
        "--reason", "acquirer confirms every authorisation fails",
    )  # fmt: skip
    assert code == 0
    assert out == (
        f"{incident}: business impact of card-payments set to DOWN by override: "
        "acquirer confirms every authorisation fails\n"
    )
    data = json.loads(run("impact", incident, "--json")[1])
    payments = data["business_services"][0]
    assert (payments["level"], payments["computed"]) == ("down", "degraded")
    assert payments["override"]["reason"] == (
        "acquirer confirms every authorisation fails"
    )
    code, out, _ = run("impact", incident, "clear", "card-payments")
    assert code == 0
    assert "cleared (was DOWN)" in out
    data = json.loads(run("impact", incident, "--json")[1])
    assert data["business_services"][0]["override"] is None


def test_the_text_names_customers_money_and_reasons(run: Any) -> None:
    code, out, _ = run("impact", _sev1(run))

    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("(demo data, not measured)")
    assert lines[1] == (
        "Customers affected: 1.32 M \u00b7 revenue at risk EUR 69.5 k/h \u00b7 so far "
        + lines[1].rsplit("so far ", 1)[1]
    )
    assert "  DEGRADED     Card payments \u00b7 1.24 M customers \u00b7 since " in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("override", "card-payments", "down"), 2, "say why the impact is overridden"),
        (("override", "nope", "down", "--reason", "x"), 2,
         "unknown business service 'nope'"),
        (("override", "card-payments", "worse", "--reason", "x"), 2,
         "unknown impact level 'worse'"),
        (("override", "card-payments"), 2,
         "usage: mimdesk impact ID override BUSINESS_SERVICE LEVEL --reason TEXT"),
        (("clear", "card-payments"), 2, "has no impact override"),
        (("show", "card-payments"), 2, "only with override or clear"),
    ],
)  # fmt: skip
def test_mistakes_are_exit_2_and_say_why(
    run: Any, args: tuple[str, ...], code: int, message: str
) -> None:
    got, _, err = run("impact", _sev1(run), *args)

    assert got == code
    assert message in err


def test_an_unknown_incident_is_exit_4(run: Any) -> None:
    code, _, err = run("impact", "INC-261203-ZZZZ")

    assert code == 4
    assert "no incident INC-261203-ZZZZ" in err


def test_unreachable_monitoring_prints_unknowns_and_exits_5(run: Any) -> None:
    run.link["value"] = Link.UNREACHABLE
    code, out, err = run("impact", "--json")

    data = json.loads(out)
    assert code == 5
    assert {b["level"] for b in data["business_services"]} == {"unknown"}
    assert data["totals"]["customers_affected"] == 0
    assert "levels are unknown" in err


def test_a_catalogue_without_business_services_warns(run: Any) -> None:
    code, out, err = run("impact", catalogue=resource("catalogues", "node.toml"))

    assert code == 0
    assert "has no [[business_service]]" in err
    assert "none impacted" in out
