"""`mimdesk report`, `export`, `import` and `metrics`: the post-incident report
as Markdown, HTML or PDF, the single-file incident archive, and response
metrics across incidents.

Only `report --format pdf` loads Qt (its PDF writer), and only when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimdesk import archive, postmortem
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident

if TYPE_CHECKING:
    from mimdesk.cli import Context

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `report`, `export` and `import` on the main parser."""
    p = sub.add_parser(
        "report",
        parents=[common],
        help="post-incident report as Markdown, HTML or PDF",
        description="Everything the journal holds about one incident, for the "
        "review and for people who were not there. Give an incident ID, or "
        "--archive FILE to report on an exported incident.",
    )
    p.add_argument("id", nargs="?", help="an incident id (or use --archive)")
    p.add_argument("--format", choices=postmortem.FORMATS, default="md")
    p.add_argument("--output", metavar="FILE", help="default: standard output")
    p.add_argument("--archive", metavar="FILE", help="an archive from `export`")
    p.add_argument("--zone", help="IANA zone shown beside UTC (default: settings)")
    p.add_argument(
        "--no-graphs",
        action="store_true",
        help="leave out the health graphs (they are fetched from the configured "
        "Prometheus, or the DEMO source with --demo)",
    )
    p.set_defaults(func=cmd_report)
    p = sub.add_parser(
        "export",
        parents=[common],
        help="one incident's journal in a single file, for auditors",
    )
    p.add_argument("id")
    p.add_argument("--output", metavar="FILE", required=True)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser(
        "import",
        parents=[common],
        help="check and show an exported incident (read-only)",
        description="Checks the archive's hashes and shows the incident. "
        "Nothing is written to this store.",
    )
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser(
        "metrics",
        parents=[common],
        help="counts, MTTA, time to mobilise, mitigate, resolve; targets met",
    )
    p.add_argument("--since", metavar="DATE", help="detected on or after DATE")
    p.add_argument("--include-demo", action="store_true", help="count DEMO ones")
    p.add_argument(
        "--include-exercise", action="store_true",
        help="count exercise incidents (always, with --exercise RUN)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_metrics)


def _from_archive(
    path: Path,
) -> tuple[Incident, list[JournalEvent], postmortem.Verification]:
    read = archive.read(path)
    events = list(read.events)
    check = postmortem.Verification(
        len(events),
        tuple(archive.verify(read)),
        events[-1].hash if events else "-",
        f"archive {path.name}",
    )
    return read.incident(), events, check


def cmd_report(ctx: Context, args: argparse.Namespace) -> int:
    if (args.id is None) == (args.archive is None):
        raise DomainError("give an incident ID or --archive FILE (one of them)")
    if args.format == "pdf" and not args.output:
        raise DomainError("a PDF needs --output FILE")
    try:
        incident, events, check = (
            _from_archive(Path(args.archive))
            if args.archive
            else postmortem.from_store(ctx.read_store(), args.id)
        )
    except archive.ArchiveError as exc:
        raise DomainError(str(exc)) from None
    data = report_data(
        ctx, incident, events, check, zone_name=args.zone, graphs=not args.no_graphs
    )
    if not data["graphs"]["available"] and not args.no_graphs:
        print(f"warning: graphs unavailable: {data['graphs']['reason']}",
              file=sys.stderr)  # fmt: skip
    write_report(data, args.format, Path(args.output) if args.output else None)
    if not check.intact:
        print(
            f"warning: {len(check.problems)} journal problem(s); the report says which",
            file=sys.stderr,
        )
    return EXIT_OK


def report_data(
    ctx: Context,
    incident: Incident,
    events: Sequence[JournalEvent],
    check: postmortem.Verification,
    *,
    zone_name: str | None = None,
    graphs: bool = True,
) -> dict[str, Any]:
    from mimdesk.policy import load_targets
    from mimdesk.settings import resolve_zone

    targets = load_targets()
    for problem in targets.problems:
        print(f"warning: {problem}", file=sys.stderr)
    zone = resolve_zone(zone_name) if zone_name else ctx.zone
    return postmortem.report_data(
        incident,
        events,
        scale=ctx.settings.severity,
        catalogue=ctx.catalogue,
        directory=ctx.directory(),
        targets=targets.value,
        verification=check,
        zone=zone,
        now=ctx.now(),
        graphs=report_graphs(ctx, incident, zone) if graphs else None,
    )


def report_graphs(ctx: Context, incident: Incident, zone: tzinfo) -> dict[str, Any]:
    """The incident's health graphs from the configured Prometheus (DEMO only
    with --demo); "unavailable" with the reason when it cannot be asked."""
    from mimdesk import graphs
    from mimdesk.sync.sources import source_for_checks

    # Never the made-up DEMO series in a real incident's report.
    chosen = source_for_checks(ctx.settings, demo=ctx.demo)
    if chosen is None:
        return graphs.unavailable_graphs(
            "no Prometheus is configured ([prometheus] url), so there are no "
            "health graphs"
        )
    try:
        return graphs.incident_graphs(
            ctx.catalogue, chosen.source, incident, zone=zone, now=ctx.now(),
            unavailable=chosen.unusable,
        )  # fmt: skip
    finally:
        chosen.source.close()


def write_report(data: dict[str, Any], form: str, output: Path | None) -> None:
    """The report in `form` at `output` (standard output when None, but for
    a PDF). A Markdown file gets its graphs as PNG files in a folder beside it."""
    if form == "pdf":
        from mimdesk.ui.pdf import write_html_pdf

        assert output is not None
        s = data["summary"]
        write_html_pdf(
            output, postmortem.render_html(data),
            title=f"Post-incident report {s['id']}",
            header=f"Post-incident report {s['id']}{' (DEMO)' if s['demo'] else ''}",
        )  # fmt: skip
        return
    if form == "md" and output is not None:
        from mimdesk.graphs import write_image_files

        write_image_files(data["graphs"], output.parent / f"{output.stem}-graphs")
    text = (
        postmortem.render_markdown(data)
        if form == "md"
        else postmortem.render_html(data)
    )
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.read_store()
    incident = store.incident(args.id)
    events = store.timeline(incident.id)
    problems = store.verify(incident.id)
    archive.write(Path(args.output), events, seat=store.seat, now=ctx.now())
    print(f"{incident.id}: {len(events)} events written to {args.output}")
    for problem in problems:
        print(f"warning: {problem.message}", file=sys.stderr)
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import report

    try:
        read = archive.read(Path(args.file))
        incident = read.incident()
    except archive.ArchiveError as exc:
        raise DomainError(str(exc)) from None
    problems = archive.verify(read)
    scale, now = ctx.settings.severity, ctx.now()
    if args.json:
        out = {
            "format": report.SHOW_FORMAT,
            "incident": report.incident_json(incident, scale, now),
            "timeline": [report.event_json(e) for e in read.events],
            "verified": not problems,
            "problems": problems,
        }
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        lines = report.incident_lines(incident, list(read.events), scale, ctx.zone, now)
        print("\n".join(lines))
        exported = f"{read.exported_at:%Y-%m-%d %H:%M} UTC"
        print(f"Archive from seat {read.seat}, exported {exported}")
        for problem in problems:
            print(problem)
        verdict = "chain intact" if not problems else f"{len(problems)} problem(s)"
        print(f"archive verify: {len(read.events)} events, {verdict} (read-only)")
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_metrics(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.domain import metrics as model
    from mimdesk.policy import load_targets

    since = ctx.time(args.since)
    store = ctx.read_store()
    chosen = model.chosen(
        store.incidents(limit=100_000),
        since=since.utc if since else None,
        include_demo=args.include_demo or ctx.demo,
        include_exercise=args.include_exercise or ctx.exercise is not None,
    )
    targets = load_targets()
    journals = [(i, store.timeline(i.id)) for i in chosen]
    found = model.metrics(
        journals, targets.value, ctx.now(), since=since.utc if since else None
    )
    if args.json:
        json.dump(model.metrics_json(found), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(metrics_lines(found, ctx.zone)))
    return EXIT_OK


LABELS = {
    "time_to_acknowledge": "time to acknowledge (MTTA)",
    "time_to_mobilise": "time to mobilise",
    "time_to_mitigate": "time to mitigate",
    "time_to_resolve": "time to resolve",
}


def metrics_lines(found: Any, zone: tzinfo) -> list[str]:
    from mimdesk.domain.times import format_ago, format_instant

    def span(value: Any) -> str:
        return "-" if value is None else format_ago(value)

    since = format_instant(found.since, zone) if found.since else "the start"
    lines = [f"{found.incidents} incident(s) since {since}"]
    severity = ", ".join(f"SEV{k}: {v}" for k, v in found.by_severity.items())
    lines.append(f"  by severity: {severity or '-'}")
    service = ", ".join(f"{k}: {v}" for k, v in found.by_service.items())
    lines.append(f"  by service:  {service or '-'}")
    lines.append(f"  {'':<28} {'median':>12} {'90th pct':>12} {'of':>4}")
    for name, s in found.spreads.items():
        lines.append(
            f"  {LABELS[name]:<28} {span(s.median):>12} {span(s.p90):>12} {s.count:>4}"
        )
    lines.append(f"  targets met: {found.targets_met} of {found.targets_judged}")
    lines.append(
        f"  update cadence kept: {found.cadence_kept} of {found.cadence_judged}"
    )
    return lines
