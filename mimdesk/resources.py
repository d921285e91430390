"""Finding the bundled resources, whether installed from a wheel or run from source."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def resource_dir() -> Path:
    installed = _HERE / "resources"
    return installed if installed.is_dir() else _HERE.parent / "resources"


def resource(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
