"""Field-case answers turned into domain series, as the Prometheus client would."""

from __future__ import annotations

from typing import Any

from mimdesk.domain.series import Series, labels_key, parse_value


def matrix(body: dict[str, Any]) -> tuple[Series, ...]:
    """The series of a `matrix` answer body."""
    return tuple(
        Series(
            labels_key(entry["metric"]),
            tuple(float(t) for t, _ in entry["values"]),
            tuple(parse_value(v) for _, v in entry["values"]),
        )
        for entry in body["data"]["result"]
    )


def vector(body: dict[str, Any]) -> tuple[Series, ...]:
    """The series of a `vector` answer body, one point each."""
    return tuple(
        Series(
            labels_key(entry["metric"]),
            (float(entry["value"][0]),),
            (parse_value(entry["value"][1]),),
        )
        for entry in body["data"]["result"]
    )
