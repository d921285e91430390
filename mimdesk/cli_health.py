"""`mimdesk health` and `mimdesk query`: the wall's data from the command line.

Both read the same source as the wall (MIMDESK_PROMETHEUS_URL, the settings'
[prometheus] url, else DEMO; `query` asks for --demo before it shows DEMO data). A
configured server that cannot be used is exit 2, said once. JSON output spells NaN
and infinities as the strings Prometheus uses, so no reader chokes on them.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sqlite3
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimdesk.connectors.errors import ConnectorError, Permanent
from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.health import format_value
from mimdesk.domain.series import Series, align, choose_step, raw_value
from mimdesk.domain.times import utc_iso
from mimdesk.domain.wall import Link, MetricView, Tile, WallState
from mimdesk.settings import Settings
from mimdesk.store.metrics import CACHE_FILE, MetricCache
from mimdesk.sync.health import HealthPoller
from mimdesk.sync.sources import (
    URL_VARIABLE,
    Chosen,
    Source,
    is_demo,
    open_source,
    source_name,
)

if TYPE_CHECKING:
    from mimdesk.cli import Context

HEALTH_FORMAT = "mimdesk.health/1"
QUERY_FORMAT = "mimdesk.query/1"
EXIT_OK, EXIT_USAGE, EXIT_CACHE, EXIT_UNREACHABLE = 0, 2, 3, 5
DEMO_WORDS = "demo data, not measured"
# Points a range query asks for when no step is given (as Prometheus's own UI).
DEFAULT_POINTS = 250

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `health` and `query` on the main parser's subcommands."""
    p = sub.add_parser(
        "health", parents=[common], help="refresh once; each service's status"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_health)
    p = sub.add_parser("query", parents=[common], help="run one PromQL query")
    p.add_argument("expr", metavar="EXPR", help="a PromQL expression")
    p.add_argument("--range", type=seconds, metavar="DURATION", help="e.g. 1h, 30m")
    p.add_argument("--step", type=seconds, metavar="S", help="seconds, or 15s, 1m")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_query)


def seconds(text: str) -> int:
    """A duration: plain seconds ("90") or Prometheus style ("1h30m", "15s")."""
    text = text.strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    parts = _DURATION.findall(text)
    total = sum(int(n) * _UNITS[u] for n, u in parts)
    if not parts or "".join(n + u for n, u in parts) != text or total <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 1h or 15s")
    return total


# --- health -------------------------------------------------------------------


def cmd_health(ctx: Context, args: argparse.Namespace) -> int:
    if ctx.catalogue_problem:
        return EXIT_USAGE  # the problem, with file and line, is already shown
    if not ctx.catalogue.monitored:
        print(
            f"error: no service in {ctx.catalogue_path} has a [[service.metric]]; "
            "see resources/catalogues/sample.toml",
            file=sys.stderr,
        )
        return EXIT_USAGE
    chosen = checked_source(ctx.settings, demo=ctx.demo)
    if chosen is None:
        return EXIT_USAGE
    cache_file = ctx.paths.data_dir / CACHE_FILE
    try:
        state = refresh_once(chosen.source, ctx.catalogue, cache_file)
    except (sqlite3.Error, OSError) as exc:
        print(f"error: {cache_failure(cache_file, exc)}", file=sys.stderr)
        return EXIT_CACHE
    if args.json:
        _emit(health_json(state))
    else:
        print("\n".join(health_lines(state)))
    if state.source.link in (Link.UNREACHABLE, Link.FAILING):
        print(f"error: {state.source.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK


def checked_source(settings: Settings, *, demo: bool) -> Chosen | None:
    """The configured source, its warnings shown on stderr; None (and why, shown)
    when the configured server cannot be used."""
    chosen = open_source(settings, demo=demo)
    for warning in chosen.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if chosen.unusable:
        chosen.source.close()
        print(f"error: {chosen.unusable}", file=sys.stderr)
        return None
    return chosen


def refresh_once(source: Source, catalogue: Catalogue, cache_file: Path) -> WallState:
    """One refresh into the metric cache; says so on stderr if it is not kept."""
    try:
        cache = MetricCache.open(cache_file)
    except BaseException:
        source.close()
        raise
    poller = HealthPoller(source, catalogue, cache)
    try:
        state = poller.refresh()
    finally:
        poller.close()
    if cache.problem:
        print(f"warning: {cache.problem}", file=sys.stderr)
    return state


def cache_failure(cache_file: Path, exc: BaseException) -> str:
    """What to tell the operator when the metric cache fails outright."""
    return (
        f"the metric cache {cache_file} could not be used: {exc}. It holds only "
        f"samples that can be fetched again: free space in {cache_file.parent}, "
        "or delete the file, or choose another data folder (--data-dir)"
    )


def health_json(state: WallState) -> dict[str, Any]:
    source = state.source
    return {
        "format": HEALTH_FORMAT,
        "now": _iso(state.now),
        "source": {
            "name": source.name,
            "demo": source.demo,
            "link": source.link.value,
            "last_success": _iso(source.last_success),
            "message": source.message,
        },
        "services": [_tile_json(tile) for tile in state.tiles],
    }


def _tile_json(tile: Tile) -> dict[str, Any]:
    return {
        "id": tile.service.id,
        "name": tile.service.name,
        "status": tile.health.value,
        "label": tile.health.label,
        "headline": tile.headline,
        "detail": tile.detail,
        "partial": tile.partial,
        "metrics": [_metric_json(view) for view in tile.metrics],
    }


def _metric_json(view: MetricView) -> dict[str, Any]:
    health, metric = view.health, view.metric
    return {
        "id": metric.id,
        "name": metric.name,
        "status": health.health.value,
        "value": None if health.value is None else _number(health.value),
        "shown": _shown(view),
        "unit": metric.unit,
        "scale": metric.scale,
        "sampled_at": _iso(health.sampled_at),
        "series": health.series,
        "reason": health.reason,
        "error": view.error,
        "warnings": list(view.warnings),
        "notes": list(view.notes),
    }


def health_lines(state: WallState) -> list[str]:
    source = state.source
    kind = f" ({DEMO_WORDS})" if source.demo else ""
    last = _iso(source.last_success) or "never"
    lines = [f"source: {source.name}{kind}: {source.link.value}, last success {last}"]
    if source.message:
        lines.append(f"        {source.message}")
    width = max((len(t.service.id) for t in state.tiles), default=0)
    for tile in state.tiles:
        text = f"{tile.service.id:<{width}}  {tile.health.label:<11}  {tile.headline}"
        lines.append(f"{text}  ({tile.detail})" if tile.detail else text)
        lines += [
            f"{'':<{width}}  ! {v.metric.name}: {v.error}"
            for v in tile.metrics
            if v.error
        ]
        lines += [
            f"{'':<{width}}  partial data: {w}"
            for v in tile.metrics
            for w in v.warnings
        ]
    return lines


def _shown(view: MetricView) -> str:
    value = view.health.value
    scaled = None if value is None else value * view.metric.scale
    return format_value(scaled, view.metric.unit)


# --- query --------------------------------------------------------------------


def cmd_query(ctx: Context, args: argparse.Namespace) -> int:
    refusal = _step_refusal(args)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    chosen = checked_source(ctx.settings, demo=ctx.demo)
    if chosen is None:
        return EXIT_USAGE
    source, at = chosen.source, time.time()
    if is_demo(source) and not ctx.demo:
        print(f"error: {_no_server(ctx)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = _query(source, args, at)
    except Permanent as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_UNREACHABLE if exc.status in (401, 403, 404) else EXIT_USAGE
    except ConnectorError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        source.close()
    name, demo = source_name(source), is_demo(source)
    if args.json:
        instant = at if args.range is None else None
        _emit(query_json(args.expr, result, name, demo, instant))
    else:
        print("\n".join(query_lines(result, name, demo)))
    return EXIT_OK


def _step_refusal(args: argparse.Namespace) -> str:
    """Why the step cannot be used as asked; empty when it can."""
    if args.step is not None and args.range is None:
        return "--step applies to range queries; add --range (e.g. --range 1h)"
    if args.step is not None and args.range is not None and args.step >= args.range:
        return (
            f"step must be shorter than the range (--step {args.step}s, "
            f"--range {args.range}s)"
        )
    return ""


def _no_server(ctx: Context) -> str:
    return (
        f"no Prometheus server is configured: set {URL_VARIABLE} (e.g. "
        "http://127.0.0.1:9090) or url under [prometheus] in "
        f"{ctx.paths.config_file}; or add --demo to see made-up DEMO data"
    )


def _query(source: Source, args: argparse.Namespace, now: float) -> QueryResult:
    if args.range is None:
        # At an explicit time, so a string or scalar answer has its instant.
        return source.query(args.expr, at=now)
    start = now - args.range
    wanted = args.step or max(1, math.ceil(args.range / DEFAULT_POINTS))
    step = choose_step(start, now, wanted).seconds
    first, end = align(start, now, step)
    result = source.query_range(args.expr, first, end, step)
    used = result.step.seconds if result.step else step
    if args.step and used > args.step and not _says_reduced(result.notes):
        note = f"resolution reduced to {used}s (asked for {args.step}s)"
        result = replace(result, notes=(*result.notes, note))
    return result


def _says_reduced(notes: tuple[str, ...]) -> bool:
    return any(n.startswith("resolution reduced") for n in notes)


def query_json(
    expr: str,
    result: QueryResult,
    name: str,
    demo: bool = False,
    at: float | None = None,
) -> dict[str, Any]:
    """Prometheus's own result shape (values as strings), with our notes."""
    data: dict[str, Any] = {
        "format": QUERY_FORMAT,
        "source": name,
        "demo": demo,
        "expr": expr,
        "resultType": result.result_type,
        "step": result.step.seconds if result.step else None,
        "warnings": list(result.warnings),
        "infos": list(result.infos),
        "notes": list(result.notes),
        "hidden": result.hidden,
        "result": _result_json(result, at),
    }
    return data


def _result_json(result: QueryResult, at: float | None) -> Any:
    """`data.result` as Prometheus shapes it for each resultType; `at` is when an
    instant query was evaluated (a string answer carries no other time)."""
    if result.text is not None:
        return [None if at is None else _time(at), result.text]
    if result.result_type == "matrix":
        return [_matrix_entry(s) for s in result.series]
    if result.result_type == "scalar":
        (point,) = result.series
        return _vector_entry(point)["value"]
    return [_vector_entry(s) for s in result.series]


def _matrix_entry(series: Series) -> dict[str, Any]:
    pairs = [
        [t, _spelling(v)] for t, v in zip(series.times, series.values, strict=True)
    ]
    return {"metric": dict(series.labels), "values": pairs}


def _vector_entry(series: Series) -> dict[str, Any]:
    t, v = series.last() or (math.nan, math.nan)
    return {"metric": dict(series.labels), "value": [_time(t), _spelling(v)]}


def query_lines(result: QueryResult, name: str, demo: bool = False) -> list[str]:
    kind = f" ({DEMO_WORDS})" if demo else ""
    lines = [f"# {name}{kind}: {result.result_type}"]
    lines += [f"# warning: {w}" for w in result.warnings]
    lines += [f"# note: {n}" for n in result.notes]
    if result.text is not None:
        return [*lines, result.text]
    if not result.series:
        return [*lines, "(no data)"]
    for series in result.series:
        lines.append(f"{{{series.name}}}" if series.labels else "{}")
        for t, v in zip(series.times, series.values, strict=True):
            lines.append(f"  {_iso(t)}  {_spelling(v)}")
    return lines


# --- helpers ------------------------------------------------------------------


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return utc_iso(datetime.fromtimestamp(seconds, UTC))


def _time(seconds: float) -> float | int:
    """Unix seconds as Prometheus writes them: 1700000000, or 1700000000.5."""
    return int(seconds) if seconds.is_integer() else seconds


def _spelling(value: float) -> str:
    """A value as Prometheus writes it: "0.97", "1", "NaN", "+Inf"."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return raw_value(value)


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else raw_value(value)


def _emit(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")
