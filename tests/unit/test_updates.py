"""Stakeholder updates: audiences from TOML (errors with their line), templates
rendered in a sandbox that nothing escapes or stalls, and the update recorded
once with its outbox rows, or drafted for someone else to approve."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from mimdesk.domain import events as ev
from mimdesk.domain.audiences import (
    Audience,
    AudienceError,
    audiences_from_mapping,
    locate,
)
from mimdesk.domain.errors import DomainError
from mimdesk.domain.outbox import Kind
from mimdesk.domain.severity import SeverityScale
from mimdesk.resources import resource
from mimdesk.settings import load_audiences
from mimdesk.store.store import Store
from mimdesk.templating import render_text
from mimdesk.updates import (
    TemplateProblem,
    context_for,
    deliveries,
    not_set_up,
    render_all,
    update_type_for,
)

# --- audiences ----------------------------------------------------------------


def test_the_sample_audiences_load() -> None:
    found, problem = load_audiences(resource("audiences", "sample.toml"))
    assert problem == ""
    assert [a.id for a in found.audiences] == [
        "bridge", "executives", "service-desk", "regulators"
    ]  # fmt: skip
    assert found.get("regulators").wants("initial")
    assert not found.get("regulators").wants("update")
    assert [a.id for a in found.default_for("update")] == [
        "bridge", "executives", "service-desk"
    ]  # fmt: skip


BROKEN = """approval = false

[[audience]]
id = "executives"
email = ["cio@bank.example"]

[[audience]]
id = "desk"
name = "Service desk"
email = ["desk-at-bank.example"]
"""


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (BROKEN, 10, "'desk-at-bank.example' is not an email address"),
        (
            BROKEN.replace('name = "Service desk"', 'nmae = "x"'),
            9,
            "unknown key 'nmae'",
        ),
        (
            BROKEN.replace('id = "desk"', 'id = "executives"').replace("-at-", "@"),
            8,
            "'executives' twice",
        ),
        ('[[audience]]\nid = "x"\n', 1, "has no email, chat, channels or print"),
        ('[[audience]]\nid = "x"\nchat = ["irc"]\n', 1, "unknown platform 'irc'"),
        ("aproval = true\n", 1, "unknown key 'aproval'"),
    ],
)
def test_a_broken_audiences_file_names_its_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(AudienceError, match=words) as caught:
        audiences_from_mapping(tomllib.loads(text))
    assert locate(text, caught.value) == line
    path = tmp_path / "audiences.toml"
    path.write_text(text)
    found, problem = load_audiences(path)
    assert found.audiences == ()
    assert problem.startswith(f"{path}:{line}: ")


# --- the sandbox ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{{ ''.__class__.__mro__ }}", "not allowed|no attribute"),
        ("{{ incident.__class__.__init__.__globals__ }}", "not allowed|no attribute"),
        ("{{ range.__globals__ }}", "not allowed|no attribute"),
        ("{{ cycler.__init__.__globals__.os }}", "undefined|not allowed"),
        ("{% for i in range(10**9) %}x{% endfor %}", r"'\*\*' is not allowed"),
        ("{% for i in range(1000000) %}{% endfor %}", "too large"),
        ("{% for i in range(5000) %}{% endfor %}", "more than 1000"),
        ("{{ 'x' * 100000000 }}", "too large"),
        ("{{ '%099999999d' % 1 }}", "format that wide"),
        ("{{ '{:>999999999}'.format(1) }}", "format that wide"),
        ("{{ 'x'.ljust(999999999) }}", "too large"),
        (
            "{% for a in range(999) %}{% for b in range(999) %}{% for c in range(9)"
            " %}{% endfor %}{% endfor %}{% endfor %}",
            "nested 3 deep",
        ),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "macros are not allowed"),
        (
            "{% for a in range(999) %}{% for b in range(999) %}xxxxxxxxxx{% endfor %}"
            "{% endfor %}",
            "longer than 20000",
        ),
        ("{{ incident.titel }}", "line 1.*no attribute 'titel'"),
        ("{{ incident.title }}\n{% set incident.title = 'x' %}", "cannot assign"),
        ("{% if %}", "line 1"),
        (
            '{% for i in "a"*100000 %}{% for j in "a"*100000 %}{% endfor %}'
            "{% endfor %}done",
            r"'\*' would make more than 1000",
        ),
        ("{{ ('a' * 1000) * 1000 }}", r"'\*' would make more than 1000"),
        ("{{ ['a'] * 5000 }}", r"'\*' would make more than 1000"),
        (
            "{% for x in range(1000) recursive %}{% if loop.depth < 4 %}"
            "{{ loop(range(1000)) }}{% endif %}{% endfor %}",
            "line 1: recursive loops are not allowed",
        ),
        ('{{ "%999999999d"|format(1) }}', "format that wide"),
        ("{{ ('a'*1000)|center(999999999) }}", "too large"),
        ('{{ ("a"*100000)*100000 }}', r"'\*' would make more than 1000"),
        ('{{ ("a"*1000)|replace("a","b"*1000) }}', "result of more than 20000"),
        ("{{ ('a'*1000).replace('a', 'b'*1000) }}", "result of more than 20000"),
        ("{{ ('a'*1000)|indent(100000, true) }}", "result of more than 20000"),
        ("{{ ('b'*1000).join(['a'*1000] * 1000) }}", "result of more than 20000"),
        (
            "{% set s = 'a'*1000 %}{% set s = s ~ s %}{% set s = s ~ s %}"
            "{% set s = s ~ s %}{% set s = s ~ s %}{% set s = s ~ s %}{{ 1 }}",
            "result of more than 20000",
        ),
        (
            "{% set s = 'a'*1000 %}{% set s = s + s %}{% set s = s + s %}"
            "{% set s = s + s %}{% set s = s + s %}{% set s = s + s %}{{ 1 }}",
            "result of more than 20000",
        ),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}"
            "{% endfor %}done",
            "loops ran more than 100000 steps",
        ),
        (
            "{% set s = 'a' * 1000 %}"
            + "{% set s %}{{ s }}{{ s }}{% endset %}" * 30
            + "{{ 1 }}",
            "wrote more than 200000 characters",
        ),
    ],
)
def test_a_template_cannot_escape_or_stall(source: str, words: str) -> None:
    with pytest.raises(TemplateProblem, match=words):
        render_text(source, {"incident": {"title": "Payments"}}, name="t.txt")


def test_harmless_templates_render() -> None:
    text = render_text(
        "{{ incident.title | upper }}: {% for s in services %}{{ s }} {% endfor %}"
        "{{ '%d%%' % 38 }}",
        {"incident": {"title": "Payments"}, "services": ["api", "ledger"]},
        name="t.txt",
    )
    assert text == "PAYMENTS: api ledger 38%"


def test_templates_may_still_repeat_join_and_format_within_the_limits() -> None:
    text = render_text(
        "{{ '-' * 10 }} {{ ['a', 'b'] | join(', ') }} {{ '%05d' | format(42) }}"
        " {{ incident.id | lower }} {{ incident.id ~ '!' }} {{ '{:>4}'.format(7) }}",
        {"incident": {"id": "INC0012345"}},
        name="t.txt",
    )
    assert text == "---------- a, b 00042 inc0012345 INC0012345!    7"


# --- rendering, recording, approving ---------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "mimdesk.sqlite")
    yield opened
    opened.close()


EXEC = Audience("executives", "Executives", email=("cio@bank.example",))
BRIDGE = Audience("bridge", "Technical bridge", chat=("matrix",))
DESK = Audience("desk", "Service desk", channels={"slack": "C0DESK"})


def rendered_for(store: Store, incident_id: str, *audiences: Audience) -> list:
    incident = store.incident(incident_id)
    context = context_for(
        incident, update_type=update_type_for(incident), message="Failover started.",
        now=incident.updated_at + timedelta(minutes=1), zone=UTC,
        severity=SeverityScale(), next_update_in=timedelta(minutes=30),
        impact=None, operator="dana",
    )  # fmt: skip
    return render_all(list(audiences), update_type_for(incident), context)


def copies(rendered: list) -> list[dict[str, str]]:
    return [r.copy() for r in rendered]


def declare(store: Store) -> str:
    return store.declare(
        title="Card payments failing", severity=1, services=[], detected_at=None,
        actor="dana",
    ).result()  # fmt: skip


def test_each_audience_gets_its_copy_in_a_lane_of_its_own(store: Store) -> None:
    incident = declare(store)
    store.open_chat(incident, ["matrix"], actor="dana").result()
    rendered = rendered_for(store, incident, EXEC, BRIDGE, DESK)
    assert rendered[0].subject == (
        f"[SEV1 Critical] Card payments failing ({incident}) - initial notification"
    )
    assert "Failover started." in rendered[0].body
    assert "Next update by" in rendered[0].body

    store.send_update(
        incident, update_type="initial", copies=copies(rendered),
        deliveries=deliveries(rendered), actor="dana",
    ).result()  # fmt: skip

    rows = [i for i in store.outbox_open() if i.kind is not Kind.CREATE_CHANNEL]
    assert [(i.platform, i.kind, i.lane) for i in rows] == [
        ("email", Kind.EMAIL, "executives"),
        ("matrix", Kind.POST, ""),
        ("slack", Kind.POST, "desk"),
    ]
    assert rows[0].payload["to"] == ["cio@bank.example"]
    assert rows[2].payload["channel"] == "C0DESK"
    assert rows[1].payload["text"].startswith(rendered[1].subject)
    # Each lane is a destination of its own: all three are heads.
    heads = {h.id for h in store.outbox_heads()}
    assert {r.id for r in rows} <= heads | {rows[1].id}
    assert store.incident(incident).update_count == 1


def test_a_channel_not_opened_is_left_out_and_said_so(store: Store) -> None:
    incident = declare(store)
    rendered = rendered_for(store, incident, EXEC, BRIDGE)
    [event] = store.send_update(
        incident, update_type="initial", copies=copies(rendered),
        deliveries=deliveries(rendered), actor="dana",
    ).result()  # fmt: skip
    assert event.payload["skipped"] == [
        {
            "audience": "bridge",
            "platform": "matrix",
            "why": "the incident has no channel there",
        }
    ]
    assert [i.platform for i in store.outbox_open()] == ["email"]


def test_an_update_that_can_reach_nobody_is_not_recorded(store: Store) -> None:
    incident = declare(store)
    rendered = rendered_for(store, incident, BRIDGE)  # no channel opened
    with pytest.raises(DomainError, match="nothing could be sent"):
        store.send_update(
            incident, update_type="initial", copies=[r.copy() for r in rendered],
            deliveries=deliveries(rendered), actor="dana",
        ).result()  # fmt: skip
    assert store.incident(incident).update_count == 0
    assert store.outbox_open() == []


def test_copies_for_platforms_not_set_up_are_named() -> None:
    planned = [
        {"audience": "executives", "platform": "email"},
        {"audience": "desk", "platform": "email"},
        {"audience": "bridge", "platform": "matrix"},
    ]
    assert not_set_up(planned, {"matrix", "email"}) == ""
    assert not_set_up(planned, {"matrix"}) == (
        "email is not set up ([smtp] host and from), so executives, desk cannot be told"
    )


def test_an_update_needs_someone_else_to_approve_it(store: Store) -> None:
    incident = declare(store)
    rendered = rendered_for(store, incident, EXEC)
    [drafted] = store.send_update(
        incident, update_type="initial", copies=copies(rendered),
        deliveries=deliveries(rendered), actor="casey", draft=True,
    ).result()  # fmt: skip
    assert drafted.kind == ev.UPDATE_DRAFTED
    assert store.outbox_open() == []  # nothing goes out before approval
    assert store.incident(incident).update_count == 0

    with pytest.raises(DomainError, match="someone else"):
        store.approve_update(incident, drafted.id[:8], actor="casey").result()
    approval, sent = store.approve_update(
        incident, drafted.id[:8], actor="dana"
    ).result()

    assert approval.kind == ev.UPDATE_APPROVED
    assert sent.kind == ev.UPDATE_SENT
    assert (sent.payload["drafted_by"], sent.payload["approved_by"]) == (
        "casey",
        "dana",
    )
    assert [i.platform for i in store.outbox_open()] == ["email"]
    with pytest.raises(DomainError, match="no update draft"):
        store.approve_update(incident, drafted.id[:8], actor="erin").result()


def test_nobody_chosen_is_refused(store: Store) -> None:
    incident = declare(store)
    with pytest.raises(DomainError, match="reach nobody"):
        store.send_update(
            incident, update_type="initial", copies=[], deliveries=[], actor="dana"
        ).result()


def test_a_sender_address_that_could_add_headers_is_refused(tmp_path: Path) -> None:
    from mimdesk.settings import ChatSettings, chat_from_environment, load_settings

    chat, problems = chat_from_environment(
        ChatSettings(), {"MIMDESK_SMTP_FROM": "x@y.z\nBcc: evil@z.z"}
    )
    assert chat.smtp_from == ""
    assert problems[0].startswith("MIMDESK_SMTP_FROM must be an email address")

    path = tmp_path / "settings.toml"
    path.write_text('[smtp]\nhost = "mail.bank.example"\nfrom = "not an address"\n')
    loaded = load_settings(path)
    assert loaded.settings.chat.smtp_from == ""
    assert any("smtp.from must be an email address" in p for p in loaded.problems)
