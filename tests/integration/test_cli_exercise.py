"""`mimdesk exercise` as a facilitator uses it: a scenario played headless at
high speed by its reference response, the debrief on paper, the run's store
readable and apart from real incidents, and a broken scenario named by line."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import Run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_headless_autopilot_run_scores_the_reference_response_in_full(
    mimdesk: Run, tmp_path: Path
) -> None:
    out = ok(
        mimdesk("exercise", "run", "slow-burn-latency", "--speed", "1200",
                "--autopilot", "--headless")
    )  # fmt: skip
    assert out.startswith("EXERCISE Slow-burn latency in the mobile back end")
    assert re.search(r"T\+22:00 +declare SEV2 Mobile app slow", out)
    assert re.search(r"T\+44:00 +bob joins as tech-lead", out)
    assert "the exercise is over" in out
    assert "debrief: Slow-burn latency in the mobile back end: 11 of 11 met" in out

    pdf = Path(re.search(r"^Debrief: (.+\.pdf)$", out, re.M)[1])  # type: ignore[index]
    assert pdf.parent.parent.name == "exercises"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pages = text.split("\f")
    assert all("EXERCISE" in page for page in pages if page.strip())
    assert "Score: 11 of 11 met" in text
    assert re.search(r"Declared\s+by T\+30:00.*T\+22:00.*MET", text)

    # The run's store is readable with --exercise; the real store has nothing.
    run = pdf.parent.name
    listed = ok(mimdesk("--exercise", run, "incident", "list"))
    assert "SEV2" in listed
    assert "resolved" in listed
    assert "No incidents" in ok(mimdesk("incident", "list"))
    refused = mimdesk("--exercise", run, "incident", "note", listed.split()[0], "x")
    assert refused.returncode == 2
    assert "read-only from the command line" in refused.stderr
    # Its metrics count the exercise incident; the real store's never do.
    counted = json.loads(ok(mimdesk("--exercise", run, "metrics", "--json")))
    assert counted["incidents"] == 1
    assert counted["durations"]["time_to_resolve"]["count"] == 1

    # The debrief can be written again, as Markdown, for the last run.
    again = ok(mimdesk("exercise", "debrief", "--format", "md"))
    written = Path(again.strip().splitlines()[-1])
    md = written.read_text(encoding="utf-8")
    assert md.count("MET") >= 11
    assert "| Scored at | T+100:00 |" in md
    assert re.search(r"longest gap 42 min; T\+38:00 to T\+80:00;", md)


def test_a_broken_scenario_is_refused_with_its_line_and_nothing_is_played(
    mimdesk: Run, tmp_path: Path
) -> None:
    bad = tmp_path / "drill.toml"
    bad.write_text(
        '[scenario]\ntitle = "Drill"\nlength = "30m"\n\n'
        '[[inject]]\nat = "5m"\nkind = "health"\nservice = "payments-api"\n'
        'state = "on fire"\n',
        encoding="utf-8",
    )
    result = mimdesk("exercise", "run", str(bad), "--headless")
    assert result.returncode == 2
    assert f"{bad}:9: [[inject]] 1: state must be one of" in result.stderr
    unknown = tmp_path / "ghost.toml"
    unknown.write_text(
        '[scenario]\ntitle = "Ghost"\nlength = "5m"\n\n[[inject]]\nat = "1m"\n'
        'kind = "join"\n'
        'person = "zoe"\nrole = "comms"\n',
        encoding="utf-8",
    )
    result = mimdesk("exercise", "run", str(unknown), "--headless")
    assert result.returncode == 2
    assert f"{unknown}:8: person 'zoe' is not in the people directory (" in (
        result.stderr
    )
    assert "sample.toml" in result.stderr
    assert "catalogue" not in result.stderr
    missing = mimdesk("exercise", "run", "no-such-drill", "--headless")
    assert missing.returncode == 2
    assert "the shipped ones are: ledger-payments" in missing.stderr
    assert "Runs" in ok(mimdesk("exercise", "list"))
    assert "none yet" in ok(mimdesk("exercise", "list"))


DRILL = """\
[scenario]
title = "Stopped drill"
length = "100m"

[expect]
declare_within = "2m"
first_update_within = "20m"
resolve_within = "90m"

[[inject]]
at = "0m"
kind = "health"
service = "payments-api"
state = "down"

[[response]]
at = "1m"
kind = "declare"
title = "Payments down"
severity = 2
services = ["payments-api"]
"""


def _interruptible() -> None:
    """Ctrl+C as at a terminal: a test run in the background (as CI may be)
    passes on SIGINT ignored, and the run would play to its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_stopped_run_is_debriefed_as_played_however_often_and_from_anywhere(
    mimdesk: Run, tmp_path: Path, data_dir: Path, config: Path
) -> None:
    folder = tmp_path / "drills"
    folder.mkdir()
    (folder / "drill.toml").write_text(DRILL, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    play = subprocess.Popen(
        [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir),
         "--config", str(config), "exercise", "run", "drill.toml",
         "--speed", "60", "--autopilot", "--headless"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, preexec_fn=_interruptible,
    )  # fmt: skip
    try:
        started = time.monotonic()
        while not list(data_dir.glob("exercises/*/run.json")):  # it has begun
            assert play.poll() is None, play.communicate()
            assert time.monotonic() - started < 60, "the run never started"
            time.sleep(0.1)
        time.sleep(8)  # T+8 at x60 or so: declared, nothing else due yet
        play.send_signal(signal.SIGINT)
        # The debrief PDF is drawn by a second process: slow on a busy machine.
        out, err = play.communicate(timeout=240)
    finally:
        if play.poll() is None:  # never leave it running for later tests
            play.kill()
            play.communicate()
    assert play.returncode == 130, err
    stopped = re.search(r"Stopped at T\+(\d+):\d\d", out)
    assert stopped is not None, out
    assert 2 <= int(stopped[1]) < 20, out
    assert "1 of 1 met (100%)" in out
    run = Path(re.search(r"^Debrief: (.+)$", out, re.M)[1]).parent  # type: ignore[index]
    first = (run / "debrief.md").read_text(encoding="utf-8")
    assert f"| Scored at | T+{stopped[1]}:" in first
    assert "| NOT REACHED |" in first
    assert "MISSED" not in first

    # Edited, then deleted, the scenario changes nothing; nor does the folder
    # the debrief is asked from.
    (folder / "drill.toml").write_text(DRILL.replace('"2m"', '"30s"'), encoding="utf-8")
    again = ok(mimdesk("exercise", "debrief", run.name, "--format", "md"))
    assert "1 of 1 met (100%)" in again
    shutil.rmtree(folder)
    ok(mimdesk("exercise", "debrief", run.name, "--format", "md"))
    assert (run / "debrief.md").read_text(encoding="utf-8") == first

    # The run's own clock is frozen at its stop: no negative age.
    listed = ok(mimdesk("--exercise", run.name, "incident", "list"))
    assert "-" not in listed.split()[3], listed
    runs = ok(mimdesk("exercise", "list"))
    assert "mimdesk --exercise RUN incident list" in runs
    assert f"stopped at T+{stopped[1]}:" in runs

    # A damaged store names the run's own store and leaves the rest alone.
    (run / "mimdesk.sqlite").write_bytes(b"")
    for extra in ("mimdesk.sqlite-wal", "mimdesk.sqlite-shm"):
        (run / extra).unlink(missing_ok=True)
    broken = mimdesk("exercise", "debrief", run.name)
    assert broken.returncode == 3
    assert f"({run / 'mimdesk.sqlite'}) cannot be read" in broken.stderr
    assert "This run cannot be debriefed" in broken.stderr
    assert "Other runs and real incidents" in broken.stderr
    assert "free space" not in broken.stderr


def test_a_speed_too_slow_to_be_meant_is_refused(mimdesk: Run) -> None:
    result = mimdesk("exercise", "run", "ledger-payments", "--speed", "1e-9")
    assert result.returncode == 2
    assert "from 0.1 (ten times slower than real time) to 3600" in result.stderr
