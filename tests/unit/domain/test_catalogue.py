"""The service catalogue: metrics and thresholds from TOML, errors with their line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mimdesk.domain.catalogue import (
    CatalogueError,
    WallConfig,
    catalogue_from_mapping,
    locate,
)
from mimdesk.domain.health import Health
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue

BROKEN = """\
[[service]]
id = "payments-api"

[[service.metric]]
id = "errors"
expr = "sum(rate(x[5m]))"

[[service.metric]]
id = "latency"
expr = "histogram_quantile(0.95, y)"
warning = 2
critical = 1
"""


@pytest.mark.parametrize("name", ["sample.toml", "node.toml"])
def test_shipped_catalogues_load_with_metrics_on_every_service(name: str) -> None:
    catalogue, problem = load_catalogue(resource("catalogues", name))

    assert problem == ""
    assert catalogue.monitored == catalogue.services
    assert all(1 <= len(s.panels) <= 2 for s in catalogue.services)


def test_sample_thresholds_are_in_the_expressions_units() -> None:
    catalogue, _ = load_catalogue(resource("catalogues", "sample.toml"))
    payments = catalogue.get("payments-api")
    assert payments is not None
    errors = payments.metrics[0]

    assert errors.expr == (
        'sum(rate(http_requests_total{service="payments-api",code=~"5.."}[5m])) / '
        'sum(rate(http_requests_total{service="payments-api"}[5m]))'
    )
    assert (errors.unit, errors.scale) == ("%", 100.0)
    assert errors.thresholds.classify(0.02) is Health.WARNING
    assert catalogue.wall == WallConfig()


def test_a_broken_metric_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(BROKEN, encoding="utf-8")

    catalogue, problem = load_catalogue(path)

    assert catalogue.services == ()
    assert problem == (
        f"{path}:8: service 'payments-api': metric 'latency': warning (2) must not be "
        "above critical (1) when high values are bad"
    )


def test_the_last_good_catalogue_is_kept_when_the_file_breaks(tmp_path: Path) -> None:
    good, _ = load_catalogue(resource("catalogues", "sample.toml"))
    path = tmp_path / "catalogue.toml"
    path.write_text(BROKEN, encoding="utf-8")

    kept, problem = load_catalogue(path, last_good=good)

    assert kept is good
    assert problem


def test_locate_names_the_service_line_for_a_service_error() -> None:
    text = '[[service]]\nid = "a"\n\n[[service]]\nid = "a"\n'
    with pytest.raises(CatalogueError) as caught:
        catalogue_from_mapping(tomllib.loads(text))

    assert str(caught.value) == "service id 'a' is used twice"
    assert locate(text, caught.value) == 4


@pytest.mark.parametrize(
    ("wall", "message"),
    [({"refresh_seconds": 0}, "refresh_seconds must be from 1 to 3600"),
     ({"stale_factor": "2"}, "stale_factor must be a float"),
     ({"colour": 1}, "unknown setting 'colour'")],
)  # fmt: skip
def test_wall_settings_are_checked(wall: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        catalogue_from_mapping({"wall": wall})


def test_metric_defaults_draw_it_with_no_thresholds() -> None:
    data = {"service": [{"id": "s", "metric": [{"id": "m", "expr": "up"}]}]}

    (service,) = catalogue_from_mapping(data).services
    (metric,) = service.metrics

    assert (metric.name, metric.panel, metric.scale) == ("m", True, 1.0)
    assert metric.thresholds.classify(1e9) is Health.OK


MISTAKES = [
    # (what the operator wrote, the line and words they must be shown)
    (
        '[[service]]\nid = "a"\n\n[[service.metric]]\nid = "m"\nexpr = "up"\n'
        "warning = 1\ncritcal = 2\n",
        8,
        "metric 'm': unknown key 'critcal'",
    ),
    ('[[service]]\nid = "a"\nname = "A"\ntier = "two"\n', 4, "tier must be 1 to 4"),
    ('[[servce]]\nid = "a"\n', 1, "unknown table or key 'servce'"),
    ('[[service]]\nid = "a"\nowner_team = "x"\n', 3, "unknown key 'owner_team'"),
    (
        '[[service]]\nid = "a"\n[[service.metric]]\nid = "m"\nexpr = "up"\n'
        'panel = "no"\n',
        6,
        "panel must be true or false",
    ),
    (
        '[[service]]\nid = "a"\n[[service.metric]]\nid = "m"\nexpr = "up"\n'
        "critical = nan\n",
        6,
        "critical must be a finite number",
    ),
]


@pytest.mark.parametrize(("text", "line", "words"), MISTAKES)
def test_mistakes_that_would_silence_a_tile_are_refused_with_their_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "services.toml"
    path.write_text(text, encoding="utf-8")

    catalogue, problem = load_catalogue(path)

    assert catalogue.services == ()
    assert problem.startswith(f"{path}:{line}: ")
    assert words in problem


def test_alert_labels_that_name_a_service_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "services.toml"
    path.write_text(
        '[alerts]\nservice_labels = ["app", "service"]\n[[service]]\nid = "a"\n',
        encoding="utf-8",
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[alerts]\nservice_labels = "app"\n', encoding="utf-8")

    catalogue, problem = load_catalogue(path)
    _, refused = load_catalogue(bad)

    assert problem == ""
    assert catalogue.alert_labels == ("app", "service")
    assert load_catalogue(resource("catalogues", "sample.toml"))[0].alert_labels == (
        "service",
        "job",
    )
    assert refused.startswith(f"{bad}:2: [alerts]: service_labels must be a list")
