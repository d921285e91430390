"""Fixtures for the unit tests: the field cases and an in-memory journal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .recording import Recorder

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"


@pytest.fixture
def load_case() -> Callable[[str], dict[str, Any]]:
    """Read a field case (copied from the shared cases folder) by its id."""

    def load(case_id: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (CASES / f"{case_id}.json").read_text(encoding="utf-8")
        )
        return data

    return load


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
