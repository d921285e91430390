"""`mimdesk exercise` as a facilitator uses it: a scenario played headless at
high speed by its reference response, the debrief on paper, the run's store
readable and apart from real incidents, and a broken scenario named by line."""

from __future__ import annotations

import re
import subprocess
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

    # The debrief can be written again, as Markdown, for the last run.
    again = ok(mimdesk("exercise", "debrief", "--format", "md"))
    written = Path(again.strip().splitlines()[-1])
    assert written.read_text(encoding="utf-8").count("MET") >= 11


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
        '[scenario]\ntitle = "Ghost"\n\n[[inject]]\nat = "1m"\nkind = "join"\n'
        'person = "zoe"\nrole = "comms"\n',
        encoding="utf-8",
    )
    result = mimdesk("exercise", "run", str(unknown), "--headless")
    assert result.returncode == 2
    assert "person 'zoe' is not in the people directory" in result.stderr
    missing = mimdesk("exercise", "run", "no-such-drill", "--headless")
    assert missing.returncode == 2
    assert "the shipped ones are: ledger-payments" in missing.stderr
    assert "Runs" in ok(mimdesk("exercise", "list"))
    assert "none yet" in ok(mimdesk("exercise", "list"))
