"""Health for the sample catalogue from the DEMO source, for the impact GUI tests."""

from __future__ import annotations

from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.wall import Cached, Link, SourceState, WallState, build_wall
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.sync.demo import DemoSource

# 2026-12-03 13:50 UTC: ten minutes before the GUI tests' now, when the DEMO
# ledger database is at its slowest (WARNING) and everything else is well.
SLOW_DB = 1_796_305_800.0


def sample() -> Catalogue:
    catalogue, problem = load_catalogue(resource("catalogues", "sample.toml"))
    assert problem == ""
    return catalogue


def demo_state(at: float = SLOW_DB, catalogue: Catalogue | None = None) -> WallState:
    """One refresh of every sample service from the DEMO source at `at`."""
    chosen = catalogue or sample()
    demo = DemoSource(now=lambda: at)
    cached = {
        s.id: {
            m.id: Cached(demo.query_range(m.expr, at - 3600, at, 60).series)
            for m in s.metrics
        }
        for s in chosen.monitored
    }
    source = SourceState("DEMO", Link.CONNECTED, True, at)
    return build_wall(chosen, cached, source=source, now=at)
