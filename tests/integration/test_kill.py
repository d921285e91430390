"""A writer killed with SIGKILL mid-stream loses no event it reported as committed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mimdesk.paths import STORE_FILE
from mimdesk.store.db import quick_check
from mimdesk.store.store import Store

from .conftest import Run

COMMITTED_BEFORE_KILL = 200

# Appends notes forever, printing each event id once its commit has returned.
APPENDER = """
import sys
from pathlib import Path
from mimdesk.store.store import Store

data = Path(sys.argv[1])
store = Store.open(data / sys.argv[2], backups=data / "backups")
incident_id = store.declare(
    title="Kill test", severity=2, services=[], detected_at=None, actor="kill"
).result()
print("incident", incident_id, flush=True)
n = 0
while True:
    n += 1
    (event,) = store.add_note(incident_id, f"note {n}", actor="kill").result()
    print("event", event.id, flush=True)
"""


def append_until_killed(data_dir: Path) -> tuple[str, list[str]]:
    """Run the appender, SIGKILL it after enough commits; the incident and ids."""
    child = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(data_dir), STORE_FILE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    incident_id, committed = "", []
    try:
        for line in child.stdout:
            kind, value = line.split()
            if kind == "incident":
                incident_id = value
            else:
                committed.append(value)
            if len(committed) == COMMITTED_BEFORE_KILL:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        _, errors = child.communicate()
    assert child.returncode == -signal.SIGKILL, errors
    assert len(committed) == COMMITTED_BEFORE_KILL, errors
    return incident_id, committed


@pytest.mark.slow
def test_events_reported_committed_survive_sigkill(
    mimdesk: Run, data_dir: Path
) -> None:
    incident_id, committed = append_until_killed(data_dir)

    assert quick_check(data_dir / STORE_FILE) == []
    verified = mimdesk("journal", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    store = Store.open(data_dir / STORE_FILE)
    try:
        recorded = {event.id for event in store.timeline(incident_id)}
        note_count = store.incident(incident_id).note_count
    finally:
        store.close()
    assert set(committed) <= recorded
    assert note_count == len(recorded) - 2  # all but created and declared
    assert note_count >= COMMITTED_BEFORE_KILL
