"""C34: a kiosk with no Secret Service (no D-Bus session, no display).

The field case's keyring calls fail there with NoKeyringError. MIMDesk must
still start, say "no system keyring - secrets not persisted", take secrets from
the environment for the run, and never write one to a file of its own accord.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CASE: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "cases" / "C34.json").read_text()
)
EXPECTED = CASE["expected"]
SECRET = "syt_c34-kiosk-token-9f1e7d"  # what an operator would paste


@pytest.fixture
def kiosk(tmp_path: Path) -> dict[str, str]:
    """The case's environment: its variables unset, a home of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CASE["environment"]["unset"] and not k.startswith("MIMDESK_")
    }
    home = tmp_path / "home"
    home.mkdir()
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONIOENCODING": "utf-8",
    }
    return env


def files_holding(folder: Path, secret: str) -> list[str]:
    return [
        str(p)
        for p in folder.rglob("*")
        if p.is_file() and secret.encode() in p.read_bytes()
    ]


def test_the_case_reproduces_here(kiosk: dict[str, str]) -> None:
    """The keyring library itself, as in the field report: no backend."""
    calls = json.dumps(CASE["calls"])
    script = f"""
import json, keyring
def name(kind):
    return kind.__module__ + "." + kind.__name__
print(name(type(keyring.get_keyring())))
for call in json.loads({calls!r}):
    fn = getattr(keyring, call["fn"].split(".")[1])
    try:
        fn(*call["args"])
        print("no error")
    except Exception as exc:
        print(name(type(exc)), isinstance(exc, RuntimeError))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=kiosk,
        check=True, timeout=60,
    )  # fmt: skip
    backend, *errors = done.stdout.split("\n")[:3]
    observed = CASE["observed"]
    assert backend == observed["backend"]
    assert errors == [f"{observed['exception']} True"] * 2


def test_secret_set_refuses_and_writes_nothing(
    kiosk: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-m", "mimdesk", "--data-dir", str(data),
         "secret", "set", "matrix.token"],
        input=SECRET + "\n", capture_output=True, text=True, env=kiosk,
        check=False, timeout=60,
    )  # fmt: skip

    assert done.returncode == 1
    assert EXPECTED["banner"] in done.stderr
    assert "MIMDESK_SECRET_MATRIX_TOKEN" in done.stderr
    assert not EXPECTED["plaintext_written_without_consent"]
    assert files_holding(tmp_path, SECRET) == []


def test_the_console_starts_says_so_and_uses_the_environment(
    kiosk: dict[str, str], tmp_path: Path
) -> None:
    data, config = tmp_path / "data", tmp_path / "settings.toml"
    config.write_text('[matrix]\nurl = "http://127.0.0.1:9"\n')
    shot = tmp_path / "console.png"
    env = kiosk | {"MIMDESK_SECRET_MATRIX_TOKEN": SECRET}

    done = subprocess.run(
        [sys.executable, "-m", "mimdesk", "--data-dir", str(data),
         "--config", str(config), "--screenshot", str(shot)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr  # the app starts
    assert EXPECTED["app_starts"]
    assert shot.stat().st_size > 10_000
    log = (data / "logs" / "mimdesk.log").read_text()
    assert EXPECTED["banner"] in log
    assert "chat: sending to matrix" in log  # the token from the environment
    assert files_holding(tmp_path, SECRET) == []
