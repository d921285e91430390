"""What packaging ships: the wheel carries the resources, the desktop entry and
AppStream metainfo are valid and agree, and the icons come in the sizes named."""

from __future__ import annotations

import ast
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mimdesk.ui.qapp import ICON_SIZES

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.mimdesk.MIMDesk"
LINUX = ROOT / "packaging" / "linux"


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
        "print(r.resource('catalogues', 'sample.toml').is_file() "
        "and r.resource('icons', 'mimdesk-16.png').is_file(), r.__file__)"
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


def validator(name: str, package: str) -> str:
    """The validating tool; missing is a failure under CI, else a skip."""
    found = shutil.which(name)
    if found:
        return found
    text = f"{name} is not installed (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(text)
    pytest.skip(text)


def test_the_desktop_entry_is_valid() -> None:
    tool = validator("desktop-file-validate", "desktop-file-utils")
    entry = LINUX / f"{APP_ID}.desktop"

    result = subprocess.run([tool, str(entry)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout + result.stderr


def test_the_metainfo_is_valid() -> None:
    tool = validator("appstreamcli", "appstream")
    metainfo = LINUX / f"{APP_ID}.metainfo.xml"

    result = subprocess.run(
        [tool, "validate", "--no-net", str(metainfo)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_entry_metainfo_and_icon_name_the_same_application() -> None:
    entry = (LINUX / f"{APP_ID}.desktop").read_text(encoding="utf-8").splitlines()
    component = ET.parse(LINUX / f"{APP_ID}.metainfo.xml").getroot()

    assert f"Icon={APP_ID}" in entry
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == f"{APP_ID}.desktop"
    assert component.findtext("icon") == APP_ID


@pytest.mark.parametrize("size", ICON_SIZES)
def test_each_icon_png_is_the_size_its_name_says(size: int) -> None:
    png = (ROOT / "resources" / "icons" / f"mimdesk-{size}.png").read_bytes()

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (size, size)


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_bundle_leaves_out_nothing_mimdesk_imports() -> None:
    spec = (ROOT / "packaging" / "mimdesk.spec").read_text(encoding="utf-8")
    listed = re.search(r"^EXCLUDES = \[(.*?)^\]", spec, re.MULTILINE | re.DOTALL)
    assert listed is not None
    excluded = re.findall(r'"([\w.]+)"', listed.group(1))
    assert "PySide6.QtTest" in excluded

    clashes = sorted(
        f"{source.relative_to(ROOT)}: {name}"
        for source in (ROOT / "mimdesk").rglob("*.py")
        for name in imported_modules(source)
        if any(name == gone or name.startswith(f"{gone}.") for gone in excluded)
    )

    assert clashes == []
