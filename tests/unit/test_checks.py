"""Judging a PromQL condition from what a source returned: a gap, an error or no
data is never a pass."""

from __future__ import annotations

import math
from datetime import timedelta

from mimdesk.checks import promql_outcome
from mimdesk.connectors.errors import TimedOut
from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.actions import FAILED, PASSED, UNKNOWN
from mimdesk.domain.runbooks import Check
from mimdesk.domain.series import Series

RATIO = Check("error ratio below 1%", promql="ratio", below=0.01,
              hold=timedelta(minutes=5))  # fmt: skip


class Answers:
    """A source that gives the same values, or raises, and keeps what was asked."""

    def __init__(self, values: list[float] | Exception) -> None:
        self.values = values
        self.asked: list[tuple[float, float, int]] = []

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        self.asked.append((start, end, step))
        if isinstance(self.values, Exception):
            raise self.values
        times = tuple(start + n * step for n in range(len(self.values)))
        return QueryResult("matrix", (Series((), times, tuple(self.values)),))


def test_every_sample_over_the_window_must_meet_the_bound() -> None:
    source = Answers([0.002, math.nan, 0.004])

    assert promql_outcome(RATIO, source, 1000.0) == (
        PASSED, "worst 0.004 over 5 min; needs below 0.01",
    )  # fmt: skip
    assert source.asked == [(700.0, 1000.0, 15)]
    assert promql_outcome(RATIO, Answers([0.002, 0.2]), 1000.0)[0] == FAILED


def test_no_data_and_errors_could_not_check() -> None:
    assert promql_outcome(RATIO, Answers([math.nan]), 1000.0) == (
        UNKNOWN, "the query returned no data",
    )  # fmt: skip
    outcome, reason = promql_outcome(RATIO, Answers(TimedOut("slow")), 1000.0)
    assert outcome == UNKNOWN
    assert reason


def test_above_bounds_are_judged_on_the_lowest_sample() -> None:
    up = Check("targets up", promql="up", above=0.5)

    assert promql_outcome(up, Answers([1.0, 0.0]), 1000.0) == (
        FAILED, "worst 0; needs above 0.5",
    )  # fmt: skip
