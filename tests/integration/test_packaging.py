"""The built wheel carries its resources: an installed MIMDesk finds its catalogue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_installed_wheel_finds_the_bundled_catalogue(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels)]
    subprocess.run([*build, str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("mimdesk-*.whl")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q"]
    subprocess.run(
        [*install, "--target", str(target), str(wheel)], check=True, capture_output=True
    )
    probe = (
        "import mimdesk.resources as r; "
        "print(r.resource('catalogues', 'sample.toml').is_file(), r.__file__)"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=dict(os.environ, PYTHONPATH=str(target)),
        cwd=tmp_path,  # not the checkout, whose source would be imported first
        capture_output=True,
        text=True,
        check=True,
    )

    found, module = result.stdout.split()
    assert found == "True"
    assert module.startswith(str(target))
