"""The JSON of `mimdesk health` and `mimdesk query`: NaN and Inf as Prometheus spells
them, so a strict JSON reader never chokes."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from mimdesk.cli_health import health_json, query_json, seconds
from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.catalogue import Catalogue, Metric, Service
from mimdesk.domain.series import Series
from mimdesk.domain.wall import Cached, Link, SourceState, build_wall

from .cases import matrix

Case = Callable[[str], dict[str, Any]]


def test_c01_query_json_keeps_the_strings_prometheus_used(load_case: Case) -> None:
    body = load_case("C01")["response"]["body"]
    result = QueryResult("matrix", matrix(body))

    data = query_json("svc_a:error_ratio:rate5m", result, "prom")

    text = json.dumps(data, allow_nan=False)  # would raise on a bare NaN
    assert json.loads(text)["result"] == body["data"]["result"]


def test_health_json_spells_an_infinite_value() -> None:
    metric = Metric("m", "M", "expr")
    catalogue = Catalogue((Service("s", "S", metrics=(metric,)),))
    cached = {"s": {"m": Cached((Series((), (100.0,), (math.inf,)),))}}
    state = build_wall(catalogue, cached, source=SourceState("p", Link.CONNECTED),
                       now=100.0)  # fmt: skip

    data = json.loads(json.dumps(health_json(state), allow_nan=False))

    shown = data["services"][0]["metrics"][0]
    assert (shown["value"], shown["shown"], shown["status"]) == ("+Inf", "∞", "ok")
    assert shown["sampled_at"] == "1970-01-01T00:01:40.000000Z"


@pytest.mark.parametrize(
    ("text", "expected"), [("90", 90), ("15s", 15), ("1h", 3600), ("1h30m", 5400),
                           ("2d", 172800)],
)  # fmt: skip
def test_durations_read_like_prometheus(text: str, expected: int) -> None:
    assert seconds(text) == expected


@pytest.mark.parametrize("text", ["", "0", "1x", "h", "1h 30m", "-5"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        seconds(text)


def test_a_scalar_result_has_prometheus_shape() -> None:
    result = QueryResult("scalar", (Series((), (1700000000.0,), (math.nan,)),))

    data = query_json("scalar(up)", result, "prom")

    assert data["result"] == [1700000000, "NaN"]


def test_a_string_result_has_prometheus_shape() -> None:
    result = QueryResult("string", text="hello")

    data = query_json('"hello"', result, "prom", at=1700000000.5)

    assert data["result"] == [1700000000.5, "hello"]


def test_query_json_says_when_data_is_demo() -> None:
    result = QueryResult("vector", (Series((), (1.0,), (2.0,)),))

    assert query_json("up", result, "DEMO", demo=True)["demo"] is True
    assert query_json("up", result, "prom")["demo"] is False
