"""Incidents from alerts: declaring from a group, attaching, and what later changes say.

MIMDesk suggests; it never moves an incident's status because alerts changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from mimdesk.domain import events as ev
from mimdesk.domain import incident as model
from mimdesk.domain.alerts import (
    AlertRecord,
    Change,
    Group,
    describe_change,
    services_of,
    summary_of,
)
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status

# Labels that name a catalogue service, tried in this order.
DEFAULT_LABELS = ("service", "job")
# Who the journal says recorded a change Alertmanager reported.
ALERT_ACTOR = "alertmanager"
MITIGATE_ADVICE = "consider marking mitigated"
# Changes worth a timeline entry; SEEN and STALE repeats are not.
RECORDED = frozenset({Change.FIRED, Change.RESOLVED, Change.REFIRED})
# The incident severity an alert's `severity` label suggests; the incident
# manager confirms it. Nothing suggests SEV1: that takes a person's judgement.
# FIXME(alerts): a team that pages only for SEV1 would want `page = 1`; read
# this mapping from the [alertmanager] settings once they can hold it.
SEVERITY_LABELS: Mapping[str, int] = {"critical": 2, "warning": 3}
DEFAULT_SEVERITY = 2


def one_group(records: Sequence[AlertRecord]) -> str:
    """The group key the records share; alerts of several groups are refused."""
    if not records:
        raise DomainError("no alerts chosen; pick a group or an alert from the list")
    keys = {r.group_key for r in records}
    if len(keys) > 1:
        raise DomainError(
            "the chosen alerts belong to different groups; pick one group"
        )
    return keys.pop()


def services_for(
    records: Sequence[AlertRecord],
    known: Collection[str],
    label_names: Sequence[str] = DEFAULT_LABELS,
) -> tuple[str, ...]:
    """Catalogue services the alerts name, in the order they are first named."""
    found = [s for r in records for s in services_of(r.labels, known, label_names)]
    return tuple(dict.fromkeys(found))


def suggested_severity(
    records: Sequence[AlertRecord],
    mapping: Mapping[str, int] = SEVERITY_LABELS,
    default: int = DEFAULT_SEVERITY,
) -> int:
    """The most severe level the alerts' `severity` labels map to, else `default`."""
    levels = [
        mapping[label]
        for r in records
        if (label := dict(r.labels).get("severity", "").lower()) in mapping
    ]
    return min(levels, default=default)


def suggested_title(records: Sequence[AlertRecord]) -> str:
    """The first firing alert's summary (else the first alert's), and how many
    other summaries the group has."""
    if not records:
        return ""
    first = next((r for r in records if r.firing), records[0])
    others = {summary_of(r) for r in records} - {summary_of(first)}
    more = f" (+{len(others)} more)" if others else ""
    return f"{summary_of(first)}{more}"


def declare_from_alerts(
    records: Sequence[AlertRecord],
    *,
    title: str,
    severity: int,
    now: datetime,
    actor: str,
    known_services: Collection[str],
    label_names: Sequence[str] = DEFAULT_LABELS,
    demo: bool = False,
) -> list[ev.NewEvent]:
    """Open an incident detected when the earliest chosen alert started (not when
    the button was pressed), naming the services the alerts map to."""
    one_group(records)
    drafts = model.declare(
        title=title,
        severity=severity,
        services=services_for(records, known_services, label_names),
        detected_at=min(r.starts_at for r in records),
        now=now,
        actor=actor,
        known_services=known_services,
        demo=demo,
    )
    return drafts + _attached(records, now, actor)


def attach_alerts(
    incident: Incident, records: Sequence[AlertRecord], *, now: datetime, actor: str
) -> list[ev.NewEvent]:
    """Attach alerts to an open incident; their group's later changes follow."""
    one_group(records)
    if not incident.is_open:
        raise DomainError(
            f"{incident.id} is {incident.status.value}; declare a new incident "
            "from these alerts instead"
        )
    return _attached(records, now, actor)


def _attached(
    records: Sequence[AlertRecord], now: datetime, actor: str
) -> list[ev.NewEvent]:
    group = Group(one_group(records), tuple(records))
    payload = {
        "group_key": group.key,
        "identities": [r.identity for r in records],
        "names": [r.name for r in records],
        "summaries": [summary_of(r) for r in records],
        "firing": group.firing,
    }
    attached = ev.NewEvent(ev.ALERTS_ATTACHED, payload, now, actor)
    fired = [
        _changed(r, Change.FIRED, group, advice="", actor=ALERT_ACTOR)
        for r in records
        if r.firing
    ]
    return [attached, *fired]


def alert_changed(
    incident: Incident, record: AlertRecord, change: Change, group: Group
) -> ev.NewEvent | None:
    """The timeline entry for a change to an attached alert, or None if the
    change is not worth one. `group` is the group after the change."""
    if change not in RECORDED or not incident.is_open:
        return None
    mitigated = incident.reached(Status.MITIGATED) is not None
    advice = "" if mitigated else MITIGATE_ADVICE
    return _changed(record, change, group, advice=advice, actor=ALERT_ACTOR)


def _changed(
    record: AlertRecord, change: Change, group: Group, *, advice: str, actor: str
) -> ev.NewEvent:
    all_resolved = bool(group.alerts) and not group.open
    payload = {
        "identity": record.identity,
        "name": record.name,
        "change": change.value,
        "text": describe_change(record, change),
        "group_key": group.key,
        "recovered": group.recovered,
        "all_resolved": all_resolved,
        "advice": advice if all_resolved else "",
    }
    when = record.ends_at if change is Change.RESOLVED else record.starts_at
    return ev.NewEvent(ev.ALERT_CHANGED, payload, when or record.last_seen, actor)


def suggestion(group: Group, incident_id: str | None) -> str:
    """What the incident manager might do with a group; MIMDesk never does it."""
    if incident_id is None:
        return "declare" if group.open else ""
    return "keep open" if group.open else "mark mitigated"
