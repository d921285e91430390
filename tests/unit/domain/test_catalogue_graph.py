"""Dependencies, business services and segments in the catalogue: what is read, and
mistakes (unknown references, cycles) reported with their file and line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mimdesk.domain.catalogue import (
    HARD,
    SOFT,
    CatalogueError,
    catalogue_from_mapping,
    dependency_order,
)
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue

GOOD = """\
[[service]]
id = "db"

[[service]]
id = "api"
depends_on = [
    "db",
]
soft_depends_on = ["search"]

[[service]]
id = "search"

[[business_service]]
id = "payments"
name = "Payments"
services = ["api"]
soft_services = ["search"]
segments = ["retail"]

[[segment]]
id = "retail"
name = "Retail customers"
customers = 1_200_000
revenue_per_hour = 42_000.5
currency = "GBP"

[impact]
currency = "EUR"
"""


def _problem(tmp_path: Path, text: str) -> str:
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    catalogue, problem = load_catalogue(path)
    assert catalogue.services == ()  # nothing half-read is used
    return problem.replace(f"{path}:", "LINE ")


def test_the_graph_is_read() -> None:
    catalogue = catalogue_from_mapping(tomllib.loads(GOOD))

    api = catalogue.get("api")
    assert api is not None
    assert api.edges == (("db", HARD), ("search", SOFT))
    payments = catalogue.business("payments")
    assert payments is not None
    assert payments.edges == (("api", HARD), ("search", SOFT))
    assert payments.segments == ("retail",)
    retail = catalogue.segment("retail")
    assert retail is not None
    assert (retail.customers, retail.revenue_per_hour, retail.currency) == (
        1_200_000, 42_000.5, "GBP",
    )  # fmt: skip
    assert catalogue.currency == "EUR"


def test_dependencies_come_before_what_needs_them() -> None:
    catalogue = catalogue_from_mapping(tomllib.loads(GOOD))

    assert dependency_order(catalogue.services) == ("db", "search", "api")


def test_a_catalogue_without_the_new_tables_reads_as_before() -> None:
    catalogue, problem = load_catalogue(resource("catalogues", "node.toml"))

    assert problem == ""
    assert catalogue.business_services == catalogue.segments == ()
    assert all(s.edges == () for s in catalogue.services)


def test_the_sample_catalogue_has_a_business_view() -> None:
    catalogue, problem = load_catalogue(resource("catalogues", "sample.toml"))

    assert problem == ""
    assert [b.id for b in catalogue.business_services] == [
        "card-payments", "digital-banking", "branch-banking", "onboarding",
        "staff-tools",
    ]  # fmt: skip
    core = catalogue.get("core-banking")
    assert core is not None
    assert core.depends_on == ("ledger-db",)
    assert all("DEMO" in s.name for s in catalogue.segments)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('"db",\n]', '"dbb",\n]',
         "LINE 6: service 'api': depends_on names 'dbb', which is no service in "
         "this catalogue (services: db, api, search)"),
        ('soft_depends_on = ["search"]', 'soft_depends_on = ["serch"]',
         "LINE 9: service 'api': soft_depends_on names 'serch', which is no "
         "service in this catalogue (services: db, api, search)"),
        ('services = ["api"]', 'services = ["apii"]',
         "LINE 17: business service 'payments': services names 'apii', which is "
         "no service in this catalogue (services: db, api, search)"),
        ('segments = ["retail"]', 'segments = ["retial"]',
         "LINE 19: business service 'payments': segments names 'retial', which "
         "is no segment in this catalogue (segments: retail)"),
    ],
)  # fmt: skip
def test_an_unknown_reference_names_its_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert _problem(tmp_path, GOOD.replace(old, new)) == expected


def test_a_cycle_is_refused_at_the_dependency_that_closes_it(tmp_path: Path) -> None:
    text = GOOD.replace(
        'id = "db"\n', 'id = "db"\n# the ledger\nsoft_depends_on = ["api"]\n'
    )

    # Walked from db (first in the file): api's edge back to db closes it.
    assert _problem(tmp_path, text) == (
        "LINE 8: service 'api': dependency cycle db \u2192 api \u2192 db (a "
        "service cannot depend on itself, even through others)"
    )


def test_a_longer_cycle_is_named_in_full(tmp_path: Path) -> None:
    text = GOOD.replace('id = "search"\n\n', 'id = "search"\ndepends_on = ["api"]\n\n')
    text = text.replace('id = "db"\n', 'id = "db"\ndepends_on = ["search"]\n')

    assert _problem(tmp_path, text) == (
        "LINE 7: service 'api': dependency cycle db \u2192 search \u2192 api "
        "\u2192 db (a service cannot depend on itself, even through others)"
    )


def test_a_service_that_depends_on_itself_is_a_cycle(tmp_path: Path) -> None:
    text = GOOD.replace('id = "search"\n', 'id = "search"\ndepends_on = ["search"]\n')

    assert _problem(tmp_path, text) == (
        "LINE 13: service 'search': dependency cycle search \u2192 search (a "
        "service cannot depend on itself, even through others)"
    )


def test_cycles_through_soft_edges_are_refused_too() -> None:
    text = GOOD.replace(
        '[[service]]\nid = "search"\n',
        '[[service]]\nid = "search"\nsoft_depends_on = ["api"]\n',
    )

    with pytest.raises(CatalogueError, match="dependency cycle api \u2192 search"):
        catalogue_from_mapping(tomllib.loads(text))


def test_a_segment_may_be_as_large_as_the_limits() -> None:
    text = GOOD.replace("customers = 1_200_000", "customers = 10_000_000_000")
    text = text.replace("revenue_per_hour = 42_000.5", "revenue_per_hour = 1e12")

    retail = catalogue_from_mapping(tomllib.loads(text)).segment("retail")

    assert retail is not None
    assert (retail.customers, retail.revenue_per_hour) == (10_000_000_000, 1e12)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('customers = 1_200_000', 'customers = "lots"',
         "LINE 24: segment 'retail': customers must be a whole number (1200000, "
         "or 1_200_000), not 'lots'"),
        ('revenue_per_hour = 42_000.5', 'revenue_per_hour = -1',
         "LINE 25: segment 'retail': revenue_per_hour must be a number of at "
         "least 0, not -1"),
        ('customers = 1_200_000', 'customers = -40000',
         "LINE 24: segment 'retail': customers must be 0 or more, not -40000"),
        ('customers = 1_200_000', 'customers = 9_999_999_999_999_999_999_999_999',
         "LINE 24: segment 'retail': customers must be at most 10_000_000_000, "
         "not 9999999999999999999999999"),
        ('revenue_per_hour = 42_000.5', 'revenue_per_hour = 1e308',
         "LINE 25: segment 'retail': revenue_per_hour must be at most "
         "1_000_000_000_000, not 1e+308"),
        ('revenue_per_hour = 42_000.5', 'revenue_per_hour = 10_000_000_000_000',
         "LINE 25: segment 'retail': revenue_per_hour must be at most "
         "1_000_000_000_000, not 10000000000000"),
        ('revenue_per_hour = 42_000.5', 'revenue_per_hour = inf',
         "LINE 25: segment 'retail': revenue_per_hour must be a number of at "
         "least 0, not inf"),
        ('revenue_per_hour = 42_000.5', 'revenue_per_hour = nan',
         "LINE 25: segment 'retail': revenue_per_hour must be a number of at "
         "least 0, not nan"),
        ('soft_services = ["search"]', 'soft_sevices = ["search"]',
         "LINE 18: business service 'payments': unknown key 'soft_sevices' "
         "(known: id, name, owner, segments, services, soft_services)"),
        ('services = ["api"]\nsoft_services = ["search"]', 'services = []',
         "LINE 14: business service 'payments': name the technical services it "
         'is built from (services = ["..."])'),
        ('soft_services = ["search"]', 'soft_services = ["api"]',
         "LINE 18: business service 'payments': 'api' is both in services and "
         "soft_services"),
        ('soft_depends_on = ["search"]', 'soft_depends_on = ["db"]',
         "LINE 9: service 'api': 'db' is both in depends_on and soft_depends_on"),
        ('depends_on = [\n    "db",\n]', 'depends_on = "db"',
         "LINE 6: service 'api': depends_on must be a list of ids, like "
         '["core-banking"]'),
        ('currency = "EUR"', 'currency = "euro zone"',
         "LINE 29: [impact]: currency must be a short code like \"EUR\", not "
         "'euro zone'"),
        ('[impact]\n', '[impact]\nrate = 2\n',
         "LINE 29: [impact]: unknown key 'rate' (known: currency)"),
        ('[[segment]]\nid = "retail"', '[[segmnt]]\nid = "retail"',
         "LINE 21: unknown table or key 'segmnt' (expected [[service]], "
         "[[business_service]] and [[segment]] tables, and optional [impact], "
         "[wall] and [alerts])"),
    ],
)  # fmt: skip
def test_mistakes_in_the_new_tables_name_their_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    assert _problem(tmp_path, GOOD.replace(old, new)) == expected


def test_a_business_service_id_used_twice_names_the_second(tmp_path: Path) -> None:
    twice = GOOD.replace(
        "[[segment]]", '[[business_service]]\nid = "payments"\nservices = ["db"]\n\n'
        "[[segment]]",
    )  # fmt: skip

    assert _problem(tmp_path, twice) == (
        "LINE 21: business service id 'payments' is used twice"
    )
