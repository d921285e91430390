"""The post-incident report: everything the journal says about one incident, as
plain values (`report_data`) and as Markdown or HTML for people to read.

Every time is given twice, in UTC and in the chosen zone, with its full date.
The PDF is the HTML printed by Qt (mimdesk.ui.pdf); nothing here imports Qt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from mimdesk.domain import events as ev
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.impact_view import impact_summary
from mimdesk.domain.incident import Incident, describe, fold, in_time_order
from mimdesk.domain.lifecycle import ORDER, Status
from mimdesk.domain.roster import of_timeline
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import Level, TargetPolicy, target_states
from mimdesk.domain.times import format_ago, format_instant, parse_utc

if TYPE_CHECKING:
    from mimdesk.store.store import Store

REPORT_FORMAT = "mimdesk.post_incident_report/1"
RESULTS = {
    Level.OK: "running",
    Level.AMBER: "due soon",
    Level.RED: "overdue",
    Level.MET: "met",
    Level.MISSED: "missed",
    Level.NOT_APPLICABLE: "not applicable",
}
FORMATS = ("md", "html", "pdf")
NO_GRAPHS = {"available": False, "reason": "not drawn for this report", "images": []}


@dataclass(frozen=True)
class Verification:
    """What checking the journal's hash chain found for this incident."""

    events: int
    problems: tuple[str, ...]
    last_hash: str
    source: str  # "store" or "archive FILE"

    @property
    def intact(self) -> bool:
        return not self.problems


class Times:
    """Formats instants in UTC and in the chosen zone, with full dates."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    def utc(self, at: datetime | None) -> str:
        return format_instant(at, UTC) if at else "-"

    def local(self, at: datetime | None) -> str:
        return format_instant(at, self.zone) if at else "-"

    def both(self, at: datetime | None) -> dict[str, str]:
        return {"utc": self.utc(at), "local": self.local(at)}


def from_store(
    store: Store, incident_id: str
) -> tuple[Incident, list[JournalEvent], Verification]:
    """An incident, its events and its chain checked, read from `store`."""
    incident = store.incident(incident_id)
    events = store.timeline(incident.id)
    problems = tuple(p.message for p in store.verify(incident.id))
    source = f"store {store.path.name}"
    return (
        incident,
        events,
        Verification(len(events), problems, events[-1].hash, source),
    )


def _span(delta: timedelta | None) -> str:
    return format_ago(abs(delta)) if delta is not None else "-"


def report_data(
    incident: Incident,
    events: Sequence[JournalEvent],
    *,
    scale: SeverityScale,
    catalogue: Catalogue,
    directory: Directory,
    targets: TargetPolicy,
    verification: Verification,
    zone: tzinfo,
    now: datetime,
    graphs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as plain values (strings ready to print), at `now`.

    `graphs` is the health graphs section (mimdesk.graphs.health_graphs);
    without it the report says they were not drawn."""
    times = Times(zone)
    end = incident.reached(Status.RESOLVED) or incident.reached(Status.CLOSED) or now
    return {
        "format": REPORT_FORMAT,
        "generated": times.both(now),
        "zone_name": str(zone),
        "still_on": "the end" if not incident.is_open else "still on",
        "summary": _summary(incident, scale, times, end),
        "severity_history": _severity_history(incident, events, scale, times),
        "impact": _impact(catalogue, incident, events, end, times),
        "milestones": _milestones(incident, times),
        "targets": _targets(incident, targets, times, now),
        "timeline": [
            {**times.both(e.occurred_at), "actor": e.actor, "text": describe(e)}
            for e in in_time_order(events)
        ],
        "roster": _roster(events, directory, times, end),
        "updates": _updates(events, times),
        "alerts": _alerts(events, times),
        "verification": {
            "intact": verification.intact,
            "events": verification.events,
            "problems": list(verification.problems),
            "last_hash": verification.last_hash,
            "source": verification.source,
        },
        "graphs": dict(graphs) if graphs is not None else NO_GRAPHS,
    }


def _summary(
    incident: Incident, scale: SeverityScale, times: Times, end: datetime
) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": scale.name(incident.severity),
        "status": incident.status.value,
        "demo": incident.demo,
        "services": list(incident.services),
        "detected": times.both(incident.detected_at),
        "ended": times.both(end) if not incident.is_open else None,
        "duration": _span(end - incident.detected_at),
        "impact_started": times.both(incident.impact_started_at),
        "impact_started_set": incident.impact_started_at is not None,
        "updates_sent": incident.update_count,
    }


def _severity_history(
    incident: Incident,
    events: Sequence[JournalEvent],
    scale: SeverityScale,
    times: Times,
) -> list[dict[str, Any]]:
    rows = []
    for event in in_time_order(events):
        if event.kind == ev.INCIDENT_CREATED:
            level, before = int(event.payload["severity"]), None
        elif event.kind == ev.SEVERITY_CHANGED:
            level, before = int(event.payload["to"]), int(event.payload["from"])
        else:
            continue
        rows.append(
            {
                **times.both(event.occurred_at),
                "severity": scale.name(level),
                "from": scale.name(before) if before is not None else "-",
                "actor": event.actor,
            }
        )
    return rows


def _impact(
    catalogue: Catalogue,
    incident: Incident,
    events: Sequence[JournalEvent],
    end: datetime,
    times: Times,
) -> dict[str, Any]:
    """Business impact as the operator recorded it, as it stood when the
    incident ended (live health is gone by the time a report is read, so only
    the journal's overrides count)."""
    if not incident.is_open:
        before = [e for e in events if e.occurred_at < end]
        incident = fold(before) or incident
        events = before
    found = impact_summary(catalogue, {}, incident, events, end)
    for item in found["business_services"]:
        since = item["since"]
        item["since_text"] = times.utc(parse_utc(since)) if since else "-"
    return found


def _milestones(incident: Incident, times: Times) -> list[dict[str, Any]]:
    rows = []
    for status in ORDER:
        milestone = incident.milestones.get(status)
        at = milestone.at if milestone else None
        skipped = bool(milestone and milestone.skipped)
        rows.append({"milestone": status.value, **times.both(at), "skipped": skipped})
    return rows


def _targets(
    incident: Incident, policy: TargetPolicy, times: Times, now: datetime
) -> list[dict[str, Any]]:
    judged = target_states(
        incident, policy, now, first_update_at=incident.first_update_at
    )
    return [
        {
            "target": t.target.label,
            "result": RESULTS[t.level],
            "level": t.level.value,
            "due": times.utc(t.due),
            "reached": times.utc(t.reached_at),
            "margin": _margin(t.slack),
        }
        for t in judged
    ]


def _margin(slack: timedelta | None) -> str:
    if slack is None:
        return "-"
    return f"{_span(slack)} {'early' if slack >= timedelta(0) else 'late'}"


def _roster(
    events: Sequence[JournalEvent], directory: Directory, times: Times, end: datetime
) -> list[dict[str, Any]]:
    """Each person's time on the bridge, counted up to the incident's end."""
    roster = of_timeline(events)
    people = []
    for p in roster.participants.values():
        intervals = [
            {
                "from": times.both(start),
                "to": times.both(stop) if stop else None,
                "length": _span((stop or end) - start),
            }
            for start, stop in p.intervals
        ]
        people.append(
            {
                "id": p.person,
                "name": directory.name(p.person),
                "roles": list(p.roles),
                "requested": times.utc(p.requested_at),
                "intervals": intervals,
                "on_bridge": _span(p.active_time(end)),
            }
        )
    return people


def _updates(events: Sequence[JournalEvent], times: Times) -> list[dict[str, Any]]:
    updates = []
    for event in in_time_order(events):
        if event.kind != ev.UPDATE_SENT:
            continue
        p = event.payload
        copies = p.get("copies") or [
            {"audience": p.get("audience") or "-", "name": p.get("audience") or "-",
             "subject": p.get("summary", ""), "body": ""}
        ]  # fmt: skip
        updates.append(
            {
                **times.both(event.occurred_at),
                "actor": event.actor,
                "approved_by": p.get("approved_by"),
                "type": p.get("update_type") or "update",
                "copies": [{**c, "to": _recipients(c["audience"], p)} for c in copies],
                "skipped": list(p.get("skipped") or ()),
            }
        )
    return updates


def _recipients(audience: str, payload: Mapping[str, Any]) -> list[str]:
    """Where one audience's copy went: email addresses, chat channels."""
    out = []
    for d in payload.get("deliveries") or ():
        if d.get("audience") != audience:
            continue
        where = d.get("to") or d.get("channel") or "incident channel"
        where = ", ".join(where) if isinstance(where, list) else str(where)
        out.append(f"{d.get('platform')}: {where}")
    return out


def _alerts(events: Sequence[JournalEvent], times: Times) -> list[dict[str, Any]]:
    return [
        {
            **times.both(e.occurred_at),
            "count": len(e.payload.get("identities", ())),
            "firing": e.payload.get("firing", 0),
            "summaries": list(dict.fromkeys(e.payload.get("summaries", ()))),
        }
        for e in in_time_order(events)
        if e.kind == ev.ALERTS_ATTACHED
    ]


# --- rendering ------------------------------------------------------------------

MARKDOWN = """\
{% block top %}{% endblock %}\
{% block heading %}# Post-incident report: {{ s.id }}{% if s.demo %} [DEMO]{% endif %}
{% endblock %}
**{{ s.title }}**

| | |
|---|---|
| Severity | {{ s.severity }} |
| Status | {{ s.status }} |
| Services | {{ s.services | join(", ") or "-" }} |
| Detected | {{ s.detected.utc }} / {{ s.detected.local }} |
{% if s.ended %}| Ended | {{ s.ended.utc }} / {{ s.ended.local }} |
{% endif %}| Duration | {{ s.duration }} |
| Impact started | {{ s.impact_started.utc if s.impact_started_set else NOT_SET }} |
| Updates sent | {{ s.updates_sent }} |

Times are shown in UTC and in {{ d.zone_name }}.
Generated {{ d.generated.utc }} ({{ d.generated.local }}).

## Severity history

| When (UTC) | When ({{ d.zone_name }}) | Severity | Before | By |
|---|---|---|---|---|
{% for r in d.severity_history %}| {{ r.utc }} | {{ r.local }} | {{ r.severity }} \
| {{ r["from"] }} | {{ r.actor }} |
{% endfor %}
## Business impact

{% if i.impacted %}| Business service | Level | Since (UTC) | Overridden |
|---|---|---|---|
{% for b in i.business_services %}| {{ b.name }} | {{ b.level }} | {{ b.since_text }} \
| {{ "yes" if b.overridden else "no" }} |
{% endfor %}
- Customers affected: {{ i.customers_affected_text }}
- Revenue at risk: {{ i.revenue_per_hour_text }}
- Cost over the incident: {{ i.running_cost_text }}
{% else %}{{ NO_IMPACT }}
{% endif %}{% if i.note %}
{{ i.note }}
{% endif %}
## Milestones

| Milestone | UTC | {{ d.zone_name }} |
|---|---|---|
{% for m in d.milestones %}| {{ m.milestone }} | \
{{ "skipped" if m.skipped else m.utc }} | {{ "" if m.skipped else m.local }} |
{% endfor %}
## Targets

| Target | Result | Due (UTC) | Reached (UTC) | Margin |
|---|---|---|---|---|
{% for t in d.targets %}| {{ t.target }} | {{ t.result }} | {{ t.due }} \
| {{ t.reached }} | {{ t.margin }} |
{% endfor %}
## Bridge roster

| Person | Roles | On the bridge (UTC) | Total |
|---|---|---|---|
{% for p in d.roster %}| {{ p.name }} ({{ p.id }}) | {{ p.roles | join(", ") or "-" }} \
| {% for iv in p.intervals %}{{ iv["from"].utc }} to \
{{ iv.to.utc if iv.to else d.still_on }}{% if not loop.last %}; {% endif %}\
{% else %}never joined{% endfor %} | {{ p.on_bridge }} |
{% endfor %}
## Stakeholder updates

{% for u in d.updates %}### {{ u.utc }} ({{ u.local }}): {{ u.type }}

Sent by {{ u.actor }}{% if u.approved_by %}, approved by {{ u.approved_by }}\
{% endif %}.

{% for c in u.copies %}**To {{ c.name }}**{% if c.to %} ({{ c.to | join("; ") }})\
{% endif %}: {{ c.subject }}

{% if c.body %}```
{{ c.body }}
```

{% endif %}{% endfor %}{% else %}No stakeholder update was sent.

{% endfor %}## Alerts attached

{% for a in d.alerts %}- {{ a.utc }}: {{ a.count }} alert(s), {{ a.firing }} firing: \
{{ a.summaries | join("; ") }}
{% else %}No alerts were attached.
{% endfor %}
## Health of impacted services

{% if g.available %}{% for im in g.images %}{% if im.file %}\
![{{ im.title }}]({{ im.file }})
{% else %}- {{ im.title }}{% if im.problem %}: {{ im.problem }}{% endif %}
{% endif %}{% endfor %}{% if g.images and not g.images[0].file %}
The graphs themselves are in the PDF and HTML forms of this report.
{% endif %}{% else %}Graphs unavailable: {{ g.reason }}.
{% endif %}
## Timeline

| UTC | {{ d.zone_name }} | Who | What |
|---|---|---|---|
{% for e in d.timeline %}| {{ e.utc }} | {{ e.local }} | {{ e.actor }} \
| {{ e.text | cell }} |
{% endfor %}
## Journal verification

{% if v.intact %}Hash chain verified ({{ v.source }}): {{ v.events }} events, \
chain intact. Last hash `{{ v.last_hash }}`.
{% else %}HASH CHAIN PROBLEMS ({{ v.source }}), {{ v.problems | length }} found:
{% for p in v.problems %}
- {{ p }}{% endfor %}
{% endif %}"""

HTML = """\
<!DOCTYPE html>
<html><head><meta charset="utf-8">
<title>{% block title %}Post-incident report {{ s.id }}{% endblock %}</title>
<style>
body { font-family: sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 17pt; margin-top: 0; margin-bottom: 2px; }
h2 { font-size: 12.5pt; margin-top: 18px; margin-bottom: 4px; color: #1d3557; }
h3 { font-size: 10pt; margin-top: 10px; margin-bottom: 2px; }
table { border-collapse: collapse; }
th { background-color: #e4e8ee; text-align: left; font-weight: bold; }
td, th { border: 1px solid #999; vertical-align: top; }
.missed, .red, .bad { color: #a00000; font-weight: bold; }
.met, .good { color: #006000; font-weight: bold; }
.kicker { color: #555; font-size: 9pt; margin-bottom: 0; }
.muted { color: #555; }
.t { white-space: nowrap; }
.hash { font-family: monospace; font-size: 8pt; }
pre { font-family: monospace; font-size: 8.5pt; margin-left: 12px; }
img { max-width: 100%; }
{% block style %}{% endblock %}
</style></head><body>
{% block top %}{% endblock %}
{% block heading %}<p class="kicker">POST-INCIDENT REPORT &#183; {{ s.id }}
{% if s.demo %} &#183; DEMO{% endif %}</p>
<h1>{{ s.title }}</h1>{% endblock %}
{% block report %}<table width="100%" cellpadding="3" cellspacing="0">
<tr><th width="22%">Severity</th><td>{{ s.severity }}</td></tr>
<tr><th>Status</th><td>{{ s.status }}</td></tr>
<tr><th>Services</th><td>{{ s.services | join(", ") or "-" }}</td></tr>
<tr><th>Detected</th><td>{{ s.detected.utc }} &#160; ({{ s.detected.local }})</td></tr>
{% if s.ended %}<tr><th>Ended</th><td>{{ s.ended.utc }} &#160; ({{ s.ended.local }})
</td></tr>{% endif %}
<tr><th>Duration</th><td>{{ s.duration }}</td></tr>
<tr><th>Impact started</th><td>{{ s.impact_started.utc if s.impact_started_set
else NOT_SET }}</td></tr>
<tr><th>Updates sent</th><td>{{ s.updates_sent }}</td></tr>
<tr><th>Journal</th><td class="{{ 'good' if v.intact else 'bad' }}">
{{ "hash chain intact" if v.intact else "HASH CHAIN PROBLEMS: see the end" }}</td></tr>
</table>
<p class="muted">Times are shown in UTC and in {{ d.zone_name }}.
Generated {{ d.generated.utc }} ({{ d.generated.local }}).</p>

<h2>Severity history</h2>
<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th>When (UTC)</th><th>{{ d.zone_name }}</th>
<th>Severity</th><th>Before</th><th>By</th></tr></thead>
{% for r in d.severity_history %}<tr><td class="t">{{ r.utc }}</td>
<td class="t">{{ r.local }}</td>
<td>{{ r.severity }}</td><td>{{ r["from"] }}</td><td>{{ r.actor }}</td></tr>
{% endfor %}</table>

<h2>Business impact</h2>
{% if i.impacted %}<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th width="35%">Business service</th><th>Level</th>
<th>Since (UTC)</th><th>Overridden</th></tr></thead>
{% for b in i.business_services %}<tr><td>{{ b.name }}</td><td>{{ b.level }}</td>
<td>{{ b.since_text }}</td><td>{{ "yes" if b.overridden else "no" }}</td></tr>
{% endfor %}</table>
<p></p>
<table width="100%" cellpadding="3" cellspacing="0">
<tr><th width="35%">Customers affected</th><td>{{ i.customers_affected_text }}</td></tr>
<tr><th>Revenue at risk</th><td>{{ i.revenue_per_hour_text }}</td></tr>
<tr><th>Cost over the incident</th><td>{{ i.running_cost_text }}</td></tr></table>
{% else %}<p>{{ NO_IMPACT }}</p>{% endif %}
{% if i.note %}<p class="muted">{{ i.note }}</p>{% endif %}

<h2>Milestones</h2>
<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th width="22%">Milestone</th><th>UTC</th><th>{{ d.zone_name }}</th></tr>
</thead>
{% for m in d.milestones %}<tr><td>{{ m.milestone }}</td>
<td>{{ "skipped" if m.skipped else m.utc }}</td>
<td>{{ "" if m.skipped else m.local }}</td></tr>
{% endfor %}</table>

<h2>Targets</h2>
<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th width="30%">Target</th><th>Result</th><th>Due (UTC)</th>
<th>Reached (UTC)</th><th>Margin</th></tr></thead>
{% for t in d.targets %}<tr><td>{{ t.target }}</td>
<td class="{{ t.level }}">{{ t.result }}</td><td>{{ t.due }}</td>
<td>{{ t.reached }}</td><td>{{ t.margin }}</td></tr>
{% endfor %}</table>

<h2>Bridge roster</h2>
<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th width="20%">Person</th><th width="20%">Roles</th>
<th>On the bridge (UTC)</th><th width="14%">Total</th></tr></thead>
{% for p in d.roster %}<tr><td>{{ p.name }}{% if p.name != p.id %}
<br><span class="muted">{{ p.id }}</span>{% endif %}</td>
<td>{{ p.roles | join(", ") or "-" }}</td><td>
{% for iv in p.intervals %}{{ iv["from"].utc }} to
{{ iv.to.utc if iv.to else d.still_on }}{% if not loop.last %}<br>{% endif %}
{% else %}never joined{% endfor %}
</td><td>{{ p.on_bridge }}</td></tr>
{% endfor %}</table>

<h2>Stakeholder updates</h2>
{% for u in d.updates %}<h3>{{ u.utc }} ({{ u.local }}): {{ u.type }}</h3>
<p>Sent by {{ u.actor }}{% if u.approved_by %}, approved by {{ u.approved_by }}
{% endif %}.</p>
{% for c in u.copies %}<p><b>To {{ c.name }}</b>{% if c.to %}
({{ c.to | join("; ") }}){% endif %}: {{ c.subject }}</p>
{% if c.body %}<pre>{{ c.body }}</pre>{% endif %}
{% endfor %}{% else %}<p>No stakeholder update was sent.</p>{% endfor %}

<h2>Alerts attached</h2>
{% for a in d.alerts %}<p>{{ a.utc }}: {{ a.count }} alert(s), {{ a.firing }} firing:
{{ a.summaries | join("; ") }}</p>
{% else %}<p>No alerts were attached.</p>{% endfor %}

<h2>Health of impacted services</h2>
{% if g.available %}{% for im in g.images %}
<p><img src="data:image/png;base64,{{ im.png }}" width="{{ GRAPH_WIDTH }}"
alt="{{ im.title }}"></p>{% if im.problem %}
<p class="muted">{{ im.title }}: {{ im.problem }}</p>{% endif %}
{% else %}<p>No impacted service has a metric to draw.</p>{% endfor %}
{% else %}<p class="muted">Graphs unavailable: {{ g.reason }}.</p>{% endif %}

<h2>Timeline</h2>
<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th>UTC</th><th>{{ d.zone_name }}</th><th>Who</th><th>What</th></tr></thead>
{% for e in d.timeline %}<tr><td class="t">{{ e.utc }}</td>
<td class="t">{{ e.local }}</td>
<td>{{ e.actor }}</td><td>{{ e.text }}</td></tr>
{% endfor %}</table>

<h2>Journal verification</h2>
{% if v.intact %}<p class="good">Hash chain verified ({{ v.source }}): {{ v.events }}
events, chain intact.</p>
{% else %}<p class="bad">HASH CHAIN PROBLEMS ({{ v.source }}),
{{ v.problems | length }} found:</p>
<ul>{% for p in v.problems %}<li>{{ p }}</li>{% endfor %}</ul>{% endif %}
<p class="muted">Hash of the incident's last event:</p>
<p class="hash">{{ v.last_hash }}</p>
{% endblock %}
</body></html>
"""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", "<br>")


TEMPLATES = {"report.md": MARKDOWN, "report.html": HTML}
GRAPH_WIDTH = 640  # CSS pixels: the width of the text on an A4 page


def render(
    name: str,
    data: Mapping[str, Any],
    *,
    templates: Mapping[str, str] | None = None,
    **extra: Any,
) -> str:
    """Render template `name` (from TEMPLATES and `templates`, which may
    extend "report.md" or "report.html" and fill their blocks)."""
    from jinja2 import DictLoader, Environment  # loaded when a report is rendered

    env = Environment(
        loader=DictLoader({**TEMPLATES, **(templates or {})}),
        autoescape=name.endswith(".html"),
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    return env.get_template(name).render(
        GRAPH_WIDTH=GRAPH_WIDTH,
        NOT_SET="not set (counted from detection)",
        NO_IMPACT="No business impact was recorded by override; live health is "
        "not part of the report.",
        d=data,
        s=data.get("summary"),
        i=data.get("impact"),
        v=data.get("verification"),
        g=data.get("graphs") or NO_GRAPHS,
        **extra,
    )


def render_markdown(data: Mapping[str, Any]) -> str:
    return render("report.md", data)


def render_html(data: Mapping[str, Any]) -> str:
    return render("report.html", data)
