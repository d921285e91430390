"""The debrief of an exercise run: the team's score against the scenario's
expectations, then the post-incident report of the exercise incident, as
Markdown, HTML or PDF, marked EXERCISE throughout.

`debrief_data` reads the run's own store; `write_debrief` writes the file
(by default `debrief.<ext>` in the run's folder). Only a PDF loads Qt.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimdesk import graphs, postmortem
from mimdesk.domain import debrief as model
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.scenario import offset_text
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import TargetPolicy

if TYPE_CHECKING:
    from mimdesk.exercise import Run
    from mimdesk.store.store import Store

DEBRIEF_FORMAT = "mimdesk.exercise_debrief/1"
MARKING = "EXERCISE"
SCENARIO_SOURCE = "scenario"  # graphs from the scenario's own simulated health


def debrief_data(
    run: Run,
    store: Store,
    *,
    catalogue: Catalogue,
    directory: Directory,
    scale: SeverityScale,
    targets: TargetPolicy,
    zone: tzinfo,
    now: datetime,
    source: graphs.RangeSource | str | None = SCENARIO_SOURCE,
) -> dict[str, Any]:
    """The debrief as plain values, at `now` (scenario time: the end of the
    run, usually). `source` gives the health graphs: by default the scenario's
    own simulated health; None leaves them out."""
    scenario = run.scenario
    incident = model.choose(store.incidents(limit=100_000), scenario.expect.services)
    events: list[JournalEvent] = []
    if incident is not None:
        incident, events, check = postmortem.from_store(store, incident.id)
    scored = model.score(scenario, run.started_at, incident, events, now)
    chosen = _graph_source(run, now) if source == SCENARIO_SOURCE else source
    if isinstance(chosen, str):
        raise ValueError(f"unknown graph source {chosen!r}")
    if incident is None:
        data = _without_incident(zone, now)
        start = run.started_at - timedelta(minutes=10)
        end = min(now, run.started_at + scenario.length)
        data["graphs"] = _graphs(catalogue, chosen, sorted(scenario.services()),
                                 start, end, zone)  # fmt: skip
    else:
        drawn = graphs.incident_graphs(
            catalogue, chosen, incident, zone=zone, now=now,
            unavailable="" if chosen is not None else "not drawn for this debrief",
        )  # fmt: skip
        data = postmortem.report_data(
            incident, events, scale=scale, catalogue=catalogue, directory=directory,
            targets=targets, verification=check, zone=zone, now=now, graphs=drawn,
        )  # fmt: skip
    data["debrief"] = _debrief(run, scored, zone, now)
    return data


def _graph_source(run: Run, now: datetime) -> graphs.RangeSource:
    """The health the scenario played: its injects over the demo signals."""
    from mimdesk.sync.demo import DemoSource

    scenario, start = run.scenario, run.started_at.timestamp()

    def level(service: str, t: float) -> float:
        return scenario.health_at(service, timedelta(seconds=t - start))

    return DemoSource(lambda: now.timestamp(), level=level, label=MARKING)


def _graphs(
    catalogue: Catalogue,
    source: graphs.RangeSource | None,
    services: list[str],
    start: datetime,
    end: datetime,
    zone: tzinfo,
) -> dict[str, Any]:
    if source is None:
        return graphs.unavailable_graphs("not drawn for this debrief")
    return graphs.health_graphs(catalogue, source, services, start, end, zone=zone)


def _without_incident(zone: tzinfo, now: datetime) -> dict[str, Any]:
    times = postmortem.Times(zone)
    return {
        "format": postmortem.REPORT_FORMAT,
        "generated": times.both(now),
        "zone_name": str(zone),
        "summary": None,
    }


def _debrief(
    run: Run, scored: model.Debrief, zone: tzinfo, now: datetime
) -> dict[str, Any]:
    scenario, times = run.scenario, postmortem.Times(zone)
    return {
        "format": DEBRIEF_FORMAT,
        "marking": MARKING,
        "run": run.name,
        "folder": str(run.folder),
        "scenario": scenario.name,
        "title": scenario.title,
        "summary": " ".join(scenario.summary.split()),
        "length": model.span_text(scenario.length),
        "speed": f"{run.speed:g}\u00d7",
        "played_by": (
            "autopilot (the scenario's reference response)"
            if run.autopilot
            else "the team"
        ),
        "t0": times.both(run.started_at),
        "at": offset_text(
            min(max(now - run.started_at, timedelta(0)), scenario.length)
        ),
        **scored.to_dict(),
    }


# --- rendering --------------------------------------------------------------------

SCORE_MD = """\
**{{ MARKING }}: this is an exercise, not a real incident.**

# {{ MARKING }} debrief: {{ x.title }}

{{ x.summary }}

| | |
|---|---|
| Scenario | {{ x.scenario }} ({{ x.length }}) |
| Run | {{ x.run }} |
| Played by | {{ x.played_by }} |
| Speed | {{ x.speed }} |
| T+0 | {{ x.t0.utc }} / {{ x.t0.local }} |
| Scored at | {{ x.at }} |
| Incident scored | {{ x.incident or "none: the team never declared one" }} |

## Score: {{ x.score }}

| Expectation | Expected | Done at | Took | Result | Margin | Note |
|---|---|---|---|---|---|---|
{% for r in x["items"] %}| {{ r.label }} | {{ r.expected | cell }} | {{ r.at }} \
| {{ r.took }} | {{ r.result | upper }} | {{ r.margin }} \
| {{ (r.actual if r.actual != r.at else "") | cell }}\
{% if r.note %}{% if r.actual != r.at %}; {% endif %}\
{{ r.note | cell }}{% endif %} |
{% endfor %}
"""

DEBRIEF_MD = (
    '{% extends "report.md" %}{% block top %}{% include "score.md" %}\n'
    "{% endblock %}{% block heading %}# {{ MARKING }} post-incident report: "
    "{{ s.id }}\n{% endblock %}"
)

ALONE_MD = """\
{% include "score.md" %}
The team never declared an incident, so there is no incident record to report.
{% if g.available %}
## Health of the scenario's services

{% for im in g.images %}{% if im.file %}![{{ im.title }}]({{ im.file }})
{% endif %}{% endfor %}{% endif %}"""

SCORE_HTML = """\
<p class="exercise">&#160;{{ MARKING }} &#183; NOT A REAL INCIDENT</p>
<p class="kicker">{{ MARKING }} DEBRIEF &#183; {{ x.scenario }}
&#183; run {{ x.run }}</p>
<h1>{{ MARKING }}: {{ x.title }}</h1>
<p>{{ x.summary }}</p>
<table width="100%" cellpadding="3" cellspacing="0">
<tr><th width="22%">Played by</th><td>{{ x.played_by }}</td></tr>
<tr><th>Speed</th><td>{{ x.speed }}</td></tr>
<tr><th>Scenario</th><td>{{ x.scenario }} ({{ x.length }})</td></tr>
<tr><th>T+0</th><td>{{ x.t0.utc }} &#160; ({{ x.t0.local }})</td></tr>
<tr><th>Scored at</th><td>{{ x.at }}</td></tr>
<tr><th>Incident scored</th><td>{{ x.incident or "none: the team never declared one" }}
</td></tr>
</table>
<h2>Score: {{ x.score }}</h2>
<table width="100%" cellpadding="3" cellspacing="0">
<thead><tr><th width="18%">Expectation</th><th width="19%">Expected</th>
<th width="9%">Done at</th><th width="10%">Took</th><th width="10%">Result</th>
<th width="11%">Margin</th><th>Note</th></tr></thead>
{% for r in x["items"] %}<tr><td>{{ r.label }}</td><td>{{ r.expected }}</td>
<td class="t">{{ r.at }}</td><td class="t">{{ r.took }}</td>
<td class="{{ r.level }} t">{{ r.result | upper }}</td><td>{{ r.margin }}</td>
<td>{% if r.actual != r.at %}{{ r.actual }}{% endif %}
{% if r.note %}{% if r.actual != r.at %}<br>{% endif %}
<span class="muted">{{ r.note }}</span>{% endif %}</td></tr>
{% endfor %}</table>
<p class="muted">Times are offsets from T+0, when the scenario's fault began.
MET: done within the limit. MISSED: late or not done. NOT REACHED: its limit
had not come when the run stopped (not scored).</p>
"""

DEBRIEF_HTML = """\
{% extends "report.html" %}
{% block title %}{{ MARKING }} debrief: {{ x.title }}{% endblock %}
{% block style %}{% include "style.css" %}{% endblock %}
{% block top %}{% include "score.html" %}{% endblock %}
{% block heading %}<h1 class="report">{{ MARKING }} post-incident report:
{{ s.id }}</h1><p><b>{{ s.title }}</b></p>{% endblock %}
"""

STYLE = """\
.exercise { background-color: #a00000; color: #ffffff; font-weight: bold;
  font-size: 13pt; margin-bottom: 6px; }
.not_reached { color: #555555; font-weight: bold; }
h1.report { page-break-before: always; }
pre { white-space: pre-wrap; }
"""

ALONE_HTML = """\
{% extends "report.html" %}
{% block title %}{{ MARKING }} debrief: {{ x.title }}{% endblock %}
{% block style %}{% include "style.css" %}{% endblock %}
{% block top %}{% include "score.html" %}{% endblock %}
{% block heading %}{% endblock %}
{% block report %}<h2>No incident</h2>
<p>The team never declared an incident, so there is no incident record to
report.</p>
{% if g.available %}<h2>Health of the scenario's services</h2>
{% for im in g.images %}<p><img src="data:image/png;base64,{{ im.png }}"
width="{{ GRAPH_WIDTH }}" alt="{{ im.title }}"></p>{% endfor %}{% endif %}
{% endblock %}
"""

TEMPLATES = {
    "score.md": SCORE_MD,
    "debrief.md": DEBRIEF_MD,
    "alone.md": ALONE_MD,
    "score.html": SCORE_HTML,
    "debrief.html": DEBRIEF_HTML,
    "alone.html": ALONE_HTML,
    "style.css": STYLE,
}


def render(data: dict[str, Any], form: str) -> str:
    """The debrief as Markdown ("md") or HTML ("html")."""
    alone = data.get("summary") is None
    name = f"{'alone' if alone else 'debrief'}.{form}"
    return postmortem.render(
        name, data, templates=TEMPLATES, x=data["debrief"], MARKING=MARKING
    )


def default_output(data: dict[str, Any], form: str) -> Path:
    return Path(data["debrief"]["folder"]) / f"debrief.{form}"


def write_debrief(data: dict[str, Any], form: str, output: Path | None) -> Path:
    """Write the debrief in `form` ("md", "html" or "pdf") at `output`, or at
    `debrief.<form>` in the run's folder; returns where. A Markdown file gets
    its graphs as PNG files in a folder beside it."""
    if form not in postmortem.FORMATS:
        raise ValueError(f"unknown debrief format {form!r}")
    path = output or default_output(data, form)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = data["debrief"]
    if form == "pdf":
        from mimdesk.ui.pdf import write_html_pdf

        write_html_pdf(
            path, render(data, "html"), title=f"Debrief: {x['title']}",
            header=f"Debrief of {x['scenario']} \u00b7 run {x['run']}",
            marking=MARKING,
        )  # fmt: skip
        return path
    if form == "md":
        graphs.write_image_files(data["graphs"], path.parent / f"{path.stem}-graphs")
    path.write_text(render(data, form), encoding="utf-8")
    return path


def print_score(data: dict[str, Any], out: Any = sys.stdout) -> None:
    """The score in a few lines, for a terminal."""
    x = data["debrief"]
    out.write(f"{MARKING} debrief: {x['title']}: {x['score']}\n")
    for r in x["items"]:
        out.write(f"  {r['result'].upper():<12} {r['label']:<32} {r['at']:>8}\n")
